"""Consistent hash ring: weighted nodes, virtual nodes, ketama compatibility, fast batches.

A ring places ``P`` points per node set on a circular hash space; a key goes to
the node owning the first point at or after the key's hash (wrapping past the
end).  Adding or removing a node moves only the keys in the arcs it gains or
loses, about ``1 / n`` of them.

Three modes (``compat``), documented exactly in ``docs/kernels.md``:

``None`` (native, the default)
    64-bit space.  Key hash ``XXH64(utf8(key), seed=0)``.  Node ``name`` with
    weight ``w`` gets ``max(1, floor(w * vnodes + 0.5))`` points (``vnodes``
    default 160), point ``j`` being ``mix64(XXH64(utf8(name)), seed=j)``.  The
    count depends only on the node's own weight, so changing one weight never
    moves keys between two other nodes.  Equal points are ordered by node name,
    so a ring built from the same nodes in any order is identical.  Lookup:
    first point ``>= h``, wrapping to the first.
``"libketama"``
    Bit-compatible with RJ/ketama's C library: 32-bit space, md5 of
    ``"<name>-<k>"`` for ``k < floorf(pct * 40.0 * n)`` with ``pct`` a float32
    ratio, four little-endian uint32 points per digest, first point ``>= h``.
``"uhashring"``
    Identical node choices to uhashring 2.5's ``HashRing(nodes,
    hash_fn="ketama")``: ``vnodes * n * w // sum(w)`` digests per node (integer
    arithmetic, ``vnodes`` default 40), first point strictly ``> h``, and on a
    point collision the node listed later wins.

Rings are immutable snapshots: :meth:`HashRing.with_node`,
:meth:`~HashRing.without_node` and :meth:`~HashRing.with_weight` return new
rings and every array is read-only, so a ring can be shared between threads
and swapped atomically (one reference assignment) while readers use the old one.

Batch lookups use a bucketed index over the hash space (see
:mod:`kernels._ring_lookup`): one table load resolves about 90 % of keys.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from . import _ring_lookup as _lk
from ._parallel import run_maybe_parallel, use_parallel
from ._ring_build import (
    _ketama_points,
    _last_writer_wins,
    _merge_points,
    _native_points,
    _stable_sort_points,
)
from ._validate import (
    check_hashes,
    check_int,
    check_name,
    check_names,
    check_weight,
    check_weights,
    key_bytes,
)
from .hashing import (
    PackedKeys,
    _md5_u32_packed,
    _xxh64_nul,
    _xxh64_packed,
    hash_keys,
    ketama_hash_keys,
    pack_keys,
)

try:  # hashing's low-overhead entry to the compiled XXH64 (skips numba's dispatcher)
    from .hashing import _xxh64_scalar
except ImportError:  # pragma: no cover - fall back to the public, validating wrapper
    from .hashing import xxh64 as _xxh64_scalar

try:  # CPython's built-in MD5: cheaper per short key than hashlib's OpenSSL wrapper.
    from _md5 import md5 as _md5_fn
except ImportError:  # pragma: no cover - interpreters built without it
    from hashlib import md5 as _md5_fn

__all__ = ["COMPAT_MODES", "DEFAULT_VNODES", "HashRing"]

#: Accepted values of ``compat``.
COMPAT_MODES = (None, "libketama", "uhashring")

#: Default ``vnodes`` per mode: native points per unit of weight; uhashring's
#: md5 digests per node at average weight; libketama's fixed 40 digests.
DEFAULT_VNODES = {None: 160, "libketama": 40, "uhashring": 40}

_UNPACK_U32 = struct.Struct("<I").unpack_from
_SEED0 = np.uint64(0)
_MAX_POINTS = (1 << 31) - 2  # table entries are int32 point indices


def _readonly(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


def _whole_why(compat: str | None) -> str:
    """Why a ketama mode takes whole-number weights (completes the weight message)."""
    return f" in compat={compat!r} mode (the library takes integer weights)"


def _check_weight(w: Any, where: str, compat: str | None) -> float | int:
    return check_weight(w, where, integer=compat is not None, why=_whole_why(compat))


def _check_compat(compat: Any) -> str | None:
    if compat not in COMPAT_MODES:
        raise ValueError(f"compat must be one of None, 'libketama', 'uhashring'; got {compat!r}")
    return compat


def _check_vnodes(vnodes: Any, compat: str | None) -> int:
    if vnodes is None:
        return DEFAULT_VNODES[compat]
    vnodes = check_int(vnodes, "vnodes")
    if compat == "libketama" and vnodes != 40:
        raise ValueError("vnodes is fixed at 40 digests per server in compat='libketama'")
    if not 1 <= vnodes <= 1 << 20:
        raise ValueError(f"vnodes must be in [1, 2**20], got {vnodes}")
    return vnodes


def _libketama_digests(weights: Sequence[int]) -> np.ndarray:
    """Digests per server exactly as libketama computes them (float32 then double).

    ``pct = (float)w / (float)total`` in float32; ``pct * 40.0 * (float)n`` in
    double; ``floorf`` converts that to float32 first, then floors.
    """
    w = np.array(weights, dtype=np.uint64)
    total = np.array([sum(int(x) for x in weights)], dtype=np.uint64)
    pct = w.astype(np.float32) / total.astype(np.float32)  # float32 division
    n_f = np.float64(np.float32(len(weights)))
    prod = pct.astype(np.float64) * 40.0 * n_f
    return np.floor(prod.astype(np.float32)).astype(np.int64)


def _uhashring_digests(weights: Sequence[int], vnodes: int) -> np.ndarray:
    """uhashring's ``vnodes * len(nodes) * weight // weight_sum`` per node (exact ints)."""
    n = len(weights)
    total = sum(weights)
    return np.array([vnodes * n * w // total for w in weights], dtype=np.int64)


def _native_count(weight: float, vnodes: int) -> int:
    return max(1, math.floor(weight * vnodes + 0.5))


class HashRing:
    """An immutable consistent hash ring of named, weighted nodes.

    Parameters
    ----------
    nodes : sequence of str, or mapping of str to weight
        Node names, in index order (``lookup`` returns indices into
        :attr:`nodes`).  A mapping gives names and weights together.
    weights : sequence of numbers, optional
        One per node, default all 1.  Native mode: any finite float > 0.
        Ketama modes: whole numbers >= 1 (libketama reads integer MB).
    compat : {None, "libketama", "uhashring"}
        Point layout and lookup rule; see the module docstring.
    vnodes : int, optional
        Native: points per unit of weight (default 160).  uhashring: its
        ``vnodes`` (default 40 md5 digests, 160 points, per node of average
        weight).  libketama: fixed at 40.

    Raises
    ------
    ValueError
        Empty or duplicate node names, weights that are not > 0 and finite (or
        not whole in the ketama modes), a weights length mismatch, an unknown
        ``compat``, ``vnodes`` out of range.
    TypeError
        A node name that is not a str, a weight that is not a number.

    Examples
    --------
    >>> ring = HashRing(["10.0.0.1:11211", "10.0.0.2:11211"])
    >>> ring.get("user:42") in ring.nodes
    True
    >>> ring.lookup(["a", "b", "c"]).dtype
    dtype('int64')
    """

    # ------------------------------------------------------------------ construction

    def __init__(
        self,
        nodes: Sequence[str] | Mapping[str, float],
        weights: Sequence[float] | None = None,
        compat: str | None = None,
        *,
        vnodes: int | None = None,
    ) -> None:
        compat = _check_compat(compat)
        names, wts = self._parse_nodes(nodes, weights, compat)
        vn = _check_vnodes(vnodes, compat)
        if compat is None:
            points, owners = self._native_build(names, wts, vn)
        else:
            points, owners = self._ketama_build(names, wts, compat, vn)
        self._set_state(names, wts, compat, vn, points, owners)

    @staticmethod
    def _parse_nodes(
        nodes: Any, weights: Any, compat: str | None
    ) -> tuple[tuple[str, ...], tuple[Any, ...]]:
        if isinstance(nodes, Mapping):
            if weights is not None:
                raise TypeError("give weights either in the nodes mapping or as weights=, not both")
            names = check_names(nodes.keys(), "nodes", nonempty=True)
            weights = list(nodes.values())
        else:
            names = check_names(nodes, "nodes", nonempty=True)
        wts = check_weights(weights, len(names), integer=compat is not None, why=_whole_why(compat))
        if compat is not None and sum(wts) >= 1 << 63:
            raise ValueError("weights must sum to less than 2**63 (libketama adds them in 64 bits)")
        return names, wts

    @staticmethod
    def _native_build(
        names: tuple[str, ...], weights: tuple[float, ...], vnodes: int
    ) -> tuple[np.ndarray, np.ndarray]:
        counts = np.array([_native_count(w, vnodes) for w in weights], dtype=np.int64)
        if int(counts.sum()) > _MAX_POINTS:
            raise ValueError("weights * vnodes gives more than 2**31 points: lower them")
        data, offsets = pack_keys(list(names))
        bases = _xxh64_packed(data, offsets, _SEED0)
        order = np.array(sorted(range(len(names)), key=names.__getitem__), dtype=np.int64)
        points, owners = _native_points(bases, counts, order)
        return _stable_sort_points(points, owners, 64)

    @staticmethod
    def _ketama_build(
        names: tuple[str, ...], weights: tuple[int, ...], compat: str, vnodes: int
    ) -> tuple[np.ndarray, np.ndarray]:
        if compat == "libketama":
            ks = _libketama_digests(weights)
        else:
            ks = _uhashring_digests(weights, vnodes)
        if 4 * int(ks.sum()) > _MAX_POINTS:
            raise ValueError("too many points: lower vnodes")
        data, offsets = pack_keys(list(names))
        points, owners = _ketama_points(data, offsets, ks)
        points, owners = _stable_sort_points(points, owners, 32)
        if compat == "uhashring":
            _last_writer_wins(points, owners)
        return points, owners

    def _set_state(
        self,
        names: tuple[str, ...],
        weights: tuple[Any, ...],
        compat: str | None,
        vnodes: int,
        points: np.ndarray,
        owners: np.ndarray,
    ) -> None:
        self._nodes = names
        self._weights = weights
        self._compat = compat
        self._vnodes = vnodes
        self._index = {name: i for i, name in enumerate(names)}
        self._names_arr = _readonly(np.array(names, dtype=object))
        space = 64 if compat is None else 32
        self._space_bits = space
        self._inc = np.uint64(1 if compat == "uhashring" else 0)
        p = points.shape[0]
        points_ext = np.empty(p + 1, dtype=np.uint64)
        points_ext[:p] = points
        points_ext[p] = _lk.SENTINEL
        owners_ext = np.empty(p + 1, dtype=np.int64)
        owners_ext[:p] = owners
        owners_ext[p] = owners[0]
        nbits = _lk.table_bits(p, space)
        self._shift = np.uint64(space - nbits)
        self._table = _readonly(_lk._build_table(points_ext, owners_ext, nbits, self._shift))
        self._points_ext = _readonly(points_ext)
        self._owners_ext = _readonly(owners_ext)
        # Python-side views for get(): indexing a memoryview is the cheapest scalar load.
        self._py_table = memoryview(self._table)
        self._py_points = memoryview(self._points_ext)
        self._py_owners = memoryview(self._owners_ext)
        self._py_shift = space - nbits
        # -1 marks the native mode (xxh64); else the increment applied to ketama hashes.
        self._py_inc = -1 if compat is None else int(self._inc)
        self.get = _make_get(self)

    @classmethod
    def _from_arrays(
        cls,
        names: tuple[str, ...],
        weights: tuple[Any, ...],
        compat: str | None,
        vnodes: int,
        points: np.ndarray,
        owners: np.ndarray,
    ) -> HashRing:
        ring = cls.__new__(cls)
        ring._set_state(names, weights, compat, vnodes, points, owners)
        return ring

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuilding is deterministic and cheap; the arrays are not worth pickling.
        return (_restore, (self._nodes, self._weights, self._compat, self._vnodes))

    # ------------------------------------------------------------------ properties

    @property
    def nodes(self) -> tuple[str, ...]:
        """Node names in index order (what :meth:`lookup` indices refer to)."""
        return self._nodes

    @property
    def weights(self) -> tuple[Any, ...]:
        """Node weights in index order (floats in native mode, ints in the ketama modes)."""
        return self._weights

    @property
    def compat(self) -> str | None:
        """``None`` (native), ``"libketama"`` or ``"uhashring"``."""
        return self._compat

    @property
    def vnodes(self) -> int:
        """Points per unit weight (native) or md5 digests per average node (ketama modes)."""
        return self._vnodes

    @property
    def space_bits(self) -> int:
        """Width of the point space: 64 (native) or 32 (ketama modes)."""
        return self._space_bits

    @property
    def points(self) -> np.ndarray:
        """Sorted ring points, ``uint64[P]``, read-only (values ``< 2**32`` in ketama modes).

        Duplicates are kept (libketama and uhashring keep them too).
        """
        return self._points_ext[:-1]

    @property
    def owners(self) -> np.ndarray:
        """Node index owning each point, ``int64[P]``, read-only, aligned with :attr:`points`."""
        return self._owners_ext[:-1]

    def point_counts(self) -> np.ndarray:
        """Points per node, ``int64[n]`` (a ketama-mode node may have 0)."""
        return np.bincount(self.owners, minlength=len(self._nodes))

    def __len__(self) -> int:
        return len(self._nodes)

    def __contains__(self, name: object) -> bool:
        return name in self._index

    def __iter__(self) -> Iterator[str]:
        return iter(self._nodes)

    def __repr__(self) -> str:
        mode = "native" if self._compat is None else self._compat
        return (
            f"<HashRing {mode}: {len(self._nodes)} nodes, {self._points_ext.shape[0] - 1} points,"
            f" vnodes={self._vnodes}>"
        )

    def index_of(self, name: str) -> int:
        """Index of node ``name`` in :attr:`nodes`; ``KeyError`` if absent."""
        try:
            return self._index[name]
        except (KeyError, TypeError):
            raise KeyError(f"node {name!r} is not in the ring") from None

    # ------------------------------------------------------------------ hashing

    def hash(self, key: str | bytes) -> int:
        """The point-space hash of one key: what :meth:`lookup_hashes` expects.

        Native: ``XXH64(key, seed=0)``; ketama modes: LE uint32 of ``md5(key)[:4]``.
        ``str`` keys are hashed as UTF-8.
        """
        kb = _key_bytes(key)
        if self._compat is None:
            return _xxh64_scalar(kb, 0)
        return _UNPACK_U32(_md5_fn(kb).digest())[0]

    def hash_keys(self, keys: Any) -> np.ndarray:
        """Point-space hashes of a batch: ``uint64[n]`` (native) or ``uint32[n]`` (ketama).

        ``keys``: a sequence of str/bytes, a 1-D numpy ``U``/``S``/object array,
        or a :class:`~kernels.hashing.PackedKeys`.
        """
        _reject_int_keys(keys)
        if self._compat is None:
            if isinstance(keys, (list, tuple)) and keys:
                hashes = _xxh64_str_list(keys)
                if hashes is not None:
                    return hashes
            return hash_keys(keys, 0)
        return ketama_hash_keys(keys)

    # ------------------------------------------------------------------ lookups

    def get(self, key: str | bytes) -> str:
        """Name of the node that owns ``key`` (``str`` hashed as UTF-8).

        Every ring replaces this method by a closure over its own arrays
        (:func:`_make_get`), which saves the attribute look-ups on the hot
        single-key path; this definition documents it and is never reached.
        """
        return _make_get(self)(key)  # pragma: no cover

    def get_index(self, key: str | bytes) -> int:
        """Index (into :attr:`nodes`) of the node that owns ``key``."""
        return self._index[self.get(key)]

    def lookup(self, keys: Any, *, parallel: bool | None = False) -> np.ndarray:
        """Owner index of every key in a batch, hashing included.

        Parameters
        ----------
        keys : sequence of str/bytes, np.ndarray ('U', 'S' or object) or PackedKeys
            Packed once (see :func:`kernels.hashing.pack_keys`), hashed in numba
            (XXH64 or batched md5), then looked up.
        parallel : bool or None
            Hash and look up on all numba threads (``prange``).  Off by default:
            on this 2-core machine it gains little for lookups (the work is a
            few ns per key and memory-bound) and loses badly when the other
            core is busy; it pays off for md5 hashing of big batches on idle
            cores.  ``None`` turns it on from 65,536 keys; ``True`` forces it.
            Never used in a process forked after OpenMP threads started
            (numba would terminate it): such a process runs serially (the
            package-wide policy, see :mod:`kernels._parallel`).

        Returns
        -------
        np.ndarray
            ``int64[n]``, indices into :attr:`nodes`.
        """
        _reject_int_keys(keys)
        par = use_parallel(parallel, _n_keys(keys))
        if self._compat is None and not par and isinstance(keys, (list, tuple)) and keys:
            hashes = _xxh64_str_list(keys)
            if hashes is not None:  # a list of str: hashed in place, no packing copy
                return self._lookup_valid(hashes, False)
        data, offsets = pack_keys(keys)
        n = offsets.shape[0] - 1
        if n == 0:
            return np.empty(0, dtype=np.int64)
        if self._compat is None:
            if par:
                hashes = np.empty(n, dtype=np.uint64)
                run_maybe_parallel(
                    _xxh64_packed_into, _lk._xxh64_chunks_parallel, par,
                    data, offsets, _SEED0, hashes,
                )  # fmt: skip
            else:
                hashes = _xxh64_packed(data, offsets, _SEED0)
        else:
            if par:
                hashes = np.empty(n, dtype=np.uint32)
                run_maybe_parallel(
                    _md5_packed_into, _lk._md5_chunks_parallel, par, data, offsets, hashes
                )
            else:
                hashes = _md5_u32_packed(data, offsets)
        return self._lookup_valid(hashes, par)

    def lookup_names(self, keys: Any, *, parallel: bool | None = False) -> list[str]:
        """Like :meth:`lookup` but returns node names (a list of str)."""
        return self._names_arr[self.lookup(keys, parallel=parallel)].tolist()

    def lookup_hashes(self, hashes: Any, *, parallel: bool | None = False) -> np.ndarray:
        """Owner index for precomputed point-space hashes (see :meth:`hash_keys`).

        Parameters
        ----------
        hashes : array-like of non-negative integers
            Any integer dtype and shape; values in ``[0, 2**64)`` (native) or
            ``[0, 2**32)`` (ketama modes).  Unsigned arrays are used without a copy.
        parallel : bool or None
            As for :meth:`lookup`.

        Returns
        -------
        np.ndarray
            ``int64`` of the same shape, indices into :attr:`nodes`.

        Raises
        ------
        TypeError
            A non-integer array (floats, bools, strings).
        ValueError
            Negative hashes, or hashes ``>= 2**32`` in the ketama modes.
        """
        h = self._check_hashes(hashes)
        out = self._lookup_valid(h, use_parallel(parallel, h.shape[0]))
        return out.reshape(np.shape(hashes)) if isinstance(hashes, np.ndarray) else out

    def _lookup_valid(self, h: np.ndarray, par: bool) -> np.ndarray:
        """Look up validated 1-D unsigned hashes (in the ring's space)."""
        out = np.empty(h.shape[0], dtype=np.int64)
        if h.shape[0]:
            run_maybe_parallel(
                _lk._lookup_into, _lk._lookup_into_parallel, par,
                self._points_ext, self._owners_ext, self._table, self._shift, self._inc, h, out,
            )  # fmt: skip
        return out

    def _check_hashes(self, hashes: Any, name: str = "hashes") -> np.ndarray:
        """Validate and flatten point-space hashes to a contiguous unsigned 1-D array."""
        why = f" in compat={self._compat!r} mode (ketama hashes are 32-bit)"
        return check_hashes(
            hashes, name, bits=self._space_bits, why=why if self._compat else "", flatten=True,
            sequences=True, keep_width=True,
        )  # fmt: skip

    # ------------------------------------------------------------------ analysis

    def distribution(self) -> np.ndarray:
        """Fraction of the hash space owned by each node, ``float64[n]`` summing to 1.

        Each point owns the arc from the previous point up to itself (the keys
        that map to it); the arc before the first point wraps from the last.
        """
        pts = self.points
        own = self.owners
        space = float(2**self._space_bits)
        arcs = np.empty(pts.shape[0], dtype=np.float64)
        arcs[1:] = np.diff(pts).astype(np.float64)
        arcs[0] = float(2**self._space_bits - (int(pts[-1]) - int(pts[0])))
        return np.bincount(own, weights=arcs, minlength=len(self._nodes)) / space

    # ------------------------------------------------------------------ new rings

    def with_node(self, name: str, weight: float = 1) -> HashRing:
        """A new ring with node ``name`` added (appended: index ``len(self)``).

        Native mode merges the new node's sorted points into the existing
        arrays (O(P)); nothing else moves.  In the ketama modes every node's
        point count depends on ``n`` and the total weight, so the ring is
        rebuilt (as libketama and uhashring do).
        """
        check_name(name, "name", nonempty=True)
        if name in self._index:
            raise ValueError(f"name {name!r} is already in the ring")
        w = _check_weight(weight, "weight", self._compat)
        names = (*self._nodes, name)
        weights = (*self._weights, w)
        if self._compat is not None:
            return HashRing(names, weights, self._compat, vnodes=self._vnodes)
        new_pts = self._native_node_points(name, w, len(self._nodes))
        points, owners = _merge_points(
            self.points, self.owners, new_pts, len(self._nodes), self._name_before(name)
        )
        return HashRing._from_arrays(names, weights, None, self._vnodes, points, owners)

    def without_node(self, name: str) -> HashRing:
        """A new ring without node ``name``; later nodes' indices shift down by one.

        Native mode filters the node's points out (O(P)); ketama modes rebuild.

        Raises
        ------
        KeyError
            ``name`` is not in the ring.
        ValueError
            It is the last node (a ring needs at least one).
        """
        k = self.index_of(name)
        if len(self._nodes) == 1:
            raise ValueError("cannot remove the last node: a ring needs at least one")
        names = self._nodes[:k] + self._nodes[k + 1 :]
        weights = self._weights[:k] + self._weights[k + 1 :]
        if self._compat is not None:
            return HashRing(names, weights, self._compat, vnodes=self._vnodes)
        keep = self.owners != k
        points = self.points[keep]
        owners = self.owners[keep]
        owners -= owners > k
        return HashRing._from_arrays(names, weights, None, self._vnodes, points, owners)

    def with_weight(self, name: str, weight: float) -> HashRing:
        """A new ring where node ``name`` has ``weight`` (same index).

        Native mode replaces only that node's points, so keys move only to or
        from it; ketama modes rebuild (every node's count depends on the total).
        """
        k = self.index_of(name)
        w = _check_weight(weight, "weight", self._compat)
        weights = (*self._weights[:k], w, *self._weights[k + 1 :])
        if self._compat is not None:
            return HashRing(self._nodes, weights, self._compat, vnodes=self._vnodes)
        keep = self.owners != k
        new_pts = self._native_node_points(name, w, k)
        points, owners = _merge_points(
            self.points[keep], self.owners[keep], new_pts, k, self._name_before(name)
        )
        return HashRing._from_arrays(self._nodes, weights, None, self._vnodes, points, owners)

    def _native_node_points(self, name: str, weight: float, index: int) -> np.ndarray:
        count = _native_count(weight, self._vnodes)
        if self._points_ext.shape[0] - 1 + count > _MAX_POINTS:
            raise ValueError("weight * vnodes gives more than 2**31 points in the ring")
        data, offsets = pack_keys([name])
        bases = _xxh64_packed(data, offsets, _SEED0)
        pts, _ = _native_points(
            bases, np.array([count], dtype=np.int64), np.zeros(1, dtype=np.int64)
        )
        return np.sort(pts)

    def _name_before(self, name: str) -> np.ndarray:
        """``bool[n]``: does ``name`` sort before node ``i``'s name (tie order)?"""
        return np.fromiter((name < other for other in self._nodes), dtype=np.bool_,
                           count=len(self._nodes))  # fmt: skip


def _make_get(ring: HashRing):
    """The single-key ``get`` of ``ring``: a closure, every array and constant in a cell.

    Hash (``_md5`` builtin for ketama, the numba XXH64 entry point for native),
    then one bucket-table load; a short forward scan over the points only when
    the bucket holds a point boundary.
    """
    table = ring._py_table
    shift = ring._py_shift
    points = ring._py_points
    owners = ring._py_owners
    names = ring._nodes
    inc = ring._py_inc
    md5 = _md5_fn
    unpack = _UNPACK_U32
    xxh = _xxh64_scalar

    if inc < 0:

        def get(key: str | bytes) -> str:
            try:
                kb = key.encode()
            except AttributeError:
                kb = _key_bytes(key)
            h = xxh(kb, 0)
            t = table[h >> shift]
            if t < 0:
                return names[~t]
            while points[t] < h:
                t += 1
            return names[owners[t]]

    else:

        def get(key: str | bytes) -> str:
            try:
                kb = key.encode()
            except AttributeError:
                kb = _key_bytes(key)
            h = unpack(md5(kb).digest())[0] + inc
            t = table[h >> shift]
            if t < 0:
                return names[~t]
            while points[t] < h:
                t += 1
            return names[owners[t]]

    get.__doc__ = HashRing.get.__doc__
    return get


def _xxh64_str_list(keys: Sequence[Any]) -> np.ndarray | None:
    """XXH64 (seed 0) of a non-empty list of str without packing; None if not all str etc."""
    try:
        buf = "\0".join(keys).encode("utf-8")
    except (TypeError, UnicodeEncodeError):  # not all str, or a lone surrogate
        return None
    hashes, ok = _xxh64_nul(np.frombuffer(buf, dtype=np.uint8), len(keys), _SEED0)
    return hashes if ok else None


def _n_keys(keys: Any) -> int:
    """Batch size for ``parallel=None``, known before packing (0 if it is not)."""
    try:
        return keys.n_keys if isinstance(keys, PackedKeys) else len(keys)
    except (AttributeError, TypeError):  # not validated yet: pack_keys will say what is wrong
        return 0


def _xxh64_packed_into(data: np.ndarray, offsets: np.ndarray, seed: Any, out: np.ndarray) -> None:
    out[:] = _xxh64_packed(data, offsets, seed)


def _md5_packed_into(data: np.ndarray, offsets: np.ndarray, out: np.ndarray) -> None:
    out[:] = _md5_u32_packed(data, offsets)


def _restore(
    nodes: tuple[str, ...], weights: tuple[Any, ...], compat: str | None, vnodes: int
) -> HashRing:
    return HashRing(nodes, weights, compat, vnodes=vnodes)


def _key_bytes(key: Any) -> bytes:
    return key_bytes(key, int_hint="for a precomputed hash use lookup_hashes")


def _reject_int_keys(keys: Any) -> None:
    if isinstance(keys, np.ndarray) and keys.dtype.kind in "iub":
        raise TypeError(
            f"keys is an array of {keys.dtype}: for precomputed hashes use lookup_hashes"
        )
    if isinstance(keys, PackedKeys):
        return
