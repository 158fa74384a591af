"""Numba cores that build and edit ring point sets (private; see :mod:`kernels.ring`).

Three point generators, one per mode, each returning ``(points uint64[P],
owners int64[P])`` in *generation order*:

* native: ``point_j = mix64(xxh64(name), seed=j)`` for ``j < count`` (no string
  formatting, two splitmix rounds per point);
* ketama (both compat modes): ``md5("<name>-<k>")`` for ``k < ks``, giving four
  little-endian uint32 points per digest; the ``"<name>-<k>"`` strings are
  written byte by byte in numba, not formatted in Python.

Then a stable sort by point (:func:`_stable_sort_points`), so points that tie
keep generation order: nodes in name order for the native mode, the nodes'
given order for libketama (matching glibc's merge-sort ``qsort``) and uhashring
(where :func:`_last_writer_wins` then hands every tied point to the last node
written, as uhashring's dict does).

Editing a native ring never regenerates other nodes' points:
:func:`_merge_points` merges one node's sorted points into the sorted arrays
(O(P)); removal is a boolean mask in numpy.
"""

from __future__ import annotations

import numpy as np

from ._config import jit
from .hashing import _md5_digests_packed, _mix64_seeded

__all__ = [
    "_ketama_points",
    "_last_writer_wins",
    "_merge_points",
    "_native_points",
    "_stable_sort_points",
]

_U48 = np.uint8(48)  # ord("0")
_DASH = np.uint8(45)  # ord("-")
#: Radix of the bucket sort: buckets = 2**bits (clamped to the space).
_SORT_BUCKETS_PER_POINT = 2
#: A bucket holding more points than this means the points are not spread out
#: (e.g. many identical points): use a comparison sort instead.
_MAX_BUCKET_FILL = 64


@jit
def _native_points(bases, counts, order):
    """Native ring points: node ``order[r]`` contributes ``counts[node]`` points.

    ``bases``: uint64[n] (xxh64 of each node name); ``counts``: int64[n] >= 1;
    ``order``: int64[n], the nodes in the order their points are emitted (name
    order, so that a stable sort breaks ties by name).  Returns
    ``(points uint64[P], owners int64[P])``.
    """
    total = 0
    for r in range(order.shape[0]):
        total += counts[order[r]]
    points = np.empty(total, dtype=np.uint64)
    owners = np.empty(total, dtype=np.int64)
    w = 0
    for r in range(order.shape[0]):
        node = order[r]
        base = bases[node]
        for j in range(counts[node]):
            points[w] = _mix64_seeded(base, np.uint64(j))
            owners[w] = node
            w += 1
    return points, owners


@jit
def _write_decimal(buf, pos, value):
    """Write non-negative ``value`` in decimal at ``buf[pos:]``; return the new end."""
    if value == 0:
        buf[pos] = _U48
        return pos + 1
    digits = 0
    v = value
    while v > 0:
        digits += 1
        v //= 10
    end = pos + digits
    v = value
    for q in range(end - 1, pos - 1, -1):
        buf[q] = np.uint8(48 + v % 10)
        v //= 10
    return end


@jit
def _ketama_point_keys(name_data, name_offsets, ks):
    """Pack the strings ``"<name_i>-<k>"`` for every node ``i`` and ``k < ks[i]``.

    ``name_data``/``name_offsets``: the UTF-8 node names, packed (uint8,
    int64[n+1]); ``ks``: int64[n] digests per node.  Returns ``(data uint8,
    offsets int64[m+1], owner int64[m])`` with ``m = sum(ks)``, in generation
    order (node, then ``k``), ready for the batch md5.
    """
    n = ks.shape[0]
    m = 0
    size = 0
    for i in range(n):
        m += ks[i]
        name_len = name_offsets[i + 1] - name_offsets[i]
        k = 0
        digits = 1
        limit = 10
        while k < ks[i]:
            upto = min(ks[i], limit)
            size += (upto - k) * (name_len + 1 + digits)
            k = upto
            digits += 1
            limit *= 10
    data = np.empty(size, dtype=np.uint8)
    offsets = np.empty(m + 1, dtype=np.int64)
    owner = np.empty(m, dtype=np.int64)
    offsets[0] = 0
    w = 0
    q = 0
    for i in range(n):
        start = name_offsets[i]
        name_len = name_offsets[i + 1] - start
        for k in range(ks[i]):
            for j in range(name_len):
                data[w + j] = name_data[start + j]
            data[w + name_len] = _DASH
            w = _write_decimal(data, w + name_len + 1, k)
            owner[q] = i
            q += 1
            offsets[q] = w
    return data, offsets, owner


def _ketama_points(
    name_data: np.ndarray, name_offsets: np.ndarray, ks: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Ketama points: for node ``i`` and ``k < ks[i]``, md5 of ``"<name_i>-<k>"``.

    Each digest ``d`` gives four points, the little-endian uint32 words
    ``d[0:4], d[4:8], d[8:12], d[12:16]``, in that order.  Returns
    ``(points uint64[4 * sum(ks)], owners int64[...])`` in generation order
    (node, then ``k``, then word).  The md5s run as one batch.
    """
    data, offsets, owner = _ketama_point_keys(name_data, name_offsets, ks)
    digests = _md5_digests_packed(data, offsets)  # uint8[m, 16]
    words = np.ascontiguousarray(digests).view(np.dtype("<u4")).reshape(-1)
    return words.astype(np.uint64), np.repeat(owner, 4)


@jit
def _bucket_sort(points, owners, nbits, shift):
    """Stable sort by point: counting sort on the top ``nbits`` bits, then insertion.

    Expected O(P) for hash-like points.  Returns ``(points, owners, ok)``;
    ``ok`` is False (and the output unusable) when some bucket holds more than
    ``_MAX_BUCKET_FILL`` points, i.e. the points are far from uniform.
    """
    p = points.shape[0]
    n_buckets = np.int64(1) << nbits
    count = np.zeros(n_buckets + 1, dtype=np.int64)
    for i in range(p):
        count[np.int64(points[i] >> shift) + 1] += 1
    for b in range(n_buckets):
        if count[b + 1] > _MAX_BUCKET_FILL:
            return points, owners, False
        count[b + 1] += count[b]
    out_p = np.empty(p, dtype=np.uint64)
    out_o = np.empty(p, dtype=np.int64)
    for i in range(p):
        b = np.int64(points[i] >> shift)
        q = count[b]
        count[b] = q + 1
        out_p[q] = points[i]
        out_o[q] = owners[i]
    # count[b] is now the end of bucket b (= start of bucket b + 1).
    start = 0
    for b in range(n_buckets):
        end = count[b]
        for i in range(start + 1, end):
            v = out_p[i]
            o = out_o[i]
            q = i - 1
            while q >= start and out_p[q] > v:  # strict: equal points keep their order
                out_p[q + 1] = out_p[q]
                out_o[q + 1] = out_o[q]
                q -= 1
            out_p[q + 1] = v
            out_o[q + 1] = o
        start = end
    return out_p, out_o, True


def _stable_sort_points(
    points: np.ndarray, owners: np.ndarray, space_bits: int
) -> tuple[np.ndarray, np.ndarray]:
    """Sort ``(points, owners)`` by point, keeping the given order among equal points.

    A bucket sort (expected linear: ring points are hash values, close to
    uniform) with a fallback to numpy's stable comparison sort when the points
    pile up in a few buckets.
    """
    p = points.shape[0]
    if p > 1:
        nbits = max(1, min(space_bits, 24, (_SORT_BUCKETS_PER_POINT * p - 1).bit_length()))
        sp, so, ok = _bucket_sort(points, owners, nbits, np.uint64(space_bits - nbits))
        if ok:
            return sp, so
    order = np.argsort(points, kind="stable")
    return points[order], owners[order]


@jit
def _last_writer_wins(points, owners):
    """In place: every run of equal points gets the owner of the run's last entry.

    uhashring keeps its points in a dict, so when two vnodes hash to the same
    point the node written last owns it (its sorted key list keeps both copies).
    """
    p = points.shape[0]
    i = 0
    while i < p:
        j = i
        while j + 1 < p and points[j + 1] == points[i]:
            j += 1
        if j > i:
            last = owners[j]
            for q in range(i, j):
                owners[q] = last
        i = j + 1


@jit
def _merge_points(points, owners, new_points, new_owner, new_first):
    """Merge one node's sorted points into the ring's sorted arrays (O(P)).

    ``points``: uint64[P] sorted; ``owners``: int64[P]; ``new_points``:
    uint64[m] sorted, all owned by ``new_owner``; ``new_first``: bool[n], True
    where the new node's name sorts before node ``i``'s, which decides ties
    exactly as a full rebuild would (equal points ordered by node name).
    """
    p = points.shape[0]
    m = new_points.shape[0]
    out_p = np.empty(p + m, dtype=np.uint64)
    out_o = np.empty(p + m, dtype=np.int64)
    i = 0
    j = 0
    w = 0
    while i < p and j < m:
        a = points[i]
        b = new_points[j]
        if a < b or (a == b and not new_first[owners[i]]):
            out_p[w] = a
            out_o[w] = owners[i]
            i += 1
        else:
            out_p[w] = b
            out_o[w] = new_owner
            j += 1
        w += 1
    while i < p:
        out_p[w] = points[i]
        out_o[w] = owners[i]
        i += 1
        w += 1
    while j < m:
        out_p[w] = new_points[j]
        out_o[w] = new_owner
        j += 1
        w += 1
    return out_p, out_o
