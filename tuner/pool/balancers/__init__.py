"""Load-balancing strategies for the worker pool: which worker gets the next task.

These are the *decision cores* of the pool (DESIGN.md convention 6): pure
Python objects with no sockets, clocks or threads.  The broker
(``tuner.pool.broker``) owns the ZeroMQ sockets and drives them; the tests
here drive them with simulated workers.

How the broker is meant to drive a balancer::

    worker joins / restarts ------> add_worker(worker_id, weight, slot=...)
    worker dead or gone ----------> remove_worker(worker_id)
                                          |
    task (key) ---> choose(key, credit) --+--> worker_id --> send --> on_sent(worker_id)
                          |                                               |
                          +--> None: hold the task (no credit,            |
                               or the strategy's hold rule)               v
    result from worker_id ------------------------------------------> on_done(worker_id)

``credit`` maps each worker id to its free prefetch slots (window minus the
tasks it holds); the broker owns it.  A balancer only ever returns a live
worker whose credit is > 0.  It keeps its own count of outstanding tasks
(sent, not done) per worker, fed by :meth:`Balancer.on_sent` and
:meth:`Balancer.on_done`, which the load-aware strategies read.

Strategies (:data:`BALANCERS`, built by :func:`make_balancer`):

``random``                weighted random (``kernels.AliasTable``)
``round_robin``           rotation over live workers (``SmoothWeightedRoundRobin``, weights 1)
``weighted_round_robin``  nginx smooth WRR over worker weights (the same kernel)
``least_outstanding``     fewest ``(outstanding + 1) / weight`` (``kernels.LeastLoaded``)
``power_of_two``          two random candidates, the less loaded wins (``PowerOfTwoChoices``)
``consistent_hash``       task affinity by key on a ``kernels.HashRing`` of worker *slots*;
                          holds a task while its owner has no credit
``bounded_load_hash``     the same ring with bounded loads (capacity
                          ``ceil(c * (in_flight + 1) * w / W)``, Mirrokni et al.); walks past
                          full workers, never holds while any worker has credit
``pull``                  zguide load-balancing broker: workers that asked for work (hold fewer
                          than ``ready_below`` tasks) are served first-come first-served

Slots make affinity survive restarts: every worker occupies a slot name
(``"w0"``, ``"w1"``, ... by default, the lowest free one) and the hash ring's
nodes are slot names, not worker ids.  A replacement worker added into the
dead worker's slot inherits exactly its predecessor's keys.

Balancers are not thread-safe: one broker thread owns one balancer.

Modules: ``_records`` (the frozen snapshots), ``_base`` (the :class:`Balancer`
interface and shared helpers), ``_simple`` (strategies without affinity and
``pull``), ``_hashed`` (the two hash strategies); this ``__init__`` holds the
registry.
"""

from __future__ import annotations

from typing import Any

from tuner.config import BALANCERS
from tuner.errors import BalancerError, ConfigError

from ._base import Balancer
from ._hashed import BoundedLoadHash, ConsistentHash
from ._records import BalancerStats, WorkerLoad
from ._simple import (
    LeastOutstanding,
    PowerOfTwo,
    Pull,
    RandomBalancer,
    RoundRobin,
    WeightedRoundRobin,
)

__all__ = [
    "BALANCERS",
    "Balancer",
    "BalancerError",
    "BalancerStats",
    "WorkerLoad",
    "make_balancer",
]

_STRATEGIES: tuple[type[Balancer], ...] = (
    RandomBalancer,
    RoundRobin,
    WeightedRoundRobin,
    LeastOutstanding,
    PowerOfTwo,
    ConsistentHash,
    BoundedLoadHash,
    Pull,
)


def _build_registry(
    names: tuple[str, ...], strategies: tuple[type[Balancer], ...]
) -> dict[str, type[Balancer]]:
    """Map each name of ``names`` to the strategy class of that ``name``, in ``names`` order.

    The names are declared once, in :data:`tuner.config.BALANCERS` (so that validating a
    ``PoolConfig`` does not import numba); the classes are defined here.  A class without a
    name in the tuple, or a name without a class, is a bug that must not reach a user as an
    odd ``ConfigError`` later, so it fails the import.

    Raises
    ------
    RuntimeError
        The names and the classes' ``name`` attributes differ; the message lists both sides.
    """
    by_name = {cls.name: cls for cls in strategies}
    if len(by_name) != len(strategies) or sorted(by_name) != sorted(names):
        raise RuntimeError(
            "tuner.config.BALANCERS and the balancer classes disagree: "
            f"names {sorted(names)}, classes {sorted(cls.name for cls in strategies)}"
        )
    return {name: by_name[name] for name in names}


_REGISTRY: dict[str, type[Balancer]] = _build_registry(BALANCERS, _STRATEGIES)


def make_balancer(name: str, **options: Any) -> Balancer:
    """Build the balancer called ``name`` with its options.

    Parameters
    ----------
    name : str
        One of :data:`BALANCERS`.
    **options
        ``seed`` (every strategy), ``vnodes`` (hash strategies),
        ``balance_factor`` (``bounded_load_hash``), ``ready_below`` (``pull``); see each
        strategy's ``OPTIONS`` for defaults.

    Raises
    ------
    tuner.errors.ConfigError
        An unknown name (the message lists the choices), an option the
        strategy does not take, or an invalid option value; ``knob`` names
        the culprit (``"balancer"`` for the name).

    Examples
    --------
    >>> b = make_balancer("round_robin")
    >>> b.add_worker(b"a"), b.add_worker(b"b")
    ('w0', 'w1')
    >>> [b.choose(None, {b"a": 1, b"b": 1}) for _ in range(3)]
    [b'a', b'b', b'a']
    """
    cls = _REGISTRY.get(name) if isinstance(name, str) else None
    if cls is None:
        choices = ", ".join(BALANCERS)
        raise ConfigError(
            f"unknown balancer {name!r}; choose one of: {choices}",
            knob="balancer", value=name, valid=choices,
        )  # fmt: skip
    unknown = sorted(set(options) - set(cls.OPTIONS))
    if unknown:
        raise ConfigError(
            f"balancer {name!r} takes no option {', '.join(map(repr, unknown))}; "
            f"its options are: {', '.join(cls.OPTIONS)}",
            knob=unknown[0], value=options[unknown[0]], valid=", ".join(cls.OPTIONS),
        )  # fmt: skip
    return cls(**options)
