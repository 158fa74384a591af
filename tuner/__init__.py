"""tuner: tune multiprocess and distributed Python work on your own hardware.

Built so far: the pool's configuration record (:class:`PoolConfig`, whose knobs
the auto-tuner will search), the wire protocol (:mod:`tuner.wire`) and the
load-balancing strategies (:mod:`tuner.pool`).  The worker pool runtime
(``WorkerPool``) and the auto-tuner (``python -m tuner optimize``) are not built
yet: see ``docs/index.md``.  The numba kernels live in the separate
:mod:`kernels` package.
"""

from .config import PoolConfig
from .errors import (
    ConfigError,
    NotImplementedYet,
    ProtocolError,
    RemoteError,
    SerializationError,
    TunerError,
)

__all__ = [
    "ConfigError",
    "NotImplementedYet",
    "PoolConfig",
    "ProtocolError",
    "RemoteError",
    "SerializationError",
    "TunerError",
]
__version__ = "0.1.0.dev0"
