"""``WorkerPool.map``: many tasks posted at once, each with its own light-weight result slot.

Why not one ``concurrent.futures.Future`` per item, as ``Executor.map`` does: a Future costs
a Condition and an RLock to build (~1.3 µs) and a lock round per state change (~3.7 µs for a
whole life), and ``map`` hands none of them to the caller.  Here every item still is its own
task, with its own result and its own failure (an item that raises fails only its position;
a worker crash re-runs only the items that worker held), but its state lives in a
:class:`MapSlot` that shares one lock with the other slots of the same ``map`` call, and the
items are posted to the broker in blocks, so the broker finds them queued together and
coalesces them into few messages.

The function is pickled once per ``map`` call (:func:`tuner.payloads.pack_function`) and each
item's payload carries those bytes; workers unpickle them once.

Ordering, timeouts and cancellation follow :meth:`concurrent.futures.Executor.map`: results
come in input order; an item's exception is raised at its position; ``timeout`` counts from
the ``map`` call; closing the iterator early cancels items not yet started.  With
``buffersize`` the input is read lazily and at most ``buffersize`` items are in flight,
refilled in blocks of ``ceil(buffersize / 8)``.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import CancelledError, InvalidStateError
from concurrent.futures import TimeoutError as FuturesTimeout
from typing import Any

from tuner.errors import SerializationError
from tuner.payloads import (
    PackedFunction,
    dumps_packed_block,
    dumps_packed_call,
    unpack_exception,
)

__all__ = ["MapBlock", "MapFeed", "MapGroup", "MapSlot", "iterate_results"]

_PENDING, _RUNNING, _CANCELLED, _FINISHED, _FAILED = range(5)


class MapGroup:
    """What the slots of one ``map`` call share: a lock, and which slot the reader awaits."""

    __slots__ = ("cond", "on_done", "waiting")

    def __init__(self, on_done: Callable[[], None] | None = None) -> None:
        self.cond = threading.Condition(threading.Lock())
        self.waiting: MapSlot | None = None
        #: called once per slot that ends (the pool's queue_size bound releases a place)
        self.on_done = on_done


class MapSlot:
    """One ``map`` item's result: the subset of the Future interface the broker drives.

    The broker thread calls :meth:`set_running_or_notify_cancel`, :meth:`set_result`,
    :meth:`set_exception`, :meth:`cancelled` and :meth:`cancel`; the reader calls
    :meth:`result`.  Every state change happens under the group's lock; the reader's fast
    path reads a finished state without it (the value is written before the state).
    """

    __slots__ = ("_group", "_state", "_value")

    def __init__(self, group: MapGroup) -> None:
        self._group = group
        self._state = _PENDING
        self._value: Any = None

    # -- broker side -------------------------------------------------------------------------

    def set_running_or_notify_cancel(self) -> bool:
        with self._group.cond:
            if self._state == _CANCELLED:
                return False
            if self._state != _PENDING:
                raise InvalidStateError(f"map item already {self._state_name()}")
            self._state = _RUNNING
            return True

    def cancelled(self) -> bool:
        return self._state == _CANCELLED

    def done(self) -> bool:
        return self._state >= _CANCELLED

    def cancel(self) -> bool:
        group = self._group
        with group.cond:
            if self._state == _CANCELLED:
                return True
            if self._state != _PENDING:
                return False
            self._state = _CANCELLED
            if group.waiting is self:
                group.cond.notify()
        if group.on_done is not None:
            group.on_done()
        return True

    def set_result(self, value: Any) -> None:
        self._settle(_FINISHED, value)

    def set_exception(self, exc: BaseException) -> None:
        self._settle(_FAILED, exc)

    def _settle(self, state: int, value: Any) -> None:
        group = self._group
        with group.cond:
            if self._state >= _CANCELLED:
                raise InvalidStateError(f"map item already {self._state_name()}")
            self._value = value
            self._state = state
            if group.waiting is self:
                group.cond.notify()
        if group.on_done is not None:
            group.on_done()

    # -- reader side -------------------------------------------------------------------------

    def result(self, deadline: float | None) -> Any:
        """The value, or raise the item's exception; wait until ``deadline`` (monotonic)."""
        if self._state < _CANCELLED:
            group = self._group
            with group.cond:
                while self._state < _CANCELLED:
                    group.waiting = self
                    if deadline is None:
                        group.cond.wait()
                    else:
                        left = deadline - time.monotonic()
                        if left <= 0 or not group.cond.wait(left):
                            if self._state >= _CANCELLED:
                                break
                            group.waiting = None
                            raise FuturesTimeout()
                group.waiting = None
        state = self._state
        if state == _FINISHED:
            return self._value
        if state == _FAILED:
            raise self._value
        raise CancelledError()

    def _state_name(self) -> str:
        return ("pending", "running", "cancelled", "finished", "failed")[self._state]

    def __repr__(self) -> str:
        return f"<MapSlot {self._state_name()}>"


class MapBlock:
    r"""Several map items sent as ONE task: what the broker holds in place of a Future.

    The broker drives it like a Future (cancel, set_running_or_notify_cancel, set_result,
    set_exception); it fans each call out to its own :class:`MapSlot`.  The worker returns
    one ``(0, value)`` or ``(1, packed exception)`` per call (:func:`tuner.payloads.
    pack_outcomes`), so an item that raises fails alone.  If a worker dies holding the block,
    the broker :meth:`split`\ s it into single-item tasks, so an item that kills its worker
    is retried and fails on its own too.
    """

    __slots__ = ("calls", "packed", "slots")

    def __init__(
        self, slots: list[MapSlot], calls: list[tuple[Any, ...]], packed: PackedFunction
    ) -> None:
        self.slots = slots
        self.calls = calls
        self.packed = packed

    def set_running_or_notify_cancel(self) -> bool:
        running = False
        for slot in self.slots:
            if slot.set_running_or_notify_cancel():
                running = True
        return running

    def cancelled(self) -> bool:
        return all(slot.cancelled() for slot in self.slots)

    def cancel(self) -> bool:
        result = True
        for slot in self.slots:
            if not slot.cancel():
                result = False
        return result

    def set_result(self, items: Any) -> int:
        """Settle every call from the worker's outcome list; returns how many failed."""
        slots = self.slots
        if type(items) is not list or len(items) != len(slots):
            self.set_exception(
                SerializationError(f"malformed block results: expected a list of {len(slots)}")
            )
            return len(slots)
        failed = 0
        serializer = self.packed.serializer
        for slot, item in zip(slots, items, strict=True):
            if slot.cancelled():
                continue
            if type(item) is tuple and len(item) == 2 and item[0] == 0:
                slot.set_result(item[1])
                continue
            failed += 1
            if type(item) is tuple and len(item) == 2 and item[0] == 1 and type(item[1]) is bytes:
                slot.set_exception(unpack_exception(item[1], serializer))
            else:
                slot.set_exception(SerializationError("malformed block result entry"))
        return failed

    def set_exception(self, exc: BaseException) -> None:
        for slot in self.slots:
            if not slot.cancelled():
                slot.set_exception(exc)

    def split(self) -> list[tuple[bytes | None, MapSlot, BaseException | None]]:
        """The calls not yet settled, one task each: see :func:`one_per_call`."""
        live = [(slot, args) for slot, args in zip(self.slots, self.calls, strict=True)
                if not slot.done()]  # fmt: skip
        return one_per_call(self.packed, live)


def one_per_call(
    packed: PackedFunction, items: list[tuple[MapSlot, tuple[Any, ...]]]
) -> list[tuple[bytes | None, MapSlot, BaseException | None]]:
    """Pickle each call alone: ``(payload, slot, None)``, or ``(None, slot, error)`` for a
    call whose arguments do not pickle (so that only that call fails)."""
    out: list[tuple[bytes | None, MapSlot, BaseException | None]] = []
    for slot, args in items:
        try:
            out.append((dumps_packed_call(packed, args, {}), slot, None))
        except SerializationError as exc:
            out.append((None, slot, exc))
    return out


class MapFeed:
    """A ``map`` call's items waiting for the broker, which cuts them into tasks.

    The caller appends ``(slot, args, submitted_at)`` (a deque append is atomic under the
    GIL); the broker thread cuts blocks off the front when workers have credit, sized to the
    windows in use at that moment: short items travel in large blocks, long ones one by one.
    Pickling happens at the cut, on the broker thread, once per block.
    """

    __slots__ = ("block", "name", "packed", "pending")

    def __init__(self, packed: PackedFunction, name: str) -> None:
        self.packed = packed
        self.name = name
        self.pending: deque[tuple[MapSlot, tuple[Any, ...], float]] = deque()
        #: most calls per block for this map: starts at 1 and doubles with each block that
        #: comes back (a slow start, as TCP's), so that a map of slow items is never cut
        #: into large blocks on the strength of an earlier map of fast ones
        self.block = 1

    def grow(self) -> None:
        """A block of this map came back: allow blocks twice as large."""
        if self.block < 4096:
            self.block *= 2

    def cut(self, n: int) -> tuple[list[tuple[bytes, Any, int, float]], int, int]:
        """Take up to ``n`` items not cancelled; returns ``(parts, cancelled, failed)``.

        Each part is ``(payload, future, weight, submitted_at)``: one block of several
        calls (future a :class:`MapBlock`), or single calls (future a :class:`MapSlot`) when
        the block did not pickle, so that only the culprit fails (counted in ``failed``).
        """
        pending = self.pending
        slots: list[MapSlot] = []
        calls: list[tuple[Any, ...]] = []
        first = 0.0
        cancelled = 0
        while pending and len(slots) < n:
            slot, args, at = pending.popleft()
            if not slot.set_running_or_notify_cancel():
                cancelled += 1
                continue
            if not slots:
                first = at
            slots.append(slot)
            calls.append(args)
        if not slots:
            return [], cancelled, 0
        packed = self.packed
        if len(slots) > 1:
            try:
                data = dumps_packed_block(packed, calls)
            except SerializationError:
                pass  # one by one below
            else:
                return [(data, MapBlock(slots, calls, packed), len(slots), first)], cancelled, 0
        parts: list[tuple[bytes, Any, int, float]] = []
        failed = 0
        for payload, slot, error in one_per_call(packed, list(zip(slots, calls, strict=True))):
            if payload is None:
                slot.set_exception(error)
                failed += 1
            else:
                parts.append((payload, slot, 1, first))
        return parts, cancelled, failed

    def cancel_all(self) -> int:
        """Cancel every item still waiting; returns how many."""
        n = 0
        while self.pending:
            slot, _args, _at = self.pending.popleft()
            if slot.cancel():
                n += 1
        return n

    def fail_all(self, exc: BaseException) -> int:
        """Fail every item still waiting with ``exc``; returns how many."""
        n = 0
        while self.pending:
            slot, _args, _at = self.pending.popleft()
            if slot.set_running_or_notify_cancel():
                slot.set_exception(exc)
                n += 1
        return n


def iterate_results(
    slots: deque[MapSlot],
    refill: Callable[[int], int] | None,
    buffersize: int | None,
    deadline: float | None,
    chunked: bool,
) -> Iterator[Any]:
    """Yield each slot's value in order (a chunk's values one by one when ``chunked``).

    ``refill(n)`` reads and posts up to ``n`` more items (appending their slots to
    ``slots``) and returns how many it read; it is called in blocks of ``ceil(buffersize / 8)``
    so that each refill reaches the broker as one post.  Closing the iterator cancels what
    has not started.
    """
    block = 0 if buffersize is None else max(1, -(-buffersize // 8))
    try:
        while slots:
            slot = slots.popleft()
            if refill is not None and buffersize is not None:
                # As Executor.map does: top up before waiting on the popped item.
                room = buffersize - len(slots)
                if (room >= block or not slots) and refill(room) < room:
                    refill = None  # the input is exhausted
            try:
                value = slot.result(deadline)
            except FuturesTimeout:
                slot.cancel()
                raise
            del slot
            if chunked:
                yield from value
            else:
                yield value
    finally:
        for slot in slots:
            slot.cancel()
