"""tuner: tune multiprocess and distributed Python work on your own hardware.

:func:`optimize` (also ``python -m tuner optimize``) searches pool sizes and
strategies for a workload on this machine and returns a :class:`Recommendation`;
:class:`WorkerPool` is the ZeroMQ worker pool it tunes (load balancers,
heartbeats, recovery from worker death, remote workers), configured by
:class:`PoolConfig`.  See ``docs/index.md``.  The numba kernels live in the
separate :mod:`kernels` package.

``WorkerPool``, ``optimize`` and ``Recommendation`` are imported lazily so that
``import tuner`` (and every worker process) stays light.
"""

from typing import Any

from .config import PoolConfig
from .errors import (
    AuthError,
    BalancerError,
    ConfigError,
    MonitorError,
    NotImplementedYet,
    ProtocolError,
    QueueFull,
    RemoteError,
    SearchError,
    SerializationError,
    TransportError,
    TrialLogError,
    TunerError,
    WorkerCrashed,
    WorkloadError,
)

__all__ = [
    "AuthError",
    "BalancerError",
    "ConfigError",
    "MonitorError",
    "NotImplementedYet",
    "PoolConfig",
    "ProtocolError",
    "QueueFull",
    "Recommendation",
    "RemoteError",
    "SearchError",
    "SerializationError",
    "TransportError",
    "TrialLogError",
    "TunerError",
    "WorkerCrashed",
    "WorkerPool",
    "WorkloadError",
    "optimize",
]
__version__ = "0.1.0.dev0"


def __getattr__(name: str) -> Any:
    if name == "WorkerPool":
        from .pool.executor import WorkerPool

        globals()["WorkerPool"] = WorkerPool
        return WorkerPool
    if name in ("optimize", "Recommendation"):
        from . import autotune

        value = getattr(autotune, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'tuner' has no attribute {name!r}")
