"""What every section of the pool benchmark shares: the peers, raw figures, process hygiene.

Every section receives a :class:`Bench`: the worker count, whether this is a ``--quick`` smoke
run, and :attr:`Bench.figures`, where the section records its raw measurements (every timed
round, not only the best) so that ``--json`` can write them and the docs' figures stay
traceable to one run.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import psutil

MB = 2**20
#: The repository root: child interpreters run there so that ``benchmarks`` imports.
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

POOL = "WorkerPool"
PPE = "ProcessPoolExecutor"
MPP = "multiprocessing.Pool"
LOKY = "loky"
#: The pool with larger knobs than its defaults, for the rows labelled "tuned".
TUNED_KNOBS = {"batch_size": 64, "prefetch": 256}
TUNED = "WorkerPool tuned (" + ", ".join(f"{k}={v}" for k, v in TUNED_KNOBS.items()) + ")"
#: The caller-runs bound (:mod:`.direct`): one real worker, no broker thread; round trip only.
DIRECT = "caller-runs bound (1 real worker, no broker thread)"


@dataclass
class Bench:
    """One run of the benchmark: its settings, and the raw figures sections record."""

    workers: int
    quick: bool
    figures: dict[str, Any] = field(default_factory=dict)

    def record(self, section: str, case: str, impl: str, **values: Any) -> None:
        """Keep ``values`` (seconds, counts, samples) under ``section / case / impl``."""
        self.figures.setdefault(section, {}).setdefault(case, {})[impl] = values

    def get(self, section: str, case: str, impl: str, key: str) -> Any:
        """A recorded value, or None if that section, case or impl was not run."""
        return self.figures.get(section, {}).get(case, {}).get(impl, {}).get(key)


# ---------------------------------------------------------------------------- peers


def make_executor(impl: str, workers: int) -> Any:
    """Start the executor (or ``multiprocessing.Pool``) named ``impl`` with ``workers`` workers.

    All start fresh interpreters (spawn or equivalent): fork is not safe once ZeroMQ contexts
    or threads exist in the parent, and it would flatter the peers' start-up.
    """
    if impl in (POOL, TUNED):
        from tuner.pool.executor import WorkerPool  # here: the idle-memory probe imports us

        knobs = TUNED_KNOBS if impl == TUNED else {}
        return WorkerPool(max_workers=workers, **knobs)
    if impl == DIRECT:
        from .direct import DirectWorker

        return DirectWorker()
    ctx = multiprocessing.get_context("spawn")
    if impl == PPE:
        return ProcessPoolExecutor(max_workers=workers, mp_context=ctx)
    if impl == MPP:
        return ctx.Pool(workers)
    if impl == LOKY:
        import loky

        return loky.ProcessPoolExecutor(max_workers=workers)
    raise ValueError(f"unknown implementation {impl!r}")


def close_executor(ex: Any) -> None:
    """End ``ex`` and its workers without waiting on tasks (used in ``finally`` blocks)."""
    if type(ex).__module__.startswith("loky"):
        ex.shutdown(wait=True, kill_workers=True)  # loky has no cancel_futures
    elif isinstance(ex, Executor):
        ex.shutdown(wait=True, cancel_futures=True)
    else:  # multiprocessing.Pool
        ex.terminate()
        ex.join()


def worker_pids(ex: Any) -> list[int]:
    """Pids of the worker processes of ``ex`` (private attributes of the peers: benchmark only)."""
    if type(ex).__name__ == "WorkerPool":
        return [w.pid for w in ex.stats().workers]
    procs = getattr(ex, "_processes", None)  # ProcessPoolExecutor, loky: {pid: process}
    if isinstance(procs, dict):
        return list(procs)
    return [p.pid for p in getattr(ex, "_pool", [])]  # multiprocessing.Pool


def wait_workers(pool: Any, n: int, exclude: frozenset[int] = frozenset()) -> None:
    """Wait until ``pool`` has ``n`` live workers, none of them in ``exclude``."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        pids = {w.pid for w in pool.stats().workers}
        if len(pids) == n and not pids & exclude:
            return
        time.sleep(0.001)
    raise TimeoutError(f"pool not back at {n} workers within 60 s")


def _is_resource_tracker(proc: psutil.Process) -> bool:
    # multiprocessing's and loky's resource trackers are per-process singletons that exit
    # when we do; ending one mid-run would only make the next pool start another.
    try:
        return any("resource_tracker" in part for part in proc.cmdline())
    except psutil.Error:
        return False


@contextlib.contextmanager
def reaped() -> Iterator[None]:
    """End every child process started inside the block and still alive when it exits.

    The executors' own shutdown comes first (in the section's ``finally``); this is the
    backstop for a shutdown that failed or a process that outlived it, so that no benchmark
    run, even one that raised, leaves workers behind.
    """
    me = psutil.Process()
    before = {p.pid for p in me.children(recursive=True)}
    try:
        yield
    finally:
        left = [
            p
            for p in me.children(recursive=True)
            if p.pid not in before and not _is_resource_tracker(p)
        ]
        _gone, alive = psutil.wait_procs(left, timeout=1)  # shutdown already joined most
        for p in alive:
            with contextlib.suppress(psutil.Error):
                p.kill()
        psutil.wait_procs(alive, timeout=5)


@contextlib.contextmanager
def executors(impls: list[str], workers: int) -> Iterator[dict[str, Any]]:
    """Start every executor in ``impls``; end them all (and any straggler) on exit."""
    started: dict[str, Any] = {}
    with reaped():
        try:
            for impl in impls:
                started[impl] = make_executor(impl, workers)
            yield started
        finally:
            for impl, ex in started.items():
                try:
                    close_executor(ex)
                except Exception as exc:  # the reaper below still ends its processes
                    print(f"warning: closing {impl} failed: {exc!r}", file=sys.stderr)


def rss_mb(pid: int) -> float:
    """Resident set size of ``pid`` in MB."""
    return psutil.Process(pid).memory_info().rss / MB


class PeakRss:
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

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self.peak = max(self.peak, self.proc.memory_info().rss)

    @property
    def growth_mb(self) -> float:
        """Peak minus the RSS at construction, in MB."""
        return (self.peak - self.base) / MB


def timed(fn: Callable[[], object]) -> float:
    """Seconds one call of ``fn`` took."""
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0
