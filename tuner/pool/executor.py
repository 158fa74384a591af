"""``WorkerPool``: a ``concurrent.futures.Executor`` backed by the broker and worker processes.

The call path of one task::

    submit(fn, *args)                         caller thread
      |-- payloads.dumps_call(fn, args, kwargs)  pickled here: an unpicklable call fails here
      |-- Broker.post(_TaskRec)               deque + doorbell byte
      v
    broker thread: queue -> balancer -> TASKS -> worker process -> RESULTS -> future resolved

See :mod:`tuner.pool.broker` for the broker thread, liveness and recovery.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import itertools
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import CancelledError, Executor, Future
from concurrent.futures import TimeoutError as FuturesTimeout
from typing import Any

from tuner import payloads
from tuner.config import PoolConfig
from tuner.errors import QueueFull, SerializationError

from ._map import MapFeed, MapGroup, MapSlot, iterate_results
from .broker import Broker, PoolStats, _TaskRec

__all__ = ["WorkerPool"]

_live_brokers: weakref.WeakSet[Broker] = weakref.WeakSet()

_MAP_BLOCK = 4096  # map items read before the broker is first told (it starts meanwhile)


def _shutdown_live_brokers() -> None:
    # A running broker thread keeps its Broker alive even when the WorkerPool object was
    # dropped without shutdown(): stop each one so that no worker process outlives us.
    for broker in list(_live_brokers):
        broker.post(("shutdown", Future(), (True,)))
    for broker in list(_live_brokers):
        broker.join(timeout=10)


atexit.register(_shutdown_live_brokers)


def _run_chunk(fn: Callable[..., Any], chunk: list[tuple[Any, ...]]) -> list[Any]:
    return [fn(*args) for args in chunk]


def _function_name(fn: Any) -> str:
    qual = getattr(fn, "__qualname__", None)
    module = getattr(fn, "__module__", None)
    if isinstance(qual, str):
        return f"{module}.{qual}" if isinstance(module, str) else qual
    return type(fn).__qualname__


class WorkerPool(Executor):
    """An executor running tasks in worker processes through a ZeroMQ broker.

    Parameters
    ----------
    max_workers : int, optional
        Local worker processes (default: usable CPUs).  ``<= 0`` raises ValueError.
    balancer : str
        One of :data:`tuner.config.BALANCERS`.
    batch_size : int
        Tasks coalesced into one message to a worker at least, when that many are queued;
        a deeper queue is split in fair shares up to each worker's credit (``prefetch``).
    prefetch : int
        Credit window: most tasks one worker may hold.  The window in use adapts below it:
        about 2 ms of the worker's measured work per item, at least 2 (see
        :data:`tuner.pool.broker.QUEUED_WORK_S`).
    max_retries : int
        Re-runs of a task whose worker died before it fails with WorkerCrashed.
    bind : str, optional
        Endpoint to bind (``tcp://127.0.0.1:0``); None = a private ipc endpoint.
    **options
        Any other :class:`~tuner.config.PoolConfig` knob.

    Raises
    ------
    tuner.errors.ConfigError
        An unknown knob or an invalid value (a ``ValueError``).
    """

    def __init__(
        self,
        max_workers: int | None = None,
        balancer: str = "power_of_two",
        batch_size: int = 1,
        prefetch: int = 256,
        max_retries: int = 2,
        bind: str | None = None,
        **options: Any,
    ) -> None:
        self._config = PoolConfig.from_kwargs(
            max_workers=max_workers,
            balancer=balancer,
            batch_size=batch_size,
            prefetch=prefetch,
            max_retries=max_retries,
            bind=bind,
            **options,
        )
        self._lock = threading.Lock()
        self._shutdown = False
        cfg = self._config
        self._slots = threading.BoundedSemaphore(cfg.queue_size) if cfg.queue_size else None
        self._broker = Broker(cfg)
        self._broker.start()
        _live_brokers.add(self._broker)

    # ------------------------------------------------------------------ properties

    @property
    def config(self) -> PoolConfig:
        """The validated knobs this pool runs with."""
        return self._config

    @property
    def address(self) -> str:
        """The endpoint the broker bound (remote workers connect here)."""
        return self._broker.address

    # ------------------------------------------------------------------ submitting

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        """Schedule ``fn(*args, **kwargs)``; returns its Future.

        The call is pickled here: if that fails, the returned future already holds a
        :class:`~tuner.errors.SerializationError` naming the culprit.

        Raises
        ------
        RuntimeError
            After :meth:`shutdown`, or if the pool's broker stopped.
        tuner.errors.QueueFull
            ``queue_size`` tasks are waiting and ``on_full="raise"``.
        """
        return self._submit(None, fn, args, kwargs)

    def submit_keyed(
        self, key: bytes | str | int, fn: Callable[..., Any], /, *args: Any, **kwargs: Any
    ) -> Future[Any]:
        """Like :meth:`submit`, with an affinity key for ``consistent_hash``/``bounded_load_hash``
        (other balancers ignore it)."""
        if not isinstance(key, (bytes, str, int)) or isinstance(key, bool):
            raise TypeError(f"key must be bytes, str or int, not {type(key).__name__}")
        return self._submit(key, fn, args, kwargs)

    def _submit(
        self, key: Any, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Future[Any]:
        if self._shutdown:
            raise RuntimeError("cannot schedule new futures after shutdown")
        future: Future[Any] = Future()
        try:
            payload = payloads.dumps_call(fn, args, kwargs, self._config.serializer)
        except SerializationError as exc:
            future.set_running_or_notify_cancel()
            future.set_exception(exc)
            return future
        if self._slots is not None:
            self._acquire_slot(future)
        rec = _TaskRec(
            next(self._broker.ids), key, payload, future, _function_name(fn), time.perf_counter()
        )
        with self._lock:
            if self._shutdown:
                self._release_slot()
                raise RuntimeError("cannot schedule new futures after shutdown")
            if not self._broker.alive:
                self._release_slot()
                raise RuntimeError(f"the pool's broker stopped: {self._broker.error!r}")
            self._broker.post(rec)
        return future

    def _acquire_slot(self, future: Future[Any]) -> None:
        self._take_place(None)
        future.add_done_callback(lambda _f: self._release_slot())

    def _take_place(self, before_blocking: Callable[[], None] | None) -> None:
        """Take one place in the ``queue_size`` bound: raise QueueFull or block per on_full.

        ``before_blocking`` runs first when the call would block (map posts what it holds,
        so that the places it waits for can be freed).
        """
        assert self._slots is not None  # only called with a queue bound
        if self._slots.acquire(blocking=False):
            return
        if self._config.on_full == "raise":
            raise QueueFull(
                f"{self._config.queue_size} tasks are waiting (queue_size); on_full='raise'"
            )
        if before_blocking is not None:
            before_blocking()
        self._slots.acquire()

    def _release_slot(self) -> None:
        if self._slots is not None:
            with contextlib.suppress(ValueError):  # released twice: harmless
                self._slots.release()

    # ------------------------------------------------------------------ map

    def map(
        self,
        fn: Callable[..., Any],
        *iterables: Iterable[Any],
        timeout: float | None = None,
        chunksize: int = 1,
        buffersize: int | None = None,
    ) -> Iterator[Any]:
        """``map(fn, *iterables)`` run in the pool, yielding results in order.

        Each item (or chunk) is its own task with its own result and failure: an item that
        raises raises at its position; a worker crash re-runs only what that worker held.
        Items are posted to the broker in blocks and ``fn`` is pickled once per call (see
        :mod:`tuner.pool._map`).

        Parameters
        ----------
        timeout : float, optional
            Seconds from this call after which ``__next__`` raises TimeoutError.
        chunksize : int
            Items sent as one task (results are still yielded one by one).
        buffersize : int, optional
            If given, the iterables are consumed lazily and at most ``buffersize`` tasks
            are in flight (Python 3.14's ``Executor.map`` argument).

        Raises
        ------
        tuner.errors.SerializationError
            ``fn`` does not pickle (raised here, before any item is read).  An item whose
            arguments do not pickle fails at its own position instead.
        RuntimeError
            After :meth:`shutdown`.

        Closing the returned iterator (or leaving it unfinished) cancels what was not started.
        """
        if chunksize < 1:
            raise ValueError("chunksize must be >= 1.")
        if buffersize is not None and (
            not isinstance(buffersize, int) or isinstance(buffersize, bool) or buffersize < 1
        ):
            raise ValueError("buffersize must be None or > 0.")
        if self._shutdown:
            raise RuntimeError("cannot schedule new futures after shutdown")
        deadline = None if timeout is None else time.monotonic() + timeout
        calls: Iterator[tuple[Any, ...]] = zip(*iterables)  # noqa: B905 - stop at the shortest
        target = fn
        if chunksize > 1:
            rows = calls
            calls = iter(lambda: (list(itertools.islice(rows, chunksize)),), ([],))
            target = functools.partial(_run_chunk, fn)
        packed = payloads.pack_function(target, self._config.serializer)
        feed = MapFeed(packed, _function_name(fn))
        group = MapGroup(self._release_slot if self._slots is not None else None)
        slots: deque[MapSlot] = deque()
        add = functools.partial(self._add_to_feed, feed, group, slots, calls)
        chunked = chunksize > 1
        if buffersize is None:
            add(None)
            return iterate_results(slots, None, None, deadline, chunked)
        more = add(buffersize) == buffersize
        return iterate_results(slots, add if more else None, buffersize, deadline, chunked)

    def _add_to_feed(
        self,
        feed: MapFeed,
        group: MapGroup,
        slots: deque[MapSlot],
        calls: Iterator[tuple[Any, ...]],
        n: int | None,
    ) -> int:
        """Read up to ``n`` calls (all if None) into the map's feed and hand it to the
        broker, which cuts them into tasks; returns how many were read."""
        source = calls if n is None else itertools.islice(calls, n)
        pending = feed.pending
        clock = time.perf_counter
        count = 0
        for args in source:
            if self._slots is not None:
                self._take_place(functools.partial(self._post_feed, feed))
            slot = MapSlot(group)
            slots.append(slot)
            pending.append((slot, args, clock()))
            count += 1
            if count % _MAP_BLOCK == 0:
                self._post_feed(feed)  # let the broker start while the rest is read
        if count:
            self._post_feed(feed)
        return count

    def _post_feed(self, feed: MapFeed) -> None:
        with self._lock:
            if self._shutdown:
                raise RuntimeError("cannot schedule new futures after shutdown")
            if not self._broker.alive:
                raise RuntimeError(f"the pool's broker stopped: {self._broker.error!r}")
            self._broker.post(feed)

    # ------------------------------------------------------------------ shutdown

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop accepting tasks; finish (or, with ``cancel_futures``, cancel) queued ones.

        ``cancel_futures=True`` cancels only tasks not yet started; running ones complete.
        With ``wait=True``, returns once every task resolved and every worker process ended.
        """
        with self._lock:
            first = not self._shutdown
            self._shutdown = True
        if first:
            self._broker.post(("shutdown", Future(), (cancel_futures,)))
        elif cancel_futures:
            self._broker.post(("cancel_queued", Future(), ()))
        if wait:
            self._broker.join()

    # ------------------------------------------------------------------ stats

    def stats(self) -> PoolStats:
        """A frozen snapshot: per-worker and total counters, latency percentiles."""
        broker = self._broker
        if broker.on_broker_thread:  # called from a done-callback: read the state directly
            return broker.snapshot()
        while broker.alive:
            fut: Future[PoolStats] = Future()
            broker.post(("stats", fut, ()))
            while broker.alive:
                try:
                    return fut.result(0.5)
                except (FuturesTimeout, CancelledError):
                    continue
        broker.join()
        return broker.snapshot()

    def kill_worker(self, pid: int) -> bool:
        """SIGKILL one local worker (fault injection for tests and the tuner's benchmarks)."""
        return bool(self._broker.request("kill_worker", pid))

    def __repr__(self) -> str:
        state = "shut down" if self._shutdown else "running"
        cfg = self._config
        return (
            f"<WorkerPool {state} at {self._broker.address}: max_workers={cfg.max_workers}, "
            f"balancer={cfg.balancer!r}, batch_size={cfg.batch_size}, prefetch={cfg.prefetch}>"
        )
