"""The affinity strategies: consistent hashing over worker slots, and its bounded-loads variant.

Both place worker *slots* (not worker ids) on a ``kernels.HashRing``, so a
replacement worker in a dead worker's slot inherits exactly its keys.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar, Final

import numpy as np

from kernels import DEFAULT_VNODES, HashRing, LeastLoaded
from tuner.config import PoolConfig

from ._base import Balancer, Key, _check_int, _hash_key, _pick_by_load
from ._records import _Worker

__all__ = ["BoundedLoadHash", "ConsistentHash"]

# The pool's knob declares balance_factor's default and valid range; the option reuses it.
_BALANCE_FACTOR: Final = PoolConfig.knob("balance_factor")


class ConsistentHash(Balancer):
    """``consistent_hash``: a keyed task goes to the worker owning its key on a hash ring.

    The ring is a ``kernels.HashRing`` (native mode, XXH64) whose nodes are
    worker *slots* weighted by worker weight; it is rebuilt incrementally
    (``with_node`` / ``without_node`` / ``with_weight``) on membership
    changes.  Native ring points depend only on the slot name and weight, so
    a worker that replaces a dead one in the same slot gets exactly the same
    keys back, and adding a slot moves only the keys it takes over (about
    ``1/(n+1)`` of them).  While a slot is vacant its keys go to the ring
    successors.

    Hold rule: a keyed task waits for its owner.  If the owner is live but
    has no credit, :meth:`choose` returns None (the owner's prefetch window
    bounds how much it holds; :meth:`preferred` names the owner so the
    broker can park the task per owner).  Tasks without a key go to the
    least loaded worker with credit (``kernels.LeastLoaded``).

    Parameters
    ----------
    vnodes : int
        Ring points per unit of weight (default 160; more points balance
        keys better and cost memory).
    """

    name = "consistent_hash"
    OPTIONS: ClassVar[dict[str, Any]] = {"seed": None, "vnodes": DEFAULT_VNODES[None]}

    def __init__(self, *, seed: int | None = None, vnodes: int = DEFAULT_VNODES[None]) -> None:
        super().__init__(seed=seed)
        self._vnodes = _check_int(vnodes, "vnodes", 1, 1 << 20)
        self._ring: HashRing | None = None
        self._node_pos = np.zeros(0, dtype=np.int64)  # ring node index -> position
        self._keyless = LeastLoaded(seed=self._subseed())

    @property
    def ring(self) -> HashRing | None:
        """The current ring snapshot (nodes are slot names); None with no live worker."""
        return self._ring

    @property
    def options(self) -> dict[str, Any]:
        return {**super().options, "vnodes": self._vnodes}

    def preferred(self, key: Key) -> bytes | None:
        if key is None or self._ring is None:
            return None
        return self._slots[self._ring.get(_hash_key(key))]

    # ring maintenance
    def _added(self, wid: bytes, rec: _Worker) -> None:
        if self._ring is None:
            self._ring = HashRing([rec.slot], [rec.weight], vnodes=self._vnodes)
        else:
            self._ring = self._ring.with_node(rec.slot, rec.weight)
        self._ring_changed()

    def _removed_hook(self, wid: bytes, rec: _Worker) -> None:
        ring = self._ring
        self._ring = None if ring is None or len(ring) == 1 else ring.without_node(rec.slot)
        self._ring_changed()

    def _weight_changed(self, wid: bytes, rec: _Worker) -> None:
        if self._ring is not None:  # always, for a live worker
            self._ring = self._ring.with_weight(rec.slot, rec.weight)
        self._ring_changed()

    def _ring_changed(self) -> None:
        ring = self._ring
        if ring is None:
            self._node_pos = np.zeros(0, dtype=np.int64)
            return
        self._node_pos = np.array([self._pos[self._slots[s]] for s in ring.nodes], dtype=np.int64)

    def _choose(self, key: Key, credit: Mapping[bytes, int]) -> int | None:
        if key is None:
            return _pick_by_load(self, self._keyless, credit)
        ring = self._ring
        if ring is None:  # pragma: no cover - live workers always have a ring
            return None
        return self._choose_keyed(key, ring, credit)  # type: ignore[arg-type] - normalised

    def _choose_keyed(
        self, key: str | bytes, ring: HashRing, credit: Mapping[bytes, int]
    ) -> int | None:
        """Position for a keyed task (``choose`` normalised the key; there is a ring)."""
        owner = self._slots[ring.get(key)]
        if credit.get(owner, 0) > 0:
            return self._pos[owner]
        return None


class BoundedLoadHash(ConsistentHash):
    """``bounded_load_hash``: consistent hashing with bounded loads (Mirrokni et al. 2016).

    A keyed task goes to its ring owner unless that worker already holds its
    cap, ``ceil(c * (in_flight + 1) * w_i / W)`` outstanding tasks (``c`` =
    ``balance_factor``, ``in_flight`` = outstanding on all live workers, ``W`` = their
    total weight: the dynamic rule of ``kernels.BoundedLoadBalancer``, HAProxy
    ``hash-balance-factor`` and Envoy); or has no credit.  Then it walks the
    ring clockwise, point by point, to the first worker under its cap with
    credit.  If every worker with credit is at its cap (impossible with equal
    weights and equal windows when credit is window minus outstanding; possible
    otherwise) the cap yields to credit: the first worker on the walk with
    credit takes the task, and :attr:`cap_overrides` counts it.  So this strategy holds a task only
    when no worker has credit, and with ample credit it makes exactly the
    choices of ``kernels.BoundedLoadBalancer`` on the same ring.

    Why not call ``kernels.BoundedLoadBalancer`` itself: it counts a request
    as in flight the moment it assigns one and cannot skip a node for
    another reason than its cap, while the broker needs decisions apart from
    bookkeeping (``on_sent``/``on_done``) and must skip workers without
    credit.  The ring, its hash and its point layout are the kernel's; the
    caps use the same float64 formula as ``kernels.bounded_capacities``.

    Parameters
    ----------
    balance_factor : float
        ``c`` in [1, 100] (default 1.25; HAProxy calls 1.25-2 reasonable).  The
        pool's ``PoolConfig.balance_factor`` knob, whose declaration supplies the
        default and the valid range.
    vnodes : int
        As for ``consistent_hash``.
    """

    name = "bounded_load_hash"
    OPTIONS: ClassVar[dict[str, Any]] = {
        "seed": None,
        "vnodes": DEFAULT_VNODES[None],
        "balance_factor": _BALANCE_FACTOR.default,
    }

    def __init__(
        self,
        *,
        seed: int | None = None,
        vnodes: int = DEFAULT_VNODES[None],
        balance_factor: float = _BALANCE_FACTOR.default,
    ) -> None:
        super().__init__(seed=seed, vnodes=vnodes)
        self._balance: float = _BALANCE_FACTOR.validate(balance_factor)
        self._points: np.ndarray = np.zeros(0, dtype=np.uint64)
        self._owners2: np.ndarray = np.zeros(0, dtype=np.int64)
        self._total_w = 0.0
        self._overrides = 0

    @property
    def options(self) -> dict[str, Any]:
        return {**super().options, "balance_factor": self._balance}

    @property
    def cap_overrides(self) -> int:
        """Tasks placed on a worker at its cap because every worker with credit was at its cap."""
        return self._overrides

    def capacities(self) -> dict[bytes, int]:
        """Each live worker's cap for the *next* task: ``ceil(c * (in_flight + 1) * w / W)``."""
        caps = self._caps(self._w)
        return {wid: int(caps[i]) for i, wid in enumerate(self._order)}

    def _caps(self, weights: np.ndarray) -> np.ndarray:
        # Same operations, in the same order, as kernels.bounded_capacities(ring, in_flight + 1, c).
        x = self._balance * float(self._inflight + 1)
        return np.ceil((x * weights) / self._total_w)

    def _ring_changed(self) -> None:
        super()._ring_changed()
        ring = self._ring
        if ring is None:
            self._points = np.zeros(0, dtype=np.uint64)
            self._owners2 = np.zeros(0, dtype=np.int64)
            self._total_w = 0.0
            return
        self._points = ring.points
        self._owners2 = np.concatenate((ring.owners, ring.owners))
        self._total_w = float(self._w.sum())

    def _choose_keyed(
        self, key: str | bytes, ring: HashRing, credit: Mapping[bytes, int]
    ) -> int | None:
        # Fast path: the owner has credit and room.
        owner = self._slots[ring.get(key)]
        p = self._pos[owner]
        x = self._balance * float(self._inflight + 1)
        if credit.get(owner, 0) > 0 and self._out[p] < math.ceil((x * self._w[p]) / self._total_w):
            return p
        # Walk clockwise from the key's point past full workers.
        node_pos = self._node_pos
        get, order = credit.get, self._order
        has_credit = np.array([get(order[q], 0) > 0 for q in node_pos.tolist()], dtype=bool)
        if not has_credit.any():
            return None
        ok = has_credit & (self._out[node_pos] < self._caps(self._w[node_pos]))
        if not ok.any():
            ok = has_credit
            self._overrides += 1
        npts = self._points.shape[0]
        start = int(np.searchsorted(self._points, np.uint64(ring.hash(key)), side="left")) % npts
        seq = self._owners2[start : start + npts]
        node = int(seq[int(np.argmax(ok[seq]))])
        return int(node_pos[node])
