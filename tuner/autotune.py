"""``tuner.optimize`` and ``Recommendation``: find the pool configuration that runs a workload
fastest on this machine (``tuner.optimize`` is :func:`tuner.autotune.optimize`).

The command line (``python -m tuner optimize``) is a thin layer over :func:`optimize`::

    workload  ->  check it runs (in-process, a few tasks)
              ->  search (auto | grid | random) over the pool's knobs, each trial a real
                  WorkerPool on the real workload (tuner.runner), every trial appended to
                  OUT/trials.jsonl as it finishes
              ->  baseline: ProcessPoolExecutor with its defaults, same workload, same
                  windows, same run
              ->  OUT/report.json, OUT/report.html, and a Recommendation

The budget covers everything: the search gets all but ``BASELINE_SHARE`` of it.  Ctrl-C
(SIGINT) stops the search after the trial that is running and still writes the report from
every finished trial; a second Ctrl-C interrupts at once.

Example
-------
>>> from tuner import optimize                                          # doctest: +SKIP
>>> rec = optimize(my_task, my_inputs, budget="60s")                     # doctest: +SKIP
>>> with rec.pool() as pool:                                             # doctest: +SKIP
...     results = list(pool.map(my_task, data))
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError, SearchError
from .search import (
    Budget,
    Constraints,
    Objective,
    SearchSpace,
    Trial,
    TrialLog,
    parse_bytes,
    parse_duration,
    parse_percent,
    run,
)
from .workloads import DEFAULT_WORKLOAD, Workload, from_function, resolve

__all__ = ["BASELINE_SHARE", "DEFAULT_BUDGET_S", "Recommendation", "optimize"]

DEFAULT_BUDGET_S = 60.0
"""Budget of a run when none is given: the README's first command takes about a minute."""

BASELINE_SHARE = 0.12
"""Share of the budget kept for the ProcessPoolExecutor baseline, measured after the search
with the window size the search used."""

FULL_WINDOW_BUDGET_S = 240.0
"""Budget from which trials use the workload's full window (``trial_tasks``)."""

WINDOW_SCALE_MIN = 0.15
MIN_SCALED_WINDOW = 50

_MIN_BUDGET_S = 5.0  # below this not even the check, one baseline window and one trial fit


@dataclass(frozen=True)
class Recommendation:
    """What :func:`optimize` found: the configuration to use, how sure it is, and why.

    Attributes
    ----------
    config : dict or None
        ``WorkerPool(**config)`` keyword arguments; None when no configuration met the
        constraints (``reason`` says why).
    throughput : float or None
        Estimated tasks/s of ``config`` (the mean over its repeats, not the best sample).
    interval : (float, float) or None
        Its 95% confidence interval.
    latency_p50_s, latency_p90_s, latency_p99_s : float or None
        Task latency percentiles measured with ``config``.
    baseline_throughput : float or None
        ProcessPoolExecutor with default settings, same workload, same run.
    gain : float or None
        ``throughput / baseline_throughput``.
    explanation : tuple of str
        Why this configuration, in sentences.
    report : dict
        The whole ``report.json`` document.
    out_dir : Path or None
        Where ``trials.jsonl``, ``report.json`` and ``report.html`` were written.
    reason : str or None
        Why there is no recommendation, when ``config`` is None.
    """

    config: dict[str, Any] | None
    throughput: float | None
    interval: tuple[float, float] | None
    latency_p50_s: float | None
    latency_p90_s: float | None
    latency_p99_s: float | None
    baseline_throughput: float | None
    gain: float | None
    explanation: tuple[str, ...]
    report: dict[str, Any] = field(repr=False)
    out_dir: Path | None = None
    reason: str | None = None

    def pool(self, **overrides: Any) -> Any:
        """Build the recommended ``WorkerPool`` (``overrides`` change or add knobs).

        Raises
        ------
        SearchError
            There is no recommendation (no configuration met the constraints).
        """
        if self.config is None:
            raise SearchError(f"no recommended configuration: {self.reason}")
        from .pool.executor import WorkerPool

        return WorkerPool(**{**self.config, **overrides})

    def snippet(self) -> str:
        """Paste-ready Python that builds the recommended pool."""
        if self.config is None:
            return f"# no recommendation: {self.reason}"
        args = ", ".join(f"{k}={v!r}" for k, v in self.config.items())
        return f"from tuner import WorkerPool\n\npool = WorkerPool({args})"


def _seconds(value: float | str | None, what: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, str):
        return parse_duration(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ConfigError(f"{what} must be a positive number of seconds or a text like '60s'")
    return float(value)


def _constraints(
    slo_p99: float | str | None, max_rss: int | str | None, max_cpu: float | str | None
) -> Constraints:
    rss = parse_bytes(max_rss) if isinstance(max_rss, str) else max_rss
    cpu = parse_percent(max_cpu) if isinstance(max_cpu, str) else max_cpu
    return Constraints(
        slo_p99_s=_seconds(slo_p99, "slo_p99"), max_rss_bytes=rss, max_cpu_percent=cpu
    )


def _workload(
    fn: Callable[..., Any] | None, inputs: Any, workload: str | Workload | None
) -> Workload:
    if fn is not None and workload is not None:
        raise ConfigError("give either fn (with inputs) or workload, not both")
    if fn is not None:
        if inputs is None:
            raise ConfigError("fn needs inputs: an iterable of argument tuples or values")
        return from_function(fn, inputs)
    if isinstance(workload, Workload):
        return workload
    return resolve(workload or DEFAULT_WORKLOAD, inputs)


def _writable_dir(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".tuner-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise ConfigError(
            f"cannot write to {str(path)!r}: {exc.strerror or exc}; choose another --out"
        ) from exc


def default_out_dir(workload: Workload) -> Path:
    """``tuner-runs/<workload>-<local time>`` under the current directory."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in workload.name)
    return Path("tuner-runs") / f"{safe}-{stamp}"


@contextlib.contextmanager
def _interruptible(budget: Budget) -> Iterator[None]:
    """First Ctrl-C: stop after the running trial (budget.cancel()); second: interrupt."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    hits = 0

    def handler(signum: int, frame: Any) -> None:
        nonlocal hits
        hits += 1
        if hits == 1:
            budget.cancel()
            return
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def optimize(
    fn: Callable[..., Any] | None = None,
    inputs: Any = None,
    *,
    workload: str | Workload | None = None,
    budget: float | str = DEFAULT_BUDGET_S,
    objective: str = "throughput",
    strategy: str = "auto",
    slo_p99: float | str | None = None,
    max_rss: int | str | None = None,
    max_cpu: float | str | None = None,
    fix: Sequence[str] = (),
    out: str | os.PathLike[str] | None = None,
    resume: str | os.PathLike[str] | None = None,
    seed: int = 0,
    baseline: bool = True,
    on_trial: Callable[[Trial], None] | None = None,
    on_event: Callable[[str, dict[str, Any]], None] | None = None,
) -> Recommendation:
    """Search pool configurations for a workload on this machine; return the best.

    Parameters
    ----------
    fn, inputs
        Your task function (importable by reference: defined in a module, not ``__main__``)
        and its inputs (an iterable of argument tuples or single arguments).  Or give
        ``workload``: a built-in name (``python -m tuner workloads``), or
        ``"module:function"`` with ``inputs`` as ``"module:generator"`` or a JSON-lines path.
        Neither: the default built-in workload (``mixed``).
    budget : float or str
        Wall time for the whole run, baseline included: seconds or ``"90s"``, ``"2m"``.
    objective : {"throughput", "p99"}
        Maximise tasks/s, or minimise the 99th percentile latency.
    strategy : {"auto", "grid", "random"}
    slo_p99, max_rss, max_cpu
        Constraints (``"50ms"``, ``"2GiB"``, ``"150%"``): a configuration that breaks one is
        reported as such and never recommended.
    fix : sequence of str
        Fix or restrict dimensions: ``"workers=4"``, ``"balancer=round_robin,pull"``,
        ``"batch_size=1..64"``.
    out : path, optional
        Directory for ``trials.jsonl``, ``report.json``, ``report.html`` (default
        ``tuner-runs/<workload>-<time>``).
    resume : path, optional
        A previous run's directory: its trials are reused, not re-run (and new ones are
        appended to it unless ``out`` names another directory); the baseline is measured
        again.
    seed : int
        Seeds the workload's inputs and the random strategy.
    baseline : bool
        Measure ProcessPoolExecutor with defaults for comparison (default True).
    on_trial, on_event
        Progress callbacks: each finished trial; runner events ``(kind, details)``.

    Raises
    ------
    tuner.errors.ConfigError, tuner.errors.SearchError
        A bad argument, an unknown dimension, an unwritable ``out``, a budget too small.
    tuner.errors.WorkloadError
        The workload cannot be loaded, or its function raises on every input (the message
        holds the function's traceback).
    """
    from . import report as reporting
    from .runner import PoolEvaluator, check_workload, run_baseline

    wl = _workload(fn, inputs, workload)
    budget_s = _seconds(budget, "budget")
    assert budget_s is not None
    if budget_s < _MIN_BUDGET_S:
        raise SearchError(
            f"a budget of {budget_s:g} s is too small for even one trial; give at least "
            f"{_MIN_BUDGET_S:g} s (a useful search needs about 60 s)"
        )
    goal = Objective(objective)
    limits = _constraints(slo_p99, max_rss, max_cpu)
    space = SearchSpace.from_pool_config().apply(fix)
    resume_dir = Path(resume) if resume is not None else None
    prior: list[Trial] = []
    if resume_dir is not None:
        log_path = resume_dir / "trials.jsonl"
        if not log_path.is_file():
            raise ConfigError(f"--resume {str(resume_dir)!r}: no trials.jsonl there")
        prior = list(TrialLog(log_path).read())
    out_dir = Path(out) if out is not None else (resume_dir or default_out_dir(wl))
    _writable_dir(out_dir)
    log = TrialLog(out_dir / "trials.jsonl")
    appending = resume_dir is not None and out_dir.resolve() == resume_dir.resolve()
    if not appending and prior:
        log.extend(prior)  # a resumed run in a new directory keeps the whole history

    check_workload(wl, seed=seed)
    # The search gets the budget less the baseline's share; the baseline runs after it, with
    # the window size the search calibrated, so both are measured alike.
    clock = Budget(seconds=budget_s * (1.0 - BASELINE_SHARE) if baseline else budget_s)
    finished: list[Trial] = list(prior)

    def record(trial: Trial) -> None:
        log.append(trial)
        finished.append(trial)
        if on_trial is not None:
            on_trial(trial)

    base: Trial | None = None
    with _interruptible(clock):
        window, warmup = _window_sizes(wl, budget_s)
        evaluator = PoolEvaluator(
            wl,
            seed=seed,
            strategy=strategy,
            on_event=on_event,
            window_tasks=window,
            warmup_tasks=warmup,
        )
        options: dict[str, Any] = {
            "budget": clock,
            "objective": goal,
            "constraints": limits,
            "prior": prior,
            "on_trial": record,
        }
        if strategy == "random":
            options["seed"] = seed
        if strategy == "auto":
            options["keyed"] = wl.keyed
        result = run(strategy, space, evaluator, **options)
        if baseline and not clock.cancelled:
            base = run_baseline(
                wl,
                repeats=3,
                seed=seed,
                window_tasks=evaluator.window_tasks,
                max_window_s=max(0.5, budget_s * BASELINE_SHARE / 4),
                on_event=on_event,
            )

    settings = {
        "budget_s": budget_s,
        "objective": goal.kind,
        "strategy": strategy,
        "constraints": {
            "slo_p99_s": limits.slo_p99_s,
            "max_rss_bytes": limits.max_rss_bytes,
            "max_cpu_percent": limits.max_cpu_percent,
        },
        "fix": list(fix),
        "seed": seed,
        "resumed_from": None if resume_dir is None else str(resume_dir),
    }
    document = reporting.build_report(
        result=result,
        trials=finished,
        baseline=base,
        workload={
            "name": wl.name,
            "description": wl.description,
            "function": getattr(wl, "function_ref", None),
        },
        settings=settings,
        environment=reporting.environment(),
    )
    reporting.write_report(out_dir, document, finished)
    return _recommendation(document, out_dir)


def _window_sizes(wl: Workload, budget_s: float) -> tuple[int | None, int | None]:
    """Tasks per measured window and warm-up, shrunk for short budgets.

    A built-in workload's ``trial_tasks`` make windows of 0.5-1 s at the best pools (up to
    ~3 s at one worker); a one-minute budget cannot afford many trials of 5 repeats at that
    size, so windows shrink with the budget (a quarter at 60 s, whole from 240 s), never
    below a few dozen tasks.  A user workload is calibrated by the runner instead (None).
    """
    if wl.trial_tasks is None:
        return None, None
    scale = min(1.0, max(WINDOW_SCALE_MIN, budget_s / FULL_WINDOW_BUDGET_S))
    window = max(MIN_SCALED_WINDOW, round(wl.trial_tasks * scale))
    warmup = None if wl.warmup_tasks is None else max(10, round(wl.warmup_tasks * scale))
    return window, warmup


def _recommendation(document: dict[str, Any], out_dir: Path) -> Recommendation:
    rec = document.get("recommendation") or {}
    base = document.get("baseline") or {}
    interval = rec.get("throughput_interval") or rec.get("interval") or {}
    low, high = interval.get("low"), interval.get("high")
    return Recommendation(
        config=rec.get("config"),
        throughput=rec.get("throughput"),
        interval=None if low is None or high is None else (low, high),
        latency_p50_s=rec.get("latency_p50_s"),
        latency_p90_s=rec.get("latency_p90_s"),
        latency_p99_s=rec.get("latency_p99_s"),
        baseline_throughput=base.get("throughput"),
        gain=document.get("gain_over_baseline"),
        explanation=tuple(rec.get("explanation") or ()),
        report=document,
        out_dir=out_dir,
        reason=document.get("reason"),
    )
