"""The real evaluator: each trial runs a fresh pool on the real workload, and the baseline.

One :meth:`PoolEvaluator.evaluate` call::

    WorkerPool(**config)            a fresh pool: no warm state carried between trials
    wait for READY                  every worker started (bounded: ready_timeout_s)
    warm-up                         not measured (imports, caches, the broker's adaptive window)
    window 1 .. repeats             closed loop, one throughput sample and p99 per window,
                                    a Monitor mark around each (tree CPU %, peak RSS, stability)
    shutdown(wait, cancel_futures)  always, in ``finally``; Ctrl-C propagates after it

Every trial uses the same input stream (the evaluator's ``seed``), so two configurations are
compared on identical tasks.  Failures come back as a :class:`~tuner.search.Trial` with
``error`` set, never as an exception, so the search moves on; the exceptions are Ctrl-C and a
broken input stream (:class:`~tuner.errors.WorkloadError`: it would fail every configuration).
"""

from __future__ import annotations

import concurrent.futures
import logging
import math
import multiprocessing
import os
import time
from collections.abc import Callable, Hashable, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, Final

from ..config import PoolConfig
from ..errors import ConfigError, WorkloadError
from ..pool import WorkerPool
from ..search.trials import Trial
from ..workloads import Workload
from ._measure import Outcome, Plan, in_flight_limit, measure

__all__ = ["READY_TIMEOUT_S", "PoolEvaluator", "run_baseline"]

log = logging.getLogger("tuner.runner")

READY_TIMEOUT_S: Final = 30.0
"""Longest wait for a fresh pool's workers to say READY before the trial fails."""

_READY_POLL_S: Final = 0.02

EventHook = Callable[[str, dict[str, Any]], None]


def _check_positive(name: str, value: Any, *, integer: bool, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    ok = not isinstance(value, bool) and (
        isinstance(value, int) if integer else isinstance(value, (int, float))
    )
    if not ok or value <= 0 or not math.isfinite(value):
        kind = "an integer" if integer else "a number"
        raise ConfigError(
            f"{name} must be {kind} > 0{' or None' if allow_none else ''}, got {value!r}",
            knob=name,
            value=value,
            valid="> 0",
        )


class _Emitter:
    """Calls the ``on_event`` hook; a failing hook is logged once, never fails a trial."""

    def __init__(self, hook: EventHook | None) -> None:
        self.hook = hook
        self._warned = False

    def __call__(self, kind: str, payload: dict[str, Any]) -> None:
        if self.hook is None:
            return
        try:
            self.hook(kind, payload)
        except Exception:
            if not self._warned:
                self._warned = True
                log.exception("tuner runner: the on_event hook raised (ignored from now on)")


class PoolEvaluator:
    """Measures configurations of :class:`~tuner.WorkerPool` on a workload (the search's
    :class:`~tuner.search.Evaluator`).

    Parameters
    ----------
    workload : Workload
        What every trial runs.
    seed : int
        Seed of the input stream, the same for every trial (paired comparisons).
    window_tasks : int, optional
        Tasks per measured window.  Default: the workload's ``trial_tasks``; a workload
        without one is calibrated on the first trial (a window of about
        :data:`~tuner.runner.TARGET_WINDOW_S`, from the warm-up's throughput) and that count is
        kept for every later trial (:attr:`window_tasks` then holds it).
    warmup_tasks : int, optional
        Unmeasured tasks before the first window.  Default: the workload's ``warmup_tasks``,
        else a tenth of the window, else (calibrating) a 0.5 s time-based warm-up.
    max_window_s : float
        Cap on each window (and on the warm-up): a window that reaches it ends there and its
        throughput is what finished over the time spent.
    monitor_interval_s : float
        Sampling interval of the process-tree monitor.
    strategy : str
        Stamped on each trial (the search's :class:`~tuner.search.Session` restamps it).
    on_event : callable, optional
        ``on_event(kind, payload)`` for a live display: ``"trial-start"`` (config, stage,
        repeats), ``"ready"`` (workers, seconds), ``"warmup"``, ``"calibrated"``,
        ``"window"`` (index, throughput, p99_s, ...), ``"trial-end"`` (trial).
    max_in_flight : int, optional
        Override of :func:`~tuner.runner.in_flight_limit` (the closed loop's depth).
    ready_timeout_s : float
        Longest wait for the workers' READY.

    Raises
    ------
    ConfigError
        An argument is invalid.
    """

    def __init__(
        self,
        workload: Workload,
        *,
        seed: int = 0,
        window_tasks: int | None = None,
        warmup_tasks: int | None = None,
        max_window_s: float = 10.0,
        monitor_interval_s: float = 0.1,
        strategy: str = "",
        on_event: EventHook | None = None,
        max_in_flight: int | None = None,
        ready_timeout_s: float = READY_TIMEOUT_S,
    ) -> None:
        if not isinstance(workload, Workload):
            raise ConfigError(
                f"workload must be a tuner.workloads.Workload, got {type(workload).__name__}",
                knob="workload",
                value=workload,
            )
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ConfigError(f"seed must be an integer, got {seed!r}", knob="seed", value=seed)
        _check_positive("window_tasks", window_tasks, integer=True, allow_none=True)
        _check_positive("warmup_tasks", warmup_tasks, integer=True, allow_none=True)
        _check_positive("max_in_flight", max_in_flight, integer=True, allow_none=True)
        _check_positive("max_window_s", max_window_s, integer=False)
        _check_positive("monitor_interval_s", monitor_interval_s, integer=False)
        _check_positive("ready_timeout_s", ready_timeout_s, integer=False)
        self.workload = workload
        self.seed = seed
        self.window_tasks: int | None = window_tasks or workload.trial_tasks
        self.warmup_tasks: int | None = warmup_tasks or workload.warmup_tasks
        self.max_window_s = float(max_window_s)
        self.monitor_interval_s = float(monitor_interval_s)
        self.strategy = strategy
        self.max_in_flight = max_in_flight
        self.ready_timeout_s = float(ready_timeout_s)
        self.evaluations = 0
        self._emit = _Emitter(on_event)

    def __repr__(self) -> str:
        return (
            f"<PoolEvaluator workload={self.workload.name!r} window_tasks={self.window_tasks} "
            f"warmup_tasks={self.warmup_tasks} max_window_s={self.max_window_s:g} "
            f"evaluations={self.evaluations}>"
        )

    def evaluate(self, config: dict[str, Any], repeats: int, stage: str) -> Trial:
        """Run ``WorkerPool(**config)`` on the workload and measure ``repeats`` windows.

        Returns
        -------
        Trial
            One throughput sample and one p99 per window; ``error`` set (and no samples, or
            the samples measured before the failure) when the configuration is invalid, the
            pool cannot start or stops working, every warm-up task raises, or more than half
            of all tasks raise.

        Raises
        ------
        KeyboardInterrupt
            After the pool is shut down.
        WorkloadError
            The workload's input stream failed (not a property of ``config``).
        """
        _check_positive("repeats", repeats, integer=True)
        config = dict(config)
        self.evaluations += 1
        self._emit("trial-start", {"config": dict(config), "stage": stage, "repeats": repeats})
        started_at, clock = time.time(), time.perf_counter()
        try:
            outcome = self._run(config, repeats)
        except (KeyboardInterrupt, WorkloadError):
            raise
        except Exception as exc:  # a failure of this configuration, whatever it is
            log.debug("tuner runner: trial of %s failed", config, exc_info=True)
            outcome = Outcome(error=f"the trial failed: {type(exc).__name__}: {exc}")
        if outcome.window_tasks is not None and self.window_tasks is None:
            self.window_tasks = outcome.window_tasks  # calibrated: keep it for every trial
        trial = Trial(
            config=config,
            started_at=started_at,
            duration_s=time.perf_counter() - clock,
            strategy=self.strategy,
            stage=stage,
            **outcome.trial_fields(),
        )
        self._emit("trial-end", {"trial": trial, **outcome.extra})
        return trial

    def _plan(self, repeats: int) -> Plan:
        """What one evaluation measures: this evaluator's windows over ``repeats``."""
        return Plan(
            workload=self.workload,
            seed=self.seed,
            repeats=repeats,
            window_tasks=self.window_tasks,
            warmup_tasks=self.warmup_tasks,
            max_window_s=self.max_window_s,
            monitor_interval_s=self.monitor_interval_s,
        )

    def _limit(self, cfg: PoolConfig) -> Callable[[int | None], int]:
        def limit(window: int | None) -> int:
            if self.max_in_flight is not None:
                return self.max_in_flight
            return in_flight_limit(
                cfg.max_workers,
                prefetch=cfg.prefetch,
                batch_size=cfg.batch_size,
                window_tasks=window,
                queue_size=cfg.queue_size,
            )

        return limit

    def _run(self, config: Mapping[str, Any], repeats: int) -> Outcome:
        try:
            pool = WorkerPool(**config)
        except ConfigError as exc:
            return Outcome(error=f"invalid configuration: {exc}")
        except Exception as exc:
            return Outcome(error=f"the pool could not start: {type(exc).__name__}: {exc}")
        try:
            cfg = pool.config
            waited = time.perf_counter()
            error = self._wait_ready(pool, cfg.max_workers)
            if error is not None:
                return Outcome(error=error)
            self._emit("ready", {"workers": cfg.max_workers,
                                 "seconds": time.perf_counter() - waited})  # fmt: skip

            fn, keyed = self.workload.fn, self.workload.keyed

            def submit(key: Hashable | None, args: tuple[Any, ...]) -> Future[Any]:
                if keyed and key is not None:
                    return pool.submit_keyed(key, fn, *args)  # type: ignore[arg-type]
                return pool.submit(fn, *args)

            return measure(self._plan(repeats), submit, self._limit(cfg), self._emit)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _wait_ready(self, pool: WorkerPool, expected: int) -> str | None:
        """None once ``expected`` workers said READY; else why not, after the timeout."""
        deadline = time.monotonic() + self.ready_timeout_s
        while True:
            stats = pool.stats()
            if len(stats.workers) >= expected:
                return None
            if time.monotonic() >= deadline:
                return (
                    f"only {len(stats.workers)} of {expected} workers said READY within "
                    f"{self.ready_timeout_s:g} s ({stats.worker_deaths} died while starting): "
                    "the machine may be overloaded, or workers cannot start (try "
                    "`python -m tuner worker --help`)"
                )
            time.sleep(_READY_POLL_S)


def run_baseline(
    workload: Workload,
    *,
    repeats: int,
    seed: int = 0,
    window_tasks: int | None = None,
    warmup_tasks: int | None = None,
    max_window_s: float = 10.0,
    monitor_interval_s: float = 0.1,
    max_workers: int | None = None,
    mp_context: str | None = "spawn",
    max_in_flight: int | None = None,
    ready_timeout_s: float = READY_TIMEOUT_S,
    on_event: EventHook | None = None,
    stage: str = "baseline",
) -> Trial:
    """Measure the naive baseline: ``ProcessPoolExecutor()`` with its default settings.

    Same closed-loop driver, warm-up, windows and failure rules as
    :meth:`PoolEvaluator.evaluate`, so the report's "gain over the baseline" compares like
    with like.  Pass the evaluator's :attr:`~PoolEvaluator.window_tasks` after a search on a
    calibrated workload, so both are measured over the same window.

    Parameters
    ----------
    max_workers : int, optional
        Default: ProcessPoolExecutor's own default (``os.cpu_count()``).
    mp_context : str or None
        ``"spawn"`` by default, not the platform's default start method (``fork`` on Linux
        up to Python 3.13): forking this process, which runs the monitor's thread and may
        hold ZeroMQ sockets and numba state, can deadlock a child on a lock held at fork
        time, and forked children share pages with the tuner, which inflates the tree's
        RSS.  Start-up is not measured (it happens before the warm-up ends), so spawn costs
        the baseline nothing in throughput.  ``None`` uses the platform default.

    Returns
    -------
    Trial
        ``config`` is ``{"executor": "ProcessPoolExecutor", "max_workers": N,
        "mp_context": ...}``; ``error`` set on failure, as for the pool.

    Raises
    ------
    KeyboardInterrupt
        After the executor is shut down.
    WorkloadError
        The workload's input stream failed.
    """
    _check_positive("repeats", repeats, integer=True)
    _check_positive("max_workers", max_workers, integer=True, allow_none=True)
    evaluator = PoolEvaluator(
        workload,
        seed=seed,
        window_tasks=window_tasks,
        warmup_tasks=warmup_tasks,
        max_window_s=max_window_s,
        monitor_interval_s=monitor_interval_s,
        strategy="baseline",
        on_event=on_event,
        max_in_flight=max_in_flight,
        ready_timeout_s=ready_timeout_s,
    )
    workers = max_workers or os.cpu_count() or 1
    config: dict[str, Any] = {
        "executor": "ProcessPoolExecutor",
        "max_workers": workers,
        "mp_context": mp_context or multiprocessing.get_start_method(),
    }
    emit = evaluator._emit
    emit("trial-start", {"config": dict(config), "stage": stage, "repeats": repeats})
    started_at, clock = time.time(), time.perf_counter()
    try:
        outcome = _run_baseline(evaluator, workers, mp_context, repeats)
    except (KeyboardInterrupt, WorkloadError):
        raise
    except Exception as exc:
        log.debug("tuner runner: baseline failed", exc_info=True)
        outcome = Outcome(error=f"the baseline failed: {type(exc).__name__}: {exc}")
    trial = Trial(
        config=config,
        started_at=started_at,
        duration_s=time.perf_counter() - clock,
        strategy="baseline",
        stage=stage,
        **outcome.trial_fields(),
    )
    emit("trial-end", {"trial": trial, **outcome.extra})
    return trial


def _run_baseline(
    evaluator: PoolEvaluator, workers: int, mp_context: str | None, repeats: int
) -> Outcome:
    context = multiprocessing.get_context(mp_context) if mp_context else None
    executor = ProcessPoolExecutor(max_workers=workers, mp_context=context)
    try:
        waited = time.perf_counter()
        # os.getpid pickles by reference: the probe imports nothing in the children.
        probes = [executor.submit(os.getpid) for _ in range(workers)]
        try:
            for probe in concurrent.futures.as_completed(probes, evaluator.ready_timeout_s):
                probe.result()
        except concurrent.futures.TimeoutError:
            return Outcome(
                error=f"ProcessPoolExecutor's {workers} workers did not start within "
                f"{evaluator.ready_timeout_s:g} s"
            )
        except concurrent.futures.BrokenExecutor as exc:
            return Outcome(error=f"ProcessPoolExecutor could not start: {exc}")
        evaluator._emit("ready", {"workers": workers, "seconds": time.perf_counter() - waited})
        fn = evaluator.workload.fn

        def submit(key: Hashable | None, args: tuple[Any, ...]) -> Future[Any]:
            return executor.submit(fn, *args)

        def limit(window: int | None) -> int:
            if evaluator.max_in_flight is not None:
                return evaluator.max_in_flight
            # No prefetch knob: its call queue holds max_workers + 1; size the loop as for a
            # pool with the same workers and a 16-task window.
            return in_flight_limit(workers, window_tasks=window)

        return measure(evaluator._plan(repeats), submit, limit, evaluator._emit)
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
