"""Settings of the ``auto`` strategy (:mod:`tuner.search.auto`)."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import SearchError

__all__ = ["AutoSettings"]


@dataclass(frozen=True, slots=True)
class AutoSettings:
    """Tuning knobs of the ``auto`` strategy itself (the defaults suit most workloads).

    Attributes
    ----------
    calibration_repeats : int
        Repeats of the start configuration used to measure the noise.
    precision : float
        Target relative half-width of a mean's 95% interval; sets the repeats per comparison.
    level : float
        Confidence level of that interval.
    min_repeats, max_repeats : int
        Bounds on the repeats per comparison.
    default_cv : float
        Noise assumed when calibration could not measure it.
    alpha : float
        Significance level at which a contender is dropped as worse than the leader.
    plateau : float
        Relative tolerance of "as good as the best" when preferring a smaller pool.
    max_rounds : int
        Rounds of successive halving per race.
    indifference : float
        A race stops after two rounds when all survivors' means lie within this relative
        distance of the leader's: they are practically equal, more repeats would be wasted.
    coarse_above : int
        Numeric ladders longer than this are raced on every other value first.
    beam : int
        Branches the dimension races may keep: a race that leaves contenders statistically
        tied opens a branch for the runner-up (up to this many in all), which races the
        remaining dimensions too; 1 decides every tie by the higher mean.
    confirm_repeats : int
        Repeats of the winner and the runner-up in the confirmation step (at least).
    size_until, race_until, refine_until : float
        Budget fractions after which the optional size refinement, the races of the
        remaining dimensions, and the optional re-checks are skipped to keep budget for the
        confirmation (a recommendation measured twice is a guess; the confirmation's repeats
        make it an estimate).
    """

    calibration_repeats: int = 5
    precision: float = 0.05
    level: float = 0.95
    min_repeats: int = 2
    max_repeats: int = 6
    default_cv: float = 0.10
    alpha: float = 0.05
    plateau: float = 0.02
    max_rounds: int = 4
    indifference: float = 0.015
    coarse_above: int = 6
    beam: int = 2
    confirm_repeats: int = 6
    size_until: float = 0.4
    race_until: float = 0.75
    refine_until: float = 0.8

    def __post_init__(self) -> None:
        if not 2 <= self.min_repeats <= self.max_repeats:
            raise SearchError("AutoSettings needs 2 <= min_repeats <= max_repeats")
        if self.beam < 1:
            raise SearchError("AutoSettings needs beam >= 1")
        if self.calibration_repeats < 2 or self.confirm_repeats < 2:
            raise SearchError("AutoSettings needs at least 2 calibration and confirm repeats")
        if not 0 <= self.plateau < 1 or not 0 < self.alpha < 1:
            raise SearchError("AutoSettings needs 0 <= plateau < 1 and 0 < alpha < 1")
