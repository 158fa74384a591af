"""Jump consistent hash (Lamping & Veach 2014, "A Fast, Minimal Memory, Consistent Hash Algorithm").

Why jump hash?  It maps a 64-bit key to one of ``n`` numbered buckets with no
table at all (zero memory), near-perfect balance and the optimal disruption:
growing from ``n`` to ``n + 1`` buckets moves exactly the keys that land in the
new bucket, about ``1 / (n + 1)`` of them, and never moves a key between two
old buckets.  The price: buckets are numbers, not names, only the *last*
bucket can be removed, and there are no weights.  It suits sharded storage
whose shards are numbered and only grow (or shrink from the end); for named,
weighted or arbitrarily removable nodes use ``HashRing``, ``MaglevTable`` or
``Rendezvous``.

The algorithm (a pseudo-random walk whose jumps lengthen geometrically, so it
takes about ``ln(n)`` steps)::

    b = -1; j = 0
    while j < n:
        b = j
        key = key * 2862933555777941757 + 1            (mod 2**64)
        j = int((b + 1) * (2**31 / ((key >> 33) + 1)))   (in double precision)
    return b

The double-precision arithmetic is part of the definition: every step here
reproduces the paper's C++ reference bit for bit, so buckets agree with other
faithful implementations (e.g. the Go package ``github.com/dgryski/go-jump``,
whose published vectors the tests check).

Keys should already be well mixed (the linear congruential step only spreads
them so far): hash strings with :func:`jump_hash_keys`, or integers with
``kernels.hashing.mix64`` first if they are sequential ids and you care about
more than balance.
"""

from __future__ import annotations

from typing import Any, overload

import numpy as np
from numba import prange

from ._config import jit, jit_parallel
from ._parallel import run_maybe_parallel, use_parallel
from ._validate import check_hashes, check_int, is_int

__all__ = ["jump_hash", "jump_hash_keys"]

_LCG_MUL = np.uint64(2862933555777941757)
_ONE = np.uint64(1)
_S33 = np.uint64(33)
_TWO31 = float(1 << 31)
_MAX_BUCKETS = 1 << 31  # the paper's int32 bucket count: n must be below this
_U64_LIMIT = 1 << 64
_INT64_LIMIT = 1 << 63


@jit
def _jump_one(key, n):
    """Bucket in ``[0, n)`` for one ``key`` (uint64, or int64 holding the same 64 bits).

    ``n`` is an integer in ``[1, 2**31)``.  Returns an int64.
    """
    k = np.uint64(key)
    b = np.int64(-1)
    j = np.int64(0)
    while j < n:
        b = j
        k = k * _LCG_MUL + _ONE
        j = np.int64(np.float64(b + 1) * (_TWO31 / np.float64((k >> _S33) + _ONE)))
    return b


@jit
def _jump_batch(keys, n, out):
    """Fill ``out`` (int64[m]) with the bucket of each ``keys`` (uint64[m], contiguous)."""
    for i in range(keys.shape[0]):
        out[i] = _jump_one(keys[i], n)


@jit_parallel
def _jump_batch_parallel(keys, n, out):
    """:func:`_jump_batch` split over the numba thread pool (``prange``)."""
    for i in prange(keys.shape[0]):
        out[i] = _jump_one(keys[i], n)


def _check_n(n: object) -> int:
    n = check_int(n, "n (the number of buckets)")
    if not 1 <= n < _MAX_BUCKETS:
        raise ValueError(f"n (the number of buckets) must be in [1, 2**31), got {n}")
    return n


def _jump_array(flat: np.ndarray, n: int, parallel: bool | None) -> np.ndarray:
    """Buckets (int64) of the valid, contiguous uint64 keys ``flat`` (1-D)."""
    out = np.empty(flat.shape[0], dtype=np.int64)
    # The package's parallel policy and its fork/workqueue guards: kernels._parallel.
    wanted = use_parallel(parallel, flat.shape[0])
    run_maybe_parallel(_jump_batch, _jump_batch_parallel, wanted, flat, np.int64(n), out)
    return out


@overload
def jump_hash(key_or_array: int, n: int, *, parallel: bool | None = False) -> int: ...
@overload
def jump_hash(key_or_array: np.ndarray, n: int, *, parallel: bool | None = False) -> np.ndarray: ...


def jump_hash(key_or_array, n, *, parallel=False):
    """Bucket of each key under jump consistent hash with ``n`` buckets.

    Parameters
    ----------
    key_or_array : int or np.ndarray
        One key, an int in ``[0, 2**64)``, or an array of keys of any integer
        dtype and any shape (signed arrays must hold no negative values; they
        are reinterpreted as uint64).
    n : int
        Number of buckets, ``1 <= n < 2**31`` (the paper's bucket count is an
        int32).
    parallel : bool or None, keyword-only
        Batch only: split the work over numba's thread pool (``prange``).
        Off by default: on an idle 2-core machine it halves the time of a
        1M-key batch, but when the other core is busy (another worker
        process, as in a pool) it is slower than one core.  ``None`` turns it
        on from 65,536 keys; ``True`` forces it.  Always serial in a child
        forked after the parent started OpenMP threads (the package-wide
        policy, see :mod:`kernels._parallel`).

    Returns
    -------
    int or np.ndarray
        For an int key, the bucket as an int in ``[0, n)``; for an array,
        int64 buckets of the same shape.

    Raises
    ------
    TypeError
        A key or ``n`` that is not an integer, or a non-integer array.
    ValueError
        ``key`` outside ``[0, 2**64)``, negative array values, or ``n``
        outside ``[1, 2**31)``.

    Examples
    --------
    >>> jump_hash(256, 1024)
    520
    >>> jump_hash(np.arange(5, dtype=np.uint64), 10).tolist()
    [0, 6, 6, 8, 1]
    """
    # Fast path for the common scalar call (plain ints): skip the ABC checks and
    # numpy scalar boxing, which cost more than the kernel itself.
    if type(key_or_array) is int and type(n) is int and 0 < n < _MAX_BUCKETS:
        if 0 <= key_or_array < _INT64_LIMIT:
            return _jump_one(key_or_array, n)
        if _INT64_LIMIT <= key_or_array < _U64_LIMIT:
            # numba boxes Python ints as int64: pass the same 64 bits, signed.
            return _jump_one(key_or_array - _U64_LIMIT, n)
    n = _check_n(n)
    if isinstance(key_or_array, np.ndarray):
        flat = check_hashes(key_or_array, "key array", flatten=True)
        return _jump_array(flat, n, parallel).reshape(key_or_array.shape)
    if not is_int(key_or_array):
        raise TypeError(
            f"key must be an int or a numpy integer array, not {type(key_or_array).__name__}"
        )
    key = int(key_or_array)
    if not 0 <= key < _U64_LIMIT:
        raise ValueError(f"key must be in [0, 2**64), got {key}")
    return _jump_one(key if key < _INT64_LIMIT else key - _U64_LIMIT, n)


def jump_hash_keys(
    keys: Any, n: int, *, seed: int = 0, parallel: bool | None = False
) -> np.ndarray:
    """Buckets for str/bytes keys: XXH64 each key (``kernels.hashing.hash_keys``), then jump.

    Parameters
    ----------
    keys : list of str/bytes, numpy ``U``/``S``/object array, or ``PackedKeys``
        The keys; str keys are hashed as their UTF-8 bytes.
    n : int
        Number of buckets, ``1 <= n < 2**31``.
    seed : int
        XXH64 seed, for independent placements of the same keys.
    parallel : bool or None
        As for :func:`jump_hash`.

    Returns
    -------
    np.ndarray
        int64[len(keys)] buckets in ``[0, n)``.
    """
    from .hashing import hash_keys

    n = _check_n(n)
    return _jump_array(hash_keys(keys, seed=seed), n, parallel)
