"""Small-sample statistics for noisy benchmark measurements, with no scipy dependency.

A tuning run measures each configuration only a handful of times, so every decision uses the
Student t distribution, not the normal one.  The t quantile is computed here from the
regularised incomplete beta function (continued fraction, as in Numerical Recipes §6.4) and
inverted by bisection: exact to ~1e-10, a few microseconds per call, and no scipy.

Comparisons use Welch's unequal-variance t-test, one-sided.  Why not a paired test: the
evaluator measures a configuration's repeats back to back in one pool, so repeat ``i`` of A and
repeat ``i`` of B were not taken under the same machine conditions and pairing them would
claim a correlation that is not there; and different pool sizes have visibly different
variances (a larger pool on a small machine is noisier), which is exactly what Welch allows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import SearchError

__all__ = [
    "Comparison",
    "Interval",
    "coefficient_of_variation",
    "compare",
    "confidence_interval",
    "mean",
    "repeats_needed",
    "t_cdf",
    "t_quantile",
]


def _as_samples(samples: Sequence[float], what: str = "samples", min_n: int = 1) -> np.ndarray:
    data = np.asarray(samples, dtype=float)
    if data.ndim != 1:
        raise SearchError(f"{what} must be a flat sequence of numbers (got shape {data.shape})")
    if data.size < min_n:
        raise SearchError(f"{what} needs at least {min_n} value(s), got {data.size}")
    if not np.all(np.isfinite(data)):
        raise SearchError(f"{what} contains NaN or infinity: {data.tolist()}")
    return data


def mean(samples: Sequence[float]) -> float:
    """Arithmetic mean.  Raises SearchError on an empty or non-finite input."""
    return float(_as_samples(samples).mean())


def coefficient_of_variation(samples: Sequence[float]) -> float:
    """Sample standard deviation (ddof=1) over the mean: the noise level of a measurement.

    Raises
    ------
    SearchError
        Fewer than two samples, or a mean that is not positive (throughputs are positive).
    """
    data = _as_samples(samples, min_n=2)
    m = float(data.mean())
    if m <= 0:
        raise SearchError(f"the coefficient of variation needs a positive mean, got {m}")
    return float(data.std(ddof=1)) / m


# -- the Student t distribution ----------------------------------------------------------------


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz method)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 400):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta I_x(a, b) for a, b > 0 and 0 <= x <= 1."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    front = math.exp(log_front)
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    """P(T <= t) for Student's t with ``df`` degrees of freedom (``inf`` gives the normal)."""
    if not df > 0:
        raise SearchError(f"degrees of freedom must be positive, got {df}")
    if math.isinf(df):
        return 0.5 * math.erfc(-t / math.sqrt(2.0))
    tail = 0.5 * _betainc(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t > 0 else tail


def t_quantile(p: float, df: float) -> float:
    """The ``p`` quantile of Student's t with ``df`` degrees of freedom.

    ``t_quantile(0.975, 10)`` is 2.228..., the factor of a 95% two-sided interval from 11
    samples.  Computed by bisection on :func:`t_cdf` to 1e-12.
    """
    if not 0.0 < p < 1.0:
        raise SearchError(f"a quantile needs 0 < p < 1, got {p}")
    if p == 0.5:
        return 0.0
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    low, high = 0.0, 1.0
    while t_cdf(high, df) < p:
        low, high = high, high * 2.0
        if high > 1e12:  # p within ~1e-24 of 1 at df=1; nothing sensible lies beyond
            return high
    for _ in range(200):
        mid = 0.5 * (low + high)
        if t_cdf(mid, df) < p:
            low = mid
        else:
            high = mid
        if high - low <= 1e-12 * max(1.0, high):
            break
    return 0.5 * (low + high)


# -- intervals and sample sizes ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Interval:
    """A two-sided Student t confidence interval for a mean.

    Attributes
    ----------
    mean, low, high : float
        The estimate and its bounds.
    level : float
        Confidence level (0.95 for a 95% interval).
    n : int
        Number of samples; with one sample the bounds are infinite (nothing is known).
    """

    mean: float
    low: float
    high: float
    level: float
    n: int

    @property
    def half_width(self) -> float:
        """Half the interval's width (``inf`` with one sample)."""
        return (self.high - self.low) / 2.0

    @property
    def relative_half_width(self) -> float:
        """Half width over the mean: 0.03 reads "±3%"."""
        return self.half_width / abs(self.mean) if self.mean else math.inf


def _check_level(level: float) -> None:
    if not 0.0 < level < 1.0:
        raise SearchError(f"a confidence level lies strictly between 0 and 1, got {level}")


def confidence_interval(samples: Sequence[float], level: float = 0.95) -> Interval:
    """Student t interval ``mean ± t_{(1+level)/2, n-1} · s / sqrt(n)``.

    One sample gives an infinite interval rather than an error: a trial measured once is a
    valid trial whose uncertainty is unknown.
    """
    _check_level(level)
    data = _as_samples(samples)
    m = float(data.mean())
    if data.size == 1:
        return Interval(m, -math.inf, math.inf, level, 1)
    half = t_quantile((1.0 + level) / 2.0, data.size - 1) * float(data.std(ddof=1))
    half /= math.sqrt(data.size)
    return Interval(m, m - half, m + half, level, int(data.size))


def repeats_needed(
    cv: float,
    rel_half_width: float,
    level: float = 0.95,
    *,
    min_repeats: int = 2,
    max_repeats: int = 30,
) -> int:
    """Smallest n with ``t_{(1+level)/2, n-1} · cv / sqrt(n) <= rel_half_width``.

    That is how many repeats make the interval of a mean as narrow as asked, given the noise
    ``cv`` measured during calibration.  Clamped to ``[min_repeats, max_repeats]``: at least
    two (a variance needs two) and no more than the budget can sensibly pay.
    """
    _check_level(level)
    if not (math.isfinite(cv) and cv >= 0):
        raise SearchError(f"cv must be a finite non-negative number, got {cv}")
    if not rel_half_width > 0:
        raise SearchError(f"rel_half_width must be positive, got {rel_half_width}")
    if not 2 <= min_repeats <= max_repeats:
        raise SearchError(f"need 2 <= min_repeats <= max_repeats, got {min_repeats}, {max_repeats}")
    q = (1.0 + level) / 2.0
    for n in range(min_repeats, max_repeats + 1):
        if t_quantile(q, n - 1) * cv / math.sqrt(n) <= rel_half_width:
            return n
    return max_repeats


# -- comparisons -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Comparison:
    """Outcome of :func:`compare` (is A worse than B?).

    Attributes
    ----------
    worse : bool
        True when A's mean is below B's with one-sided p-value < ``alpha``.
    p_value : float
        One-sided Welch p-value of "mean(A) < mean(B)".
    difference : float
        ``mean(B) - mean(A)`` (positive when B looks better).
    relative_difference : float
        ``difference / mean(B)``.
    t : float
        Welch's t statistic.
    df : float
        Welch–Satterthwaite degrees of freedom.
    """

    worse: bool
    p_value: float
    difference: float
    relative_difference: float
    t: float
    df: float


def compare(
    a: Sequence[float],
    b: Sequence[float],
    *,
    alpha: float = 0.05,
    margin: float = 0.0,
    cv_floor: float = 0.0,
) -> Comparison:
    """One-sided Welch t-test: is A statistically worse (lower) than B?

    Parameters
    ----------
    a, b : sequence of float
        Per-repeat scores, higher is better; at least two each.
    alpha : float
        Significance level: A is declared worse when p < alpha.
    margin : float
        Relative indifference margin: tests ``mean(A) < (1 - margin) · mean(B)``, so a margin
        of 0.02 only drops A when it is worse by more than 2%.
    cv_floor : float
        Least relative standard deviation assumed for one sample of either side: a sample
        variance from two or three repeats is itself very uncertain, and repeats that happen
        to agree would otherwise make a small difference look significant.  Pass the noise
        measured over many configurations (the ``auto`` strategy's pooled estimate).

    Notes
    -----
    ``t = (m_B' - m_A) / sqrt(s_A²/n_A + s_B²/n_B)`` with ``m_B' = (1 - margin) m_B`` and
    Welch–Satterthwaite ``df = (s_A²/n_A + s_B²/n_B)² / Σ (s_i²/n_i)² / (n_i - 1)``.  When
    both variances are zero the test degenerates to comparing the means exactly.
    """
    if not 0.0 < alpha < 1.0:
        raise SearchError(f"alpha lies strictly between 0 and 1, got {alpha}")
    if not 0.0 <= margin < 1.0:
        raise SearchError(f"margin lies in [0, 1), got {margin}")
    xa = _as_samples(a, "a", min_n=2)
    xb = _as_samples(b, "b", min_n=2)
    ma, mb = float(xa.mean()), float(xb.mean())
    target = (1.0 - margin) * mb
    diff = mb - ma
    rel = diff / mb if mb else math.inf
    if not 0.0 <= cv_floor < 10.0:
        raise SearchError(f"cv_floor lies in [0, 10), got {cv_floor}")
    var_a, var_b = float(xa.var(ddof=1)), float(xb.var(ddof=1))
    p, t, df = _welch(ma, var_a, xa.size, target, var_b, xb.size)
    if cv_floor > 0.0:
        # The floor can only veto a drop: the larger p of the test with and without it
        # (Welch's df grows when the variances even out, which alone could lower p).
        floored = _welch(
            ma, max(var_a, (cv_floor * ma) ** 2), xa.size,
            target, max(var_b, (cv_floor * mb) ** 2), xb.size,
        )  # fmt: skip
        if floored[0] > p:
            p, t, df = floored
    return Comparison(p < alpha, p, diff, rel, t, df)


def _welch(
    ma: float, var_a: float, na: int, target: float, var_b: float, nb: int
) -> tuple[float, float, float]:
    """(p, t, df) of the one-sided Welch test of ``mean A < target``; exact when both
    variances are zero."""
    va, vb = var_a / na, var_b / nb
    se2 = va + vb
    if se2 == 0.0:
        worse = ma < target
        return (0.0 if worse else 1.0), math.copysign(math.inf, target - ma), math.inf
    t = (target - ma) / math.sqrt(se2)
    df = se2 * se2 / (va * va / (na - 1) + vb * vb / (nb - 1))
    return 1.0 - t_cdf(t, df), t, df
