"""Scenarios beyond raw overhead: heavy-tailed work per balancer, worker kills, memory.

* **heavy**: CPU-bound busy loops with lognormal durations (median 2 ms, sigma 1.5, capped at
  0.5 s, fixed seed), once as a closed batch (all submitted at once: throughput) and once as
  an open Poisson stream at ``LOAD`` utilisation (submit-to-result latency, p50/p99, taken by
  a done-callback, the same way for every executor), through WorkerPool with each balancer
  and through ProcessPoolExecutor and loky; ratios against WorkerPool ``round_robin``.
* **kill**: SIGKILL one worker while a stream of 1 ms tasks runs.  WorkerPool: time from the
  kill until the pool is back at ``max_workers`` live workers, and tasks re-run
  (``stats().retries``); then the same on an idle pool.  ProcessPoolExecutor and loky break
  instead: how many pending futures fail, and the time from the kill until a new executor
  returned a result.
* **memory**: idle RSS per worker of every implementation and the caller's growth from
  starting it (for WorkerPool, the broker thread and its sockets); the caller's peak RSS
  growth while WorkerPool's ``map(..., buffersize=...)`` consumes a generator, next to
  ProcessPoolExecutor mapping a range (it submits every item before yielding one).

Every process a scenario starts is ended in a ``finally`` (:func:`.common.executors`).
"""

from __future__ import annotations

import gc
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from concurrent.futures import Future
from typing import Any

import numpy as np

from benchmarks._harness import Row

from .common import (
    LOKY,
    MB,
    MPP,
    POOL,
    PPE,
    ROOT,
    Bench,
    PeakRss,
    executors,
    reaped,
    wait_workers,
    worker_pids,
)
from .tasks import nap, noop, spin

BALANCERS = ("round_robin", "random", "least_outstanding", "power_of_two", "pull")
LOAD = 0.6  # open-system utilisation: the caller and broker need CPU on a small machine
HEAVY_MEDIAN_S = 0.002
HEAVY_SIGMA = 1.5
KILL_LOAD = "kill -9 one worker under load: kill -> recovered (ns)"
KILL_IDLE = "kill -9 one idle worker: kill -> recovered (ns)"


# ---------------------------------------------------------------------------- heavy tails


def _latency_recorder(futs: list[Future], starts: list[float], ends: list[float]):
    def submit(ex: Any, d: float) -> None:
        i = len(futs)
        starts.append(time.perf_counter())
        ends.append(float("nan"))
        fut = ex.submit(spin, d)

        def done(_f: Future, i: int = i) -> None:
            ends[i] = time.perf_counter()

        fut.add_done_callback(done)
        futs.append(fut)

    return submit


def _heavy_one(ex: Any, durations: list[float], gaps: np.ndarray) -> dict[str, Any]:
    ex.submit(spin, 0.0).result(60)
    t0 = time.perf_counter()
    for f in [ex.submit(spin, d) for d in durations]:
        f.result(600)
    closed_s = time.perf_counter() - t0
    futs: list[Future] = []
    starts: list[float] = []
    ends: list[float] = []
    submit = _latency_recorder(futs, starts, ends)
    at = time.perf_counter()
    for d, gap in zip(durations, gaps, strict=True):
        at += gap
        delay = at - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        submit(ex, d)
    for f in futs:
        f.result(600)
    time.sleep(0.01)  # the last done-callback may still be running on another thread
    lat = np.array(ends) - np.array(starts)
    return {
        "closed_s": closed_s,
        "open_p50_s": float(np.nanpercentile(lat, 50)),
        "open_p99_s": float(np.nanpercentile(lat, 99)),
    }


def run_heavy(bench: Bench, seed: int = 1) -> list[Row]:
    """Heavy-tailed CPU-bound tasks through each balancer and the two executor peers."""
    from tuner.pool.executor import WorkerPool

    n = 30 if bench.quick else 1_500
    w = bench.workers
    rng = np.random.default_rng(seed)
    durations = [
        float(d) for d in np.minimum(rng.lognormal(np.log(HEAVY_MEDIAN_S), HEAVY_SIGMA, n), 0.5)
    ]
    mean = sum(durations) / n
    gaps = rng.exponential(mean / (LOAD * w), n)
    impls = [f"{POOL} {b}" for b in BALANCERS] + [PPE, LOKY]
    for impl in impls:
        if impl.startswith(POOL):
            balancer = impl.split()[-1]
            with reaped():
                pool = WorkerPool(max_workers=w, balancer=balancer)
                try:
                    wait_workers(pool, w)
                    res = _heavy_one(pool, durations, gaps)
                finally:
                    pool.shutdown(wait=True, cancel_futures=True)
        else:
            with executors([impl], w) as exs:
                res = _heavy_one(exs[impl], durations, gaps)
        bench.record("heavy", "heavy", impl, n=n, mean_task_s=mean, load=LOAD, **res)
    base = f"{POOL} round_robin"
    ideal = n / (sum(durations) / w)
    rows = []
    for impl in impls:
        c = bench.get("heavy", "heavy", impl, "closed_s")
        rows.append(
            Row(
                f"heavy-tailed closed batch, {n} tasks (ns/task)",
                impl,
                c / n * 1e9,
                baseline="" if impl == base else base,
                speedup=None if impl == base else bench.get("heavy", "heavy", base, "closed_s") / c,
                note=f"{n / c:,.0f} tasks/s; ideal {ideal:,.0f}",
            )
        )
    base_p99 = bench.get("heavy", "heavy", base, "open_p99_s")
    for impl in impls:
        p99 = bench.get("heavy", "heavy", impl, "open_p99_s")
        p50 = bench.get("heavy", "heavy", impl, "open_p50_s")
        rows.append(
            Row(
                f"heavy-tailed open {LOAD:.0%} load, p99 latency (ns)",
                impl,
                p99 * 1e9,
                baseline="" if impl == base else base,
                speedup=None if impl == base else base_p99 / p99,
                note=f"p50 {p50 * 1e3:.1f} ms; mean task {mean * 1e3:.2f} ms",
            )
        )
    return rows


# ---------------------------------------------------------------------------- kill cost


def _count_failed(futs: list[Future]) -> int:
    """Wait for every future (at most 120 s each); how many ended with an exception."""
    failed = 0
    for f in futs:
        try:
            f.result(120)
        except Exception:
            failed += 1
    return failed


def _kill_pool(bench: Bench, kills: int, n_tasks: int) -> list[Row]:
    from tuner.pool.executor import WorkerPool

    w = bench.workers
    recover: list[float] = []
    reruns: list[int] = []
    idle: list[float] = []
    failed = 0
    with reaped():
        pool = WorkerPool(max_workers=w, max_retries=5)
        try:
            wait_workers(pool, w)
            prefetch = pool.config.prefetch
            for _ in range(kills):
                before = pool.stats().retries
                futs = [pool.submit(nap, 0.001) for _ in range(n_tasks)]
                while sum(f.done() for f in futs) < n_tasks // 4:
                    time.sleep(0.005)
                victim = pool.stats().workers[0].pid
                t0 = time.perf_counter()
                os.kill(victim, signal.SIGKILL)
                wait_workers(pool, w, frozenset({victim}))
                recover.append(time.perf_counter() - t0)
                failed += _count_failed(futs)
                reruns.append(pool.stats().retries - before)
            for _ in range(kills):  # an idle pool
                victim = pool.stats().workers[0].pid
                t0 = time.perf_counter()
                os.kill(victim, signal.SIGKILL)
                wait_workers(pool, w, frozenset({victim}))
                idle.append(time.perf_counter() - t0)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    bench.record(
        "kill",
        "under load",
        POOL,
        recover_s=recover,
        reruns=reruns,
        prefetch=prefetch,
        failed_futures=failed,
    )
    bench.record("kill", "idle", POOL, recover_s=idle)
    return [
        Row(
            KILL_LOAD,
            POOL,
            statistics.median(recover) * 1e9,
            note=f"recovered = back at max_workers live workers; median of {kills}, "
            f"max {max(recover) * 1e3:.0f} ms; "
            f"{failed} futures failed; re-run per kill median {statistics.median(reruns):g} "
            f"(max {max(reruns)}; prefetch {prefetch})",
        ),
        Row(
            KILL_IDLE,
            POOL,
            statistics.median(idle) * 1e9,
            note=f"recovered = back at max_workers live workers; median of {kills}, "
            f"max {max(idle) * 1e3:.0f} ms",
        ),
    ]


def _kill_peer(bench: Bench, impl: str, n_tasks: int) -> Row:
    w = bench.workers
    with executors([impl], w) as exs:
        ex = exs[impl]
        ex.submit(noop, 0).result(60)
        futs = [ex.submit(nap, 0.001) for _ in range(n_tasks)]
        while sum(f.done() for f in futs) < n_tasks // 4:
            time.sleep(0.005)
        victim = worker_pids(ex)[0]
        t0 = time.perf_counter()
        os.kill(victim, signal.SIGKILL)
        failed = _count_failed(futs)
        with executors([impl], w) as fresh:
            fresh[impl].submit(noop, 0).result(60)
            recovered = time.perf_counter() - t0
    bench.record(
        "kill",
        "under load",
        impl,
        recover_s=[recovered],
        failed_futures=failed,
        of=len(futs),
    )
    return Row(
        KILL_LOAD,
        impl,
        recovered * 1e9,
        note=f"executor broken: {failed} of {len(futs)} futures failed; recovered = a new "
        "executor returned a result",
    )


def run_kill(bench: Bench) -> list[Row]:
    """The cost of SIGKILL on one worker: WorkerPool recovers, the peers break."""
    n_tasks = 400 if bench.quick else 2_000
    rows = _kill_pool(bench, 1 if bench.quick else 7, n_tasks)
    for impl in (PPE, LOKY):
        rows.append(_kill_peer(bench, impl, n_tasks))
    rows.append(
        Row(
            KILL_LOAD,
            MPP,
            float("nan"),
            note="not run: the task is lost and its get() never returns (CPython issue 96062)",
        )
    )
    return rows


# ---------------------------------------------------------------------------- memory


def _idle(bench: Bench, impl: str) -> Row:
    """Run :mod:`._idle_probe` for ``impl`` in a fresh interpreter; record its figures."""
    cmd = [sys.executable, "-m", "benchmarks.pool._idle_probe", impl, str(bench.workers)]
    with reaped():
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        try:
            out, _ = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
    if proc.returncode != 0:
        raise RuntimeError(f"idle memory probe for {impl} exited with {proc.returncode}")
    fig = json.loads(out.strip().splitlines()[-1])
    per_worker = fig["worker_rss_mb"]
    bench.record("memory", "idle", impl, **fig)
    return Row(
        "idle RSS per worker (MB in the ns/op column)",
        impl,
        statistics.mean(per_worker),
        note=", ".join(f"{m:.1f}" for m in per_worker) + " MB; fresh caller: "
        f"{fig['caller_bare_mb']:.0f} MB bare, {fig['caller_imported_mb']:.0f} after "
        f"import, {fig['caller_started_mb']:.0f} started"
        + (" (numba loaded)" if fig["numba_loaded"] else ""),
    )


def _peak(bench: Bench, impl: str, n: int, chunksize: int, buffersize: int | None) -> Row:
    w = bench.workers
    label = f"{impl} chunksize={chunksize}" + (f" buffersize={buffersize}" if buffersize else "")
    with executors([impl], w) as exs:
        ex = exs[impl]
        ex.submit(noop, 0).result(60)
        gc.collect()
        t0 = time.perf_counter()
        with PeakRss() as peak:
            if buffersize is None:
                count = sum(1 for _ in ex.map(noop, range(n), chunksize=chunksize))
            else:
                items = (i for i in range(n))
                it = ex.map(noop, items, chunksize=chunksize, buffersize=buffersize)
                count = sum(1 for _ in it)
        took = time.perf_counter() - t0
    if count != n:
        raise RuntimeError(f"{label} yielded {count} results for {n} items")
    bench.record(
        "memory",
        f"peak {n}",
        label,
        n=n,
        growth_mb=peak.growth_mb,
        seconds=took,
        base_mb=peak.base / MB,
    )
    return Row(
        f"caller peak RSS growth, map {n:,} no-op items (MB)",
        label,
        peak.growth_mb,
        target="< 50 MB" if impl == POOL and buffersize else "",
        note=f"{took:.1f} s, {n / took:,.0f} items/s"
        + ("; generator consumed lazily" if buffersize else "; submits every item first"),
    )


def run_memory(bench: Bench) -> list[Row]:
    """Idle RSS of every implementation; the caller's peak RSS while mapping many items."""
    rows = [_idle(bench, impl) for impl in (POOL, PPE, MPP, LOKY)]
    big, ppe_big, small = (
        (100_000, 50_000, 5_000) if bench.quick else (10_000_000, 1_000_000, 100_000)
    )
    rows.append(_peak(bench, POOL, big, 1000, 16))
    rows.append(_peak(bench, POOL, big, 1, 4096))  # chunksize 1: each item its own task
    rows.append(_peak(bench, POOL, small, 1, 256))
    rows.append(_peak(bench, PPE, ppe_big, 1000, None))
    rows.append(_peak(bench, PPE, small, 1, None))
    return rows
