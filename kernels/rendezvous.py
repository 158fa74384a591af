"""Weighted rendezvous (highest random weight, HRW) hashing.

Why rendezvous?  Every node scores every key and the key goes to the
highest score.  A node's score for a key depends only on the key and that
node, so removing a node moves exactly its own keys (each to its runner-up)
and adding a node moves only the keys the new node now wins: minimal
disruption with no table and no virtual nodes, real weights, and a natural
replica list (the ``k`` best nodes, :meth:`Rendezvous.top_k`).  The price is
``O(n)`` work per lookup, so it suits tens to a few hundred nodes.

Scoring (the logarithmic method of Schindelhauer & Schomaker, as in Envoy's
rendezvous extension)::

    node_hash_i = XXH64(name_i as UTF-8, seed=0)
    h           = mix64(key_hash, seed=node_hash_i)   (kernels.hashing; splitmix64-based)
    u           = ((h >> 12) + 0.5) / 2**52           strictly inside (0, 1)
    score_i     = -w_i / ln(u)

The highest score wins; equal scores go to the lower node index.  With ``u``
uniform, ``P(node i wins) = w_i / sum(w)`` exactly, so shares follow weights.

Why 52 bits and not 53?  ``(m + 0.5) / 2**52`` with ``m < 2**52`` is exact in
a double and lies in ``[2**-53, 1 - 2**-53]``; with 53 bits the half step is
not representable above 0.5, and rounding could give ``u == 1.0`` and a score
of ``-inf``.

Speed.  A logarithm costs far more than the hash, and usually the winner is
certain without one: ``(1 - u) < -ln(u) <= (1 - u**2) / (2u)`` brackets each
score between two cheap bounds, and the lookup kernel takes logarithms only
when the brackets of the leading nodes overlap (see ``_best_one``).  Results
are identical to scoring every node; the tests check this against a plain
twin that does exactly that.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numba import prange

from ._config import jit, jit_parallel
from ._parallel import PAR_CHUNKS, run_maybe_parallel, use_parallel
from ._validate import check_hashes, check_int, check_names, check_weights, key_bytes
from .hashing import _mix64_seed_key, _mix64_with_key, _xxh64_one, hash_keys, xxh64

__all__ = ["Rendezvous"]

_S12 = np.uint64(12)
_U0 = np.uint64(0)
_INV_2_52 = 1.0 / 4503599627370496.0  # 2**-52
_MARGIN = 1.0 + 1e-9  # the pruning bound's safety factor (rounding error is ~1e-15)
# parallel=None goes parallel from this many keys: each key scores every node, so the
# threshold sits below the package default (kernels._parallel.PARALLEL_MIN).
_PARALLEL_MIN = 1 << 14
# Weights are kept where every score and bound is a normal, finite double (scores lie
# within a factor 2**53 of the weight), so the rounding margin above is always valid.
_WEIGHT_MIN = 1e-200
_WEIGHT_MAX = 1e200


# --------------------------------------------------------------------------- kernels


@jit
def _unit(h):
    """Map a uint64 to (0, 1): ``((h >> 12) + 0.5) * 2**-52``, exact in float64."""
    # h >> 12 < 2**52 fits int64, whose conversion to float is one instruction.
    return (np.float64(np.int64(h >> _S12)) + 0.5) * _INV_2_52


@jit
def _best_one(kh, node_keys, weights, us, bounds):
    """Index of the highest-scoring node for key hash ``kh`` (ties: lower index).

    ``node_keys``: uint64[n] seed keys of the node hashes; ``weights``:
    float64[n]; ``us``, ``bounds``: float64[n] scratch.

    The logarithm dominates the cost, so it is avoided whenever the answer is
    certain without it.  For ``0 < u < 1``,
    ``(1 - u) < -ln(u) <= (1 - u**2) / (2 u)``, so a score lies in
    ``[B * 2u / (1 + u), B]`` with ``B = w / (1 - u)``:

    1. compute every ``u`` and ``B`` (branch-free, vectorised);
    2. if the node with the largest ``B`` has a lower bound above every other
       node's ``B``, it wins: no logarithm at all (about 91% of keys with 10
       equal nodes, 99% with 100);
    3. otherwise score it, then score only the nodes whose ``B`` reaches that.

    Comparisons between bounds carry a 1e-9 relative margin, far above the
    few-ulp rounding of the computed scores, so the answer is exactly that of
    scoring every node.
    """
    n = node_keys.shape[0]
    for i in range(n):
        u = _unit(_mix64_with_key(kh, node_keys[i]))
        us[i] = u
        bounds[i] = weights[i] / (1.0 - u)
    cand = np.argmax(bounds)
    second = 0.0
    for i in range(n):
        b = bounds[i] if i != cand else 0.0
        second = max(second, b)
    uc = us[cand]
    low = bounds[cand] * (2.0 * uc / (1.0 + uc))
    if low > second * _MARGIN:
        return cand
    best = -weights[cand] / np.log(uc)
    bi = cand
    for i in range(n):
        if bounds[i] * _MARGIN < best or i == cand:
            continue
        s = -weights[i] / np.log(us[i])
        if s > best or (s == best and i < bi):
            best = s
            bi = i
    return bi


@jit
def _lookup(hashes, node_keys, weights, out):
    n = node_keys.shape[0]
    us = np.empty(n, dtype=np.float64)
    bounds = np.empty(n, dtype=np.float64)
    for j in range(hashes.shape[0]):
        out[j] = _best_one(hashes[j], node_keys, weights, us, bounds)


@jit_parallel
def _lookup_parallel(hashes, node_keys, weights, out):
    m = hashes.shape[0]
    n = node_keys.shape[0]
    step = (m + PAR_CHUNKS - 1) // PAR_CHUNKS  # scratch is allocated per chunk, not per key
    for c in prange(PAR_CHUNKS):
        us = np.empty(n, dtype=np.float64)
        bounds = np.empty(n, dtype=np.float64)
        for j in range(c * step, min(m, (c + 1) * step)):
            out[j] = _best_one(hashes[j], node_keys, weights, us, bounds)


@jit
def _get_key(data, node_keys, weights):
    """:func:`_best_one` for one key given as bytes: XXH64 (seed 0) and selection in one call."""
    kh = _xxh64_one(data, 0, len(data), _U0)
    n = node_keys.shape[0]
    return _best_one(kh, node_keys, weights, np.empty(n), np.empty(n))


@jit
def _scores(kh, node_keys, weights):
    """float64[n]: every node's score for key hash ``kh`` (no pruning)."""
    n = node_keys.shape[0]
    out = np.empty(n, dtype=np.float64)
    for i in range(n):
        out[i] = -weights[i] / np.log(_unit(_mix64_with_key(kh, node_keys[i])))
    return out


@jit
def _top_k(hashes, node_keys, weights, wcap, k, out):
    """``out[j, :]`` (int64[m, k]) = the ``k`` best nodes for ``hashes[j]``, best first.

    Insertion into a sorted buffer of ``k``; ties keep the lower index first,
    so ``out[j, 0]`` always equals :func:`_best_one`.
    """
    n = node_keys.shape[0]
    scores = np.empty(k, dtype=np.float64)
    idx = np.empty(k, dtype=np.int64)
    for j in range(hashes.shape[0]):
        kh = hashes[j]
        count = 0
        for i in range(n):
            u = _unit(_mix64_with_key(kh, node_keys[i]))
            if count == k and wcap[i] < scores[k - 1] * (1.0 - u):
                continue
            s = -weights[i] / np.log(u)
            if count < k:
                p = count
                count += 1
            elif s > scores[k - 1]:
                p = k - 1
            else:
                continue
            while p > 0 and s > scores[p - 1]:
                scores[p] = scores[p - 1]
                idx[p] = idx[p - 1]
                p -= 1
            scores[p] = s
            idx[p] = i
        for p in range(k):
            out[j, p] = idx[p]


@jit
def _node_keys(node_hashes):
    out = np.empty(node_hashes.shape[0], dtype=np.uint64)
    for i in range(node_hashes.shape[0]):
        out[i] = _mix64_seed_key(node_hashes[i])
    return out


# --------------------------------------------------------------------------- public


class Rendezvous:
    """Immutable weighted rendezvous (HRW) placement over named nodes.

    Parameters
    ----------
    nodes : sequence of str
        Distinct node names; their order fixes the indices :meth:`lookup`
        returns.  Placement does not depend on this order (except for exact
        score ties, which have probability about ``2**-50`` per key).
    weights : sequence of float, optional
        Weight per node in ``[1e-200, 1e200]`` (default: all equal); node
        ``i`` receives a share ``w_i / sum(w)`` of keys.

    Raises
    ------
    TypeError, ValueError
        Empty, duplicate or non-str nodes; wrong-length, non-finite, zero or
        negative weights.

    Examples
    --------
    >>> r = Rendezvous(["a", "b", "c"], weights=[1, 1, 2])
    >>> r.get("user:42") in r.nodes
    True
    >>> r.top_k("user:42", 2)[0] == r.get("user:42")
    True
    """

    __slots__ = ("_index", "_node_hashes", "_node_keys", "_nodes", "_wcap", "_weights")

    def __init__(
        self, nodes: Sequence[str], weights: Sequence[float] | np.ndarray | None = None
    ) -> None:
        names = check_names(nodes, "nodes")
        w = np.array(check_weights(weights, len(names)), dtype=np.float64)
        if np.any((w < _WEIGHT_MIN) | (w > _WEIGHT_MAX)):
            i = int(np.flatnonzero((w < _WEIGHT_MIN) | (w > _WEIGHT_MAX))[0])
            raise ValueError(
                f"weights must lie in [1e-200, 1e200] (scale them); entry {i} is {w[i]!r}"
            )
        self._nodes = names
        self._index = {name: i for i, name in enumerate(names)}
        self._weights = w
        self._weights.flags.writeable = False
        self._wcap = w * _MARGIN
        self._node_hashes = np.array(
            [xxh64(name.encode("utf-8")) for name in names], dtype=np.uint64
        )
        self._node_keys = _node_keys(self._node_hashes)

    # ------------------------------------------------------------------ views
    @property
    def nodes(self) -> tuple[str, ...]:
        """Node names in index order."""
        return self._nodes

    @property
    def weights(self) -> np.ndarray:
        """float64[n] read-only weights, in index order."""
        return self._weights

    def __len__(self) -> int:
        return len(self._nodes)

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuild on unpickling, so the arrays come back read-only.
        return (type(self), (self._nodes, self._weights.tolist()))

    def __contains__(self, name: object) -> bool:
        return name in self._index

    def __repr__(self) -> str:
        shown = ", ".join(repr(b) for b in self._nodes[:4])
        more = f", ... ({len(self._nodes)} nodes)" if len(self._nodes) > 4 else ""
        return f"Rendezvous([{shown}{more}])"

    # ---------------------------------------------------------------- lookups
    def get(self, key: str | bytes) -> str:
        """The node name for one str/bytes key (str hashed as UTF-8 with XXH64)."""
        return self._nodes[_get_key(key_bytes(key), self._node_keys, self._weights)]

    def lookup(self, keys: Any, *, parallel: bool | None = False) -> np.ndarray:
        """Node indices for a batch of str/bytes keys.

        Parameters
        ----------
        keys : list of str/bytes, numpy ``U``/``S``/object array, or ``PackedKeys``
            Hashed with :func:`kernels.hashing.hash_keys` (XXH64, seed 0).
        parallel : bool or None
            Use numba's thread pool (``prange``).  Off by default (it only
            helps when the other cores are idle); ``None`` turns it on from
            16,384 keys; ``True`` forces it.  Always serial in a child forked
            after the parent started OpenMP threads (see :mod:`kernels._parallel`).

        Returns
        -------
        np.ndarray
            int64[len(keys)] indices into :attr:`nodes`.
        """
        return self._lookup_u64(hash_keys(keys), parallel)

    def lookup_hashes(self, hashes: np.ndarray, *, parallel: bool | None = False) -> np.ndarray:
        """Node indices for precomputed 64-bit key hashes.

        Parameters
        ----------
        hashes : np.ndarray
            1-D array of non-negative integers (uint64 preferred).
        parallel : bool or None
            As for :meth:`lookup`.

        Returns
        -------
        np.ndarray
            int64[len(hashes)] indices into :attr:`nodes`.
        """
        return self._lookup_u64(check_hashes(hashes), parallel)

    def _lookup_u64(self, hashes: np.ndarray, parallel: bool | None) -> np.ndarray:
        out = np.empty(hashes.shape[0], dtype=np.int64)
        # The package's parallel policy and its fork/workqueue guards: kernels._parallel.
        wanted = use_parallel(parallel, hashes.shape[0], _PARALLEL_MIN)
        run_maybe_parallel(
            _lookup, _lookup_parallel, wanted, hashes, self._node_keys, self._weights, out
        )
        return out

    def top_k(self, key: str | bytes, k: int) -> list[str]:
        """The ``k`` best nodes for ``key``, best first (replica placement).

        ``top_k(key, k)[:j] == top_k(key, j)`` and ``top_k(key, 1)[0] ==
        get(key)``; removing a node from the set only closes its gap in the
        list.

        Raises
        ------
        ValueError
            ``k`` outside ``[1, len(nodes)]``.
        """
        k = self._check_k(k)
        kh = np.array([xxh64(key_bytes(key))], dtype=np.uint64)
        return [self._nodes[i] for i in self._top_k_u64(kh, k)[0]]

    def top_k_hashes(self, hashes: np.ndarray, k: int) -> np.ndarray:
        """int64[len(hashes), k]: the ``k`` best node indices per key hash, best first."""
        k = self._check_k(k)
        return self._top_k_u64(check_hashes(hashes), k)

    def scores(self, key: str | bytes) -> np.ndarray:
        """float64[n]: every node's score for ``key`` (for inspection and tests)."""
        return _scores(np.uint64(xxh64(key_bytes(key))), self._node_keys, self._weights)

    def _check_k(self, k: object) -> int:
        k = check_int(k, "k")
        if not 1 <= k <= len(self._nodes):
            raise ValueError(f"k must be in [1, {len(self._nodes)}] (the node count), got {k}")
        return k

    def _top_k_u64(self, hashes: np.ndarray, k: int) -> np.ndarray:
        out = np.empty((hashes.shape[0], k), dtype=np.int64)
        _top_k(hashes, self._node_keys, self._weights, self._wcap, np.int64(k), out)
        return out

    # ------------------------------------------------------------- membership
    def with_node(self, name: str, weight: float = 1.0) -> Rendezvous:
        """A new placement with node ``name`` appended (existing indices unchanged)."""
        if name in self._index:
            raise ValueError(f"name {name!r} is already a node")
        return Rendezvous([*self._nodes, name], [*self._weights.tolist(), weight])

    def without_node(self, name: str) -> Rendezvous:
        """A new placement without node ``name`` (later indices shift down by one)."""
        if name not in self._index:
            raise ValueError(f"name {name!r} is not a node")
        if len(self._nodes) == 1:
            raise ValueError("cannot remove the last node: nodes must not be empty")
        i = self._index[name]
        return Rendezvous(self._nodes[:i] + self._nodes[i + 1 :], np.delete(self._weights, i))
