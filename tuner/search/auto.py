"""The ``auto`` strategy: a search that uses what is known about worker pools.

Steps (each explained in the result, each stopping cleanly when the budget runs out):

1. **Calibrate the noise.**  Measure the start configuration (the pool's defaults, with
   the ``consistent_hash`` balancer when the workload's tasks carry keys) several times;
   its coefficient of variation ``CV`` sets the repeats per comparison: the smallest
   ``r`` with ``t_{0.975, r-1} · CV / sqrt(r) <= precision`` (clamped).
2. **Sweep the pool size** on a short ladder (powers of two, 1 .. 4 × cores), fit the
   Universal Scalability Law to the samples, predict ``N* = sqrt((1 − σ)/κ)`` and measure
   the sizes around the prediction and around the best measured point.  Where throughput
   plateaus, take the *smallest* size within ``plateau`` (2%) of the best: same speed, less
   memory and CPU.
3. **Race the other dimensions** (balancer, then batch size, prefetch, and balance factor
   when the winner is ``bounded_load_hash``) one at a time at that size, each by successive
   halving: every round adds ``r`` repeats to the survivors, drops any contender that a
   one-sided Welch test finds worse than the leader (α = 0.05), and keeps the better half.
   Long numeric ladders are raced on every other value first, then the winner's neighbours.
   A race that leaves contenders statistically tied opens a branch for the runner-up (up to
   ``beam`` branches), which races the remaining dimensions too; the branches' finals race.
   Welch tests floor each variance at the noise pooled over the search (see
   :meth:`~tuner.search.racing.RaceBase.noise_cv`).
   Racing dimension by dimension, not the full product, is what keeps the cost to a few
   dozen trials: the product of 8 balancers × 11 batch sizes × 11 prefetch windows has 968
   contenders per pool size.
4. **Re-check** the strongest runner-up balancers at the final batch/prefetch, sweep the
   pool size again with the final settings (the dimensions interact), and, when a
   constraint binds, retry the best violators one step smaller and hill-climb along the
   constraint's edge (one dimension up, another down).
5. **Confirm** the winner and the best runner-up with more repeats; recommend the higher
   *mean* (the estimated best, never the luckiest sample) and report its interval.

No configuration is measured twice without a reason: the session's cache answers, and asking
for more repeats measures only the missing ones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ..errors import SearchError
from .auto_settings import AutoSettings
from .objective import Budget, Constraints, Objective
from .session import Evaluator, Exhausted, SearchResult, Session
from .sizing import SizeSteps
from .space import Dimension, SearchSpace
from .stats import coefficient_of_variation, compare, repeats_needed
from .trials import Trial

__all__ = ["AutoSettings", "auto_search"]

_PLANNED_EVALUATIONS = 45  # typical evaluations of a full auto run (measured on the simulator)


def auto_search(
    space: SearchSpace,
    evaluator: Evaluator,
    *,
    budget: Budget | None = None,
    objective: Objective | None = None,
    constraints: Constraints | None = None,
    prior: Iterable[Trial] = (),
    on_trial: Callable[[Trial], None] | None = None,
    settings: AutoSettings | None = None,
    keyed: bool = False,
) -> SearchResult:
    """Search ``space`` with the structure-aware strategy described in this module.

    ``keyed`` says the workload's tasks carry affinity keys: the search then starts (noise
    calibration, pool-size sweep) with the key-affine balancer, see
    :meth:`SearchSpace.start_config`.

    Raises
    ------
    SearchError
        The budget did not allow a single trial.
    """
    session = Session(
        "auto", space, evaluator, budget=budget, objective=objective,
        constraints=constraints, prior=prior, on_trial=on_trial,
    )  # fmt: skip
    run = _Auto(session, settings or AutoSettings())
    run.start(keyed)
    try:
        run.calibrate()
        if len(space) <= _PLANNED_EVALUATIONS:
            run.race_everything()
        else:
            run.sweep_size()
            run.race_dimensions()
            run.recheck()
        run.confirm()
    except Exhausted:
        pass
    return session.finish(run.final_key())


class _Auto(SizeSteps):
    """Steps 1, 3, 4 and 5 of the strategy (the size steps live in :mod:`.sizing`)."""

    def start(self, keyed: bool) -> None:
        """Move the start off the pool's defaults when the workload is keyed (and say why)."""
        start = self.space.start_config(keyed=keyed)
        if start == self.current:
            return
        default, self.current = self.current, start
        self.s.say(
            f"The workload's tasks carry keys, so the search starts with the "
            f"{start['balancer']} balancer, which routes each key to the same worker: the "
            f"pool's default ({default['balancer']}) ignores keys, so the pool size would be "
            "swept for a balancer that throws away the workers' per-key state."
        )

    def calibrate(self) -> None:
        n = self.cfg.calibration_repeats
        trial = self.s.measure(self.current, n, "calibrate")
        scores = self.s.scores(trial)
        cv = None
        if trial.error is None and len(scores) >= 2:
            try:
                cv = coefficient_of_variation(scores)
            except SearchError:
                cv = None
        if cv is None:
            cv = self.cfg.default_cv
            how = f"could not be measured ({trial.error or 'no usable samples'}); assumed"
        else:
            how = "measured"
        self.repeats = repeats_needed(
            cv, self.cfg.precision, self.cfg.level,
            min_repeats=self.cfg.min_repeats, max_repeats=self.cfg.max_repeats,
        )  # fmt: skip
        needed = self.repeats
        self._fit_repeats_to_budget(trial)
        self.s.say(
            f"Noise: {trial.repeats} repeats of {self.s.describe(trial.config)}; coefficient "
            f"of variation {how} {100 * cv:.1f}%, so each comparison uses {self.repeats} "
            f"repeats (aiming at ±{100 * self.cfg.precision:.0f}% at "
            f"{100 * self.cfg.level:.0f}% confidence, between {self.cfg.min_repeats} and "
            f"{self.cfg.max_repeats})."
        )
        if self.repeats < needed:
            self.s.say(
                f"The time budget affords about {_PLANNED_EVALUATIONS} evaluations of "
                f"{self.repeats} repeats, not {needed}: comparisons will be less certain."
            )

    def _fit_repeats_to_budget(self, trial: Trial) -> None:
        """Lower the repeats per comparison when the time budget cannot pay for a whole
        search at that many (its cost estimated from the calibration trial's duration)."""
        budget = self.s.budget
        if budget.seconds is None or trial.repeats == 0 or trial.duration_s <= 0:
            return
        per_repeat_s = trial.duration_s / trial.repeats
        remaining_s = budget.seconds - budget.elapsed_s
        while (
            self.repeats > self.cfg.min_repeats
            and _PLANNED_EVALUATIONS * self.repeats * per_repeat_s > remaining_s
        ):
            self.repeats -= 1

    def race_everything(self) -> None:
        """A space smaller than a structured search's cost is raced whole: every
        configuration at ``repeats``, then successive halving with Welch drops."""
        survivors, summary = self.race(list(self.space.grid()), "race-all")
        self.s.say(
            f"The space has only {len(self.space)} configurations, fewer than a structured "
            f"search would measure, so all of them were raced ({summary})."
        )
        if survivors:
            self.current = dict(self.s.cache[survivors[0]].config)

    def race_dimensions(self) -> None:
        """Race the dimensions one at a time, keeping up to ``beam`` branches.

        When a race ends with contenders statistically tied (typically two balancers within
        the noise), picking one by its mean would decide before the dimensions it interacts
        with were tried: a balancer that loses at the default prefetch window may win at a
        smaller one.  So the runner-up opens a branch that races the remaining dimensions
        too, and the branches' finals race each other at the end.
        """
        skipped: list[str] = []
        branches = [dict(self.current)]
        for dim in self.space.dimensions:
            if dim.name == "max_workers":
                continue
            if dim.fixed:
                branches = [{**b, dim.name: dim.values[0]} for b in branches]
                continue
            if self.s.budget.fraction_used() >= self.cfg.race_until:
                skipped.append(dim.name)
                continue
            finals: list[dict[str, Any]] = []
            ties: list[tuple[dict[str, Any], Any]] = []
            for branch in branches:
                self.current = self.space.normalise(branch)
                if dim.is_active(self.current):
                    ties += [(self.current, v) for v in self._race_dimension(dim)]
                finals.append(self.current)
            for final, value in ties:
                if len(finals) >= self.cfg.beam:
                    break
                finals.append({**final, dim.name: value})
                self.s.say(
                    f"{dim.name}={value} is statistically tied with {final[dim.name]} at "
                    f"{self.s.describe(final)}: it opens a branch that races the remaining "
                    "dimensions too."
                )
            branches = list({self.key(b): b for b in finals}.values())
        self.current = self.space.normalise(branches[0])
        if len(branches) > 1:
            survivors, summary = self.race(branches, "race-branches")
            if survivors:
                self.current = dict(self.s.cache[survivors[0]].config)
                self.s.say(
                    f"The {len(branches)} branches' finals raced ({summary}): "
                    f"{self.s.describe(self.current)} won."
                )
        if skipped:
            self.s.say(
                f"Races of {', '.join(skipped)} skipped to keep budget for the confirmation "
                "(their current values are kept)."
            )

    def _race_dimension(self, dim: Dimension) -> list[Any]:
        """Race ``dim``'s values at the current configuration and move to the winner;
        returns the other values the race left statistically tied with it, best first."""
        values = list(dim.values)
        coarse = dim.numeric and len(values) > self.cfg.coarse_above
        if coarse:
            start = dim.nearest(self.current.get(dim.name, dim.default))
            contenders = list(dict.fromkeys([*values[::2], values[-1], start]))
        else:
            contenders = values
        where = f"at max_workers={self.current.get('max_workers')}"
        configs = [self.with_(**{dim.name: v}) for v in contenders]
        survivors, summary = self.race(configs, f"race-{dim.name}")
        ranking = self.ranking
        if not survivors:
            self.s.say(f"{dim.name} race {where}: no contender was usable ({summary}).")
            return []
        winner = coarse_winner = self.s.cache[survivors[0]].config[dim.name]
        if not self.s.usable(self.s.cache[survivors[0]]):
            # Nothing feasible yet: the re-check races the best-scoring others again once
            # later steps have made the configuration feasible.
            others = [self.key(c) for c in configs if self.key(c) != survivors[0]]
            others = [k for k in others if k in self.s.cache and self.s.cache[k].ok]
            others.sort(key=lambda k: self.s.mean_score(self.s.cache[k]), reverse=True)
            self.runners_up[dim.name] = [self.s.cache[k].config[dim.name] for k in others]
            self.current = self.with_(**{dim.name: winner})
            self.s.say(
                f"{dim.name} race {where} ({summary}): {winner} is the closest to meeting them."
            )
            return []
        if coarse:
            near = [v for v in dim.neighbours(winner) if v not in contenders]
            if near and self.s.budget.fraction_used() < self.cfg.refine_until:
                refined, _ = self.race(
                    [self.with_(**{dim.name: winner})]
                    + [self.with_(**{dim.name: v}) for v in near],
                    f"refine-{dim.name}",
                )
                if refined:
                    winner = self.s.cache[refined[0]].config[dim.name]
                    summary += f"; then {coarse_winner} raced its neighbours {near}"
        # Runners-up by mean (not only the race's survivors: halving is harsh on near-ties).
        self.runners_up[dim.name] = [
            self.s.cache[k].config[dim.name] for k in ranking if k != survivors[0]
        ]
        self.current = self.with_(**{dim.name: winner})
        self.s.say(
            f"{dim.name} race {where} ({summary}): {winner} won at "
            f"{self._describe_score(self.key(self.current))}."
        )
        tied = [self.s.cache[k].config[dim.name] for k in survivors]
        return [v for v in tied if v != winner]

    def recheck(self) -> None:
        if self.s.budget.fraction_used() >= self.cfg.refine_until:
            self.s.say("Re-checks skipped to keep budget for the confirmation.")
            return
        runners = self.runners_up.get("balancer", [])[:2]
        if runners:
            configs = [self.current] + [self.with_(balancer=b) for b in runners]
            survivors, summary = self.race(configs, "recheck-balancer")
            if survivors:
                winner = self.s.cache[survivors[0]].config
                if winner.get("balancer") != self.current.get("balancer"):
                    self.s.say(
                        f"Balancer re-check with the final settings ({summary}): "
                        f"{winner['balancer']} overtook {self.current['balancer']}."
                    )
                self.current = dict(winner)
        self.recheck_size()

    def confirm(self) -> None:
        winner = self.key(self.current)
        if not self.s.usable(self.s.cache.get(winner)):
            winner = self._estimated_best()
            if winner is None:
                return
        others = [
            k for k, t in self.s.cache.items()
            if k != winner and self.s.usable(t) and t.repeats >= self.repeats
        ]  # fmt: skip
        runner = max(others, key=lambda k: self.s.mean_score(self.s.cache[k]), default=None)
        n = max(self.cfg.confirm_repeats, 2 * self.repeats)
        self.final = winner
        self.s.measure(self.s.cache[winner].config, n, "confirm")
        if runner is None:
            return
        self.s.measure(self.s.cache[runner].config, n, "confirm")
        a, b = self.s.cache[winner], self.s.cache[runner]
        if not self.s.usable(a):
            self.final = runner if self.s.usable(b) else None
            return
        if not self.s.usable(b):
            return
        test = compare(self.s.scores(b), self.s.scores(a), alpha=self.cfg.alpha)
        sa, sb = self.s.mean_score(a), self.s.mean_score(b)
        smaller_runner = self._smaller_equivalent(a, b)
        smaller_winner = self._smaller_equivalent(b, a)
        if sb > sa and smaller_winner:
            self.s.say(
                f"Confirmation ({n} repeats each): {self.s.describe(b.config)} has a higher "
                f"mean ({self.s.objective.describe(sb)} vs {self.s.objective.describe(sa)}) "
                f"but needs more workers for less than {100 * self.cfg.plateau:.0f}% more: "
                "the smaller pool is kept."
            )
        elif sb > sa and not smaller_runner:
            self.final = runner
            self.s.say(
                f"Confirmation ({n} repeats each): the runner-up {self.s.describe(b.config)} "
                f"has the higher mean ({self.s.objective.describe(sb)} vs "
                f"{self.s.objective.describe(sa)}), so it is recommended instead."
            )
        elif smaller_runner:
            self.final = runner
            self.s.say(
                f"Confirmation ({n} repeats each): {self.s.describe(b.config)} is within "
                f"{100 * self.cfg.plateau:.0f}% with fewer workers, so it is recommended."
            )
        else:
            verdict = "statistically worse" if test.worse else "not distinguishable at this noise"
            self.s.say(
                f"Confirmation ({n} repeats each): the winner keeps the higher mean; the "
                f"runner-up {self.s.describe(b.config)} is {verdict} "
                f"(one-sided Welch p={test.p_value:.3f})."
            )

    def _estimated_best(self) -> str | None:
        """The usable configuration with the best mean among the well-measured ones."""
        cache = self.s.cache
        well = [k for k, t in cache.items() if t.repeats >= self.repeats]
        return self.s.best_key(well) or self.s.best_key()

    def final_key(self) -> str | None:
        """The confirmed winner; after an early stop, the best mean among configurations
        measured at least ``repeats`` times (not the current partial choice: a race cut short
        may already have measured something better)."""
        if self.final is not None and self.s.usable(self.s.cache.get(self.final)):
            return self.final
        return self._estimated_best()
