"""What a search optimises, what it must respect, and how long it may take.

- :class:`Objective`: maximise throughput (default) or minimise p99 latency.  Internally every
  decision uses a positive *score*, higher is better: throughput itself, or ``1 / p99`` (a
  rate, so "within 3%" and coefficients of variation keep their meaning; ``-p99`` would not).
- :class:`Constraints`: ``slo_p99_s``, ``max_rss_bytes``, ``max_cpu_percent``.  A trial that
  breaks one, or that lacks the measurement a constraint needs, is reported as violating and
  never recommended: an unverified configuration is not a safe recommendation.
- :class:`Budget`: wall seconds and/or number of evaluations.  Strategies ask
  :meth:`Budget.left` before every evaluation and stop cleanly; :meth:`Budget.cancel` (from a
  Ctrl-C handler, say) makes the next check fail.

The ``parse_*`` helpers read the command-line spellings (``50ms``, ``2GiB``, ``150%``, ``60s``).
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from ..errors import ConfigError
from .trials import Trial

__all__ = [
    "Budget",
    "Constraints",
    "Objective",
    "parse_bytes",
    "parse_duration",
    "parse_percent",
]


@dataclass(frozen=True, slots=True)
class Objective:
    """The quantity a search optimises.

    Parameters
    ----------
    kind : {"throughput", "p99"}
        Maximise tasks/s, or minimise the 99th percentile task latency.
    """

    kind: Literal["throughput", "p99"] = "throughput"

    def __post_init__(self) -> None:
        if self.kind not in ("throughput", "p99"):
            raise ConfigError(
                f"objective must be 'throughput' or 'p99', got {self.kind!r}",
                knob="objective",
                value=self.kind,
                valid="throughput, p99",
            )

    def scores(self, trial: Trial) -> tuple[float, ...]:
        """Per-repeat scores of ``trial`` (higher is better); empty if it has none."""
        if self.kind == "throughput":
            return trial.samples
        p99 = trial.p99_samples
        if not p99 and trial.latency_p99_s is not None:
            p99 = (trial.latency_p99_s,)
        return tuple(1.0 / v for v in p99 if v > 0)

    def value(self, score: float) -> float:
        """A score back in the objective's own unit (tasks/s, or seconds of p99)."""
        if self.kind == "throughput":
            return score
        return 1.0 / score if score > 0 else math.inf

    def describe(self, score: float) -> str:
        """A score as text in the objective's unit: ``"1234 tasks/s"``, ``"p99 12.3 ms"``."""
        if self.kind == "throughput":
            return f"{score:.4g} tasks/s"
        return f"p99 {1000 * self.value(score):.3g} ms"


@dataclass(frozen=True, slots=True)
class Constraints:
    """Limits a recommended configuration must respect; None means no limit.

    Parameters
    ----------
    slo_p99_s : float, optional
        Largest acceptable p99 task latency, seconds.
    max_rss_bytes : int, optional
        Largest acceptable peak RSS of the pool's process tree.
    max_cpu_percent : float, optional
        Largest acceptable CPU use of the process tree (100 = one core).
    """

    slo_p99_s: float | None = None
    max_rss_bytes: int | None = None
    max_cpu_percent: float | None = None

    def __post_init__(self) -> None:
        for name in ("slo_p99_s", "max_rss_bytes", "max_cpu_percent"):
            value = getattr(self, name)
            if value is not None and not (
                isinstance(value, (int, float)) and math.isfinite(value) and value > 0
            ):
                raise ConfigError(
                    f"{name} must be a positive number, got {value!r}",
                    knob=name,
                    value=value,
                    valid="> 0",
                )

    @property
    def any(self) -> bool:
        """Whether any limit is set."""
        return any(
            v is not None for v in (self.slo_p99_s, self.max_rss_bytes, self.max_cpu_percent)
        )

    def excess(self, trial: Trial) -> float:
        """How far ``trial`` is from meeting the constraints: the sum of relative overshoots
        (0.2 reads "20% over a limit"), 0 when it meets them, ``inf`` for a missing
        measurement.  Lets a search move towards feasibility when nothing is feasible yet."""
        total = 0.0
        for limit, value in (
            (self.slo_p99_s, trial.latency_p99_s),
            (self.max_rss_bytes, trial.peak_rss_bytes),
            (self.max_cpu_percent, trial.cpu_percent),
        ):
            if limit is None:
                continue
            if value is None:
                return math.inf
            total += max(0.0, value / limit - 1.0)
        return total

    def check(self, trial: Trial) -> tuple[str, ...]:
        """Sentences naming each constraint ``trial`` breaks (or cannot show it meets)."""
        out = []
        if self.slo_p99_s is not None:
            if trial.latency_p99_s is None:
                out.append("p99 latency not measured, so the p99 SLO cannot be verified")
            elif trial.latency_p99_s > self.slo_p99_s:
                out.append(
                    f"p99 {1000 * trial.latency_p99_s:.3g} ms exceeds the SLO "
                    f"{1000 * self.slo_p99_s:.3g} ms"
                )
        if self.max_rss_bytes is not None:
            if trial.peak_rss_bytes is None:
                out.append("memory not measured, so the RSS limit cannot be verified")
            elif trial.peak_rss_bytes > self.max_rss_bytes:
                out.append(
                    f"peak RSS {_format_bytes(trial.peak_rss_bytes)} exceeds the limit "
                    f"{_format_bytes(self.max_rss_bytes)}"
                )
        if self.max_cpu_percent is not None:
            if trial.cpu_percent is None:
                out.append("CPU not measured, so the CPU limit cannot be verified")
            elif trial.cpu_percent > self.max_cpu_percent:
                out.append(
                    f"CPU {trial.cpu_percent:.0f}% exceeds the limit {self.max_cpu_percent:.0f}%"
                )
        return tuple(out)


class Budget:
    """How much a search may spend: wall-clock seconds and/or evaluations.

    Parameters
    ----------
    seconds : float, optional
        Wall time from :meth:`start` (the first :meth:`left` call if not called).
    evaluations : int, optional
        Number of ``Evaluator.evaluate`` calls.
    clock : callable, optional
        Monotonic clock in seconds (tests and the offline replay pass a simulated one).

    Notes
    -----
    A strategy calls :meth:`left` before each evaluation and :meth:`charge` after it.  An
    evaluation in progress when the time runs out finishes: the budget is checked between
    trials, never by killing one, so every trial in the log is whole.
    """

    def __init__(
        self,
        seconds: float | None = None,
        evaluations: int | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if seconds is not None and not (math.isfinite(seconds) and seconds > 0):
            raise ConfigError(
                f"budget seconds must be positive, got {seconds!r}", knob="budget", value=seconds
            )
        if evaluations is not None and (isinstance(evaluations, bool) or int(evaluations) < 1):
            raise ConfigError(
                f"budget evaluations must be at least 1, got {evaluations!r}",
                knob="budget",
                value=evaluations,
            )
        self.seconds = seconds
        self.evaluations = None if evaluations is None else int(evaluations)
        self._clock = clock
        self._start: float | None = None
        self.used = 0
        self.cancelled = False

    def __repr__(self) -> str:
        return (
            f"Budget(seconds={self.seconds}, evaluations={self.evaluations}, used={self.used}, "
            f"elapsed_s={self.elapsed_s:.1f})"
        )

    def start(self) -> None:
        """Start the clock (idempotent)."""
        if self._start is None:
            self._start = self._clock()

    @property
    def elapsed_s(self) -> float:
        """Seconds since :meth:`start` (0 before)."""
        return 0.0 if self._start is None else self._clock() - self._start

    def left(self) -> bool:
        """Whether another evaluation may start."""
        self.start()
        if self.cancelled:
            return False
        if self.evaluations is not None and self.used >= self.evaluations:
            return False
        return not (self.seconds is not None and self.elapsed_s >= self.seconds)

    def charge(self, evaluations: int = 1) -> None:
        """Record finished evaluations."""
        self.used += evaluations

    def cancel(self) -> None:
        """Refuse every further evaluation (safe to call from a signal handler)."""
        self.cancelled = True

    def fraction_used(self) -> float:
        """The larger of the time and evaluation fractions spent, in [0, 1+]."""
        parts = [0.0]
        if self.evaluations is not None:
            parts.append(self.used / self.evaluations)
        if self.seconds is not None:
            parts.append(self.elapsed_s / self.seconds)
        return max(parts)

    def remaining_evaluations(self) -> float:
        """Evaluations still allowed by the count (``inf`` when only time limits)."""
        if self.evaluations is None:
            return math.inf
        return max(0, self.evaluations - self.used)


# -- command-line spellings --------------------------------------------------------------------

_NUMBER = r"\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*"
_DURATION_UNITS = {"": 1.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "m": 60.0, "min": 60.0}
_BYTE_UNITS = {
    "": 1, "b": 1, "k": 1000, "kb": 1000, "m": 1000**2, "mb": 1000**2, "g": 1000**3,
    "gb": 1000**3, "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4, "tb": 1000**4,
}  # fmt: skip


def _parse(text: str, units: dict, what: str, example: str) -> float:
    match = re.fullmatch(_NUMBER + r"([A-Za-zµ%]*)\s*", str(text))
    unit = match.group(2).lower() if match else None
    if match is None or unit not in units:
        raise ConfigError(
            f"cannot read {what} {text!r}: expected a number with a unit, e.g. {example} "
            f"(units: {', '.join(u for u in units if u)})",
            knob=what,
            value=text,
        )
    value = float(match.group(1)) * units[unit]
    if value <= 0:
        raise ConfigError(f"{what} must be positive, got {text!r}", knob=what, value=text)
    return value


def parse_duration(text: str) -> float:
    """Seconds from ``"50ms"``, ``"1.5s"``, ``"2m"`` (a bare number is seconds)."""
    return _parse(text, _DURATION_UNITS, "duration", "50ms or 60s")


def parse_bytes(text: str) -> int:
    """Bytes from ``"2GiB"``, ``"512MB"``, ``"1e9"`` (decimal and binary units)."""
    return int(_parse(text, _BYTE_UNITS, "size", "2GiB or 512MB"))


def parse_percent(text: str) -> float:
    """Percent from ``"150%"`` or ``"150"`` (100 = one core)."""
    return _parse(text, {"": 1.0, "%": 1.0}, "CPU percentage", "150%")


def _format_bytes(n: float) -> str:
    for unit, size in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n:.0f} B"
