"""tuner.pool: the worker pool's building blocks that exist today.

The pool runtime -- the ZeroMQ broker, worker processes, the executor
(``WorkerPool``), heartbeats and recovery -- is **not built yet**.  What is
here are the socket-free decision cores the runtime will drive: the
load-balancing strategies of :mod:`tuner.pool.balancers`, selected by name
with :func:`make_balancer`.
"""

from __future__ import annotations

from .balancers import (
    BALANCERS,
    Balancer,
    BalancerError,
    BalancerStats,
    WorkerLoad,
    make_balancer,
)

__all__ = [
    "BALANCERS",
    "Balancer",
    "BalancerError",
    "BalancerStats",
    "WorkerLoad",
    "make_balancer",
]
