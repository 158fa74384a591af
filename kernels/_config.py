"""Numba compilation flags for every kernel, in one place.

Kernels are compiled lazily, on first call, and cached on disk next to the
sources (``cache=True``) so a second process or a second test run pays no
compile time.  Set ``KERNELS_NUMBA_CACHE=0`` to turn the on-disk cache off
(useful when debugging numba itself or on a read-only install).

``boundscheck`` stays off: the public wrappers validate indices, dtypes and
shapes at the Python boundary, and the private ``@jit`` cores assume valid
input.  ``error_model="numpy"`` lets integer/float division compile without
Python's ZeroDivisionError checks (the wrappers never divide by zero).
"""

from __future__ import annotations

import os

import numba

__all__ = ["CACHE", "jit", "jit_parallel"]

CACHE: bool = os.environ.get("KERNELS_NUMBA_CACHE", "1").lower() not in ("0", "false", "no", "off")

_COMMON = {"cache": CACHE, "nogil": True, "boundscheck": False, "error_model": "numpy"}


def jit(fn=None, **overrides):
    """``numba.njit`` with the project's flags; usable bare or with overrides."""
    opts = {**_COMMON, **overrides}
    if fn is None:
        return numba.njit(**opts)
    return numba.njit(**opts)(fn)


def jit_parallel(fn=None, **overrides):
    """Like :func:`jit` with ``parallel=True`` (``prange`` loops over both cores)."""
    return jit(fn, parallel=True, **overrides)
