"""WorkerPool against ProcessPoolExecutor, multiprocessing.Pool and loky: one command, one run.

Usage::

    python -m benchmarks.pool [--workers N] [--quick] [--only floor,map,...] [--json PATH]

Sections (``--only`` takes their names, comma-separated; default all, in this order):

``floor``
    a raw pyzmq ROUTER (thread) <-> DEALER echo (process) over ipc: what the transport
    itself costs here, the lower bound of any ZeroMQ pool's round trip.
``map``
    no-op ``map`` at chunksize 1 (multiprocessing through ``imap``) and at chunksize 64.
``rtt``
    serial ``submit(noop, i).result()``; also the caller-runs bound (:mod:`.direct`): one real
    worker driven from the caller's own thread, no broker thread, what a leader/follower
    broker could reach at best.
``heavy``
    heavy-tailed CPU-bound tasks: throughput and p99 latency per balancer.
``kill``
    SIGKILL of one worker under load and idle: time back to working, tasks re-run or lost.
``memory``
    idle RSS per worker and of the caller (broker); peak RSS growth while mapping many items.

Every peer runs with the same worker count, in this process, in this run; ratios compare
figures taken minutes apart at most.  WorkerPool runs with its defaults in the headline rows;
rows labelled "tuned" use larger knobs.  Nothing here asserts on time: the command prints
what it measured, a table of the issue's targets, and with ``--json`` writes every timed
round so that figures quoted in the docs can be traced to a run.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import platform
import sys
import time
from collections.abc import Callable
from typing import Any

from benchmarks._harness import Row, print_table

from .common import DIRECT, MPP, POOL, PPE, Bench
from .floor import THREAD, run_floor
from .overhead import run_map, run_rtt
from .scenarios import run_heavy, run_kill, run_memory

SECTIONS: dict[str, tuple[str, Callable[[Bench], list[Row]]]] = {
    "floor": ("Transport floor: raw pyzmq, no pool", run_floor),
    "map": ("No-op map: throughput (speedup = times faster than ProcessPoolExecutor)", run_map),
    "rtt": ("Serial round trip (speedup = times faster than ProcessPoolExecutor)", run_rtt),
    "heavy": ("Heavy-tailed CPU-bound tasks, per balancer", run_heavy),
    "kill": ("Cost of a worker kill", run_kill),
    "memory": ("Memory", run_memory),
}


def _machine() -> dict[str, Any]:
    import loky
    import zmq

    from tuner.config import PoolConfig

    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(
                (ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), cpu
            )
    except OSError:
        pass
    defaults = PoolConfig.from_kwargs()
    return {
        "cpu": cpu,
        "logical_cpus": os.cpu_count(),
        "python": platform.python_version(),
        "pyzmq": zmq.__version__,
        "libzmq": zmq.zmq_version(),
        "loky": loky.__version__,
        "platform": platform.platform(),
        "pool_defaults": {
            k: getattr(defaults, k) for k in ("balancer", "batch_size", "prefetch", "serializer")
        },
    }


def targets(bench: Bench) -> list[dict[str, Any]]:
    """The issue's targets, as measured in this run (those whose sections ran)."""
    out = []

    def add(target: str, measured: float | None, text: str, held: bool) -> None:
        if measured is not None and not math.isnan(measured):
            out.append({"target": target, "measured": measured, "text": text, "held": held})

    pool1 = bench.get("map", "map1", POOL, "best_ns")
    for peer, need in ((PPE, 20.0), (MPP, 3.0)):
        theirs = bench.get("map", "map1", peer, "best_ns")
        if pool1 and theirs:
            r = theirs / pool1
            add(
                f"map chunksize 1: >= {need:g}x {peer}",
                r,
                f"{pool1 / 1e3:.1f} vs {theirs / 1e3:.1f} us/task: {r:.2f}x",
                r >= need,
            )
    rtt, rtt_ppe = bench.get("rtt", "rtt", POOL, "best_ns"), bench.get("rtt", "rtt", PPE, "best_ns")
    if rtt and rtt_ppe:
        r = rtt / rtt_ppe
        add(
            f"round trip <= 0.5x {PPE}'s",
            r,
            f"{rtt / 1e3:.0f} vs {rtt_ppe / 1e3:.0f} us: {r:.2f}x",
            r <= 0.5,
        )
    bound = bench.get("rtt", "rtt", DIRECT, "best_ns")
    floor = bench.get("floor", "rtt", THREAD, "best_ns")
    for target, a, b, of in (
        ("(context) round trip of the caller-runs bound, no broker thread", bound, rtt_ppe, PPE),
        ("(context) round trip vs the raw pyzmq floor", rtt, floor, "the floor"),
    ):
        if a and b:
            add(target, a / b, f"{a / 1e3:.0f} vs {b / 1e3:.0f} us: {a / b:.2f}x {of}", True)
    for per_impl in bench.figures.get("memory", {}).values():
        for impl, v in per_impl.items():
            if impl.startswith(POOL) and "buffersize=16" in impl:
                g = v["growth_mb"]
                add(
                    f"memory growth mapping {v['n']:,} items < 50 MB",
                    g,
                    f"{g:.1f} MB ({impl})",
                    g < 50,
                )
    return out


def _print_targets(rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    print("\n## Targets of the issue, as measured in this run\n")
    print("| target | measured | held? |\n|---|---|---|")
    for t in rows:
        held = "" if t["target"].startswith("(context)") else ("yes" if t["held"] else "**no**")
        print(f"| {t['target']} | {t['text']} | {held} |")


def _jsonable(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    return x


def main(argv: list[str] | None = None) -> int:
    """Run the selected sections, print their tables and the targets; 0 on success."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.pool",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--workers", type=int, default=2, help="workers of every pool (2)")
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument("--only", default="", help=f"comma-separated among {','.join(SECTIONS)}")
    parser.add_argument("--json", metavar="PATH", help="also write the raw figures here")
    args = parser.parse_args(argv)
    chosen = [s.strip() for s in args.only.split(",") if s.strip()] or list(SECTIONS)
    unknown = [s for s in chosen if s not in SECTIONS]
    if unknown:
        parser.error(f"unknown section(s) {unknown}; choose from {list(SECTIONS)}")
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    chosen = [s for s in SECTIONS if s in chosen]  # floor first: the rtt rows refer to it

    bench = Bench(workers=args.workers, quick=args.quick)
    meta = _machine()
    started = time.time()
    print(
        f"# WorkerPool benchmark: {args.workers} workers{' (--quick)' if args.quick else ''}\n\n"
        f"machine: {meta['cpu']}, {meta['logical_cpus']} logical CPUs; Python {meta['python']}, "
        f"pyzmq {meta['pyzmq']} (libzmq {meta['libzmq']}), loky {meta['loky']}; "
        f"load average {os.getloadavg()[0]:.2f}\n"
        f"WorkerPool defaults: {meta['pool_defaults']}"
    )
    tables: dict[str, list[Row]] = {}
    for name in chosen:
        title, run = SECTIONS[name]
        t0 = time.perf_counter()
        tables[name] = run(bench)
        print_table(tables[name], f"{name}: {title}")
        print(f"\n({time.perf_counter() - t0:.1f} s)")
        sys.stdout.flush()
    measured = targets(bench)
    _print_targets(measured)
    print(f"\nload average at the end {os.getloadavg()[0]:.2f}")
    if args.json:
        doc = {
            "started_unix": started,
            "argv": sys.argv[1:] if argv is None else list(argv),
            "workers": args.workers,
            "quick": args.quick,
            "machine": meta,
            "load_average_end": os.getloadavg(),
            "figures": bench.figures,
            "rows": {k: [dataclasses.asdict(r) for r in v] for k, v in tables.items()},
            "targets": measured,
        }
        with open(args.json, "w") as f:
            json.dump(_jsonable(doc), f, indent=1, default=str)
            f.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
