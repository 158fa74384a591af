"""Racing contenders: successive halving with Welch drops, over a search session.

The base of the ``auto`` strategy's step classes (:mod:`.sizing`, :mod:`.auto`): the search
state (current configuration, repeats per comparison) and :meth:`RaceBase.race`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from .auto_settings import AutoSettings
from .session import Session
from .space import Dimension
from .stats import compare
from .trials import Trial
from .usl import USLFit

__all__ = ["RaceBase"]

_POOLED_DOF = 4  # repeats-minus-one at the raced pool sizes before their own noise is used


class RaceBase:
    """Search state shared by the steps of ``auto``, and the race they all use."""

    def __init__(self, session: Session, settings: AutoSettings) -> None:
        self.s = session
        self.cfg = settings
        self.space = session.space
        self.repeats = settings.max_repeats
        self.current: dict[str, Any] = self.space.start_config()
        self.runners_up: dict[str, list[Any]] = {}
        self.final: str | None = None
        self.fit: USLFit | None = None
        self.ranking: list[str] = []

    def key(self, config: Mapping[str, Any]) -> str:
        return Trial(self.space.normalise(config), ()).key

    def with_(self, **changes: Any) -> dict[str, Any]:
        return self.space.normalise({**self.current, **changes})

    def _dim(self, name: str) -> Dimension | None:
        return next((d for d in self.space.dimensions if d.name == name), None)

    def _describe_score(self, key: str) -> str:
        return self.s.objective.describe(self.s.mean_score(self.s.cache[key]))

    def noise_cv(self, sizes: set[Any] | None = None) -> float:
        """Relative noise of one repeat, pooled over every configuration measured twice or more.

        Restricted to the pool sizes in ``sizes`` when those hold enough repeats (noise grows
        with the pool on a loaded machine, so the calibration's value at the default size can
        be far too optimistic for a race at four times that size); 0.0 when nothing is known.
        """

        def pooled(keep: Callable[[Trial], bool]) -> tuple[float, int]:
            total, dof = 0.0, 0
            for trial in self.s.cache.values():
                if not self.s.usable(trial) or not keep(trial):
                    continue
                scores = self.s.scores(trial)
                n = len(scores)
                m = sum(scores) / n if n else 0.0
                if n < 2 or m == 0.0:
                    continue
                total += sum((x - m) ** 2 for x in scores) / (m * m)
                dof += n - 1
            return (math.sqrt(total / dof) if dof else 0.0), dof

        if sizes:
            cv, dof = pooled(lambda t: t.config.get("max_workers") in sizes)
            if dof >= _POOLED_DOF:
                return cv
        return pooled(lambda t: True)[0]

    def race(self, configs: list[dict[str, Any]], stage: str) -> tuple[list[str], str]:
        """Successive halving with Welch drops; returns (survivor keys best first, summary)."""
        keys, by_key = [], {}
        for config in configs:
            k = self.key(config)
            if k not in by_key:
                keys.append(k)
                by_key[k] = config
        alive, reps, dropped, halved, failed = list(keys), self.repeats, [], [], []
        rounds = 0
        for rounds in range(1, self.cfg.max_rounds + 1):
            for k in alive:
                self.s.measure(by_key[k], reps, stage)
            failed += [k for k in alive if not self.s.usable(self.s.cache[k])]
            alive = [k for k in alive if self.s.usable(self.s.cache[k])]
            if len(alive) <= 1:
                break
            alive.sort(key=lambda k: self.s.mean_score(self.s.cache[k]), reverse=True)
            leader = self.s.scores(self.s.cache[alive[0]])
            floor = self.noise_cv({by_key[k].get("max_workers") for k in alive})
            keep = [alive[0]]
            for k in alive[1:]:
                scores = self.s.scores(self.s.cache[k])
                testable = len(scores) >= 2 and len(leader) >= 2
                if testable and compare(scores, leader, alpha=self.cfg.alpha, cv_floor=floor).worse:
                    dropped.append(k)
                    continue
                keep.append(k)
            if len(keep) > 2:
                cut = math.ceil(len(keep) / 2)
                halved += keep[cut:]
                keep = keep[:cut]
            alive = keep
            if len(alive) == 1 or (rounds >= 2 and self._equivalent(alive)):
                break
            reps += self.repeats
        self.ranking = sorted(
            (k for k in keys if self.s.usable(self.s.cache[k])),
            key=lambda k: self.s.mean_score(self.s.cache[k]),
            reverse=True,
        )
        summary = f"{len(keys)} contenders, {rounds} round(s)"
        if dropped:
            summary += (
                f"; {len(dropped)} dropped as statistically worse (Welch, α={self.cfg.alpha})"
            )
        if halved:
            summary += f"; {len(halved)} halved out"
        if failed:
            summary += f"; {len(failed)} failed or broke a constraint"
        if len(alive) > 1:
            summary += (
                f"; {len(alive)} still statistically indistinguishable, the higher mean taken"
            )
        if not alive:
            closest = self.closest_to_feasible(keys)
            if closest is not None:
                summary += "; none met the constraints, so the one closest to meeting them goes on"
                return [closest], summary
        return alive, summary

    def closest_to_feasible(self, keys: list[str]) -> str | None:
        """Among measured, error-free configurations that break a constraint, the one that
        breaks it least (then the better score): where the search goes on from when nothing
        is feasible yet, so later steps can still reach a configuration that is."""
        candidates = [k for k in keys if k in self.s.cache and self.s.cache[k].ok]
        if not candidates:
            return None
        return min(
            candidates,
            key=lambda k: (
                self.s.constraints.excess(self.s.cache[k]),
                -self.s.mean_score(self.s.cache[k]),
            ),
        )

    def _equivalent(self, keys: list[str]) -> bool:
        """Whether every contender's mean is within ``indifference`` of the leader's: racing on
        would spend budget to separate configurations that are practically equal."""
        means = [self.s.mean_score(self.s.cache[k]) for k in keys]
        return min(means) >= (1.0 - self.cfg.indifference) * max(means)
