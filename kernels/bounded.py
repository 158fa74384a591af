"""Consistent hashing with bounded loads (Mirrokni, Thorup & Zadimoghaddam, arXiv 1608.01350).

A plain ring sends a hot key, or an unlucky arc, to one node however busy it
is: with 160 points per node the busiest node owns about 1.18x its share of
the key space, and a skewed workload does much worse.  Bounded loads keep the
ring's placement but give every node a capacity; a key whose node is full
walks clockwise, point by point, to the next node with room.  Keys stay where
the ring puts them whenever possible (good cache affinity), and no node ever
exceeds ``balance`` times its fair share.

Capacities (``c`` = ``balance`` >= 1, ``m`` keys or requests, ``w_i`` weights):

* equal weights: ``cap = ceil(c * m / n)``, the paper's bound;
* weighted rings: ``cap_i = ceil(c * m * w_i / W)``, proportional to weight,
  ``W`` the total weight of the nodes that own at least one point (a
  libketama node with a tiny weight can own none and gets ``cap_i = 0``);
  computed in float64 as ``ceil((c * m * w_i) / W)``, so equal weights give
  exactly ``ceil(c * m / n)``.

Since ``sum(cap_i) >= c * m >= m`` every key finds a node.

Two entry points:

* :func:`assign_bounded` -- a batch of ``m`` keys assigned in order, with the
  static capacities above (``m`` known up front);
* :class:`BoundedLoadBalancer` -- online, for load balancers: requests come
  and go; a new request sees capacities computed for ``in_flight + 1``
  requests, ``ceil(c * (in_flight + 1) * w_i / W)``, the paper's dynamic rule
  (and HAProxy's ``hash-balance-factor`` / Envoy's ``hash_balance_factor``,
  with ``c = factor / 100``).

The paper shows the expected number of keys moved per insertion or deletion
stays ``O(1 / (c - 1)**2)``; ``c`` between 1.25 and 2 is the usual range.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from ._config import jit
from ._ring_lookup import _lower_bound
from ._validate import is_int, is_real
from .hashing import PackedKeys
from .ring import HashRing

__all__ = ["BoundedLoadBalancer", "assign_bounded", "bounded_capacities"]


@jit
def _first_index(points_ext, table, shift, h):
    """Index of the first point ``>= h`` (``P`` past the end), via the bucket table."""
    t = table[h >> shift]
    if t >= 0:
        i = np.int64(t)
        while points_ext[i] < h:
            i += 1
        return i
    # Bucket resolved to an owner directly: find the index by binary search.
    return _lower_bound(points_ext, h, 0, points_ext.shape[0] - 1)


@jit
def _walk(points_ext, owners_ext, table, shift, h, loads, caps):
    """Owner of the first point at or after ``h`` whose node has ``loads < caps``.

    Returns -1 if no node has room (never, when ``sum(caps) > sum(loads)``).
    """
    t = table[h >> shift]
    if t < 0:
        # The bucket maps every hash to one owner: done unless that node is full.
        o = -np.int64(t) - 1
        if loads[o] < caps[o]:
            return o
        i = _first_index(points_ext, table, shift, h)
    else:
        i = np.int64(t)
        while points_ext[i] < h:
            i += 1
    p = points_ext.shape[0] - 1
    if i == p:
        i = 0
    for _ in range(p):
        o = owners_ext[i]
        if loads[o] < caps[o]:
            return o
        i += 1
        if i == p:
            i = 0
    return -1


@jit
def _assign_batch(points_ext, owners_ext, table, shift, inc, hashes, caps, loads, out):
    """Assign ``hashes`` in order under static capacities; returns the first failed index or -1."""
    for k in range(hashes.shape[0]):
        h = np.uint64(hashes[k]) + inc
        o = _walk(points_ext, owners_ext, table, shift, h, loads, caps)
        if o < 0:
            return k
        loads[o] += 1
        out[k] = o
    return -1


@jit
def _online_caps(caps, weights, total_weight, balance, in_flight):
    x = balance * np.float64(in_flight + 1)
    for i in range(caps.shape[0]):
        if weights[i] > 0.0:
            caps[i] = np.int64(np.ceil((x * weights[i]) / total_weight))
        else:
            caps[i] = 0


@jit
def _assign_online(
    points_ext, owners_ext, table, shift, inc, hashes, weights, total_weight, balance, loads,
    state, out,
):  # fmt: skip
    """Assign requests one after another, each seeing ``ceil(c * (in_flight + 1) * w / W)``.

    ``state``: int64[1] holding ``in_flight`` (updated); ``loads``: int64[n]
    (updated).  Returns the first failed index or -1.
    """
    caps = np.empty(loads.shape[0], dtype=np.int64)
    for k in range(hashes.shape[0]):
        _online_caps(caps, weights, total_weight, balance, state[0])
        h = np.uint64(hashes[k]) + inc
        o = _walk(points_ext, owners_ext, table, shift, h, loads, caps)
        if o < 0:
            return k
        loads[o] += 1
        state[0] += 1
        out[k] = o
    return -1


def _check_balance(balance: Any) -> float:
    if not is_real(balance):
        raise TypeError(f"balance must be a number >= 1, not {type(balance).__name__}")
    c = float(balance)
    if not (math.isfinite(c) and c >= 1.0):
        raise ValueError(f"balance must be a finite number >= 1 (1.25 is typical), got {balance!r}")
    return c


def _check_ring(ring: Any) -> HashRing:
    if not isinstance(ring, HashRing):
        raise TypeError(f"ring must be a HashRing, not {type(ring).__name__}")
    return ring


def _effective_weights(ring: HashRing) -> np.ndarray:
    """Weights as float64, zero for nodes that own no point (they can take no key)."""
    w = np.array(ring.weights, dtype=np.float64)
    w[ring.point_counts() == 0] = 0.0
    return w


def bounded_capacities(ring: HashRing, m: int, balance: float = 1.25) -> np.ndarray:
    """Per-node capacities for ``m`` keys: ``ceil((balance * m * w_i) / W)``, ``int64[n]``.

    ``W`` sums the weights of nodes owning at least one point; others get 0.
    """
    _check_ring(ring)
    c = _check_balance(balance)
    if not is_int(m) or m < 0:
        raise ValueError(f"m must be a non-negative int, got {m!r}")
    w = _effective_weights(ring)
    total = float(w.sum())
    caps = np.zeros(w.shape[0], dtype=np.int64)
    x = c * float(m)
    for i, wi in enumerate(w.tolist()):
        if wi > 0.0:
            caps[i] = math.ceil((x * wi) / total)
    return caps


def _is_hash_input(values: Any) -> bool:
    if isinstance(values, PackedKeys):
        return False
    if isinstance(values, np.ndarray):
        return values.dtype.kind in "iu" or (
            values.dtype.kind == "O" and values.size > 0 and is_int(values.flat[0])
        )
    if isinstance(values, (str, bytes)):
        raise TypeError("keys_or_hashes must be a sequence, not a single key")
    if isinstance(values, Sequence) and len(values) > 0:
        return is_int(values[0])
    return False


def _hashes_for(ring: HashRing, keys_or_hashes: Any) -> np.ndarray:
    if _is_hash_input(keys_or_hashes):
        return ring._check_hashes(keys_or_hashes, "keys_or_hashes")
    if isinstance(keys_or_hashes, Sequence) and len(keys_or_hashes) == 0:
        return np.zeros(0, dtype=np.uint64)
    return ring.hash_keys(keys_or_hashes)


def assign_bounded(ring: HashRing, keys_or_hashes: Any, balance: float = 1.25) -> np.ndarray:
    """Assign a batch of keys, in order, so that no node exceeds its capacity.

    Each key starts at its ring position (the node :meth:`HashRing.lookup`
    would return) and walks clockwise past points of full nodes.  With equal
    weights no node receives more than ``ceil(balance * m / n)`` of the ``m``
    keys; see the module docstring for weighted rings.

    Parameters
    ----------
    ring : HashRing
        Any mode; the ring's own lookup rule and hash are used.
    keys_or_hashes : sequence of str/bytes, np.ndarray or PackedKeys, or integer hashes
        Keys (hashed with :meth:`HashRing.hash_keys`) or precomputed
        point-space hashes (an integer array, or a list of ints).
    balance : float
        ``c >= 1``: capacity factor over a perfectly even share.

    Returns
    -------
    np.ndarray
        ``int64[m]``, node indices into ``ring.nodes``.

    Raises
    ------
    ValueError
        ``balance < 1`` (or not finite); invalid hashes (see :meth:`HashRing.lookup_hashes`).

    Examples
    --------
    >>> ring = HashRing(["a", "b", "c"])
    >>> owners = assign_bounded(ring, [f"k{i}" for i in range(30)], balance=1.0)
    >>> int(np.bincount(owners).max())
    10
    """
    _check_ring(ring)
    c = _check_balance(balance)
    hashes = _hashes_for(ring, keys_or_hashes)
    m = hashes.shape[0]
    out = np.empty(m, dtype=np.int64)
    if m == 0:
        return out
    caps = bounded_capacities(ring, m, c)
    loads = np.zeros(len(ring), dtype=np.int64)
    failed = _assign_batch(
        ring._points_ext, ring._owners_ext, ring._table, ring._shift, ring._inc, hashes, caps,
        loads, out,
    )  # fmt: skip
    if failed >= 0:  # pragma: no cover - sum(caps) >= m makes this unreachable
        raise RuntimeError(f"no node had room for key {failed}")
    return out


class BoundedLoadBalancer:
    """Online consistent hashing with bounded loads, for request routing.

    Each :meth:`assign` places one request on the node its key hashes to,
    unless that node already carries ``ceil(balance * (in_flight + 1) * w_i / W)``
    requests (``ceil(balance * (in_flight + 1) / n)`` with equal weights); then
    it walks clockwise to the first node under its cap.  :meth:`release` ends a
    request.  Methods are serialised by an internal lock, so one balancer can
    be shared between threads.

    Parameters
    ----------
    ring : HashRing
        The ring to route on (immutable; to change membership, build a new
        balancer, or call :meth:`with_ring` to carry the loads over by name).
    balance : float
        ``c >= 1``; HAProxy's ``hash-balance-factor 125`` is ``1.25``.

    Examples
    --------
    >>> lb = BoundedLoadBalancer(HashRing(["a", "b"]), balance=1.0)
    >>> first = lb.assign("user:1"); second = lb.assign("user:1")
    >>> first != second  # the second request would exceed ceil(1.0 * 2 / 2) = 1
    True
    >>> lb.release(first); lb.in_flight
    1
    """

    __slots__ = (
        "_balance",
        "_inc",
        "_loads",
        "_lock",
        "_py_loads",
        "_py_state",
        "_py_weights",
        "_ring",
        "_state",
        "_total",
        "_weights",
    )

    def __init__(self, ring: HashRing, balance: float = 1.25) -> None:
        self._ring = _check_ring(ring)
        self._balance = _check_balance(balance)
        self._weights = _effective_weights(ring)
        self._total = float(self._weights.sum())
        self._loads = np.zeros(len(ring), dtype=np.int64)
        self._state = np.zeros(1, dtype=np.int64)
        self._lock = threading.Lock()
        # Python-side views of the same memory for the single-request fast path.
        self._py_loads = memoryview(self._loads)
        self._py_state = memoryview(self._state)
        self._py_weights = self._weights.tolist()
        self._inc = int(ring._inc)

    @property
    def ring(self) -> HashRing:
        """The ring requests are routed on."""
        return self._ring

    @property
    def balance(self) -> float:
        """The balance factor ``c``."""
        return self._balance

    @property
    def in_flight(self) -> int:
        """Requests assigned and not yet released."""
        return int(self._state[0])

    @property
    def loads(self) -> np.ndarray:
        """Current requests per node, ``int64[n]`` (a read-only copy)."""
        with self._lock:
            out = self._loads.copy()
        out.flags.writeable = False
        return out

    def capacities(self) -> np.ndarray:
        """Caps the *next* request sees: ``ceil(c * (in_flight + 1) * w_i / W)``, ``int64[n]``."""
        caps = np.empty(len(self._ring), dtype=np.int64)
        with self._lock:
            _online_caps(caps, self._weights, self._total, self._balance, self._state[0])
        return caps

    def assign(self, key: str | bytes | int) -> int:
        """Route one request; returns the node index (``ring.nodes[i]`` is its name).

        ``key`` is a str/bytes key or an int point-space hash (:meth:`HashRing.hash`).
        The common case (the key's bucket has one owner and it has room) runs
        in Python with no numba call; otherwise the walk runs in numba.
        """
        r = self._ring
        if is_int(key):
            h = int(key)
            if not 0 <= h < 1 << r.space_bits:
                r._check_hashes([h], "key")  # raises the ring's own range error
        else:
            h = r.hash(key)
        hh = h + self._inc
        with self._lock:
            t = r._py_table[hh >> r._py_shift]
            if t < 0:
                o = ~t
                loads = self._py_loads
                w = self._py_weights[o]
                cap = math.ceil((self._balance * float(self._py_state[0] + 1) * w) / self._total)
                if w > 0.0 and loads[o] < cap:
                    loads[o] += 1
                    self._py_state[0] += 1
                    return o
            out = np.empty(1, dtype=np.int64)
            failed = _assign_online(
                r._points_ext, r._owners_ext, r._table, r._shift, r._inc,
                np.array([h], dtype=np.uint64), self._weights, self._total, self._balance,
                self._loads, self._state, out,
            )  # fmt: skip
        if failed >= 0:  # pragma: no cover - a node under its cap always exists
            raise RuntimeError("no node had room")
        return int(out[0])

    def assign_many(self, keys_or_hashes: Any) -> np.ndarray:
        """Route a batch of requests one after another (none released in between).

        Same as calling :meth:`assign` for each, in order, in one numba call.
        Returns ``int64[m]`` node indices.
        """
        hashes = _hashes_for(self._ring, keys_or_hashes)
        return self._assign_hashes(hashes)

    def _assign_hashes(self, hashes: np.ndarray) -> np.ndarray:
        r = self._ring
        out = np.empty(hashes.shape[0], dtype=np.int64)
        with self._lock:
            failed = _assign_online(
                r._points_ext, r._owners_ext, r._table, r._shift, r._inc, hashes,
                self._weights, self._total, self._balance, self._loads, self._state, out,
            )  # fmt: skip
        if failed >= 0:  # pragma: no cover - a node under its cap always exists
            raise RuntimeError("no node had room")
        return out

    def release(self, node: int | str) -> None:
        """End one request on ``node`` (index or name).

        Raises
        ------
        KeyError
            Unknown node name.
        IndexError
            Node index out of range.
        ValueError
            The node has no request in flight.
        """
        i = self._node_index(node)
        with self._lock:
            if self._py_loads[i] <= 0:
                raise ValueError(f"node {self._ring.nodes[i]!r} has no request in flight")
            self._py_loads[i] -= 1
            self._py_state[0] -= 1

    def with_ring(self, ring: HashRing) -> BoundedLoadBalancer:
        """A balancer on ``ring`` carrying over the loads of nodes present in both (by name).

        Requests in flight on nodes that left are dropped from the count.
        """
        new = BoundedLoadBalancer(ring, self._balance)
        with self._lock:
            for name, load in zip(self._ring.nodes, self._loads.tolist(), strict=True):
                if name in ring and load:
                    new._loads[ring.index_of(name)] = load
        new._state[0] = int(new._loads.sum())
        return new

    def _node_index(self, node: int | str) -> int:
        if isinstance(node, str):
            return self._ring.index_of(node)
        if not is_int(node):
            raise TypeError(f"node must be an index or a name, not {type(node).__name__}")
        i = int(node)
        if not 0 <= i < len(self._ring):
            raise IndexError(f"node index {i} out of range for {len(self._ring)} nodes")
        return i

    def __repr__(self) -> str:
        return (
            f"<BoundedLoadBalancer balance={self._balance}: {self.in_flight} in flight on "
            f"{len(self._ring)} nodes>"
        )
