"""The strategies without affinity: random, round-robin, weighted round-robin, load-aware, pull.

Each is a small :class:`Balancer` subclass that implements ``_choose`` over the
base class's positions and arrays, with the selection step done by a ``kernels``
policy (``AliasTable``, ``SmoothWeightedRoundRobin``, ``LeastLoaded``,
``PowerOfTwoChoices``); ``pull`` needs no kernel, only a FIFO of asking workers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

from kernels import AliasTable, LeastLoaded, PowerOfTwoChoices, SmoothWeightedRoundRobin

from ._base import Balancer, Key, _check_int, _pick_by_load
from ._records import _Worker

__all__ = [
    "LeastOutstanding",
    "PowerOfTwo",
    "Pull",
    "RandomBalancer",
    "RoundRobin",
    "WeightedRoundRobin",
]

_WEIGHT_QUANTUM = 100  # weighted_round_robin: weights are exact to 1/100
_MAX_SKIPS = 64  # round-robin picks skipped for lack of credit before the direct fallback


class RandomBalancer(Balancer):
    """``random``: a worker drawn with probability proportional to its weight.

    Draws from a ``kernels.AliasTable`` over all live workers (O(1) per draw)
    and rejects workers without credit; after a few rejections it draws from
    a table over the workers that have credit, so the choice is always
    exactly weight-proportional among them.  HAProxy's default since 2025;
    cheap and herd-free, but blind to load.
    """

    name = "random"
    _TRIES = 4

    def __init__(self, *, seed: int | None = None) -> None:
        super().__init__(seed=seed)
        self._table: AliasTable | None = None

    def _membership_changed(self) -> None:
        self._table = AliasTable(self._w, seed=self._subseed()) if self._order else None

    def _choose(self, key: Key, credit: Mapping[bytes, int]) -> int | None:
        elig = self._eligible(credit)
        if not elig:
            return None
        table = self._table
        if table is None:  # pragma: no cover - live workers always have a table
            return None
        if len(elig) == len(self._order):
            return table.sample()
        order, get = self._order, credit.get
        for _ in range(self._TRIES):
            p = table.sample()
            if get(order[p], 0) > 0:
                return p
        sub = AliasTable(self._w[elig], seed=self._subseed())
        return elig[sub.sample()]


class RoundRobin(Balancer):
    """``round_robin``: each live worker in turn, in slot order, skipping workers without credit.

    Runs ``kernels.SmoothWeightedRoundRobin`` with every weight 1: with
    credit everywhere, ``k`` picks give every worker ``floor(k/n)`` or
    ``ceil(k/n)`` tasks.  A worker without credit loses its turn (the next
    one in rotation takes the task).  Membership changes restart the
    rotation.  Blind to load: with heavy-tailed task times it queues work
    behind long tasks.
    """

    name = "round_robin"

    def __init__(self, *, seed: int | None = None) -> None:
        super().__init__(seed=seed)
        self._swrr: SmoothWeightedRoundRobin | None = None
        self._period = 0
        self._fallback_current: dict[int, int] = {}  # position -> counter (see _choose)

    def _int_weights(self) -> list[int]:
        return [1] * len(self._order)

    def _membership_changed(self) -> None:
        self._fallback_current = {}
        if not self._order:
            self._swrr = None
            return
        weights = self._int_weights()
        self._period = sum(weights)
        self._swrr = SmoothWeightedRoundRobin(weights)

    def _weight_changed(self, wid: bytes, rec: _Worker) -> None:
        weights = self._int_weights()
        self._period = sum(weights)
        if self._swrr is not None:  # always, for a live worker
            self._swrr.set_weights(weights)  # same peers: keeps the interleaving state

    def _choose(self, key: Key, credit: Mapping[bytes, int]) -> int | None:
        order, get = self._order, credit.get
        if not any(get(w, 0) > 0 for w in order):
            return None
        swrr = self._swrr
        if swrr is None:  # pragma: no cover - live workers always have a rotation
            return None
        # A worker without credit loses its turn.  With equal weights every worker
        # comes up within n picks; with weights the kernel observed gaps below
        # 2 W / w_i.  Past a bounded number of tries (light workers alone with credit
        # among heavy ones), run the same smooth WRR over the workers with credit only,
        # on counters of its own, so even then they share in proportion to weight.
        for _ in range(min(2 * self._period, _MAX_SKIPS) + len(order)):
            p = swrr.next()
            if get(order[p], 0) > 0:
                return p
        return self._fallback([i for i, w in enumerate(order) if get(w, 0) > 0])

    def _fallback(self, eligible: list[int]) -> int:
        weights = self._int_weights()
        cur = self._fallback_current
        total = 0
        best = eligible[0]
        for i in eligible:
            cur[i] = cur.get(i, 0) + weights[i]
            total += weights[i]
            if cur[i] > cur[best]:
                best = i
        cur[best] -= total
        return best


class WeightedRoundRobin(RoundRobin):
    """``weighted_round_robin``: nginx's smooth weighted round-robin over worker weights.

    With credit everywhere, every period of ``W = sum(weights)`` picks gives
    worker ``i`` exactly ``w_i`` of them, interleaved (weights 5, 1, 1 give
    ``a a b a c a a``).  Float weights are quantised to 1/100 and divided by
    their greatest common divisor (1.5 and 3 become 1 and 2); a weight below
    0.005 counts as 0.01.  A worker without credit loses its turn; after 64
    lost turns in one decision (light workers alone with credit among heavy
    ones) the same algorithm runs over the workers with credit only, so they
    still share in proportion to their weights.
    ``set_weight`` keeps the interleaving state (kernel ``set_weights``).
    """

    name = "weighted_round_robin"

    def _int_weights(self) -> list[int]:
        q = [max(1, round(w * _WEIGHT_QUANTUM)) for w in self._w.tolist()]
        g = math.gcd(*q)
        return [x // g for x in q]


class LeastOutstanding(Balancer):
    """``least_outstanding``: the worker with credit that has the fewest tasks per unit weight.

    Compares ``(outstanding + 1) / weight`` (the load it would carry with this
    task, relative to its capacity: among idle workers the heaviest wins)
    with ``kernels.LeastLoaded``, ties broken uniformly at random.  The best
    policy when the broker's counts are exact and fresh, as its own
    outstanding counts are; O(n) per decision.
    """

    name = "least_outstanding"

    def __init__(self, *, seed: int | None = None) -> None:
        super().__init__(seed=seed)
        self._policy: LeastLoaded | PowerOfTwoChoices = self._make_policy()

    def _make_policy(self) -> LeastLoaded | PowerOfTwoChoices:
        return LeastLoaded(seed=self._subseed())

    def _choose(self, key: Key, credit: Mapping[bytes, int]) -> int | None:
        return _pick_by_load(self, self._policy, credit)


class PowerOfTwo(LeastOutstanding):
    """``power_of_two``: two distinct random workers with credit, the less loaded wins.

    ``kernels.PowerOfTwoChoices`` over ``(outstanding + 1) / weight`` of the
    workers that have credit (Mitzenmacher; Envoy ``LEAST_REQUEST``).  Reads
    two loads per decision and, unlike least-outstanding, does not send every
    task to the same minimum when several brokers act on stale counts.
    """

    name = "power_of_two"

    def _make_policy(self) -> LeastLoaded | PowerOfTwoChoices:
        return PowerOfTwoChoices(seed=self._subseed())


class Pull(Balancer):
    """``pull``: the zguide load-balancing broker; workers that asked for work are served FIFO.

    A worker *asks for work* while it holds fewer than ``ready_below`` tasks
    (default 1: only idle workers, exactly the zguide LB broker where each
    worker says READY and gets one task).  Asking workers wait in a FIFO in
    the order they asked: on joining, or when a result brings them back
    under ``ready_below``.  A worker served while still under the mark
    re-queues at the back.  :meth:`choose` serves the first asking worker
    that has credit, and returns None when no worker is asking, even if some
    have credit: the task stays at the broker, bound late to whichever worker
    frees up first, which is what avoids queueing behind long tasks.  Costs
    one round trip of idle time per task unless ``ready_below`` > 1.

    Parameters
    ----------
    ready_below : int
        Outstanding tasks below which a worker asks for more (>= 1).  Equal to
        the prefetch window it degenerates to FIFO over credit.
    """

    name = "pull"
    OPTIONS: ClassVar[dict[str, Any]] = {"seed": None, "ready_below": 1}

    def __init__(self, *, seed: int | None = None, ready_below: int = 1) -> None:
        super().__init__(seed=seed)
        self._ready_below = _check_int(ready_below, "ready_below", 1, 1 << 30)
        self._ready: dict[bytes, None] = {}  # insertion-ordered FIFO of asking workers

    @property
    def options(self) -> dict[str, Any]:
        return {**super().options, "ready_below": self._ready_below}

    @property
    def ready(self) -> tuple[bytes, ...]:
        """Workers asking for work, first-come first."""
        return tuple(self._ready)

    def _added(self, wid: bytes, rec: _Worker) -> None:
        self._ready[wid] = None  # a new worker holds nothing: it asks at once (READY)

    def _removed_hook(self, wid: bytes, rec: _Worker) -> None:
        self._ready.pop(wid, None)

    def _weight_changed(self, wid: bytes, rec: _Worker) -> None:
        pass  # pull ignores weights

    def _sent_hook(self, wid: bytes) -> None:
        self._ready.pop(wid, None)
        if self._out[self._pos[wid]] < self._ready_below:
            self._ready[wid] = None  # still asking: back of the queue

    def _done_hook(self, wid: bytes) -> None:
        if wid not in self._ready and self._out[self._pos[wid]] < self._ready_below:
            self._ready[wid] = None

    def _choose(self, key: Key, credit: Mapping[bytes, int]) -> int | None:
        get = credit.get
        for wid in self._ready:
            if get(wid, 0) > 0:
                return self._pos[wid]
        return None
