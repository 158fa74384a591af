"""WorkerPool scenarios: heavy-tailed tasks per balancer, the cost of a worker kill, memory.

Usage: ``python -m benchmarks.pool_scenarios [--workers N] [--quick]``.

Cases:

* **heavy-tailed**: CPU-bound busy loops with lognormal durations (median 2 ms, sigma 1.5,
  mean about 6 ms, fixed seed), once as a closed batch (all submitted at once: throughput)
  and once as an open Poisson stream at 60% utilisation (submit-to-result latency p50/p99
  from ``stats()``), through WorkerPool with each balancer; ratios against ``round_robin``.
* **worker kill**: SIGKILL one worker while a stream of 1 ms tasks runs; time from the kill
  to the pool back at ``max_workers`` live workers, and tasks re-run (``stats().retries``).
* **memory**: idle RSS per worker and of the caller (psutil); peak RSS growth of the caller
  while ``map(..., buffersize=...)`` consumes a generator of N no-op items, next to
  ProcessPoolExecutor mapping a range (it submits every item before yielding).

Benchmarks print figures; they assert nothing about time.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import threading
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import psutil

from benchmarks._harness import Row, print_table
from tuner.pool.executor import WorkerPool

BALANCERS = ("round_robin", "random", "least_outstanding", "power_of_two", "pull")
MB = 2**20
LOAD = 0.6  # open-system utilisation: the caller and broker need CPU on a small machine


def spin(seconds):
    """Busy-loop for ``seconds`` (CPU-bound), return them."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass
    return seconds


def noop(x):
    return x


def nap(seconds):
    time.sleep(seconds)
    return seconds


def _wait_workers(pool: WorkerPool, n: int, exclude: set[int] = frozenset()) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        pids = {w.pid for w in pool.stats().workers}
        if len(pids) == n and not pids & exclude:
            return
        time.sleep(0.001)
    raise TimeoutError(f"pool not back at {n} workers")


# ---------------------------------------------------------------------------- heavy tails


def heavy_tailed(workers: int, n: int, seed: int = 1) -> list[Row]:
    from benchmarks.pool_scenarios import spin  # by name, not __main__ (cloudpickle by value)

    rng = np.random.default_rng(seed)
    durations = [float(d) for d in np.minimum(rng.lognormal(np.log(0.002), 1.5, n), 0.5)]
    mean = sum(durations) / n
    gaps = rng.exponential(mean / (LOAD * workers), n)
    closed: dict[str, float] = {}
    p50: dict[str, float] = {}
    p99: dict[str, float] = {}
    for name in BALANCERS:
        with WorkerPool(max_workers=workers, balancer=name, prefetch=8) as pool:
            _wait_workers(pool, workers)
            pool.submit(spin, 0.0).result(60)
            t0 = time.perf_counter()
            futs = [pool.submit(spin, d) for d in durations]
            for f in futs:
                f.result(600)
            closed[name] = time.perf_counter() - t0
        # open system: a fresh pool so the latency histogram holds this run only
        with WorkerPool(max_workers=workers, balancer=name, prefetch=8) as pool:
            _wait_workers(pool, workers)
            pool.submit(spin, 0.0).result(60)
            futs = []
            start = time.perf_counter()
            at = start
            for d, gap in zip(durations, gaps, strict=True):
                at += gap
                delay = at - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                futs.append(pool.submit(spin, d))
            for f in futs:
                f.result(600)
            stats = pool.stats()
            p50[name], p99[name] = stats.latency_p50_s, stats.latency_p99_s
    rows = []
    ideal = sum(durations) / workers
    for name in BALANCERS:
        base = name != "round_robin"
        rows.append(
            Row(
                f"heavy-tailed closed batch, {n} tasks (ns/task)",
                name,
                closed[name] / n * 1e9,
                "round_robin" if base else "",
                closed["round_robin"] / closed[name] if base else None,
                note=f"{n / closed[name]:,.0f} tasks/s; ideal {n / ideal:,.0f}",
            )
        )
    for name in BALANCERS:
        base = name != "round_robin"
        rows.append(
            Row(
                f"heavy-tailed open {LOAD:.0%} load, p99 latency (ns)",
                name,
                p99[name] * 1e9,
                "round_robin" if base else "",
                p99["round_robin"] / p99[name] if base else None,
                note=f"p50 {p50[name] * 1e3:.1f} ms; mean task {mean * 1e3:.2f} ms",
            )
        )
    return rows


# ---------------------------------------------------------------------------- kill cost


def kill_cost(workers: int, kills: int) -> list[Row]:
    from benchmarks.pool_scenarios import nap

    recover: list[float] = []
    reruns: list[int] = []
    idle: list[float] = []
    with WorkerPool(max_workers=workers, balancer="power_of_two", max_retries=5) as pool:
        _wait_workers(pool, workers)
        for _ in range(kills):
            before = pool.stats().retries
            futs = [pool.submit(nap, 0.001) for _ in range(2000)]
            while sum(f.done() for f in futs) < 500:
                time.sleep(0.005)
            victim = pool.stats().workers[0].pid
            t0 = time.perf_counter()
            os.kill(victim, signal.SIGKILL)
            _wait_workers(pool, workers, {victim})
            recover.append(time.perf_counter() - t0)
            for f in futs:
                f.result(120)
            reruns.append(pool.stats().retries - before)
        for _ in range(kills):  # an idle pool
            victim = pool.stats().workers[0].pid
            t0 = time.perf_counter()
            os.kill(victim, signal.SIGKILL)
            _wait_workers(pool, workers, {victim})
            idle.append(time.perf_counter() - t0)
    return [
        Row(
            "kill -9 one worker under load: kill -> pool back at size (ns)",
            "WorkerPool",
            statistics.median(recover) * 1e9,
            note=f"median of {kills}; max {max(recover) * 1e3:.0f} ms; tasks re-run per kill "
            f"median {statistics.median(reruns):g} (max {max(reruns)}, prefetch 8)",
        ),
        Row(
            "kill -9 one idle worker: kill -> pool back at size (ns)",
            "WorkerPool",
            statistics.median(idle) * 1e9,
            note=f"median of {kills}; max {max(idle) * 1e3:.0f} ms",
        ),
    ]


# ---------------------------------------------------------------------------- memory


class _PeakRss:
    """Sample this process's RSS every 20 ms on a thread; keep the peak."""

    def __init__(self) -> None:
        self.proc = psutil.Process()
        self.base = self.proc.memory_info().rss
        self.peak = self.base
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self.proc.memory_info().rss)

    def __enter__(self) -> _PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self.peak = max(self.peak, self.proc.memory_info().rss)

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.base) / MB


def memory(workers: int, n_small: int, n_big: int, n_ppe: int) -> list[Row]:
    from benchmarks.pool_scenarios import noop

    rows: list[Row] = []
    with WorkerPool(max_workers=workers) as pool:
        _wait_workers(pool, workers)
        time.sleep(0.5)
        # before any task: a task's module (here this one, importing numpy) adds its imports
        per_worker = [psutil.Process(w.pid).memory_info().rss / MB for w in pool.stats().workers]
        caller = psutil.Process().memory_info().rss / MB
        pool.submit(noop, 0).result(60)
        rows.append(
            Row(
                "idle RSS per worker (MB in ns/op column)",
                "WorkerPool",
                statistics.mean(per_worker),
                note=", ".join(f"{m:.1f}" for m in per_worker) + " MB",
            )
        )
        rows.append(
            Row(
                "idle RSS of the caller incl. broker thread (MB in ns/op column)",
                "WorkerPool",
                caller,
            )
        )
        for n, chunksize, buffersize in ((n_small, 1, 256), (n_big, 1000, 16)):
            items = (i for i in range(n))
            t0 = time.perf_counter()
            with _PeakRss() as peak:
                count = 0
                for _ in pool.map(noop, items, chunksize=chunksize, buffersize=buffersize):
                    count += 1
            took = time.perf_counter() - t0
            assert count == n
            rows.append(
                Row(
                    f"peak RSS growth, map {n:,} no-op items from a generator (MB)",
                    f"WorkerPool buffersize={buffersize} chunksize={chunksize}",
                    peak.growth_mb,
                    target="< 50 MB",
                    note=f"{took:.1f} s, {n / took:,.0f} items/s",
                )
            )
    for chunksize in (1, 1000):
        n = n_ppe if chunksize == 1000 else min(n_ppe, n_small)
        with ProcessPoolExecutor(max_workers=workers) as ppe:
            ppe.submit(noop, 0).result(60)
            t0 = time.perf_counter()
            with _PeakRss() as peak:
                count = sum(1 for _ in ppe.map(noop, range(n), chunksize=chunksize))
            took = time.perf_counter() - t0
            assert count == n
        rows.append(
            Row(
                f"peak RSS growth, map {n:,} no-op items (MB)",
                f"ProcessPoolExecutor chunksize={chunksize}",
                peak.growth_mb,
                note=f"{took:.1f} s; submits every item up front",
            )
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pool_scenarios")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="small N, for a smoke run")
    args = parser.parse_args(argv)
    w = args.workers
    if args.quick:
        rows_ht = heavy_tailed(w, 300)
        rows_kill = kill_cost(w, 3)
        rows_mem = memory(w, 20_000, 1_000_000, 100_000)
    else:
        rows_ht = heavy_tailed(w, 1500)
        rows_kill = kill_cost(w, 7)
        rows_mem = memory(w, 100_000, 10_000_000, 1_000_000)
    print(f"# WorkerPool scenarios: {w} workers, {os.cpu_count()} CPUs")
    print_table(rows_ht, "Heavy-tailed CPU-bound tasks, per balancer")
    print_table(rows_kill, "Cost of a worker kill")
    print_table(rows_mem, "Memory")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
