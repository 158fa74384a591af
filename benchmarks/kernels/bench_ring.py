"""Ring benchmarks: batch lookups, key batches, single-key get, builds and bounded loads.

Run with ``python -m benchmarks.kernels --only ring`` (or ``python -m
benchmarks.kernels.bench_ring [--quick]``).  Every figure is measured in this
process, peers next to ours:

* ``numpy.searchsorted`` + take (``owners[searchsorted(points, h) % P]``) on the
  very arrays our ring uses, and a plain numba binary search, for hash batches;
* uhashring 2.5 (``hash_fn="ketama"``) ``get_node`` in a Python loop over a
  sample of keys, and the C libketama (``ketama`` package) ``get_server`` loop;
* uhashring's ring build and ``add_node``.

Ours and the peer are timed in alternation (best of several rounds each), so
a burst of load on the shared machine hits both sides.  Ratios are
``peer ns / our ns`` per key (per operation for builds).
"""

from __future__ import annotations

import gc
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks._harness import Row, print_table
from kernels._config import jit
from kernels._ring_lookup import _lower_bound
from kernels.bounded import BoundedLoadBalancer, assign_bounded
from kernels.hashing import pack_keys
from kernels.ring import HashRing

__all__ = ["run"]


@jit
def _binary_search_lookup(points, owners, hashes, out):
    # The plain alternative to the bucketed index: one binary search per key.
    p = points.shape[0]
    for k in range(hashes.shape[0]):
        i = _lower_bound(points, hashes[k], 0, p)
        out[k] = owners[i if i < p else 0]


def _nodes(n: int) -> list[str]:
    return [f"10.0.{i // 256}.{i % 256}:11211" for i in range(n)]


def _loop(fn, keys: list):
    def run():
        for k in keys:
            fn(k)

    return run


def _paired(fns: dict, rounds: int, warm: bool = True) -> dict:
    """Best seconds per call of each ``fn``, timing them in alternation.

    Each round times every function once, so a burst of load on this shared
    machine hits ours and the peer alike instead of skewing one side.
    """
    if warm:
        for fn in fns.values():
            fn()  # warm-up (and JIT compilation)
    best = dict.fromkeys(fns, float("inf"))
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(rounds):
            for name, fn in fns.items():
                t0 = time.perf_counter()
                fn()
                best[name] = min(best[name], time.perf_counter() - t0)
    finally:
        if gc_was_enabled:
            gc.enable()
    return best


def _hash_batch(n_keys: int):
    ring = HashRing(_nodes(100))  # 100 nodes x 160 points
    h = np.random.default_rng(1).integers(0, 2**64, n_keys, dtype=np.uint64)
    return ring, h


def _rows_hashes(n_keys: int, rounds: int) -> tuple[list[Row], float]:
    ring, h = _hash_batch(n_keys)
    points = np.ascontiguousarray(ring.points)
    owners = np.ascontiguousarray(ring.owners)
    p = points.shape[0]
    out = np.empty(n_keys, dtype=np.int64)
    expect = owners[np.searchsorted(points, h) % p]
    assert np.array_equal(ring.lookup_hashes(h), expect)
    t = _paired(
        {
            "np": lambda: owners[np.searchsorted(points, h) % p],
            "bs": lambda: _binary_search_lookup(points, owners, h, out),
            "ser": lambda: ring.lookup_hashes(h, parallel=False),
        },
        rounds,
    )
    base, bs, ser = (t[k] * 1e9 / n_keys for k in ("np", "bs", "ser"))
    case = f"lookup_hashes {n_keys:,} uint64, 100 nodes x 160 pts"
    peer = "numpy.searchsorted+take"
    rows = [
        Row(case, peer, base),
        Row(case, "numba binary search", bs, peer, base / bs),
        Row(case, "HashRing.lookup_hashes 1 core", ser, peer, base / ser, ">= 5x"),
    ]
    return rows, base


def _ketama_peer_ns(nodes: list[str], keys: list[str], rounds: int) -> float | None:
    try:
        from ketama import Ketama
    except ImportError:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        conf = Path(tmp) / "bench.conf"
        conf.write_text("".join(f"{n}\t1\n" for n in nodes))
        peer = Ketama(str(conf))
        try:
            return _paired({"c": _loop(peer.get_server, keys)}, rounds)["c"] * 1e9 / len(keys)
        finally:
            del peer  # one Ketama object at a time: deleting any detaches them all


def _str_keys(n_keys: int) -> list[str]:
    return [f"user:{i:09d}" for i in range(n_keys)]


_TARGETS = {None: ">= 30x", "libketama": ">= 15x", "uhashring": ">= 15x"}


def _rows_keys(n_keys: int, sample: int, rounds: int) -> tuple[list[Row], dict]:
    import uhashring

    nodes = _nodes(100)
    keys = _str_keys(n_keys)
    sample_keys = keys[:: max(1, n_keys // sample)][:sample]
    uh = uhashring.HashRing(nodes, hash_fn="ketama")
    peer = "uhashring get_node loop"
    t = _paired({"pack": lambda: pack_keys(keys)}, rounds)
    rows = [
        Row(
            "keys: every mode",
            "pack_keys (inside every lookup)",
            t["pack"] * 1e9 / n_keys,
            note="str list -> one buffer",
        )
    ]
    ketama_ns = _ketama_peer_ns(nodes, sample_keys, rounds)
    peer_ns = {}
    for compat, target in _TARGETS.items():
        ring = HashRing(nodes, compat=compat)
        t = _paired(
            {
                "peer": _loop(uh.get_node, sample_keys),
                "ser": lambda r=ring: r.lookup(keys, parallel=False),
            },
            rounds,
        )
        uh_ns = peer_ns[compat] = t["peer"] * 1e9 / len(sample_keys)
        ser = t["ser"] * 1e9 / n_keys
        case = f"lookup {n_keys:,} str keys, {compat or 'native'}"
        rows.append(Row(case, peer, uh_ns, note=f"{len(sample_keys):,}-key sample"))
        if compat == "libketama" and ketama_ns is not None:
            rows.append(
                Row(
                    case,
                    "C libketama get_server loop",
                    ketama_ns,
                    peer,
                    uh_ns / ketama_ns,
                    note="ketama 0.1.1 binding, measured before",
                )
            )
        rows.append(Row(case, "HashRing.lookup 1 core", ser, peer, uh_ns / ser, target))
    return rows, peer_ns


def _rows_parallel(n_keys: int, rounds: int, np_ns: float, peer_ns: dict) -> list[Row]:
    """Parallel variants, measured last: after a parallel region OpenMP's worker
    threads keep spinning for a while and would slow the serial measurements."""
    ring, h = _hash_batch(n_keys)
    t = _paired({"par": lambda: ring.lookup_hashes(h, parallel=True)}, rounds)
    par = t["par"] * 1e9 / n_keys
    rows = [
        Row(
            f"lookup_hashes {n_keys:,} uint64, 100 nodes x 160 pts",
            "HashRing.lookup_hashes parallel",
            par,
            "numpy.searchsorted+take",
            np_ns / par,
            ">= 5x",
            note="numpy timed earlier",
        )
    ]
    keys = _str_keys(n_keys)
    for compat, target in _TARGETS.items():
        ring = HashRing(_nodes(100), compat=compat)
        t = _paired({"par": lambda r=ring: r.lookup(keys, parallel=True)}, rounds)
        par = t["par"] * 1e9 / n_keys
        rows.append(
            Row(
                f"lookup {n_keys:,} str keys, {compat or 'native'}",
                "HashRing.lookup parallel",
                par,
                "uhashring get_node loop",
                peer_ns[compat] / par,
                target,
                note="uhashring timed earlier",
            )
        )
    return rows


def _rows_get(sample: int, rounds: int) -> list[Row]:
    import uhashring

    nodes = _nodes(100)
    rnd = np.random.default_rng(5)
    keys = [f"session:{x:x}" for x in rnd.integers(0, 2**48, sample).tolist()]
    uh = uhashring.HashRing(nodes, hash_fn="ketama")
    peer = "uhashring get_node"
    rows = []
    for compat in ("libketama", "uhashring", None):
        ring = HashRing(nodes, compat=compat)
        t = _paired({"peer": _loop(uh.get_node, keys), "ours": _loop(ring.get, keys)}, rounds)
        base, ours = t["peer"] * 1e9 / sample, t["ours"] * 1e9 / sample
        target = "" if compat is None else ">= 3x"
        case = f"get(key) one key, {compat or 'native'}"
        rows.append(Row(case, peer, base, note=f"{sample:,} distinct keys"))
        rows.append(Row(case, "HashRing.get", ours, peer, base / ours, target))
    return rows


def _ms_row(
    case: str, impl: str, seconds: float, baseline: str = "", base_s: float = 0.0, note: str = ""
) -> Row:
    speedup = base_s / seconds if baseline else None
    text = f"{seconds * 1e3:.2f} ms" + (f"; {note}" if note else "")
    return Row(case, impl, seconds * 1e9, baseline, speedup, note=text)


def _rows_build(rounds: int) -> list[Row]:
    import uhashring

    nodes_100 = _nodes(100)
    nodes_1000 = _nodes(1000)
    for compat in (None, "libketama", "uhashring"):  # compile outside the timing
        HashRing(nodes_100[:10], compat=compat).with_node("x").without_node("x")
    r100 = HashRing(nodes_100)
    r1000 = HashRing(nodes_1000)
    uh100 = uhashring.HashRing(nodes_100, hash_fn="ketama")
    extra = "10.9.9.9:11211"

    def uh_add():  # add then remove, so each round starts from 100 nodes
        uh100.add_node(extra)
        uh100.remove_node(extra)

    t = _paired(
        {
            "uh build": lambda: uhashring.HashRing(nodes_100, hash_fn="ketama"),
            "native": lambda: HashRing(nodes_100),
            "libketama": lambda: HashRing(nodes_100, compat="libketama"),
            "uhashring": lambda: HashRing(nodes_100, compat="uhashring"),
            "native 1000": lambda: HashRing(nodes_1000),
            "libketama 1000": lambda: HashRing(nodes_1000, compat="libketama"),
            "uh add+remove": uh_add,
            "with_node 100": lambda: r100.with_node(extra),
            "with_node 1000": lambda: r1000.with_node(extra),
            "without_node 1000": lambda: r1000.without_node(nodes_1000[500]),
            "with_weight 1000": lambda: r1000.with_weight(nodes_1000[500], 2.0),
        },
        rounds,
    )
    uh_build = t["uh build"]
    rows = [_ms_row("build 100 nodes", "uhashring ketama", uh_build)]
    for mode in ("native", "libketama", "uhashring"):
        rows.append(
            _ms_row("build 100 nodes", f"HashRing {mode}", t[mode], "uhashring ketama", uh_build)
        )
    for mode in ("native", "libketama"):
        rows.append(
            _ms_row(
                "build 1,000 nodes", f"HashRing {mode}", t[f"{mode} 1000"], note="160,000 points"
            )
        )
    uh_add_s = t["uh add+remove"] / 2  # each is a full rebuild
    rows.append(
        _ms_row("add one node to 100", "uhashring add_node", uh_add_s, note="half of add+remove")
    )
    rows.append(
        _ms_row(
            "add one node to 100",
            "HashRing.with_node native",
            t["with_node 100"],
            "uhashring add_node",
            uh_add_s,
        )
    )
    for label in ("with_node", "without_node", "with_weight"):
        rows.append(
            _ms_row(
                "edit a 1,000-node ring",
                f"HashRing.{label} native",
                t[f"{label} 1000"],
                note="merge/filter O(P) + index",
            )
        )
    return rows


def _rows_bounded(n_keys: int, rounds: int) -> list[Row]:
    ring = HashRing(_nodes(100))
    h = np.random.default_rng(9).integers(0, 2**64, n_keys, dtype=np.uint64)
    t = _paired(
        {
            "plain": lambda: ring.lookup_hashes(h, parallel=False),
            "bounded": lambda: assign_bounded(ring, h, 1.25),
        },
        rounds,
    )
    plain, bounded = t["plain"] * 1e9 / n_keys, t["bounded"] * 1e9 / n_keys
    case = f"bounded loads c=1.25, {n_keys:,} hashes, 100 nodes"
    rows = [
        Row(case, "HashRing.lookup_hashes (no bound)", plain),
        Row(case, "assign_bounded", bounded, "HashRing.lookup_hashes (no bound)", plain / bounded),
    ]
    lb = BoundedLoadBalancer(ring, 1.25)
    hs = h[:20_000].tolist()

    def online():
        for x in hs:
            lb.release(lb.assign(x))

    t = _paired({"online": online}, rounds)
    rows.append(
        Row(
            "online balancer, one request",
            "BoundedLoadBalancer assign+release",
            t["online"] * 1e9 / len(hs),
            note="int hash in; Python fast path",
        )
    )
    return rows


def run(quick: bool = False) -> list[Row]:
    """Measure every ring row (``quick``: 100,000-key batches, fewer rounds)."""
    n = 100_000 if quick else 1_000_000
    sample = 5_000 if quick else 20_000
    rounds = 3 if quick else 7
    rows: list[Row] = []
    hash_rows, np_ns = _rows_hashes(n, rounds)
    key_rows, peer_ns = _rows_keys(n, sample, rounds)
    rows += hash_rows + key_rows
    rows += _rows_get(sample, rounds)
    rows += _rows_build(rounds)
    rows += _rows_bounded(n, rounds)
    rows += _rows_parallel(n, rounds, np_ns, peer_ns)
    return rows


if __name__ == "__main__":
    import sys

    print_table(run(quick="--quick" in sys.argv), title="ring")
