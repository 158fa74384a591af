"""The pools' own overhead on no-op tasks: ``map`` throughput and the serial round trip.

All executors are started first and stay up for the whole section; each timed round then
visits every implementation in turn (in a rotating order), so a burst of load on the shared
machine hits all of them alike.  The first round is a warm-up (it also brings up the peers'
lazily started workers) and is not counted; each figure is the best of the other rounds.
"""

from __future__ import annotations

from typing import Any

from benchmarks._harness import Row

from .common import DIRECT, LOKY, MPP, POOL, PPE, TUNED, Bench, executors, timed
from .floor import THREAD
from .tasks import noop

IMPLS = [PPE, MPP, LOKY, POOL, TUNED]
RTT_IMPLS = [*IMPLS, DIRECT]  # the caller-runs bound has a round trip only
MAP_CASES = {"map1": "map, chunksize=1", "map64": "map, chunksize=64"}
RTT_CASE = "submit().result(), serial"


def _map_call(impl: str, ex: Any, xs: range, chunksize: int):
    if impl == MPP:
        return lambda: list(ex.imap(noop, xs, chunksize=chunksize))
    return lambda: list(ex.map(noop, xs, chunksize=chunksize))


def _rtt_call(impl: str, ex: Any, n: int):
    if impl == MPP:

        def go() -> None:
            for i in range(n):
                ex.apply_async(noop, (i,)).get()

    else:

        def go() -> None:
            for i in range(n):
                ex.submit(noop, i).result()

    return go


def _rounds(calls: dict[str, Any], repeat: int) -> dict[str, list[float]]:
    """Seconds per call of each entry, ``repeat`` rounds after one warm-up, order rotating."""
    names = list(calls)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for r in range(repeat + 1):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            took = timed(calls[name])
            if r:
                samples[name].append(took)
    return samples


def _rows(bench: Bench, section: str, case: str, label: str, n: int, what: str) -> list[Row]:
    base = bench.get(section, case, PPE, "best_ns")
    floor = bench.get("floor", "rtt", THREAD, "best_ns")
    rows = []
    for impl in RTT_IMPLS if section == "rtt" else IMPLS:
        ns = bench.get(section, case, impl, "best_ns")
        if ns is None:
            continue
        notes = [f"{1e9 / ns:,.0f} {what}/s"]
        if impl in (POOL, TUNED):
            for peer in (MPP, LOKY):
                theirs = bench.get(section, case, peer, "best_ns")
                if theirs is not None:
                    notes.append(f"{theirs / ns:.2f}x {peer}")
        if section == "rtt" and floor and impl in (POOL, TUNED, DIRECT):
            notes.append(f"{ns / floor:.1f}x the pyzmq floor")
        rows.append(
            Row(
                f"{label} (ns/{what}, best of rounds, n={n:,})",
                impl + (" apply_async().get()" if section == "rtt" and impl == MPP else ""),
                ns,
                baseline="" if impl == PPE else PPE,
                speedup=None if impl == PPE or base is None else base / ns,
                target=_target(section, case, impl),
                note="; ".join(notes),
            )
        )
    return rows


def _target(section: str, case: str, impl: str) -> str:
    if impl != POOL:
        return ""
    if section == "map" and case == "map1":
        return ">= 20x PPE, >= 3x mp.Pool.imap"
    if section == "rtt":
        return ">= 2x PPE (latency <= 0.5x)"
    return ""


def run_map(bench: Bench) -> list[Row]:
    """``list(map(noop, range(n)))`` at chunksize 1 and 64 through every implementation."""
    n = 1_000 if bench.quick else 20_000
    repeat = 1 if bench.quick else 3
    xs = range(n)
    rows: list[Row] = []
    with executors(IMPLS, bench.workers) as exs:
        for case, chunksize in (("map1", 1), ("map64", 64)):
            calls = {impl: _map_call(impl, ex, xs, chunksize) for impl, ex in exs.items()}
            for impl, secs in _rounds(calls, repeat).items():
                bench.record(
                    "map",
                    case,
                    impl,
                    n=n,
                    chunksize=chunksize,
                    seconds=secs,
                    best_ns=min(secs) / n * 1e9,
                )
    for case, label in MAP_CASES.items():
        rows += _rows(bench, "map", case, label, n, "task")
    return rows


def run_rtt(bench: Bench) -> list[Row]:
    """``submit(noop, i).result()`` one at a time: the latency of one task through the pool."""
    n = 100 if bench.quick else 1_000
    repeat = 1 if bench.quick else 3
    with executors(RTT_IMPLS, bench.workers) as exs:
        calls = {impl: _rtt_call(impl, ex, n) for impl, ex in exs.items()}
        for impl, secs in _rounds(calls, repeat).items():
            bench.record("rtt", "rtt", impl, n=n, seconds=secs, best_ns=min(secs) / n * 1e9)
    return _rows(bench, "rtt", "rtt", RTT_CASE, n, "round trip")
