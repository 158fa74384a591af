"""tuner.pool: ZeroMQ worker pools in separate OS processes.

:class:`WorkerPool` is a ``concurrent.futures.Executor`` whose workers are fresh
interpreters linked to a broker thread by ZeroMQ, with pluggable load
balancers (:func:`make_balancer`, :data:`BALANCERS`), heartbeats and recovery
from worker death.  See ``docs/pool.md`` for what is built and what is not yet.

Names are imported lazily: a worker process imports :mod:`tuner.pool.worker`
through this package and must not pay for numpy and numba, which only the
broker's balancers use.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "WorkerPool": "tuner.pool.executor",
    "PoolStats": "tuner.pool.broker",
    "WorkerStats": "tuner.pool.broker",
    "BALANCERS": "tuner.pool.balancers",
    "Balancer": "tuner.pool.balancers",
    "BalancerError": "tuner.errors",
    "BalancerStats": "tuner.pool.balancers",
    "WorkerLoad": "tuner.pool.balancers",
    "make_balancer": "tuner.pool.balancers",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    try:
        module = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'tuner.pool' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
