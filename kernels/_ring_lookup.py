"""Numba cores for ring lookups: a bucketed index over the hash space (private).

Why not a binary search per key?  With 16,000 points a binary search makes 14
dependent, cache-missing loads per key; ``numpy.searchsorted`` + ``take`` costs
about 90-150 ns per key here.  The ring's points are (close to) uniformly
spread over the hash space, so a flat table indexed by the top bits of the key
hash lands within a point or two of the answer:

* ``B = 2**nbits`` buckets, bucket ``b`` covering ``[b << shift, (b + 1) << shift)``
  (``shift = space_bits - nbits``), plus one extra bucket ``B`` that only the
  value ``2**space_bits`` can reach (needed by the "strictly greater" lookup of
  the 32-bit uhashring mode, which searches for ``h + 1``);
* ``table[b] = s >= 0``: the index of the first point ``>= b << shift``; the
  answer for ``h`` in the bucket is found by stepping forward from ``s`` while
  ``points[i] < h``;
* ``table[b] = -(owner + 1) < 0``: every hash in the bucket maps to the same
  node (no point boundary inside the bucket changes the owner), so the owner
  is stored directly and the points are not touched at all.

With ``B >= 8 * P`` about 90 % of the buckets are resolved directly and a key
costs one load from a table of ``4 * B`` bytes.

The points array carries a sentinel ``2**64 - 1`` at index ``P`` and the
owners array a copy of ``owners[0]`` there, so the forward scan needs no bounds
test and falling off the end wraps to the first point without a branch.

Every function here assumes valid input: sorted ``points_ext`` with the
sentinel, ``owners_ext`` of the same length, hashes already checked to lie in
the ring's point space (``< 2**32`` in the ketama modes: a larger value would
index past the table).  The public wrappers in :mod:`kernels.ring` check.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from ._config import jit, jit_parallel
from ._parallel import PAR_CHUNKS as _PAR_CHUNKS
from .hashing import _md5_u32_packed, _xxh64_packed

__all__ = [
    "SENTINEL",
    "_build_table",
    "_lookup_into",
    "_lookup_into_parallel",
    "_lower_bound",
    "_md5_chunks_parallel",
    "_xxh64_chunks_parallel",
    "table_bits",
]

SENTINEL = np.uint64(0xFFFFFFFFFFFFFFFF)

_U1 = np.uint64(1)

#: Buckets per point: 8 resolves ~90 % of random keys without touching the points.
_BUCKETS_PER_POINT = 8
#: Upper bound on the table (4 bytes per entry): 2**22 entries = 16 MiB.
_MAX_TABLE_BITS = 22
_MIN_TABLE_BITS = 4


def table_bits(n_points: int, space_bits: int) -> int:
    """Number of index bits for a ring of ``n_points`` in a ``space_bits``-bit space.

    The smallest power of two ``>= 8 * n_points`` buckets, clamped to
    ``[2**4, 2**22]`` and never more buckets than hash values.
    """
    want = max(1, _BUCKETS_PER_POINT * int(n_points) - 1).bit_length()
    return max(_MIN_TABLE_BITS, min(want, _MAX_TABLE_BITS, space_bits))


@jit
def _build_table(points_ext, owners_ext, nbits, shift):
    """Return the bucket table (int32[2**nbits + 1]) for sorted ``points_ext``.

    ``points_ext``: uint64[P + 1] sorted, sentinel at ``P``; ``owners_ext``:
    int64[P + 1], ``owners_ext[P] == owners_ext[0]``; ``shift``: uint64,
    ``space_bits - nbits``.  O(B + P).
    """
    n_buckets = np.int64(1) << nbits
    p = points_ext.shape[0] - 1
    table = np.empty(n_buckets + 1, dtype=np.int32)
    width_minus_1 = (_U1 << shift) - _U1
    s = 0
    for b in range(n_buckets):
        lo = np.uint64(b) << shift
        while s < p and points_ext[s] < lo:
            s += 1
        hi = lo + width_minus_1
        # Keys in the bucket map to indices s..e, e = first point > hi (or P).
        owner = owners_ext[s]
        uniform = True
        e = s
        while e < p and points_ext[e] <= hi:
            e += 1
            if owners_ext[e] != owner:
                uniform = False
                break
        if uniform:
            table[b] = np.int32(-(owner + 1))
        else:
            table[b] = np.int32(s)
    # Bucket B is reached only by h == 2**space_bits (strict 32-bit lookups): wrap.
    table[n_buckets] = np.int32(-(owners_ext[p] + 1))
    return table


@jit
def _lower_bound(points, h, lo, hi):
    """First index ``i`` in ``[lo, hi)`` with ``points[i] >= h``, or ``hi``: binary search.

    ``points`` sorted ascending.  The table lookups use it only where a bucket
    does not lead to a point directly (bounded loads' walk).
    """
    while lo < hi:
        mid = (lo + hi) >> 1
        if points[mid] < h:
            lo = mid + 1
        else:
            hi = mid
    return lo


@jit
def _lookup_range(points_ext, owners_ext, table, shift, inc, hashes, out, lo, hi):
    for k in range(lo, hi):
        h = np.uint64(hashes[k]) + inc
        t = table[h >> shift]
        if t < 0:
            out[k] = -np.int64(t) - 1
        else:
            i = np.int64(t)
            while points_ext[i] < h:
                i += 1
            out[k] = owners_ext[i]


@jit
def _lookup_into(points_ext, owners_ext, table, shift, inc, hashes, out):
    """Owner of the first point ``>= hashes[k] + inc`` (wrapping) into ``out[k]``.

    ``inc`` (uint64) is 0 for "first point >= h" and 1 for "first point > h"
    (valid only when ``h + 1`` cannot overflow, i.e. 32-bit spaces).
    ``hashes``: any unsigned integer array within the space; ``out``: int64.
    """
    _lookup_range(points_ext, owners_ext, table, shift, inc, hashes, out, 0, hashes.shape[0])


@jit_parallel
def _lookup_into_parallel(points_ext, owners_ext, table, shift, inc, hashes, out):
    """:func:`_lookup_into` split into chunks over all numba threads (``prange``)."""
    n = hashes.shape[0]
    for c in prange(_PAR_CHUNKS):
        lo = c * n // _PAR_CHUNKS
        hi = (c + 1) * n // _PAR_CHUNKS
        _lookup_range(points_ext, owners_ext, table, shift, inc, hashes, out, lo, hi)


@jit_parallel
def _xxh64_chunks_parallel(data, offsets, seed, out):
    """``out[k] = XXH64(key k, seed)`` for packed keys, chunked over all numba threads.

    (Hashing into an array, then looking the array up, measured faster than
    one fused hash-and-lookup loop: the two loops each keep the core busy.)
    """
    n = offsets.shape[0] - 1
    for c in prange(_PAR_CHUNKS):
        lo = c * n // _PAR_CHUNKS
        hi = (c + 1) * n // _PAR_CHUNKS
        if hi > lo:
            out[lo:hi] = _xxh64_packed(data, offsets[lo : hi + 1], seed)


@jit_parallel
def _md5_chunks_parallel(data, offsets, out):
    """``out[k]`` = ketama hash (LE uint32 of md5) of packed key ``k``, over all threads."""
    n = offsets.shape[0] - 1
    for c in prange(_PAR_CHUNKS):
        lo = c * n // _PAR_CHUNKS
        hi = (c + 1) * n // _PAR_CHUNKS
        if hi > lo:
            out[lo:hi] = _md5_u32_packed(data, offsets[lo : hi + 1])
