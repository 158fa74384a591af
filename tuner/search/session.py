"""The machinery every strategy shares: the evaluator interface, the trial cache, the budget
checks, and the :class:`SearchResult` a strategy returns.

A strategy never calls the evaluator directly: it calls :meth:`Session.measure`, which

- returns the cached trial when the configuration already has enough repeats (a cached
  configuration is never re-run without a reason; asking for more repeats is a reason, and
  the new repeats are merged with the old);
- checks the budget first, and raises ``Exhausted`` when it is spent, so a strategy unwinds
  from any depth and still returns what it measured;
- stamps each new trial with the strategy, stage and constraint violations, hands it to
  ``on_trial`` (which appends it to ``trials.jsonl`` and updates the progress display), and
  counts it.
"""

from __future__ import annotations

import collections
import dataclasses
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from ..errors import SearchError
from .objective import Budget, Constraints, Objective
from .space import SearchSpace
from .stats import Interval, confidence_interval
from .trials import Trial

__all__ = ["Evaluator", "SearchResult", "Session"]


@runtime_checkable
class Evaluator(Protocol):
    """What a strategy measures configurations with.

    The real evaluator starts a ``WorkerPool(**config)``, warms it up, measures ``repeats``
    windows of the workload and returns one :class:`Trial` holding one throughput sample per
    repeat; tests use a simulated one (``tests/search_sim.py``).

    A configuration that fails (the pool cannot start, every task raises) should come back as
    a trial with ``error`` set, not as an exception: the search then moves on.  An exception
    stops the search (it propagates to the caller, with every finished trial already handed
    to ``on_trial``).
    """

    def evaluate(self, config: dict[str, Any], repeats: int, stage: str) -> Trial:
        """Measure ``config`` ``repeats`` times; ``stage`` names the strategy's step."""
        ...


class Exhausted(Exception):
    """Internal: the budget is spent (or cancelled); the strategy wraps up."""


@dataclass(frozen=True)
class SearchResult:
    """What a strategy found, and why.

    Attributes
    ----------
    strategy : str
        "auto", "grid" or "random".
    objective : Objective
        What was optimised.
    best_config : dict or None
        The recommended configuration, ``WorkerPool(**best_config)``; None when no measured
        configuration met the constraints.
    best_trial : Trial or None
        Every repeat of the recommended configuration merged into one trial.
    estimate : float or None
        Mean of the objective over the recommendation's repeats (tasks/s, or p99 seconds):
        the estimated value, not the luckiest sample.
    interval : Interval or None
        Confidence interval of ``estimate`` (95%), in the objective's unit.
    throughput_interval : Interval or None
        Confidence interval of the recommendation's throughput (tasks/s), whatever the
        objective.
    trials : tuple of Trial
        Every trial, prior ones (resume) first, in the order they were measured.
    evaluations : int
        Evaluator calls made by this run (reused prior trials not counted).
    samples : int
        Repeats measured by this run.
    reused : int
        Prior trials given for resume.
    stopped : str
        "complete", "budget" (ran out) or "cancelled".
    violating : tuple of Trial
        Configurations (merged) that broke a constraint: reported, never recommended.
    explanations : tuple of str
        Why the recommendation is what it is, step by step.
    """

    strategy: str
    objective: Objective
    best_config: dict[str, Any] | None
    best_trial: Trial | None
    estimate: float | None
    interval: Interval | None
    throughput_interval: Interval | None
    trials: tuple[Trial, ...]
    evaluations: int
    samples: int
    reused: int
    stopped: str
    violating: tuple[Trial, ...] = ()
    explanations: tuple[str, ...] = field(default=())

    def explain(self) -> list[str]:
        """Human sentences saying why this configuration was chosen."""
        return list(self.explanations)

    def to_json(self) -> dict[str, Any]:
        """The result as JSON-serialisable data (for ``report.json``)."""

        def interval(i: Interval | None) -> dict[str, Any] | None:
            if i is None:
                return None
            finite = math.isfinite(i.low) and math.isfinite(i.high)
            return {
                "level": i.level,
                "low": i.low if finite else None,
                "high": i.high if finite else None,
                "n": i.n,
            }

        best = self.best_trial
        return {
            "strategy": self.strategy,
            "objective": self.objective.kind,
            "config": self.best_config,
            "estimate": self.estimate,
            "interval": interval(self.interval),
            "throughput": None if best is None else best.throughput,
            "throughput_interval": interval(self.throughput_interval),
            "latency_p50_s": None if best is None else best.latency_p50_s,
            "latency_p90_s": None if best is None else best.latency_p90_s,
            "latency_p99_s": None if best is None else best.latency_p99_s,
            "evaluations": self.evaluations,
            "samples": self.samples,
            "reused": self.reused,
            "stopped": self.stopped,
            "violating": [{"config": t.config, "violations": list(t.violations)}
                          for t in self.violating],
            "explanations": list(self.explanations),
        }  # fmt: skip


class Session:
    """One search run: cache, budget, counters and explanations (used by the strategies).

    Parameters
    ----------
    name : str
        Strategy name stamped on each new trial.
    space : SearchSpace
    evaluator : Evaluator
    budget : Budget, optional
        Unlimited when None.
    objective : Objective, optional
        Throughput when None.
    constraints : Constraints, optional
        None means no constraints.
    prior : iterable of Trial
        Trials of an earlier run (resume), never re-measured.  They are handed out in their
        original order as the strategy asks for repeats of their configuration, so a
        deterministic strategy such as ``auto`` sees exactly what it saw the first time and
        retraces its decisions to where it stopped, then goes on measuring.
    on_trial : callable, optional
        Called with each new trial as soon as it is measured.
    """

    def __init__(
        self,
        name: str,
        space: SearchSpace,
        evaluator: Evaluator,
        *,
        budget: Budget | None = None,
        objective: Objective | None = None,
        constraints: Constraints | None = None,
        prior: Iterable[Trial] = (),
        on_trial: Callable[[Trial], None] | None = None,
    ) -> None:
        if not hasattr(evaluator, "evaluate"):
            raise SearchError(f"evaluator {evaluator!r} has no evaluate(config, repeats, stage)")
        self.name = name
        self.space = space
        self.evaluator = evaluator
        self.budget = budget if budget is not None else Budget()
        self.objective = objective if objective is not None else Objective()
        self.constraints = constraints if constraints is not None else Constraints()
        self.on_trial = on_trial
        self.cache: dict[str, Trial] = {}
        self.trials: list[Trial] = []
        self.evaluations = 0
        self.samples = 0
        self.explanations: list[str] = []
        self.stopped = "complete"
        prior = list(prior)
        self._prior: dict[str, collections.deque[Trial]] = {}
        for trial in prior:
            if not isinstance(trial, Trial):
                raise SearchError(f"prior trials must be Trial records, got {type(trial).__name__}")
            trial = dataclasses.replace(trial, config=space.normalise(trial.config))
            self._prior.setdefault(trial.key, collections.deque()).append(trial)
        self.trials.extend(prior)
        self.reused = len(prior)
        if prior:
            self.say(
                f"Resumed from {len(prior)} earlier trial(s) of {len(self._prior)} "
                "configuration(s); they are reused, not re-run."
            )
        self.budget.start()

    # -- measuring ------------------------------------------------------------------------

    def _store(self, trial: Trial) -> Trial:
        key = trial.key
        merged = self.cache[key].merged(trial) if key in self.cache else trial
        merged = dataclasses.replace(merged, violations=self.constraints.check(merged))
        self.cache[key] = merged
        return merged

    def cached(self, config: Mapping[str, Any]) -> Trial | None:
        """The merged trial of ``config`` so far, if any."""
        return self.cache.get(Trial(self.space.normalise(config), ()).key)

    def measure(self, config: Mapping[str, Any], repeats: int, stage: str) -> Trial:
        """The merged trial of ``config`` with at least ``repeats`` repeats.

        Uses the cache; evaluates only the missing repeats.  A trial that failed is not
        retried.

        Raises
        ------
        Exhausted
            The budget is spent (or cancelled) and the cache cannot answer.
        """
        normal = self.space.normalise(config)
        key = Trial(normal, ()).key
        have = self.cache.get(key)
        queue = self._prior.get(key)
        while queue and (have is None or (have.error is None and have.repeats < repeats)):
            have = self._store(queue.popleft())
        if have is not None and (have.error is not None or have.repeats >= repeats):
            return have
        if not self.budget.left():
            self.stopped = "cancelled" if self.budget.cancelled else "budget"
            raise Exhausted
        missing = repeats - (have.repeats if have is not None else 0)
        trial = self.evaluator.evaluate(dict(normal), missing, stage)
        if not isinstance(trial, Trial):
            raise SearchError(
                f"evaluator returned {type(trial).__name__}, not a Trial, for {normal}"
            )
        trial = dataclasses.replace(
            trial,
            config=normal,
            strategy=self.name,
            stage=stage,
            violations=self.constraints.check(trial),
        )
        self.budget.charge()
        self.evaluations += 1
        self.samples += trial.repeats
        self.trials.append(trial)
        if self.on_trial is not None:
            self.on_trial(trial)
        return self._store(trial)

    # -- judging --------------------------------------------------------------------------

    def scores(self, trial: Trial) -> tuple[float, ...]:
        """Per-repeat objective scores (higher is better)."""
        return self.objective.scores(trial)

    def mean_score(self, trial: Trial) -> float:
        """Mean score, or -inf when the trial has no usable score."""
        scores = self.scores(trial)
        return sum(scores) / len(scores) if scores and trial.error is None else -math.inf

    def usable(self, trial: Trial | None) -> bool:
        """Measured, without error, with scores, and meeting every constraint."""
        return trial is not None and trial.ok and not trial.violations and bool(self.scores(trial))

    def say(self, sentence: str) -> None:
        """Add a sentence to the explanation."""
        self.explanations.append(sentence)

    def describe(self, config: Mapping[str, Any]) -> str:
        """Short text of a configuration: ``max_workers=4 balancer=pull ...``."""
        return " ".join(f"{k}={v}" for k, v in config.items())

    # -- the result -----------------------------------------------------------------------

    def best_key(self, keys: Iterable[str] | None = None) -> str | None:
        """Key of the usable configuration with the highest mean score, among ``keys``."""
        pool = self.cache if keys is None else {k: self.cache[k] for k in keys if k in self.cache}
        usable = [(self.mean_score(t), k) for k, t in pool.items() if self.usable(t)]
        return max(usable)[1] if usable else None

    def finish(self, best_key: str | None) -> SearchResult:
        """:meth:`result`, after checking that anything at all was measured.

        Raises
        ------
        SearchError
            The budget did not allow a single trial.
        """
        if self.evaluations == 0 and not self.cache:
            raise SearchError(
                "the budget is too small for even one trial: give more time or evaluations "
                "(e.g. --budget 60s)"
            )
        return self.result(best_key)

    def result(self, best_key: str | None) -> SearchResult:
        """Build the :class:`SearchResult` around the configuration ``best_key``."""
        violating = tuple(t for t in self.cache.values() if t.violations)
        if violating:
            self.say(
                f"{len(violating)} configuration(s) broke a constraint and were excluded, e.g. "
                f"{self.describe(violating[0].config)}: {violating[0].violations[0]}."
            )
        best = self.cache.get(best_key) if best_key is not None else None
        estimate = interval = tp_interval = None
        if best is not None:
            if self.objective.kind == "throughput":
                raw: tuple[float, ...] = best.samples
            else:  # the objective's own unit: p99 seconds, lower is better
                raw = best.p99_samples or tuple(1.0 / s for s in self.scores(best))
            interval = confidence_interval(raw)
            estimate = interval.mean
            tp_interval = confidence_interval(best.samples)
            width = (
                f"±{100 * interval.relative_half_width:.1f}%"
                if math.isfinite(interval.half_width)
                else "unknown width (one repeat)"
            )
            self.say(
                f"Recommendation: {self.describe(best.config)} at "
                f"{self.objective.describe(self.mean_score(best))} (mean of {best.repeats} "
                f"repeats; 95% interval {width})."
            )
        elif self.stopped == "complete" or self.cache:
            self.say("No measured configuration met the constraints: nothing to recommend.")
        if self.stopped != "complete":
            self.say(
                "The search stopped early: "
                + ("it was cancelled." if self.stopped == "cancelled" else "the budget ran out.")
            )
        return SearchResult(
            strategy=self.name,
            objective=self.objective,
            best_config=None if best is None else dict(best.config),
            best_trial=best,
            estimate=estimate,
            interval=interval,
            throughput_interval=tp_interval,
            trials=tuple(self.trials),
            evaluations=self.evaluations,
            samples=self.samples,
            reused=self.reused,
            stopped=self.stopped,
            violating=violating,
            explanations=tuple(self.explanations),
        )
