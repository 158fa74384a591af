"""Search strategies: ``grid`` (exhaustive), ``random``, and ``auto`` (see :mod:`.auto`).

Every strategy has the same signature::

    strategy(space, evaluator, *, budget=None, objective=None, constraints=None,
             prior=(), on_trial=None, **options) -> SearchResult

and stops cleanly when the budget is spent, returning the best of what it measured.
"""

from __future__ import annotations

import random as _random
from collections.abc import Callable, Iterable
from typing import Any

from ..errors import SearchError
from .auto import AutoSettings, auto_search
from .objective import Budget, Constraints, Objective
from .session import Evaluator, Exhausted, SearchResult, Session
from .space import SearchSpace
from .trials import Trial

__all__ = ["STRATEGIES", "AutoSettings", "auto_search", "grid_search", "random_search", "run"]

_MAX_SHUFFLED = 200_000


def grid_search(
    space: SearchSpace,
    evaluator: Evaluator,
    *,
    budget: Budget | None = None,
    objective: Objective | None = None,
    constraints: Constraints | None = None,
    prior: Iterable[Trial] = (),
    on_trial: Callable[[Trial], None] | None = None,
    repeats: int = 3,
) -> SearchResult:
    """Measure every configuration of ``space`` once, ``repeats`` times, in grid order.

    The ground truth for benchmarks: it is the only strategy that cannot miss the best
    configuration (up to noise), at the price of trying everything.  With a budget it stops
    where the budget ends and recommends the best measured so far.
    """
    _check_repeats(repeats)
    session = Session(
        "grid", space, evaluator, budget=budget, objective=objective,
        constraints=constraints, prior=prior, on_trial=on_trial,
    )  # fmt: skip
    total = len(space)
    try:
        for config in space.grid():
            session.measure(config, repeats, "grid")
    except Exhausted:
        pass
    session.say(
        f"Grid: measured {len(session.cache)} of {total} configurations, "
        f"{repeats} repeats each; the recommendation has the best mean."
    )
    return session.finish(session.best_key())


def random_search(
    space: SearchSpace,
    evaluator: Evaluator,
    *,
    budget: Budget | None = None,
    objective: Objective | None = None,
    constraints: Constraints | None = None,
    prior: Iterable[Trial] = (),
    on_trial: Callable[[Trial], None] | None = None,
    repeats: int = 3,
    seed: int = 0,
) -> SearchResult:
    """Measure configurations in a seeded random order, without replacement, until the budget
    is spent (or every configuration is measured)."""
    _check_repeats(repeats)
    session = Session(
        "random", space, evaluator, budget=budget, objective=objective,
        constraints=constraints, prior=prior, on_trial=on_trial,
    )  # fmt: skip
    rng = _random.Random(seed)
    try:
        if len(space) <= _MAX_SHUFFLED:
            configs = list(space.grid())
            rng.shuffle(configs)
            for config in configs:
                session.measure(config, repeats, "random")
        else:  # too many to list: draw, skipping repeats via the cache
            while True:
                session.measure(space.sample(rng), repeats, "random")
    except Exhausted:
        pass
    session.say(
        f"Random (seed {seed}): measured {len(session.cache)} configurations, "
        f"{repeats} repeats each; the recommendation has the best mean."
    )
    return session.finish(session.best_key())


def _check_repeats(repeats: int) -> None:
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise SearchError(f"repeats must be a positive integer, got {repeats!r}")


STRATEGIES: dict[str, Callable[..., SearchResult]] = {
    "auto": auto_search,
    "grid": grid_search,
    "random": random_search,
}
"""Strategy names (as ``--strategy`` takes them) to functions."""


def run(name: str, space: SearchSpace, evaluator: Evaluator, **options: Any) -> SearchResult:
    """Run the strategy called ``name`` (``"auto"``, ``"grid"``, ``"random"``).

    Raises
    ------
    SearchError
        Unknown strategy name, listing the valid ones.
    """
    try:
        strategy = STRATEGIES[name]
    except KeyError:
        raise SearchError(
            f"unknown strategy {name!r}; valid: {', '.join(sorted(STRATEGIES))}"
        ) from None
    return strategy(space, evaluator, **options)
