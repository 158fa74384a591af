"""tuner: tune multiprocess and distributed Python work on your own hardware.

Built so far: :class:`WorkerPool` (a ZeroMQ worker pool in separate processes,
with load balancers, heartbeats and recovery; see ``docs/pool.md`` for what is
not built yet), its configuration record :class:`PoolConfig` (whose knobs the
auto-tuner will search), the wire protocol (:mod:`tuner.wire`) and CURVE
security for remote workers (:mod:`tuner.security`).  The auto-tuner
(``python -m tuner optimize``) is not built yet: see ``docs/index.md``.  The
numba kernels live in the separate :mod:`kernels` package.

``WorkerPool`` is imported lazily so that ``import tuner`` (and every worker
process) stays light.
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
    "RemoteError",
    "SearchError",
    "SerializationError",
    "TransportError",
    "TrialLogError",
    "TunerError",
    "WorkerCrashed",
    "WorkerPool",
    "WorkloadError",
]
__version__ = "0.1.0.dev0"


def __getattr__(name: str) -> Any:
    if name == "WorkerPool":
        from .pool.executor import WorkerPool

        globals()["WorkerPool"] = WorkerPool
        return WorkerPool
    raise AttributeError(f"module 'tuner' has no attribute {name!r}")
