"""One measurement of one running executor: warm-up, calibration, measured windows, monitor.

Shared by :class:`~tuner.runner.PoolEvaluator` (a fresh ``WorkerPool`` per trial) and
:func:`~tuner.runner.run_baseline` (a ``ProcessPoolExecutor``); the executor is started and
shut down by the caller, this module only drives it and turns what it saw into the fields of
a :class:`~tuner.search.Trial`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np

from ..errors import RemoteError, RemoteTraceback
from ..monitor import Monitor, MonitorError, MonitorSummary
from ..workloads import Workload
from ._driver import ClosedLoop, Phase, PoolBroke

__all__ = [
    "CALIBRATION_S",
    "FAIL_FRACTION",
    "MAX_WINDOW_TASKS",
    "MIN_IN_FLIGHT",
    "MIN_WINDOW_TASKS",
    "TARGET_WINDOW_S",
    "WARMUP_MAX_S",
    "describe_error",
    "in_flight_limit",
]

log = logging.getLogger("tuner.runner")

TARGET_WINDOW_S: Final = 1.0
"""A calibrated window (user workload without ``trial_tasks``) lasts about this long."""

MIN_WINDOW_TASKS: Final = 20
"""Fewest tasks in a calibrated window: fewer make the p99 of a window meaningless."""

MAX_WINDOW_TASKS: Final = 100_000
"""Most tasks in a calibrated window (no-op-sized tasks would otherwise ask for millions)."""

CALIBRATION_S: Final = 0.5
"""Length of the time-based warm-up that calibrates a window, when nothing else is known."""

WARMUP_MAX_S: Final = 30.0
"""Cap on the warm-up when ``max_window_s`` is shorter: a worker's first task imports the
task's module (a user module may import heavy libraries), which is what the warm-up is for."""

SPAN_TICKS: Final = 12
"""Monitor ticks wanted over a trial's measured windows (see :func:`monitor_interval`): a
margin over the judgement's ``min_samples`` of 5."""

MIN_MONITOR_INTERVAL_S: Final = 0.04
"""Fastest sampling for short trials: 25 Hz, about 2 % of a core with eight workers."""

MIN_IN_FLIGHT: Final = 16
"""Fewest tasks kept in flight whatever the configuration."""

FAIL_FRACTION: Final = 0.5
"""A trial in which more than this fraction of tasks raised is a failed trial."""

_ENDLESS: Final = 10**12  # "as many as the time caps allow" for a calibrating trial

Emit = Callable[[str, dict[str, Any]], None]


def in_flight_limit(
    max_workers: int,
    *,
    prefetch: int = 16,
    batch_size: int = 1,
    window_tasks: int | None = None,
    queue_size: int = 0,
) -> int:
    """How many tasks the closed loop keeps unresolved for a pool of this shape.

    ``max_workers × max(4 × min(prefetch, 16), 2 × batch_size)``, at least
    :data:`MIN_IN_FLIGHT`; at most a quarter of the window (and never more than ``queue_size``
    when the pool bounds its queue).

    Why: every worker must find its credit window full and a batch's worth queued, or the
    trial would measure the driver's stinginess instead of the pool (4 windows of up to 16
    per worker cover the adaptive window the broker uses; 2 batches let coalescing happen).
    An unbounded backlog would instead measure queueing: by Little's law the latency of a
    closed loop is ``in_flight / throughput``, so a needlessly deep loop inflates p99 and the
    memory held for payloads (the ``memory`` workload).  The quarter-window cap keeps a
    window much longer than one pipeline's worth of tasks.
    """
    depth = max(4 * min(int(prefetch), 16), 2 * int(batch_size))
    limit = max(MIN_IN_FLIGHT, int(max_workers) * depth)
    if window_tasks is not None:
        limit = min(limit, max(MIN_IN_FLIGHT, window_tasks // 4))
    if queue_size and queue_size > 0:
        limit = min(limit, int(queue_size))
    return max(1, limit)


def describe_error(exc: BaseException) -> str:
    """``Type: message`` of a task's exception, followed by the worker's traceback text.

    The traceback comes from the exception's ``__cause__``: a
    :class:`~tuner.errors.RemoteTraceback` (WorkerPool) or ProcessPoolExecutor's
    ``_RemoteTraceback`` (its ``tb`` attribute).
    """
    name = exc.type_name if isinstance(exc, RemoteError) else type(exc).__qualname__
    text = f"{name}: {exc}" if not isinstance(exc, RemoteError) else str(exc)
    cause = exc.__cause__
    tb = None
    if isinstance(cause, RemoteTraceback):
        tb = cause.text
    elif isinstance(getattr(cause, "tb", None), str):
        tb = cause.tb  # type: ignore[union-attr]
    elif isinstance(exc, RemoteError) and exc.traceback_text:
        tb = exc.traceback_text
    return f"{text}\n{tb.rstrip()}" if tb else text


@dataclass
class Outcome:
    """The measured fields of a trial (everything but config, strategy, stage and timing)."""

    samples: tuple[float, ...] = ()
    p99_samples: tuple[float, ...] = ()
    latency_p50_s: float | None = None
    latency_p90_s: float | None = None
    latency_p99_s: float | None = None
    cpu_percent: float | None = None
    peak_rss_bytes: int | None = None
    stable: bool = True
    error: str | None = None
    window_tasks: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def trial_fields(self) -> dict[str, Any]:
        """Keyword arguments for :class:`~tuner.search.Trial`."""
        return {
            "samples": self.samples,
            "p99_samples": self.p99_samples,
            "latency_p50_s": self.latency_p50_s,
            "latency_p90_s": self.latency_p90_s,
            "latency_p99_s": self.latency_p99_s,
            "cpu_percent": self.cpu_percent,
            "peak_rss_bytes": self.peak_rss_bytes,
            "stable": self.stable,
            "error": self.error,
        }


@dataclass
class Plan:
    """How one trial is measured (resolved from the evaluator's settings and the workload)."""

    workload: Workload
    seed: int
    repeats: int
    window_tasks: int | None  # None: calibrate from the warm-up
    warmup_tasks: int | None  # None: a time-based warm-up of CALIBRATION_S
    max_window_s: float
    monitor_interval_s: float


def monitor_interval(interval_s: float, span_s: float | None) -> float:
    """The monitor's sampling interval for a trial whose windows last ``span_s`` in all.

    The trial's stability is judged over all its windows together, and the judgement needs
    :class:`~tuner.monitor.StabilityRule`'s ``min_samples`` ticks: at the default 10 Hz, the
    0.2 s windows of a one-minute run gave two or three, and every trial was "unstable" for
    lack of samples.  So short spans are sampled faster, aiming at :data:`SPAN_TICKS` ticks,
    but never faster than :data:`MIN_MONITOR_INTERVAL_S` (each tick costs ~0.1 ms per process
    of CPU the trial is measuring, and the kernel counts CPU in 10 ms ticks anyway).  The span
    is only known once the first window has run (the warm-up's rate is no guide: it includes
    the workers' first imports), so :func:`measure` samples the first window at the fastest
    rate and then sets this one.
    """
    if span_s is None or not math.isfinite(span_s) or span_s <= 0:
        return interval_s
    return max(min(MIN_MONITOR_INTERVAL_S, interval_s), min(interval_s, span_s / SPAN_TICKS))


class _Windows:
    """Monitor marks around each measured window (for the live display) and over their whole
    span (the trial's CPU, RSS and stability); a failing monitor is dropped, not fatal."""

    def __init__(self, interval_s: float) -> None:
        self.span: MonitorSummary | None = None
        self.monitor: Monitor | None
        try:
            self.monitor = Monitor(interval_s=interval_s).start()
        except (MonitorError, OSError) as exc:
            log.warning("tuner runner: no CPU/RSS figures for this trial: %s", exc)
            self.monitor = None
        self._mark = None
        self._first = None

    def begin(self) -> None:
        if self.monitor is None:
            return
        try:
            self._mark = self.monitor.mark()
        except MonitorError as exc:
            log.warning("tuner runner: monitor failed, dropping CPU/RSS figures: %s", exc)
            self.close()
            return
        if self._first is None:
            self._first = self._mark

    def set_interval(self, interval_s: float) -> None:
        if self.monitor is not None:
            self.monitor.set_interval(interval_s)

    def end(self) -> MonitorSummary | None:
        """Summarise the window begun last."""
        return self._summary(self._mark)

    def end_span(self) -> None:
        """Summarise from the first window's start to now: what the trial reports."""
        self.span = self._summary(self._first)

    def _summary(self, since: Any) -> MonitorSummary | None:
        if self.monitor is None or since is None:
            return None
        try:
            return self.monitor.summary(since=since)
        except MonitorError as exc:
            log.warning("tuner runner: monitor failed, dropping CPU/RSS figures: %s", exc)
            self.close()
            return None

    def close(self) -> None:
        monitor, self.monitor = self.monitor, None
        if monitor is not None:
            try:
                monitor.stop()
            except MonitorError as exc:
                log.warning("tuner runner: monitor stopped with an error: %s", exc)


def _percentiles(values: np.ndarray) -> tuple[float, float, float]:
    p50, p90, p99 = np.percentile(values, [50.0, 90.0, 99.0])
    return float(p50), float(p90), float(p99)


def measure(
    plan: Plan,
    submit: Callable[[Hashable | None, tuple[Any, ...]], Future[Any]],
    limit_for: Callable[[int | None], int],
    emit: Emit,
) -> Outcome:
    """Warm up, calibrate if needed, then measure ``plan.repeats`` windows.

    Parameters
    ----------
    submit : callable
        ``submit(key, args) -> Future`` on the running executor.
    limit_for : callable
        ``limit_for(window_tasks) -> in-flight bound`` (the window may only be known after
        calibration).

    Returns
    -------
    Outcome
        With ``error`` set when the run failed (every warm-up task raised, the pool broke or
        stalled, more than :data:`FAIL_FRACTION` of tasks raised); ``window_tasks`` holds the
        window size used (the calibrated one, if calibration ran).

    Raises
    ------
    WorkloadError
        The workload's input stream failed (the same for every configuration).
    KeyboardInterrupt
        Propagated as is.
    """
    wl = plan.workload
    window = plan.window_tasks
    warmup = plan.warmup_tasks
    if warmup is None and window is not None:
        warmup = max(1, window // 10)
    # Enough calls for every phase plus the pipeline left in flight at the end; a count, not
    # None, because a user stream is only restarted (cycled) when a count is asked for.
    calls_needed = _ENDLESS
    if window is not None and warmup is not None:
        calls_needed = warmup + plan.repeats * window + 2 * limit_for(window)
    calls = wl.calls(plan.seed, calls_needed)
    loop = ClosedLoop(submit, calls, limit_for(window))
    # The first window is sampled at the fastest rate: its length is not known yet.
    windows = _Windows(min(plan.monitor_interval_s, MIN_MONITOR_INTERVAL_S))
    phases: list[Phase] = []
    warm: Phase | None = None
    try:
        try:
            warm_max_s = max(plan.max_window_s, WARMUP_MAX_S)
            if warmup is None:  # nothing known: a short time-based warm-up
                warm = loop.run_phase(None, warm_max_s, soft_s=CALIBRATION_S / 2)
            else:
                warm = loop.run_phase(warmup, warm_max_s)
            probe = None
            if window is None and warm.tasks and warm.failed < warm.tasks:
                # Calibrate on a probe after the warm-up, whose first tasks paid for imports
                # and would make the window too short.
                probe = loop.run_phase(None, warm_max_s, soft_s=CALIBRATION_S)
                warm = _joined(warm, probe)
            emit("warmup", {"tasks": warm.tasks, "failed": warm.failed,
                            "seconds": warm.elapsed_s})  # fmt: skip
            if warm.tasks == 0:
                return Outcome(error=_stalled("warm-up", warm_max_s), window_tasks=window)
            if warm.failed == warm.tasks:
                assert warm.first_error is not None
                return Outcome(
                    error=f"every warm-up task raised ({warm.tasks} of {warm.tasks}): "
                    + describe_error(warm.first_error),
                    window_tasks=window,
                )
            if window is None:
                assert probe is not None
                window = round(probe.throughput * TARGET_WINDOW_S)
                window = min(max(window, MIN_WINDOW_TASKS), MAX_WINDOW_TASKS)
                loop.limit = limit_for(window)
                emit("calibrated", {"window_tasks": window, "throughput": probe.throughput})
            for index in range(plan.repeats):
                windows.begin()
                phase = loop.run_phase(window, plan.max_window_s)
                summary = windows.end()
                if index == 0:
                    span_s = phase.elapsed_s * plan.repeats
                    windows.set_interval(monitor_interval(plan.monitor_interval_s, span_s))
                phases.append(phase)
                if phase.tasks == 0:
                    return Outcome(
                        error=_stalled(f"window {index + 1}", plan.max_window_s),
                        window_tasks=window,
                    )
                emit("window", {
                    "index": index, "repeats": plan.repeats, "tasks": phase.tasks,
                    "failed": phase.failed, "seconds": phase.elapsed_s,
                    "throughput": phase.throughput, "capped": phase.capped,
                    "p99_s": float(np.percentile(phase.latencies_s, 99.0)),
                    "cpu_percent": None if summary is None else summary.tree_cpu_percent_mean,
                })  # fmt: skip
            windows.end_span()
        except PoolBroke as exc:
            return Outcome(error=f"the pool stopped working mid-trial: {exc}", window_tasks=window)
    finally:
        windows.close()
    return _assemble(warm, phases, windows.span, window)


def _joined(a: Phase, b: Phase) -> Phase:
    """Two consecutive phases as one (the warm-up and the calibration probe)."""
    return Phase(
        tasks=a.tasks + b.tasks,
        failed=a.failed + b.failed,
        elapsed_s=a.elapsed_s + b.elapsed_s,
        latencies_s=np.concatenate([a.latencies_s, b.latencies_s]),
        capped=a.capped or b.capped,
        exhausted=b.exhausted,
        first_error=a.first_error if a.first_error is not None else b.first_error,
    )


def _stalled(what: str, max_s: float) -> str:
    return (
        f"no task finished during the {what} within {max_s:g} s: the pool "
        "stalled (workers dead or stuck), or one task takes longer than that (raise "
        "max_window_s)"
    )


def _assemble(
    warm: Phase | None, phases: list[Phase], span: MonitorSummary | None, window: int | None
) -> Outcome:
    """The trial's fields from its phases and the monitor's summary of the windows' span.

    CPU, RSS and stability come from the span (``None``, ``None`` and unstable when the
    monitor did not last the trial: nothing then shows a quiet machine).  Stability is
    judged once over the whole span: a window can be too short for a judgement of its own,
    and other work during any of them disturbs the trial's mean anyway.
    """
    all_lat = np.concatenate([p.latencies_s for p in phases])
    p50, p90, p99 = _percentiles(all_lat)
    cpu = rss = None
    stable = False
    if span is not None:
        cpu = span.tree_cpu_percent_mean if math.isfinite(span.tree_cpu_percent_mean) else None
        rss = int(span.tree_rss_peak_bytes)
        stable = span.stable
    measured = [warm, *phases] if warm is not None else phases
    total = sum(p.tasks for p in measured)
    failed = sum(p.failed for p in measured)
    error = None
    if total and failed / total > FAIL_FRACTION:
        first = next(p.first_error for p in measured if p.first_error is not None)
        assert first is not None
        error = f"{failed} of {total} tasks raised: {describe_error(first)}"
    return Outcome(
        samples=tuple(p.throughput for p in phases),
        p99_samples=tuple(float(np.percentile(p.latencies_s, 99.0)) for p in phases),
        latency_p50_s=p50,
        latency_p90_s=p90,
        latency_p99_s=p99,
        cpu_percent=cpu,
        peak_rss_bytes=rss,
        stable=stable,
        error=error,
        window_tasks=window,
        extra={
            "tasks": total,
            "failed": failed,
            "capped_windows": sum(p.capped for p in phases),
            "unstable_reason": None if span is None else span.unstable_reason,
        },
    )
