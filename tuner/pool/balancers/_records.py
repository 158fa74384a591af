"""The balancers' records: the frozen snapshots callers read, and the mutable per-worker entry.

:class:`WorkerLoad` and :class:`BalancerStats` are what :meth:`Balancer.snapshot` returns;
``_Worker`` is the balancer's own mutable bookkeeping for one live worker.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BalancerStats", "WorkerLoad"]


@dataclass(frozen=True, slots=True)
class WorkerLoad:
    """One live worker as a balancer sees it (a frozen copy).

    Attributes
    ----------
    worker_id : bytes
        The broker's id for the worker (its ZeroMQ identity).
    slot : str
        The slot it occupies; hash strategies place slots on their ring.
    weight : float
        Relative capacity (> 0).
    outstanding : int
        Tasks sent to it and not done (``on_sent`` minus ``on_done``).
    picks : int
        Times :meth:`Balancer.choose` returned it.
    sent, done : int
        ``on_sent`` / ``on_done`` calls recorded for it since it joined.
    """

    worker_id: bytes
    slot: str
    weight: float
    outstanding: int
    picks: int
    sent: int
    done: int


@dataclass(frozen=True, slots=True)
class BalancerStats:
    """A frozen snapshot of a balancer (what :meth:`Balancer.snapshot` returns).

    Attributes
    ----------
    name : str
        The strategy (one of :data:`BALANCERS`).
    workers : tuple of WorkerLoad
        Live workers in slot order (``w0``, ``w1``, ..., ``w10``: numeric
        suffixes compare as numbers).
    picks : int
        ``choose`` calls that returned a worker, over the balancer's life.
    holds : int
        ``choose`` calls that returned ``None``.
    removed : int
        Workers removed so far.
    """

    name: str
    workers: tuple[WorkerLoad, ...]
    picks: int
    holds: int
    removed: int

    @property
    def outstanding(self) -> dict[bytes, int]:
        """Outstanding tasks per live worker id (a new dict)."""
        return {w.worker_id: w.outstanding for w in self.workers}

    @property
    def picks_by_worker(self) -> dict[bytes, int]:
        """``choose`` results per live worker id (a new dict)."""
        return {w.worker_id: w.picks for w in self.workers}

    @property
    def in_flight(self) -> int:
        """Tasks outstanding on all live workers."""
        return sum(w.outstanding for w in self.workers)


class _Worker:
    """Mutable per-worker record (outstanding lives in the balancer's numpy array)."""

    __slots__ = ("done", "picks", "sent", "slot", "weight")

    def __init__(self, slot: str, weight: float) -> None:
        self.slot = slot
        self.weight = weight
        self.picks = 0
        self.sent = 0
        self.done = 0
