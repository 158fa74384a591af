"""``report.json``: the tuning run's result as one JSON document, and how it is written.

The document is the contract with users and scripts (issue 4, "Fixed names"): at least
``recommendation.config`` (``tuner.WorkerPool(**config)`` keyword arguments) with
``recommendation.throughput`` (tasks/s), its confidence interval and latency percentiles,
``baseline`` (ProcessPoolExecutor with default settings, same workload, same run) and
``environment``.  ``--json`` prints the same document.

Layout (``format_version`` 1)::

    format_version, generated_at (UTC, ISO 8601)
    recommendation   null when nothing met the constraints (then ``reason`` says why), else
        config, objective, estimate, interval (the objective's unit), throughput,
        throughput_interval {low, high, level, n}, samples, repeats, latency_p50_s,
        latency_p90_s, latency_p99_s, cpu_percent, peak_rss_bytes, stable, explanation [str]
    reason           null, or why there is no recommendation
    baseline         null when not measured, else config, throughput, throughput_interval,
                     samples, latency_p50_s/p90/p99, cpu_percent, peak_rss_bytes, stable, error
    gain_over_baseline       recommendation throughput / baseline throughput, or null
    p99_gain_over_baseline   baseline p99 / recommendation p99 (> 1: lower latency), or null
    environment, workload, settings     as given (made JSON-safe)
    search           strategy, objective, stopped, evaluations, samples, reused, trials,
                     configurations, trial_seconds, violating [{config, violations}],
                     explanation [str], usl (fit at the recommendation's settings, or null),
                     usl_note, usl_by_balancer [...]
    configurations   every configuration measured, merged over its repeats, with id (C1...,
                     as in the HTML table and plots), rank (1 = best usable, null otherwise)

There is no NaN or infinity anywhere: a value that is missing, not measured or infinite is
``null`` (an interval from one sample has null bounds; a USL fit without a peak has
``n_star`` null and ``peak`` false).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import json
import math
import os
import stat
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import TunerError
from ..search.session import SearchResult
from ..search.trials import Trial, config_key
from .summary import (
    finite,
    interval_json,
    rank_configurations,
    summarise_configurations,
    usl_slices,
)

__all__ = [
    "FORMAT_VERSION",
    "ReportPaths",
    "build_report",
    "json_safe",
    "report_text",
    "write_report",
]

FORMAT_VERSION = 1
"""Version of the ``report.json`` layout; raised when a field changes meaning or goes away."""


def json_safe(value: Any) -> Any:
    """``value`` made strictly JSON-serialisable: NaN and infinities become None, numpy
    scalars become Python numbers, tuples and sets become lists, mapping keys become strings,
    callables become their ``module:qualname``, anything else unknown becomes its ``repr``."""
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [json_safe(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return json_safe(dataclasses.asdict(value))
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item) and getattr(value, "shape", None) == ():
        return json_safe(item())
    if callable(value) and hasattr(value, "__qualname__"):
        return f"{getattr(value, '__module__', '?')}:{value.__qualname__}"
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return repr(value)


def _measurements(trial: Trial) -> dict[str, Any]:
    return {
        "throughput": finite(trial.throughput) if trial.samples else None,
        "throughput_interval": interval_json(trial.samples),
        "samples": [finite(s) for s in trial.samples],
        "repeats": trial.repeats,
        "latency_p50_s": finite(trial.latency_p50_s),
        "latency_p90_s": finite(trial.latency_p90_s),
        "latency_p99_s": finite(trial.latency_p99_s),
        "cpu_percent": finite(trial.cpu_percent),
        "peak_rss_bytes": None if trial.peak_rss_bytes is None else int(trial.peak_rss_bytes),
        "stable": bool(trial.stable),
    }


def _interval(result: SearchResult, which: str) -> dict[str, Any] | None:
    ci = getattr(result, which)
    if ci is None:
        return None
    return {"low": finite(ci.low), "high": finite(ci.high), "level": ci.level, "n": ci.n}


def _recommendation(result: SearchResult) -> dict[str, Any] | None:
    best = result.best_trial
    if result.best_config is None or best is None:
        return None
    rec = {
        "config": json_safe(dict(result.best_config)),
        "objective": result.objective.kind,
        "estimate": finite(result.estimate),
        "interval": _interval(result, "interval"),
        **_measurements(best),
    }
    if result.throughput_interval is not None:
        rec["throughput_interval"] = _interval(result, "throughput_interval")
    rec["explanation"] = list(result.explain())
    return rec


def _reason(result: SearchResult) -> str:
    if any(t.ok for t in result.trials) and result.violating:
        return (
            f"no measured configuration met the constraints ({len(result.violating)} broke "
            f"one, e.g. {result.violating[0].violations[0]}); relax a constraint or widen the "
            "search"
        )
    if not any(t.ok for t in result.trials):
        errors = [t.error for t in result.trials if t.error]
        first = f": {errors[0]}" if errors else ""
        return f"no trial measured the workload successfully{first}"
    return "no configuration could be recommended (see search.explanation)"


def _baseline(baseline: Trial | None) -> dict[str, Any] | None:
    if baseline is None:
        return None
    return {
        "config": json_safe(dict(baseline.config)),
        **_measurements(baseline),
        "error": baseline.error,
    }


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or denominator is None or denominator <= 0 or numerator <= 0:
        return None
    return finite(numerator / denominator)


def build_report(
    *,
    result: SearchResult,
    trials: Sequence[Trial],
    baseline: Trial | None,
    workload: Mapping[str, Any],
    settings: Mapping[str, Any],
    environment: Mapping[str, Any],
) -> dict[str, Any]:
    """The ``report.json`` document of a finished search (layout in the module docstring).

    Parameters
    ----------
    result : SearchResult
        What the strategy returned.
    trials : sequence of Trial
        Every trial of the run, as logged to ``trials.jsonl`` (resumed ones included).
    baseline : Trial or None
        ProcessPoolExecutor with default settings on the same workload, measured in the same
        run; None when it was not measured (then ``gain_over_baseline`` is null).
    workload : mapping
        ``name``, ``description``, ``function`` (``module:function``), ...
    settings : mapping
        ``budget``, ``objective``, ``strategy``, ``constraints``, ``seed``, ``fixed``, ...
    environment : mapping
        :func:`tuner.report.environment` output.

    Returns
    -------
    dict
        Strictly JSON-serialisable (``json.dumps(..., allow_nan=False)`` succeeds).
    """
    if not isinstance(result, SearchResult):
        raise TunerError(f"build_report needs a SearchResult, got {type(result).__name__}")
    trials = list(trials)
    bad = [type(t).__name__ for t in trials if not isinstance(t, Trial)]
    if bad:
        raise TunerError(f"build_report needs Trial records, got {bad[0]}")
    if baseline is not None and not isinstance(baseline, Trial):
        raise TunerError(f"baseline must be a Trial or None, got {type(baseline).__name__}")

    violating = {t.key: t.violations for t in result.violating}
    summaries = summarise_configurations(trials, violating)
    ranks = rank_configurations(summaries, result.objective.kind)
    slices = usl_slices(summaries, prefer=result.best_config)
    rec = _recommendation(result)

    usl = usl_note = None
    if result.best_config is not None:
        balancer = str(result.best_config.get("balancer", "default"))
        own = next((s for s in slices if s.balancer == balancer), None)
        if own is not None and own.fit is not None:
            usl = own.to_json()
            if config_key(own.fixed) != config_key(
                {k: v for k, v in result.best_config.items() if k != "max_workers"}
            ):
                usl_note = (
                    "fitted on the sizes measured with other settings of the recommended "
                    "balancer (too few sizes at the recommended settings)"
                )
        else:
            usl_note = own.note if own is not None else "no pool-size sweep to fit"

    baseline_doc = _baseline(baseline)
    base_ok = baseline is not None and baseline.ok
    gain = p99_gain = None
    if rec is not None and base_ok:
        gain = _ratio(rec["throughput"], baseline_doc["throughput"])
        p99_gain = _ratio(baseline_doc["latency_p99_s"], rec["latency_p99_s"])

    own_trials = result.trials[result.reused :]
    report = {
        "format_version": FORMAT_VERSION,
        "generated_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "recommendation": rec,
        "reason": None if rec is not None else _reason(result),
        "baseline": baseline_doc,
        "gain_over_baseline": gain,
        "p99_gain_over_baseline": p99_gain,
        "environment": json_safe(dict(environment)),
        "workload": json_safe(dict(workload)),
        "settings": json_safe(dict(settings)),
        "search": {
            "strategy": result.strategy,
            "objective": result.objective.kind,
            "stopped": result.stopped,
            "evaluations": result.evaluations,
            "samples": result.samples,
            "reused": result.reused,
            "trials": len(trials),
            "configurations": len(summaries),
            "trial_seconds": finite(sum(t.duration_s for t in own_trials)),
            "violating": [
                {"config": json_safe(t.config), "violations": list(t.violations)}
                for t in result.violating
            ],
            "explanation": list(result.explain()),
            "usl": usl,
            "usl_note": usl_note,
            "usl_by_balancer": [s.to_json() for s in slices],
        },
        "configurations": [s.to_json(ranks.get(s.id)) for s in summaries],
    }
    return json_safe(report)


def report_text(report: Mapping[str, Any]) -> str:
    """The document as JSON text: what ``report.json`` holds and ``--json`` prints
    (indented, UTF-8, strictly JSON: NaN and infinities were made null)."""
    return json.dumps(json_safe(report), indent=2, allow_nan=False, ensure_ascii=False) + "\n"


@dataclasses.dataclass(frozen=True)
class ReportPaths:
    """The files :func:`write_report` wrote."""

    json: Path
    html: Path


def atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file and ``os.replace``: a reader (or a
    crash) sees the old file or the new one, never half of one.

    Raises
    ------
    TunerError
        The directory cannot be written; the ``OSError`` is the cause.
    """
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        # mkstemp creates the file 0600; a report is not secret, so give it the mode the
        # file it replaces had (or rw-r--r--), as a plain open() would have.
        try:
            mode = stat.S_IMODE(os.stat(path).st_mode)
        except OSError:
            mode = 0o644
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        raise TunerError(
            f"cannot write {path}: {exc.strerror or exc}; choose a writable output directory"
        ) from exc
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def write_report(
    out_dir: str | os.PathLike[str], report: Mapping[str, Any], trials: Sequence[Trial]
) -> ReportPaths:
    """Write ``DIR/report.json`` and the self-contained ``DIR/report.html``, each atomically.

    Parameters
    ----------
    out_dir : path
        The run directory (created if missing).
    report : mapping
        :func:`build_report` output.
    trials : sequence of Trial
        Every trial (the HTML table and the plots are drawn from them).

    Raises
    ------
    TunerError
        The directory cannot be created or written, or the report holds something JSON
        cannot represent.
    """
    from .html import render_html

    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TunerError(
            f"cannot create {out}: {exc.strerror or exc}; choose a writable output directory"
        ) from exc
    try:
        text = report_text(report)
    except (TypeError, ValueError) as exc:
        raise TunerError(f"the report cannot be written as JSON: {exc}") from exc
    paths = ReportPaths(out / "report.json", out / "report.html")
    atomic_write(paths.json, text)
    atomic_write(paths.html, render_html(report, trials))
    return paths
