"""WorkerPool against ProcessPoolExecutor and multiprocessing.Pool, same worker count, one run.

Usage: ``python -m benchmarks.pool [--workers N] [--tasks N] [--quick]``.

Cases (no-op tasks, so the figures are the pools' own overhead):

* ``map chunksize=1``: ``list(pool.map(noop, range(N)))``; multiprocessing uses ``imap``.
* ``map batched``: WorkerPool with ``batch_size=64, prefetch=256`` at chunksize 1 (each task
  keeps its own future), against the peers at ``chunksize=64``.
* ``submit().result()``: serial round trip, one task at a time.

Ratios compare against ProcessPoolExecutor (and multiprocessing.Pool for map) measured in the
same process and minute.  Not yet here: heavy-tailed workloads per balancer, the cost of a
worker kill, memory with ``buffersize`` (see the issue's list).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor

from benchmarks._harness import Row, print_table
from tuner.pool.executor import WorkerPool


def noop(x):
    return x


def _timed(fn, n: int, repeat: int) -> float:
    """Best ns per task over ``repeat`` runs of ``fn`` (after one warm-up run)."""
    fn()
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best / n * 1e9


def _wait_ready(pool: WorkerPool, workers: int) -> None:
    deadline = time.monotonic() + 60
    while len(pool.stats().workers) < workers and time.monotonic() < deadline:
        time.sleep(0.02)


def measure(workers: int, n: int, n_rtt: int, repeat: int) -> list[Row]:
    # Run as ``python -m``, this module is __main__, whose functions cloudpickle sends by
    # value; take ``noop`` from the module imported by name, as a user's task module would be.
    from benchmarks.pool import noop

    rows: list[Row] = []
    xs = range(n)
    ctx = multiprocessing.get_context("spawn")

    def serial(submit):
        def go():
            for i in range(n_rtt):
                submit(noop, i).result()

        return go

    results: dict[tuple[str, str], float] = {}
    with ProcessPoolExecutor(workers, mp_context=ctx) as ppe:
        results["map1", "ProcessPoolExecutor"] = _timed(lambda: list(ppe.map(noop, xs)), n, repeat)
        results["map64", "ProcessPoolExecutor"] = _timed(
            lambda: list(ppe.map(noop, xs, chunksize=64)), n, repeat
        )
        results["rtt", "ProcessPoolExecutor"] = _timed(serial(ppe.submit), n_rtt, repeat)
    with ctx.Pool(workers) as mpp:
        results["map1", "multiprocessing.Pool"] = _timed(
            lambda: list(mpp.imap(noop, xs)), n, repeat
        )
        results["map64", "multiprocessing.Pool"] = _timed(
            lambda: list(mpp.imap(noop, xs, chunksize=64)), n, repeat
        )
    with WorkerPool(workers) as pool:
        _wait_ready(pool, workers)
        results["map1", "WorkerPool"] = _timed(lambda: list(pool.map(noop, xs)), n, repeat)
        results["rtt", "WorkerPool"] = _timed(serial(pool.submit), n_rtt, repeat)
    with WorkerPool(workers, batch_size=64, prefetch=256) as pool:
        _wait_ready(pool, workers)
        results["map64", "WorkerPool"] = _timed(lambda: list(pool.map(noop, xs)), n, repeat)
        results["map64c", "WorkerPool"] = _timed(
            lambda: list(pool.map(noop, xs, chunksize=64)), n, repeat
        )

    names = {
        "map1": "map chunksize=1 (ns/task)",
        "map64": "map batched: pool batch_size=64, peers chunksize=64",
        "map64c": "map chunksize=64 (pool also batch_size=64)",
        "rtt": "submit().result() serial round trip",
    }
    targets = {
        ("map1", "ProcessPoolExecutor"): ">= 20x",
        ("map1", "multiprocessing.Pool"): ">= 3x",
        ("rtt", "ProcessPoolExecutor"): ">= 2x (<= 0.5x latency)",
    }
    for case in ("map1", "map64", "map64c", "rtt"):
        ours = results[case, "WorkerPool"]
        rows.append(Row(names[case], "WorkerPool", ours))
        for peer in ("ProcessPoolExecutor", "multiprocessing.Pool"):
            ref_case = "map64" if case == "map64c" else case
            theirs = results.get((ref_case, peer))
            if theirs is None:
                continue
            rows.append(
                Row(
                    names[case],
                    peer,
                    theirs,
                    baseline="WorkerPool",
                    speedup=theirs / ours,
                    target=targets.get((case, peer), ""),
                    note="speedup = how many times faster WorkerPool is",
                )
            )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pool")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--tasks", type=int, default=20_000)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    n = 2_000 if args.quick else args.tasks
    n_rtt = 200 if args.quick else 1_000
    repeat = 1 if args.quick else 3
    print(f"{os.cpu_count()} CPUs, {args.workers} workers, {n} tasks per map, {n_rtt} round trips")
    print_table(measure(args.workers, n, n_rtt, repeat), "WorkerPool vs peers (no-op tasks)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
