"""tuner: tune multiprocess and distributed Python work on your own hardware.

This release ships the foundation only; the worker pool and the auto-tuner
land in later releases (see ``docs/index.md``).  The numba kernels live in the
separate :mod:`kernels` package.
"""

from .errors import TunerError

__all__ = ["TunerError"]
__version__ = "0.1.0.dev0"
