"""The pool-size steps of ``auto``: sweep, USL fit, plateau rule, constraint trades."""

from __future__ import annotations

import math

from ..errors import SearchError
from .racing import RaceBase
from .space import Dimension
from .trials import Trial
from .usl import USLFit, fit_usl

__all__ = ["SizeSteps", "short_ladder"]

_TRUSTED_R2 = 0.8  # a USL fit this good may judge the plateau (see SizeSteps._on_plateau)


def short_ladder(values: tuple[int, ...]) -> list[int]:
    """Pool sizes for the first sweep: powers of two (or a geometric ladder) with both ends."""
    if len(values) <= 4:
        return list(values)
    low, high = values[0], values[-1]
    chosen = {low, high}
    power = 1
    while power < high:
        if power > low and power in values:
            chosen.add(power)
        power *= 2
    if len(chosen) > 8:  # a very wide range: about 7 geometric points
        ratio = (high / low) ** (1 / 6)
        chosen = {min(values, key=lambda v, t=low * ratio**i: abs(v - t)) for i in range(7)}
    return sorted(chosen)


class SizeSteps(RaceBase):
    """Steps 2 and 4 (sizes) of ``auto``: see :mod:`tuner.search.auto`."""

    def sweep_size(self) -> None:
        dim = self._dim("max_workers")
        if dim is None:
            return
        if dim.fixed:
            self.s.say(f"Pool size fixed at {dim.values[0]} by the user.")
            return
        ladder = short_ladder(dim.values)
        for n in ladder:
            self.s.measure(self.with_(max_workers=n), self.repeats, "size-sweep")
        self.fit = self._fit_usl(dim)
        refine: list[int] = []
        if self.fit is not None:
            predicted = self.fit.best_size(dim.values[0], dim.values[-1])
            refine.append(dim.nearest(predicted))
            refine += [dim.nearest(v) for v in dim.neighbours(dim.nearest(predicted))]
        best = self._best_size(dim)
        if best is not None:
            i = ladder.index(best) if best in ladder else None
            if i is not None:
                for j in (i - 1, i + 1):
                    if 0 <= j < len(ladder):
                        refine.append(dim.nearest(round((best + ladder[j]) / 2)))
        measured = {n for n in dim.values if self.s.cached(self.with_(max_workers=n))}
        extra = [n for n in dict.fromkeys(refine) if n not in measured][:3]
        if extra and self.s.budget.fraction_used() < self.cfg.size_until:
            for n in extra:
                self.s.measure(self.with_(max_workers=n), self.repeats, "size-refine")
        elif extra:
            self.s.say("Pool size refinement skipped to save budget.")
        self._choose_size(dim)

    def recheck_size(self) -> None:
        """Sweep the pool size again with the final settings (they change how it scales)."""
        dim = self._dim("max_workers")
        if dim is not None and not dim.fixed and "max_workers" in self.current:
            # The first sweep ran at the default batch size and prefetch, which change how
            # the pool scales: sweep the short ladder again, plus the current size's
            # neighbours and the best size of a fresh USL fit.
            sizes = [*short_ladder(dim.values), *dim.neighbours(self.current["max_workers"])]
            for n in dict.fromkeys(sizes):
                self.s.measure(self.with_(max_workers=n), self.repeats, "recheck-size")
            fit = self._fit_usl(dim, quiet=True)
            if fit is not None:
                predicted = dim.nearest(fit.best_size(dim.values[0], dim.values[-1]))
                for n in (predicted, *dim.neighbours(predicted)):
                    self.s.measure(self.with_(max_workers=n), self.repeats, "recheck-size")
                self.s.say(f"With the final settings, the {fit.describe()}.")
            self._choose_size(dim, "Pool size re-check with the final settings")
        self.repair_violators()
        self.climb_constrained()

    def _fit_usl(self, dim: Dimension, *, quiet: bool = False) -> USLFit | None:
        if self.s.objective.kind != "throughput":
            if not quiet:
                self.s.say("Objective is p99: the USL (a throughput model) is not fitted.")
            return None
        ns: list[float] = []
        xs: list[float] = []
        for n in dim.values:
            trial = self.s.cached(self.with_(max_workers=n))
            if trial is not None and trial.ok:
                ns += [n] * trial.repeats
                xs += list(trial.samples)
        try:
            fit = fit_usl(ns, xs)
        except SearchError as exc:
            if not quiet:
                self.s.say(f"USL fit skipped: {exc}.")
            return None
        if quiet:
            return fit
        peak = (
            "predicts no peak (throughput only levels off)"
            if math.isinf(fit.n_star)
            else f"predicts the peak at N*={fit.n_star:.1f}"
        )
        self.s.say(
            f"USL fit on {len(set(ns))} pool sizes: λ={fit.lam:.4g}/s σ={fit.sigma:.3f} "
            f"κ={fit.kappa:.2g} (R²={fit.r2:.3f}) {peak}."
        )
        return fit

    def _size_means(self, dim: Dimension) -> dict[int, float]:
        out = {}
        for n in dim.values:
            trial = self.s.cached(self.with_(max_workers=n))
            if self.s.usable(trial):
                out[n] = self.s.mean_score(trial)  # type: ignore[arg-type]
        return out

    def _best_size(self, dim: Dimension) -> int | None:
        means = self._size_means(dim)
        return max(means, key=means.__getitem__) if means else None

    def _choose_size(self, dim: Dimension, stage: str = "Pool size") -> None:
        means = self._size_means(dim)
        if not means:
            keys = [self.key(self.with_(max_workers=n)) for n in dim.values]
            closest = self.closest_to_feasible(keys)
            if closest is not None:
                self.current = self.with_(max_workers=self.s.cache[closest].config["max_workers"])
            self.s.say(
                f"{stage}: no pool size met the constraints; going on with "
                f"{self.current['max_workers']}, the closest to meeting them."
            )
            return
        best = max(means, key=means.__getitem__)
        self.fit = self._fit_usl(dim, quiet=True)
        chosen = min(n for n in means if self._on_plateau(n, means[n], best, means[best]))
        tried = ", ".join(str(n) for n in sorted(means))
        text = (
            f"{stage}: measured sizes {tried}; the best is {best} "
            f"({self.s.objective.describe(means[best])})"
        )
        if chosen != best:
            judge = "; judged by the means and the USL fit" if self._trusted_fit() else ""
            text += (
                f", but {chosen} is within {100 * self.cfg.plateau:.0f}% of it "
                f"({self.s.objective.describe(means[chosen])}{judge}): throughput plateaus, so the "
                f"smaller pool is chosen (less memory and CPU)"
            )
        self.s.say(text + f": chose {chosen}.")
        self.current = self.with_(max_workers=chosen)

    def _trusted_fit(self) -> USLFit | None:
        fit = self.fit
        return fit if fit is not None and fit.r2 >= _TRUSTED_R2 else None

    def _on_plateau(self, n: int, mean: float, best: int, best_mean: float) -> bool:
        """Whether size ``n`` counts as "as good as" size ``best``.

        Its measured mean must lie within ``plateau`` of the best mean and, when the USL fits
        well, so must its predicted throughput: the fit pools the samples of every size, so
        it is steadier than two noisy means.
        """
        tolerance = 1.0 - self.cfg.plateau
        if mean < tolerance * best_mean:
            return False
        fit = self._trusted_fit()
        if fit is None or n >= best:
            return True
        return float(fit.predict(n)) >= tolerance * float(fit.predict(best))

    def _smaller_equivalent(self, a: Trial, b: Trial) -> bool:
        """Whether ``b`` differs from ``a`` only by a smaller pool and is within the plateau."""
        ca, cb = dict(a.config), dict(b.config)
        na, nb = ca.pop("max_workers", None), cb.pop("max_workers", None)
        if ca != cb or na is None or nb is None or nb >= na:
            return False
        return self._on_plateau(nb, self.s.mean_score(b), na, self.s.mean_score(a))

    def repair_violators(self) -> None:
        """Try the best constraint-breaking contenders again, one step smaller in one
        numeric dimension (one or two workers fewer, half or a quarter the batch size or
        prefetch window).

        A race drops a contender that breaks a memory, CPU or latency limit even when a
        slightly smaller variant would fit and still beat the current choice: the trade that
        racing one dimension at a time cannot see.
        """
        if not self.s.constraints.any:
            return
        current = self.s.cache.get(self.key(self.current))
        if not self.s.usable(current):
            return
        bar = self.s.mean_score(current)  # type: ignore[arg-type]
        violators = sorted(
            (t for t in self.s.cache.values() if t.ok and t.violations),
            key=self.s.mean_score,
            reverse=True,
        )
        for trial in [t for t in violators if self.s.mean_score(t) > bar][:2]:
            variants = [self.current, *self._smaller_variants(trial.config)]
            survivors, _ = self.race(variants, "recheck-constraints")
            if not survivors or survivors[0] == self.key(self.current):
                continue
            winner = self.s.cache[survivors[0]]
            if not self.s.usable(winner) or self.s.mean_score(winner) <= bar:
                continue
            self.s.say(
                f"{self.s.describe(trial.config)} broke a constraint but scored higher; a "
                f"smaller variant fits and wins: {self.s.describe(winner.config)}."
            )
            self.current = dict(winner.config)
            bar = self.s.mean_score(winner)

    def _smaller_variants(self, config: dict) -> list[dict]:
        out = []
        for dim in self.space.dimensions:
            if not dim.numeric or dim.fixed or dim.name not in config:
                continue
            value = config[dim.name]
            below = [v for v in dim.values if v < value][-2:]
            out += [self.space.normalise({**config, dim.name: v}) for v in below]
        return out

    def climb_constrained(self, max_steps: int = 3) -> None:
        """Hill-climb on the numeric dimensions when a constraint binds.

        With a limit in force the best feasible configuration usually sits on the limit's
        edge, where one dimension must shrink for another to grow (fewer workers, bigger
        batches).  Each step races the current configuration against its one-step
        neighbours and its trades (one dimension a step up, another a step down) and moves
        to the winner; it stops when the current configuration wins or the budget is short.
        """
        if not self.s.constraints.any or not any(t.violations for t in self.s.cache.values()):
            return
        moved = []
        for _ in range(max_steps):
            if self.s.budget.fraction_used() >= self.cfg.refine_until:
                break
            here = self.key(self.current)
            if not self.s.usable(self.s.cache.get(here)):
                break
            survivors, _ = self.race([self.current, *self._moves()], "climb")
            if not survivors or survivors[0] == here:
                break
            winner = self.s.cache[survivors[0]]
            if not self.s.usable(winner):
                break
            self.current = dict(winner.config)
            moved.append(self.s.describe(winner.config))
        if moved:
            self.s.say(
                "A constraint binds, so auto climbed along its edge: " + " -> ".join(moved) + "."
            )

    def _moves(self) -> list[dict]:
        steps: dict[str, tuple] = {}
        for dim in self.space.dimensions:
            if dim.numeric and not dim.fixed and dim.name in self.current:
                value = dim.nearest(self.current[dim.name])
                i = dim.values.index(value)
                down = dim.values[i - 1] if i > 0 else None
                up = dim.values[i + 1] if i + 1 < len(dim.values) else None
                steps[dim.name] = (down, up)
        moves = []
        for name, (down, up) in steps.items():
            moves += [{**self.current, name: v} for v in (down, up) if v is not None]
        for a, (_, up) in steps.items():
            for b, (down, _) in steps.items():
                if a != b and up is not None and down is not None:
                    moves.append({**self.current, a: up, b: down})
        return [self.space.normalise(m) for m in moves]
