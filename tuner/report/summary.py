"""What the report derives from the trials: per-configuration summaries and USL fits.

Shared by :mod:`.document` (report.json), :mod:`.plots` and :mod:`.html`, so the numbers in
the JSON document, the table and the plots are computed once, the same way.

- A *configuration summary* merges every trial of one configuration (all its repeats, as the
  search did) and gives its mean throughput with a Student t interval, its latency
  percentiles, CPU and memory, and whether it could be recommended.
- A *USL slice* is the set of trials of one balancer that differ only in ``max_workers``
  (same batch size, prefetch and every other knob): only along such a slice is throughput a
  function of the pool size alone, so only there does fitting the Universal Scalability Law
  mean something.  Per balancer the slice with the most distinct sizes is fitted (ties: the
  fastest slice), when it has at least three sizes (σ, κ and λ are three unknowns).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import SearchError
from ..search.stats import confidence_interval
from ..search.trials import Trial, config_key, merge_by_config
from ..search.usl import USLFit, fit_usl

__all__ = [
    "ConfigSummary",
    "UslSlice",
    "finite",
    "interval_json",
    "summarise_configurations",
    "usl_slices",
]

_MIN_USL_SIZES = 3


def finite(value: Any) -> float | None:
    """``value`` as a float, or None when it is missing, NaN or infinite (JSON has no NaN)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def interval_json(samples: Sequence[float], level: float = 0.95) -> dict[str, Any] | None:
    """Student t interval of the mean of ``samples`` as JSON: ``{low, high, level, n}``.

    None without samples; ``low``/``high`` are null with one sample (its width is unknown).
    """
    values = [float(s) for s in samples if finite(s) is not None]
    if not values:
        return None
    ci = confidence_interval(values, level)
    return {"low": finite(ci.low), "high": finite(ci.high), "level": ci.level, "n": ci.n}


@dataclass(frozen=True)
class ConfigSummary:
    """Every trial of one configuration, merged.

    Attributes
    ----------
    id : str
        ``"C1"``, ``"C2"``, ... in the order configurations were first measured; the trial
        table and the plots use the same ids.
    key : str
        :func:`tuner.search.config_key` of the configuration.
    trial : Trial
        The merged trial (samples of every repeat).
    violations : tuple of str
        Constraints it breaks, as the search judged them (over all its repeats).
    usable : bool
        Measured without error and meeting every constraint: a possible recommendation.
    """

    id: str
    key: str
    trial: Trial
    violations: tuple[str, ...]
    usable: bool

    @property
    def config(self) -> dict[str, Any]:
        return self.trial.config

    def to_json(self, rank: int | None) -> dict[str, Any]:
        """JSON form for ``report.json``'s ``configurations`` list."""
        t = self.trial
        return {
            "id": self.id,
            "rank": rank,
            "config": dict(t.config),
            "repeats": t.repeats,
            "throughput": finite(t.throughput) if t.samples else None,
            "throughput_interval": interval_json(t.samples),
            "samples": [finite(s) for s in t.samples],
            "latency_p50_s": finite(t.latency_p50_s),
            "latency_p90_s": finite(t.latency_p90_s),
            "latency_p99_s": finite(t.latency_p99_s),
            "cpu_percent": finite(t.cpu_percent),
            "peak_rss_bytes": None if t.peak_rss_bytes is None else int(t.peak_rss_bytes),
            "stable": bool(t.stable),
            "error": t.error,
            "violations": list(self.violations),
            "usable": self.usable,
        }


def summarise_configurations(
    trials: Iterable[Trial], violating: Mapping[str, Sequence[str]] | None = None
) -> list[ConfigSummary]:
    """One :class:`ConfigSummary` per configuration, in first-measured order.

    Parameters
    ----------
    trials : iterable of Trial
        Every trial of the run (``trials.jsonl``).
    violating : mapping, optional
        ``config_key -> violations`` as the search judged them on the merged repeats
        (``SearchResult.violating``).  When None, the violations of a configuration's *last*
        trial are used: the search re-judges a configuration on all its repeats each time it
        measures more, so the last verdict is the one it acted on.
    """
    merged = merge_by_config(list(trials))
    out = []
    for number, (key, trial) in enumerate(merged.items(), start=1):
        if violating is not None:
            violations = tuple(violating.get(key, ()))
        else:
            violations = tuple(trial.violations)
        usable = trial.ok and not violations
        out.append(ConfigSummary(f"C{number}", key, trial, violations, usable))
    return out


def rank_configurations(
    summaries: Sequence[ConfigSummary], objective: str = "throughput"
) -> dict[str, int]:
    """Rank (1 = best) of each usable configuration by the objective's mean, keyed by id."""

    def score(s: ConfigSummary) -> float:
        if objective == "p99":
            p99 = s.trial.latency_p99_s
            return -p99 if p99 is not None and math.isfinite(p99) else -math.inf
        return s.trial.throughput

    usable = sorted((s for s in summaries if s.usable), key=score, reverse=True)
    return {s.id: rank for rank, s in enumerate(usable, start=1)}


@dataclass(frozen=True)
class UslSlice:
    """The trials of one balancer that differ only in pool size, and the USL fitted to them.

    Attributes
    ----------
    balancer : str
    fixed : dict
        The knobs held fixed along the slice (everything but ``max_workers``).
    sizes : tuple of int
        Distinct pool sizes measured, ascending.
    means : tuple of float
        Mean throughput at each size.
    lows, highs : tuple of float or None
        95% interval bounds at each size (None with one sample).
    fit : USLFit or None
        The fit, when there are at least three sizes and it succeeded.
    note : str or None
        Why there is no fit, when there is none.
    other_points : tuple of (int, float)
        (size, mean) of this balancer's configurations outside the slice, for context.
    """

    balancer: str
    fixed: dict[str, Any]
    sizes: tuple[int, ...]
    means: tuple[float, ...]
    lows: tuple[float | None, ...]
    highs: tuple[float | None, ...]
    fit: USLFit | None
    note: str | None
    other_points: tuple[tuple[int, float], ...] = ()

    def to_json(self) -> dict[str, Any]:
        fit = self.fit
        return {
            "balancer": self.balancer,
            "fixed": dict(self.fixed),
            "sizes": list(self.sizes),
            "throughputs": [finite(m) for m in self.means],
            "fitted": fit is not None,
            "lambda": None if fit is None else finite(fit.lam),
            "sigma": None if fit is None else finite(fit.sigma),
            "kappa": None if fit is None else finite(fit.kappa),
            "n_star": None if fit is None else finite(fit.n_star),
            "peak": None if fit is None else math.isfinite(fit.n_star),
            "r2": None if fit is None else finite(fit.r2),
            "rms_relative_error": None if fit is None else finite(fit.rms_relative_error),
            "points": None if fit is None else fit.n_points,
            "note": self.note,
        }


def _slice_key(config: Mapping[str, Any]) -> str:
    return config_key({k: v for k, v in config.items() if k != "max_workers"})


def usl_slices(
    summaries: Sequence[ConfigSummary], prefer: Mapping[str, Any] | None = None
) -> list[UslSlice]:
    """The USL slice of each balancer (see the module docstring), in balancer-name order.

    Parameters
    ----------
    summaries : sequence of ConfigSummary
    prefer : mapping, optional
        A configuration (the recommendation) whose own slice is taken for its balancer when
        that slice has enough sizes, so the report's fit describes the recommended settings.
    """
    groups: dict[str, dict[str, list[ConfigSummary]]] = {}
    for s in summaries:
        t = s.trial
        size = t.config.get("max_workers")
        if not t.ok or not isinstance(size, int) or isinstance(size, bool) or size < 1:
            continue
        if any(x <= 0 or not math.isfinite(x) for x in t.samples):
            continue
        balancer = str(t.config.get("balancer", "default"))
        groups.setdefault(balancer, {}).setdefault(_slice_key(t.config), []).append(s)

    preferred = None if prefer is None else _slice_key(prefer)
    out = []
    for balancer in sorted(groups):
        slices = groups[balancer]

        def strength(item: tuple[str, list[ConfigSummary]]) -> tuple[bool, int, float]:
            key, members = item
            sizes = {m.config["max_workers"] for m in members}
            return (
                key == preferred and len(sizes) >= _MIN_USL_SIZES,
                len(sizes),
                max(m.trial.throughput for m in members),
            )

        key, members = max(slices.items(), key=strength)
        out.append(
            _fit_slice(balancer, members, [m for k, ms in slices.items() if k != key for m in ms])
        )
    return out


def _fit_slice(
    balancer: str, members: Collection[ConfigSummary], others: Collection[ConfigSummary]
) -> UslSlice:
    by_size = sorted(members, key=lambda m: m.config["max_workers"])
    sizes = tuple(int(m.config["max_workers"]) for m in by_size)
    means = tuple(float(m.trial.throughput) for m in by_size)
    intervals = [confidence_interval(m.trial.samples) for m in by_size]
    lows = tuple(finite(ci.low) for ci in intervals)
    highs = tuple(finite(ci.high) for ci in intervals)
    fixed = {k: v for k, v in by_size[0].config.items() if k != "max_workers"}
    fit = note = None
    if len(sizes) < _MIN_USL_SIZES:
        note = (
            f"{balancer}: USL not fitted, only {len(sizes)} pool size(s) measured with the "
            f"same other settings (it needs {_MIN_USL_SIZES})"
        )
    else:
        ns = [n for m, n in zip(by_size, sizes, strict=True) for _ in m.trial.samples]
        xs = [x for m in by_size for x in m.trial.samples]
        try:
            fit = fit_usl(ns, xs)
        except SearchError as exc:
            note = f"{balancer}: USL not fitted: {exc}"
    other_points = tuple((int(m.config["max_workers"]), float(m.trial.throughput)) for m in others)
    return UslSlice(balancer, fixed, sizes, means, lows, highs, fit, note, other_points)
