"""The one interface every balancing strategy implements, and the helpers they share.

:class:`Balancer` owns membership (workers, slots, weights), task bookkeeping
(outstanding counts fed by ``on_sent``/``on_done``) and introspection; a
strategy implements ``_choose`` and the membership hooks only.  The numpy
arrays indexed by position (``_out``, ``_w``) are what the kernels read.
"""

from __future__ import annotations

import math
import random as _random
import re
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from kernels import LeastLoaded, PowerOfTwoChoices
from tuner.errors import BalancerError, ConfigError

from ._records import BalancerStats, WorkerLoad, _Worker

__all__ = ["Balancer", "Key"]

Key = bytes | str | int | None

_MAX_WORKERS = 1 << 20


# ---------------------------------------------------------------------------------------------
# validation


def _check_id(worker_id: Any) -> bytes:
    if not isinstance(worker_id, bytes):
        raise TypeError(f"worker_id must be bytes, not {type(worker_id).__name__}")
    return worker_id


def _check_weight(weight: Any) -> float:
    if isinstance(weight, (bool, np.bool_)) or not isinstance(
        weight, (int, float, np.integer, np.floating)
    ):
        raise TypeError(f"weight must be a number > 0, not {type(weight).__name__}")
    w = float(weight)
    if not (math.isfinite(w) and w > 0.0):
        raise ConfigError(
            f"weight must be a finite number > 0, got {weight!r}",
            knob="weight",
            value=weight,
            valid="finite > 0",
        )
    return w


def _check_seed(seed: Any) -> int | None:
    if seed is None:
        return None
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise ConfigError(
            f"seed must be an int or None, got {seed!r}",
            knob="seed",
            value=seed,
            valid="int or None",
        )
    return int(seed)


def _check_int(value: Any, name: str, lo: int, hi: int) -> int:
    is_int = isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
    if not (is_int and lo <= int(value) <= hi):
        raise ConfigError(
            f"{name} must be an int in [{lo}, {hi}], got {value!r}",
            knob=name,
            value=value,
            valid=f"int in [{lo}, {hi}]",
        )
    return int(value)


def _hash_key(key: Key) -> str | bytes:
    """The ring key for ``key``: str and bytes as they are, an int as its decimal str."""
    if isinstance(key, (str, bytes)):
        return key
    if isinstance(key, (int, np.integer)) and not isinstance(key, (bool, np.bool_)):
        return str(int(key))
    raise TypeError(f"key must be str, bytes, int or None, not {type(key).__name__}")


_SLOT_RE = re.compile(r"(.*?)(\d+)")


def _slot_order(slot: str) -> tuple[str, int, str]:
    """Sort key: ``w2`` before ``w10`` (a numeric suffix compares as a number)."""
    m = _SLOT_RE.fullmatch(slot)
    if m is None:
        return (slot, -1, slot)
    return (m.group(1), int(m.group(2)), slot)


# ---------------------------------------------------------------------------------------------
# the interface


class Balancer:
    """The one interface of every strategy: membership, decisions, task bookkeeping.

    Build instances with :func:`make_balancer`; subclasses implement
    ``_choose`` (and hooks on membership changes) only.

    Parameters
    ----------
    seed : int or None
        Seeds every random stream the strategy uses (the kernels' splitmix64
        generators, through one ``random.Random`` that derives sub-seeds), so
        the same seed and the same sequence of calls give the same decisions.
        ``None`` seeds from the OS.  Deterministic strategies accept and
        ignore it, so the runtime can pass ``seed=`` to any of them.

    Notes
    -----
    Positions: live workers are kept in slot order; ``_order[i]`` is the
    worker at position ``i`` and the numpy arrays ``_out`` (outstanding,
    int64) and ``_w`` (weights, float64) are indexed by position, which is
    what the kernels read.  A membership change rebuilds them (O(n), rare).
    """

    name: ClassVar[str] = ""
    #: Options accepted by :func:`make_balancer` for this strategy, with defaults.
    OPTIONS: ClassVar[dict[str, Any]] = {"seed": None}

    def __init__(self, *, seed: int | None = None) -> None:
        self._seed = _check_seed(seed)
        self._rng = _random.Random(self._seed)
        self._recs: dict[bytes, _Worker] = {}
        self._slots: dict[str, bytes] = {}
        self._order: list[bytes] = []
        self._pos: dict[bytes, int] = {}
        self._out = np.zeros(0, dtype=np.int64)
        self._w = np.zeros(0, dtype=np.float64)
        self._inflight = 0
        self._picks = 0
        self._holds = 0
        self._removed = 0

    # ------------------------------------------------------------------ membership

    def add_worker(self, worker_id: bytes, weight: float = 1.0, *, slot: str | None = None) -> str:
        """Make a worker eligible for tasks; returns the slot it occupies.

        Parameters
        ----------
        worker_id : bytes
            Must not be live already (remove the old incarnation first).
        weight : float
            Relative capacity, finite and > 0.  Used by ``random``,
            ``weighted_round_robin``, ``least_outstanding``, ``power_of_two``
            (loads are divided by it) and the hash rings (points per node);
            ``round_robin`` and ``pull`` ignore it.
        slot : str, optional
            The slot to occupy.  Default: the lowest free ``"w<k>"``, so a
            replacement started after a death lands in the dead worker's slot
            (and inherits its keys under the hash strategies) without the
            caller tracking slots.  Pass it explicitly when the supervisor
            names slots itself (e.g. a restarted worker told its slot).

        Raises
        ------
        BalancerError
            The worker is already live or the slot is taken.
        tuner.errors.ConfigError
            The weight is not a finite number > 0.
        """
        wid = _check_id(worker_id)
        w = _check_weight(weight)
        if wid in self._recs:
            raise BalancerError(f"worker {wid!r} is already live (remove it first)")
        if len(self._recs) >= _MAX_WORKERS:
            raise BalancerError(f"at most {_MAX_WORKERS} workers are supported")
        if slot is None:
            slot = self._free_slot()
        elif not isinstance(slot, str) or not slot:
            raise BalancerError(f"slot must be a non-empty str, got {slot!r}")
        elif slot in self._slots:
            raise BalancerError(f"slot {slot!r} is taken by worker {self._slots[slot]!r}")
        rec = _Worker(slot, w)
        self._recs[wid] = rec
        self._slots[slot] = wid
        self._reindex()
        self._added(wid, rec)
        return slot

    def remove_worker(self, worker_id: bytes) -> bool:
        """Forget a dead or departed worker; returns False if it was not live.

        Its outstanding tasks are dropped from the counts (the broker
        re-queues them) and no later :meth:`choose` returns it.  Its slot
        becomes free for a replacement.  Removing twice is harmless, so the
        heartbeat timer and the process sentinel may both report a death.
        """
        wid = _check_id(worker_id)
        rec = self._recs.pop(wid, None)
        if rec is None:
            return False
        self._inflight -= int(self._out[self._pos[wid]])
        del self._slots[rec.slot]
        self._removed += 1
        self._reindex()
        self._removed_hook(wid, rec)
        return True

    def set_weight(self, worker_id: bytes, weight: float) -> None:
        """Change a live worker's weight (the tuner may move capacity between workers)."""
        wid = _check_id(worker_id)
        w = _check_weight(weight)
        rec = self._rec(wid)
        rec.weight = w
        self._w[self._pos[wid]] = w
        self._weight_changed(wid, rec)

    @property
    def workers(self) -> tuple[bytes, ...]:
        """Live worker ids in slot order."""
        return tuple(self._order)

    def slot_of(self, worker_id: bytes) -> str:
        """The slot a live worker occupies (``BalancerError`` if it is not live)."""
        return self._rec(_check_id(worker_id)).slot

    def worker_in(self, slot: str) -> bytes | None:
        """The worker occupying ``slot``, or None if it is free."""
        return self._slots.get(slot)

    def outstanding(self, worker_id: bytes) -> int:
        """Tasks sent to a live worker and not done (``BalancerError`` if not live)."""
        wid = _check_id(worker_id)
        self._rec(wid)
        return int(self._out[self._pos[wid]])

    def __len__(self) -> int:
        return len(self._order)

    def __contains__(self, worker_id: object) -> bool:
        return worker_id in self._recs

    # ------------------------------------------------------------------ decisions

    def choose(self, key: Key, credit: Mapping[bytes, int]) -> bytes | None:
        """Where the next task goes: a live worker with credit, or None to hold it.

        Parameters
        ----------
        key : str, bytes, int or None
            The task's affinity key (``submit_keyed``); None for a plain
            ``submit``.  Only the hash strategies read it (an int is hashed as
            its decimal string); without a key they pick the least loaded.
        credit : mapping of bytes to int
            Free prefetch slots per worker.  Workers missing from it have no
            credit; ids that are not live are ignored.

        Returns
        -------
        bytes or None
            A live worker whose credit is > 0.  None means "hold the task and
            ask again when credit frees up": either no live worker has credit,
            or the strategy's hold rule applies (``consistent_hash``: the key's
            owner has no credit; ``pull``: no worker has asked for work).  Use
            :meth:`preferred` to park held keyed tasks per owner instead of
            blocking the whole queue behind one of them.

        Notes
        -----
        ``choose`` advances the strategy's own state (rotation, random
        stream); it does not count the task as outstanding.  Call
        :meth:`on_sent` once the task is actually sent.
        """
        if key is not None:
            key = _hash_key(key)  # validated and normalised once, for every strategy
        if not self._order:
            self._holds += 1
            return None
        pos = self._choose(key, credit)
        if pos is None:
            self._holds += 1
            return None
        wid = self._order[pos]
        self._recs[wid].picks += 1
        self._picks += 1
        return wid

    def preferred(self, key: Key) -> bytes | None:
        """The worker a keyed task waits for when :meth:`choose` holds it, if any.

        None for strategies without affinity (any worker will do) and for
        ``key=None``.  The hash strategies return the key's ring owner.
        """
        return None

    # ------------------------------------------------------------------ task lifecycle

    def on_sent(self, worker_id: bytes, count: int = 1) -> None:
        """Record ``count`` tasks sent to a live worker (that many more outstanding).

        Raises
        ------
        BalancerError
            The worker is not live: the broker must not send to it.
        """
        wid = _check_id(worker_id)
        rec = self._rec(wid)
        self._out[self._pos[wid]] += count
        self._inflight += count
        rec.sent += count
        self._sent_hook(wid)

    def on_done(self, worker_id: bytes, count: int = 1) -> bool:
        """Record ``count`` tasks finished by a worker (that many fewer outstanding).

        Returns False, changing nothing, for a worker that is not live: a
        late result from a removed worker, whose tasks were already dropped
        from the counts when it was removed.

        Raises
        ------
        BalancerError
            The worker is live but has fewer than ``count`` outstanding tasks (the counts
            would go negative: a bookkeeping bug in the caller).
        """
        wid = _check_id(worker_id)
        rec = self._recs.get(wid)
        if rec is None:
            return False
        p = self._pos[wid]
        if self._out[p] < count:
            raise BalancerError(
                f"on_done({count}) for worker {wid!r}, which has {self._out[p]} outstanding"
            )
        self._out[p] -= count
        self._inflight -= count
        rec.done += count
        self._done_hook(wid)
        return True

    # ------------------------------------------------------------------ introspection

    def snapshot(self) -> BalancerStats:
        """A frozen record of the current loads and counters."""
        out = self._out.tolist()
        workers = tuple(
            WorkerLoad(
                worker_id=wid,
                slot=r.slot,
                weight=r.weight,
                outstanding=out[i],
                picks=r.picks,
                sent=r.sent,
                done=r.done,
            )
            for i, wid in enumerate(self._order)
            for r in (self._recs[wid],)
        )
        return BalancerStats(self.name, workers, self._picks, self._holds, self._removed)

    @property
    def options(self) -> dict[str, Any]:
        """The options this balancer was built with (as :func:`make_balancer` takes them)."""
        return {"seed": self._seed}

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in self.options.items())
        return (
            f"<{type(self).__name__} {self.name!r} ({opts}): {len(self._order)} workers, "
            f"{self._inflight} outstanding, {self._picks} picks, {self._holds} holds>"
        )

    # ------------------------------------------------------------------ internals

    def _rec(self, wid: bytes) -> _Worker:
        try:
            return self._recs[wid]
        except KeyError:
            raise BalancerError(f"worker {wid!r} is not live") from None

    def _free_slot(self) -> str:
        k = 0
        while f"w{k}" in self._slots:
            k += 1
        return f"w{k}"

    def _reindex(self) -> None:
        """Rebuild positions and the per-position arrays after a membership change."""
        old_pos, old_out = self._pos, self._out
        order = sorted(self._recs, key=lambda w: _slot_order(self._recs[w].slot))
        out = np.zeros(len(order), dtype=np.int64)
        for i, wid in enumerate(order):
            j = old_pos.get(wid)
            if j is not None:
                out[i] = old_out[j]
        self._order = order
        self._pos = {wid: i for i, wid in enumerate(order)}
        self._out = out
        self._w = np.array([self._recs[w].weight for w in order], dtype=np.float64)

    def _eligible(self, credit: Mapping[bytes, int]) -> list[int]:
        """Positions of live workers with credit > 0."""
        get = credit.get
        return [i for i, wid in enumerate(self._order) if get(wid, 0) > 0]

    def _subseed(self) -> int:
        return self._rng.getrandbits(63)

    def _choose(self, key: Key, credit: Mapping[bytes, int]) -> int | None:
        raise NotImplementedError  # pragma: no cover - every strategy overrides it

    # Hooks, called after the base class updated its records and arrays.
    def _added(self, wid: bytes, rec: _Worker) -> None:
        self._membership_changed()

    def _removed_hook(self, wid: bytes, rec: _Worker) -> None:
        self._membership_changed()

    def _weight_changed(self, wid: bytes, rec: _Worker) -> None:
        self._membership_changed()

    def _membership_changed(self) -> None:
        """Rebuild selection state for the current live set (default: nothing to do)."""

    def _sent_hook(self, wid: bytes) -> None:
        """A task was sent to ``wid`` (its outstanding count is already updated)."""

    def _done_hook(self, wid: bytes) -> None:
        """A task finished on ``wid`` (its outstanding count is already updated)."""


def _pick_by_load(
    b: Balancer, policy: LeastLoaded | PowerOfTwoChoices, credit: Mapping[bytes, int]
) -> int | None:
    """Position chosen by a load kernel among workers with credit, on ``(out + 1) / w``."""
    elig = b._eligible(credit)
    if not elig:
        return None
    if len(elig) == 1:
        return elig[0]
    if len(elig) == len(b._order):
        return policy.choose((b._out + 1) / b._w)
    idx = np.array(elig, dtype=np.int64)
    return elig[policy.choose((b._out[idx] + 1) / b._w[idx])]
