"""The broker: one thread in the caller's process that owns the ROUTER socket and the workers.

Data flow::

    caller threads                     broker thread                        worker processes
    --------------                     -------------                        ----------------
    submit() -> _TaskRec --inbox deque--> queue --balancer.choose()--> TASKS --> DEALER
               (+ doorbell pipe byte)     |   (credit = prefetch - held)          | task thread
    future <--- set_result/exception -----+<-- RESULTS (unpack_result) <----------+
                                          |<-> HEARTBEAT both ways (Paranoid Pirate)
                                          +--- pidfd per local process: death seen at once

Why a thread in the caller's process, not a broker process: a result is unpickled and its
``concurrent.futures.Future`` resolved right where the caller waits, with no extra hop
(a broker process would add one more send/receive and a second pickle of every payload on
each task, and a second process to supervise).  The cost is the GIL: the broker competes
with the caller's own Python code for it.

Every ZeroMQ socket here is used by the broker thread only.  Other threads reach it through
:meth:`Broker.post` (a ``deque.append``, atomic under the GIL, plus one byte written to a
non-blocking pipe the poll loop watches, written only when the broker is not already awake).

Failure semantics:

* A worker is dead when its process exits (local: pidfd, or ``Popen.poll`` fallback), when it
  is silent for ``heartbeat_liveness * heartbeat_interval_s``, when it sends DISCONNECT, or
  when a send to it fails with ``EHOSTUNREACH``.  Its in-flight tasks are re-queued at the
  head of the queue with ``attempt + 1``; a task whose attempts would exceed ``max_retries``
  fails its future with :class:`~tuner.errors.WorkerCrashed`.  A replacement is started.
* A result for a task already resolved (a late duplicate after a re-queue) is dropped: every
  future resolves exactly once.
* A malformed message (``wire.decode`` raises ProtocolError) is counted per peer, logged once
  per peer at warning level, and dropped.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import logging
import os
import subprocess
import threading
import time
import weakref
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import zmq

from kernels import LatencyHistogram
from tuner import security, transport, wire
from tuner.config import PoolConfig, parse_endpoint
from tuner.errors import ConfigError, ProtocolError, WorkerCrashed

from ._map import MapFeed
from .balancers import make_balancer
from .supervisor import Supervisor

__all__ = ["Broker", "PoolStats", "WorkerStats"]

log = logging.getLogger("tuner.pool")

_RECV_BURST = 256  # messages read per wake-up before the loop does other work
_LATENCY_FLUSH = 4096  # latencies buffered before one LatencyHistogram.record_many
QUEUED_WORK_S = 0.002
"""Work a worker is given to hold, in seconds of its measured run time per item: the window
in use is ``clamp(QUEUED_WORK_S / item time, INITIAL_WINDOW, window)``.  Long enough to
cover several transport round trips (so short tasks stream), short enough that long tasks
are not queued behind each other on one worker while another idles."""
INITIAL_WINDOW = 2
"""Window in use before a worker's first results say how long its tasks take."""
_MAX_START_FAILURES = 20  # consecutive worker deaths before any READY: stop restarting


@dataclass(frozen=True, slots=True)
class WorkerStats:
    """One live worker as the broker sees it (a frozen copy).

    ``outstanding`` counts items held (a map block counts its calls); ``credit`` is how many
    more it may be sent now; ``window`` is the window in use, adapted between
    ``INITIAL_WINDOW`` and the pool's ``prefetch`` to ``QUEUED_WORK_S`` of work at
    ``item_time_s``, the moving average of one item's run time in the worker (0 until its
    first result).
    """

    worker_id: bytes
    pid: int
    host: str
    slot: str
    local: bool
    tasks_done: int
    retries: int
    busy_s: float
    outstanding: int
    credit: int
    window: int
    item_time_s: float


@dataclass(frozen=True, slots=True)
class PoolStats:
    """A frozen snapshot of the pool, readable at any moment (``WorkerPool.stats()``).

    Attributes
    ----------
    workers : tuple of WorkerStats
        Live workers, in joining order.
    submitted, completed, failed, cancelled : int
        Tasks accepted by the broker; resolved with a value; resolved with an exception
        (raised in the task, or WorkerCrashed); cancelled before they were dispatched.
    retries : int
        Re-queues of a task after its worker died.
    queued, in_flight : int
        Tasks waiting for a worker; tasks held by workers.
    workers_started, worker_deaths : int
        Local processes started; workers (local or remote) presumed or seen dead.
    protocol_errors : int
        Malformed messages dropped, over all peers.
    unexpected_results : int
        Well-formed results for a task from a peer it was never sent to: dropped unread.
    latency_count : int
        Results recorded in the submit-to-result histogram.
    latency_p50_s, latency_p90_s, latency_p99_s : float
        Percentiles of submit-to-result latency (NaN before the first result).
    """

    workers: tuple[WorkerStats, ...]
    submitted: int
    completed: int
    failed: int
    cancelled: int
    retries: int
    queued: int
    in_flight: int
    workers_started: int
    worker_deaths: int
    protocol_errors: int
    unexpected_results: int
    latency_count: int
    latency_p50_s: float
    latency_p90_s: float
    latency_p99_s: float

    @property
    def tasks_done(self) -> int:
        """Tasks resolved by a worker (value or exception)."""
        return self.completed + self.failed


@dataclass(slots=True, eq=False)
class _TaskRec:
    """One task as the broker tracks it.

    ``future`` is a ``concurrent.futures.Future`` (``submit``), a
    :class:`~tuner.pool._map.MapSlot` (one map item) or a :class:`~tuner.pool._map.MapBlock`
    (``weight`` map items sent as one task); all three answer the calls the broker makes.
    Credits, balancer loads and the stats count items: a block counts ``weight``.
    """

    task_id: int
    key: Any
    payload: bytes
    future: Any
    function: str
    submitted_at: float
    attempt: int = 0
    weight: int = 1
    #: the map call this task was cut from, if any
    feed: Any = None
    started: bool = False
    resolved: bool = False
    #: identities of the workers this task was sent to: only they may settle it
    sent_to: list[bytes] = field(default_factory=list)


@dataclass(slots=True, eq=False)
class _Peer:
    wid: bytes
    pid: int
    host: str
    #: the granted window: most items this worker may hold (``prefetch``, or less if asked)
    window: int
    local: bool
    slot: str
    last_recv: float
    last_sent: float
    held: dict[int, _TaskRec] = field(default_factory=dict)
    done: int = 0
    retries: int = 0
    busy_ns: int = 0
    #: items held (a map block counts its calls)
    out: int = 0
    #: the window in use now, adapted to the task durations (see Broker._adapt)
    active: int = 1
    #: moving average of one item's run time in the worker, ns (0 = not known yet)
    item_ns: float = 0.0
    #: reserved to run suspects (tasks whose worker died) one at a time, alone
    isolating: bool = False


def _close_fds(*fds: int) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)


class Broker:
    """The broker thread of one pool (used by :class:`~tuner.pool.executor.WorkerPool`).

    Parameters
    ----------
    config : PoolConfig
        The pool's knobs.
    server_keys : tuner.security.ServerKeys, optional
        CURVE server keys; default: loaded from ``config.curve_keys_dir`` when it is set.
        With keys, the ROUTER is a CURVE server and a ZAP :class:`~tuner.security.Authenticator`
        admits only the worker keys in ``authorized/`` (unauthenticated peers are dropped by
        libzmq before any frame reaches the broker).  Without keys a non-loopback TCP bind is
        refused.
    """

    def __init__(self, config: PoolConfig, *, server_keys: Any = None) -> None:
        if server_keys is None and config.curve_keys_dir is not None:
            server_keys = security.load_server_keys(config.curve_keys_dir)
        if (
            server_keys is None
            and config.bind is not None
            and not parse_endpoint(config.bind).loopback
        ):
            raise ConfigError(
                f"bind={config.bind!r} is not loopback: CURVE keys are required",
                knob="bind",
                value=config.bind,
            )
        self.config = config
        self._ctx = zmq.Context()
        self._private: transport.PrivateEndpoint | None = None
        self._auth: security.Authenticator | None = None
        try:
            self._sock = transport.make_socket(self._ctx, zmq.ROUTER, router_mandatory=True)
            if server_keys is not None:
                self._auth = security.Authenticator(self._ctx, server_keys).start()
                security.configure_server(self._sock, server_keys)
            if config.bind is None:
                self._private = transport.PrivateEndpoint()
                endpoint = self._private.endpoint
            else:
                endpoint = config.bind
            self.address = transport.bind(self._sock, endpoint)
        except BaseException:
            self._close_sockets()
            raise
        self._balancer = make_balancer(config.balancer, **self._balancer_options())
        self._supervisor = Supervisor(self.address, keys_dir=config.curve_keys_dir)
        self._inbox: collections.deque[Any] = collections.deque()
        #: task ids, shared with the executor (next() on a count is atomic under the GIL)
        self.ids = itertools.count()
        #: map items per block the executor should make now: half the smallest window in
        #: use (read by caller threads: a plain int, replaced whole)
        self.block_hint = 1
        self._bell_r, self._bell_w = os.pipe()
        os.set_blocking(self._bell_r, False)
        os.set_blocking(self._bell_w, False)
        # Closed when the Broker is collected, not at teardown: a late post() from another
        # thread must never write into a file descriptor number reused by someone else.
        weakref.finalize(self, _close_fds, self._bell_r, self._bell_w)
        self._rung = False
        self._queue: collections.deque[_TaskRec] = collections.deque()
        #: map calls whose items wait to be cut into tasks (see _cut_feeds)
        self._feeds: collections.deque[MapFeed] = collections.deque()
        #: tasks that were held by a worker that died: each runs alone (see _isolate)
        self._suspects: collections.deque[_TaskRec] = collections.deque()
        #: keyed tasks waiting for their ring owner's credit, by owner (see _dispatch_queue)
        self._parked: dict[bytes, collections.deque[_TaskRec]] = {}
        self._tasks: dict[int, _TaskRec] = {}
        self._peers: dict[bytes, _Peer] = {}
        self._credit: dict[bytes, int] = {}
        self._pidfds: dict[int, int] = {}  # fd -> pid
        self._bad: dict[bytes, int] = {}
        self._hist = LatencyHistogram()
        self._latencies: list[float] = []  # recorded into _hist in batches
        self._counts = collections.Counter()
        self._stopping = False
        self._start_failures = 0
        self._ready_pids: set[int] = set()
        self._weights = list(config.worker_weights or ())
        self._poller = zmq.Poller()
        self._poller.register(self._sock, zmq.POLLIN)
        self._poller.register(self._bell_r, zmq.POLLIN)
        self._thread = threading.Thread(target=self._run, name="tuner-broker", daemon=True)
        self.error: BaseException | None = None

    def _balancer_options(self) -> dict[str, Any]:
        if self.config.balancer == "bounded_load_hash":
            return {"balance_factor": self.config.balance_factor}
        return {}

    # ------------------------------------------------------------------ caller side

    def start(self) -> None:
        """Start the broker thread (it starts the local workers)."""
        self._thread.start()

    def post(self, item: Any) -> None:
        """Hand a task record or a command to the broker thread; thread-safe."""
        self._inbox.append(item)
        if not self._rung:
            self._rung = True
            with contextlib.suppress(BlockingIOError, OSError):
                os.write(self._bell_w, b"\0")

    def request(self, command: str, *args: Any, timeout: float | None = 10.0) -> Any:
        """Run ``command`` on the broker thread and return its answer."""
        fut: Future[Any] = Future()
        self.post((command, fut, args))
        return fut.result(timeout)

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    @property
    def on_broker_thread(self) -> bool:
        """True when called from the broker thread (e.g. in a future's done-callback)."""
        return threading.current_thread() is self._thread

    # ------------------------------------------------------------------ the loop

    def _run(self) -> None:
        try:
            for _ in range(self.config.max_workers):
                self._spawn()
            self._warm_up()  # while the workers boot
            self._loop()
        except BaseException as exc:  # a bug: fail every future rather than hang callers
            self.error = exc
            log.exception("tuner pool broker stopped on an error")
            self._fail_all(exc)
        finally:
            self._teardown()

    def _warm_up(self) -> None:
        """Load the histogram's compiled kernels now, not on the 1,024th result."""
        scratch = LatencyHistogram()
        scratch.record_many([0.0])
        scratch.percentiles((50, 90, 99))

    def _loop(self) -> None:
        cfg = self.config
        interval = cfg.heartbeat_interval_s
        tick = interval / 4
        next_tick = time.monotonic() + tick
        while True:
            timeout_ms = max(0, int((next_tick - time.monotonic()) * 1000)) + 1
            events = dict(self._poller.poll(timeout_ms))
            if self._sock in events:
                self._receive()
            if self._bell_r in events:
                with contextlib.suppress(BlockingIOError):
                    os.read(self._bell_r, 4096)
            self._rung = False
            self._drain_inbox()
            for fd, pid in list(self._pidfds.items()):
                if fd in events:
                    self._process_exited(pid, fd)
            self._dispatch()
            now = time.monotonic()
            if now >= next_tick:
                next_tick = now + tick
                self._housekeeping(now)
            if self._stopping and not self._tasks and not self._feeds:
                return

    # ------------------------------------------------------------------ inbox

    def _drain_inbox(self) -> None:
        inbox = self._inbox
        while inbox:
            item = inbox.popleft()
            kind = type(item)
            if kind is _TaskRec:
                self._tasks[item.task_id] = item
                self._queue.append(item)
                self._counts["submitted"] += 1
            elif kind is MapFeed:  # a map call's items (or more of them)
                if item not in self._feeds:
                    self._feeds.append(item)
            else:
                command, fut, args = item
                try:
                    fut.set_result(getattr(self, f"_cmd_{command}")(*args))
                except BaseException as exc:
                    fut.set_exception(exc)

    def _cmd_stats(self) -> PoolStats:
        return self.snapshot()

    def _cmd_shutdown(self, cancel_futures: bool) -> None:
        self._stopping = True
        if cancel_futures:
            self._cmd_cancel_queued()

    def _cmd_cancel_queued(self) -> int:
        for owner in list(self._parked):
            self._queue.extend(self._parked.pop(owner))
        n = 0
        for rec in list(self._queue):
            if not rec.started and rec.future.cancel():
                self._forget(rec)
                self._counts["cancelled"] += rec.weight
                n += rec.weight
        self._queue = collections.deque(r for r in self._queue if not r.resolved)
        for feed in self._feeds:
            cancelled = feed.cancel_all()
            self._counts["cancelled"] += cancelled
            n += cancelled
        self._feeds.clear()
        return n

    def _cmd_kill_worker(self, pid: int) -> bool:  # used by tests and the tuner
        if pid in self._supervisor.procs:
            self._supervisor.kill(pid)
            return True
        return False

    # ------------------------------------------------------------------ dispatch

    def _dispatch(self) -> None:
        self._isolate()
        while True:
            self._dispatch_queue()
            if self._queue or not self._feeds or not self._cut_feeds():
                return

    def _cut_feeds(self) -> bool:
        """Queue map items from the feeds, as much as the workers' free credit takes, in
        blocks of half the smallest window in use; returns whether anything was queued."""
        free = sum(c for c in self._credit.values() if c > 0)
        if free <= 0:
            return False
        hint = self.block_hint
        feeds, queue, tasks, counts = self._feeds, self._queue, self._tasks, self._counts
        queued = False
        while free > 0 and feeds:
            feed = feeds[0]
            parts, cancelled, failed = feed.cut(min(hint, feed.block, free))
            counts["cancelled"] += cancelled
            counts["failed"] += failed
            counts["submitted"] += failed
            for payload, future, weight, submitted_at in parts:
                rec = _TaskRec(next(self.ids), None, payload, future, feed.name, submitted_at)
                rec.weight = weight
                rec.feed = feed
                rec.started = True
                tasks[rec.task_id] = rec
                queue.append(rec)
                counts["submitted"] += weight
                free -= weight
                queued = True
            if not feed.pending:
                feeds.popleft()
        return queued

    def _isolate(self) -> None:
        """Run suspects one at a time, each alone on a worker that holds nothing else.

        A worker that dies takes the blame for every task it held, though only one of them
        may have killed it.  Re-run together, an innocent task would share the blame again;
        run alone, a task that kills its worker is the only one charged with the attempt, and
        fails with WorkerCrashed after ``max_retries`` while the others complete.  One worker
        at a time is reserved: it gets no new work, drains, then runs the suspects.
        """
        peers = self._peers
        if not self._suspects:
            for peer in peers.values():
                if peer.isolating and peer.out == 0:
                    peer.isolating = False
                    self._credit[peer.wid] = self._free(peer)
            return
        reserved = [p for p in peers.values() if p.isolating]
        if not reserved and peers:
            peer = min(peers.values(), key=lambda p: p.out)
            peer.isolating = True
            self._credit[peer.wid] = 0
            reserved = [peer]
        for peer in reserved:
            while self._suspects and peer.out == 0:
                rec = self._suspects.popleft()
                if rec.resolved:
                    continue
                self._send_batch(peer.wid, [rec], rec.weight)
                break

    def _dispatch_queue(self) -> None:
        queue, credit, balancer = self._queue, self._credit, self._balancer
        batch_size = self.config.batch_size
        max_batch = wire.MAX_BATCH_TASKS
        parked = self._parked
        for owner in list(parked):  # owners with credit again (or gone): their tasks first
            if credit.get(owner, 0) > 0 or owner not in self._peers:
                queue.extendleft(reversed(parked.pop(owner)))
        while queue:
            head = queue[0]
            if head.resolved:
                queue.popleft()
                continue
            if not head.started and head.future.cancelled():
                queue.popleft()
                self._forget(head)
                self._counts["cancelled"] += head.weight
                continue
            if head.attempt > 0:  # its worker died: it runs alone (see _isolate)
                self._suspects.append(queue.popleft())
                continue
            wid = balancer.choose(head.key, credit)
            if wid is None:
                owner = balancer.preferred(head.key) if head.key is not None else None
                if owner is not None and owner in self._peers:
                    # Its owner has no credit: park it, so the tasks behind it go on.
                    parked.setdefault(owner, collections.deque()).append(queue.popleft())
                    continue
                return
            # Coalesce what is already queued: at least batch_size tasks when that many wait,
            # and more when the queue is deeper than the workers' fair shares, up to this
            # worker's credit.  Waiting tasks gain nothing from separate messages, and each
            # message costs the broker, the transport and the worker far more than a task.
            share = -(-len(queue) // len(credit)) if len(queue) > batch_size else batch_size
            # Counted in items (a map block weighs its calls); a block is never cut, so a
            # worker may hold up to one block minus one item beyond its window.
            room = min(max(batch_size, share), credit[wid], max_batch)
            batch: list[_TaskRec] = []
            taken = 0
            while queue and taken < room and len(batch) < max_batch:
                rec = queue[0]
                if batch and (rec.key is not None or rec.attempt > 0):
                    break  # a keyed task asks the balancer for its own worker; a suspect waits
                queue.popleft()
                if rec.resolved:
                    continue
                if not rec.started:
                    if not rec.future.set_running_or_notify_cancel():
                        self._forget(rec)
                        self._counts["cancelled"] += rec.weight
                        continue
                    rec.started = True
                batch.append(rec)
                taken += rec.weight
            if batch:
                self._send_batch(wid, batch, taken)

    def _send_batch(self, wid: bytes, batch: list[_TaskRec], items: int) -> None:
        frames = wire.encode_tasks([(r.task_id, r.attempt, r.payload) for r in batch])
        try:
            self._sock.send_multipart([wid, *frames])
        except zmq.ZMQError as exc:
            self._queue.extendleft(reversed(batch))
            self._worker_dead(wid, f"send failed: {exc.strerror}")
            return
        peer = self._peers[wid]
        peer.last_sent = time.monotonic()
        held = peer.held
        for rec in batch:
            held[rec.task_id] = rec
            rec.sent_to.append(wid)
        self._balancer.on_sent(wid, items)
        peer.out += items
        self._credit[wid] = self._free(peer)

    # ------------------------------------------------------------------ receive

    def _receive(self) -> None:
        sock = self._sock
        max_bytes = self.config.max_message_bytes
        for _ in range(_RECV_BURST):
            # EVENTS first: a NOBLOCK receive on an empty socket raises, which is slow.
            if not sock.getsockopt(zmq.EVENTS) & zmq.POLLIN:
                return
            frames = sock.recv_multipart()
            wid = frames[0]
            try:
                msg = wire.decode(frames[1:], max_message_bytes=max_bytes, accept=wire.FROM_WORKER)
            except ProtocolError as exc:
                self._bad_message(wid, exc)
                continue
            peer = self._peers.get(wid)
            kind = type(msg)
            if peer is not None:
                peer.last_recv = time.monotonic()
            if kind is wire.Results:
                self._on_results(wid, peer, msg)
            elif kind is wire.Ready:
                self._on_ready(wid, msg)
            elif kind is wire.Disconnect:
                if peer is not None:
                    self._worker_dead(wid, f"worker left: {msg.reason}")
            elif peer is None:  # a heartbeat from a worker we declared dead: tell it to go
                self._send(wid, wire.Disconnect("unknown worker: send READY"))

    def _bad_message(self, wid: bytes, exc: ProtocolError) -> None:
        self._counts["protocol_errors"] += 1
        count = self._bad.get(wid, 0) + 1
        self._bad[wid] = count
        if count == 1:
            log.warning(
                "tuner pool: dropping malformed message from peer %s: %s (further messages "
                "from this peer are counted, not logged)",
                wid.hex(),
                exc.reason,
            )

    def _send(self, wid: bytes, msg: wire.Message) -> bool:
        try:
            self._sock.send_multipart([wid, *wire.encode(msg)])
        except zmq.ZMQError:
            return False
        peer = self._peers.get(wid)
        if peer is not None:
            peer.last_sent = time.monotonic()
        return True

    def _on_ready(self, wid: bytes, msg: wire.Ready) -> None:
        if wid in self._peers:
            self._worker_dead(wid, "sent READY again")
        if self._stopping and not self._tasks and not self._feeds:
            self._send(wid, wire.Disconnect("pool is shutting down"))
            return
        cfg = self.config
        local = msg.pid in self._supervisor.procs
        window = min(msg.credit, cfg.prefetch)
        active = min(window, INITIAL_WINDOW)
        weight = 1.0
        if self._weights and local:
            weight = self._weights[len(self._peers) % len(self._weights)]
        now = time.monotonic()
        slot = self._balancer.add_worker(wid, weight)
        peer = _Peer(wid, msg.pid, msg.host, window, local, slot, now, now, active=active)
        self._peers[wid] = peer
        self._credit[wid] = active
        self._start_failures = 0
        if local:
            self._ready_pids.add(msg.pid)
        welcome = wire.Welcome(
            credit=window,
            heartbeat_interval_s=float(cfg.heartbeat_interval_s),
            heartbeat_liveness=cfg.heartbeat_liveness,
            max_message_bytes=cfg.max_message_bytes,
            serializer=cfg.serializer,
        )
        if not self._send(wid, welcome):
            self._worker_dead(wid, "WELCOME could not be sent")

    def _on_results(self, wid: bytes, peer: _Peer | None, msg: wire.Results) -> None:
        """Settle futures from a RESULTS message.

        Only a worker the task was actually sent to may settle it: a late result from a
        worker declared dead is used once, but a peer that never held the task (a stray or
        forged message) is counted under ``unexpected_results``, never unpickled, and an
        unknown peer is told to go.
        """
        serializer = self.config.serializer
        now = time.perf_counter()
        stray = False
        latencies: list[float] = []
        completed = failed = 0
        held = peer.held if peer is not None else None
        tasks = self._tasks
        returned = busy = 0
        for res in msg.results:
            if held is not None:
                mine = held.pop(res.task_id, None)
                if mine is not None:
                    returned += mine.weight
                    busy += res.busy_ns
            rec = tasks.get(res.task_id)
            if rec is not None and wid not in rec.sent_to:
                self._counts["unexpected_results"] += 1
                stray = True
                continue
            if rec is None or rec.resolved:
                self._counts["duplicates"] += 1
                continue
            ok, value = wire.unpack_result(res.status, res.payload, serializer)
            rec.resolved = True
            del tasks[rec.task_id]
            weight = rec.weight
            latency = now - rec.submitted_at
            if weight == 1:
                latencies.append(latency)
            else:
                latencies.extend([latency] * weight)
            if rec.feed is not None:
                rec.feed.grow()
            if ok:
                bad = rec.future.set_result(value) or 0  # a MapBlock returns its failed calls
                completed += weight - bad
                failed += bad
            else:
                rec.future.set_exception(value)
                failed += weight
        if returned:
            self._returned(peer, returned, busy)  # type: ignore[arg-type]
        counts = self._counts
        counts["completed"] += completed
        counts["failed"] += failed
        if latencies:
            pending = self._latencies
            pending.extend(latencies)
            if len(pending) >= _LATENCY_FLUSH:
                self._flush_latencies()
        if stray and peer is None:
            self._send(wid, wire.Disconnect("unknown worker: send READY"))

    def _returned(self, peer: _Peer, items: int, busy_ns: int) -> None:
        """``items`` held by ``peer`` came back after ``busy_ns`` of work: free their credit
        and adapt the peer's window to how long its items take."""
        self._balancer.on_done(peer.wid, items)
        peer.done += items
        peer.busy_ns += busy_ns
        peer.out -= items
        sample = busy_ns / items
        peer.item_ns = sample if peer.item_ns == 0.0 else 0.7 * peer.item_ns + 0.3 * sample
        want = int(QUEUED_WORK_S * 1e9 / max(peer.item_ns, 1.0))
        peer.active = max(min(INITIAL_WINDOW, peer.window), min(want, peer.window))
        self._credit[peer.wid] = self._free(peer)
        self.block_hint = max(1, min(p.active for p in self._peers.values()) // 2)

    @staticmethod
    def _free(peer: _Peer) -> int:
        """Credit of ``peer``: room in its window, none while it is reserved for suspects."""
        return 0 if peer.isolating else peer.active - peer.out

    def _flush_latencies(self) -> None:
        # One kernel call per many results: a call costs microseconds, a value nanoseconds.
        if self._latencies:
            self._hist.record_many(self._latencies)
            self._latencies = []

    def _forget(self, rec: _TaskRec) -> None:
        rec.resolved = True
        self._tasks.pop(rec.task_id, None)

    # ------------------------------------------------------------------ liveness

    def _housekeeping(self, now: float) -> None:
        self._flush_latencies()
        cfg = self.config
        interval = cfg.heartbeat_interval_s
        silence = interval * cfg.heartbeat_liveness
        for wid, peer in list(self._peers.items()):
            if now - peer.last_recv > silence:
                self._worker_dead(wid, "silent for heartbeat_liveness intervals")
            elif now - peer.last_sent >= interval and not self._send(wid, wire.Heartbeat()):
                self._worker_dead(wid, "heartbeat could not be sent")
        if not self._pidfds:  # no pidfd support: poll the processes
            for pid in list(self._supervisor.procs):
                if self._supervisor.procs[pid].poll() is not None:
                    self._process_exited(pid, None)

    def _process_exited(self, pid: int, fd: int | None) -> None:
        if fd is not None:
            self._pidfds.pop(fd, None)
            self._poller.unregister(fd)
            os.close(fd)
        proc = self._supervisor.procs.get(pid)
        if proc is not None:
            try:
                proc.wait(1.0)
            except subprocess.TimeoutExpired:  # pragma: no cover - pidfd said it exited
                proc.kill()
                proc.wait()
            self._supervisor.reap(pid)
        for wid, peer in list(self._peers.items()):
            if peer.local and peer.pid == pid:
                self._worker_dead(wid, f"process {pid} exited ({proc and proc.returncode})")
                break
        if pid not in self._ready_pids:  # died before it said READY
            self._start_failures += 1
            self._counts["worker_deaths"] += 1
        self._ready_pids.discard(pid)
        if not self._stopping or self._tasks or self._feeds:  # replace it while work remains
            if self._start_failures > _MAX_START_FAILURES:
                log.error("tuner pool: workers keep dying before READY; giving up")
                self.error = RuntimeError(
                    f"{self._start_failures} worker processes in a row died before READY"
                )
                for rec in list(self._tasks.values()):
                    self._resolve_error(rec, WorkerCrashed(rec.task_id, rec.function, 0))
                self._queue.clear()
                self._suspects.clear()
                self._parked.clear()
                self._fail_feeds(self.error)
                self._stopping = True
                return
            self._spawn()

    def _worker_dead(self, wid: bytes, reason: str) -> None:
        peer = self._peers.pop(wid, None)
        if peer is None:
            return
        log.info("tuner pool: worker %s (pid %d) is gone: %s", wid.hex(), peer.pid, reason)
        self._counts["worker_deaths"] += 1
        self._balancer.remove_worker(wid)
        self._credit.pop(wid, None)
        requeue: list[_TaskRec] = []
        max_retries = self.config.max_retries
        for rec in peer.held.values():
            if rec.resolved:
                continue
            rec.attempt += 1
            if rec.attempt > max_retries:
                self._forget(rec)
                rec.future.set_exception(WorkerCrashed(rec.task_id, rec.function, rec.attempt))
                self._counts["failed"] += rec.weight
            else:
                parts = self._split(rec) if rec.weight > 1 else [rec]
                requeue.extend(parts)
                peer.retries += len(parts)
                self._counts["retries"] += len(parts)
        self._suspects.extend(requeue)
        if peer.local and peer.pid in self._supervisor.procs:
            self._send(wid, wire.Disconnect(reason[:200]))
            self._supervisor.kill(peer.pid)  # its pidfd fires; the replacement starts then

    def _split(self, rec: _TaskRec) -> list[_TaskRec]:
        """Re-queue a map block whose worker died as one task per call: an item that kills
        its worker then fails alone, after its own retries."""
        self._forget(rec)
        parts: list[_TaskRec] = []
        for payload, slot, error in rec.future.split():
            if payload is None:
                slot.set_exception(error)
                self._counts["failed"] += 1
                continue
            part = _TaskRec(
                next(self.ids), None, payload, slot, rec.function, rec.submitted_at, rec.attempt
            )
            part.started = True
            self._tasks[part.task_id] = part
            parts.append(part)
        return parts

    def _spawn(self) -> None:
        proc = self._supervisor.spawn()
        try:
            fd = os.pidfd_open(proc.pid)
        except (AttributeError, OSError):
            return  # housekeeping polls the process instead
        self._pidfds[fd] = proc.pid
        self._poller.register(fd, zmq.POLLIN)

    # ------------------------------------------------------------------ stats, teardown

    def snapshot(self) -> PoolStats:
        """Build the stats record (call on the broker thread, or after it ended)."""
        workers = tuple(
            WorkerStats(
                worker_id=p.wid,
                pid=p.pid,
                host=p.host,
                slot=p.slot,
                local=p.local,
                tasks_done=p.done,
                retries=p.retries,
                busy_s=p.busy_ns / 1e9,
                outstanding=sum(r.weight for r in p.held.values()),
                credit=self._credit.get(p.wid, 0),
                window=p.active,
                item_time_s=p.item_ns / 1e9,
            )
            for p in self._peers.values()
        )
        self._flush_latencies()
        c = self._counts
        hist = self._hist
        p50, p90, p99 = (float(x) for x in hist.percentiles((50, 90, 99)))
        return PoolStats(
            workers=workers,
            submitted=c["submitted"],
            completed=c["completed"],
            failed=c["failed"],
            cancelled=c["cancelled"],
            retries=c["retries"],
            queued=sum(r.weight for r in self._queue if not r.resolved)
            + sum(len(f.pending) for f in self._feeds)
            + sum(r.weight for r in self._suspects if not r.resolved)
            + sum(r.weight for q in self._parked.values() for r in q if not r.resolved),
            in_flight=sum(r.weight for p in self._peers.values() for r in p.held.values()),
            workers_started=self._supervisor.started,
            worker_deaths=c["worker_deaths"],
            protocol_errors=c["protocol_errors"],
            unexpected_results=c["unexpected_results"],
            latency_count=int(hist.count),
            latency_p50_s=p50,
            latency_p90_s=p90,
            latency_p99_s=p99,
        )

    def _resolve_error(self, rec: _TaskRec, exc: BaseException) -> None:
        self._forget(rec)
        if rec.started or rec.future.set_running_or_notify_cancel():
            rec.future.set_exception(exc)
            self._counts["failed"] += rec.weight

    def _fail_all(self, exc: BaseException) -> None:
        self._drain_inbox_quietly()
        for rec in list(self._tasks.values()):
            self._resolve_error(rec, exc)
        self._queue.clear()
        self._suspects.clear()
        self._parked.clear()
        self._fail_feeds(exc)
        self._stopping = True

    def _fail_feeds(self, exc: BaseException) -> None:
        for feed in self._feeds:
            self._counts["failed"] += feed.fail_all(exc)
        self._feeds.clear()

    def _drain_inbox_quietly(self) -> None:
        with contextlib.suppress(Exception):  # teardown must go on
            self._drain_inbox()

    def _teardown(self) -> None:
        self._stopping = True
        for wid in list(self._peers):
            self._send(wid, wire.Disconnect("pool shut down"))
        try:
            self._supervisor.stop_all()
        finally:
            for fd in list(self._pidfds):
                os.close(fd)
            self._pidfds.clear()
            self._drain_inbox_quietly()
            err = self.error or RuntimeError("the pool was shut down")
            for rec in list(self._tasks.values()):  # only after a broker error
                self._resolve_error(rec, err)
            self._fail_feeds(err)
            self._close_sockets()

    def _close_sockets(self) -> None:
        sock = getattr(self, "_sock", None)
        if sock is not None:
            sock.close(0)
        if self._auth is not None:  # after the CURVE socket closed, before term()
            self._auth.stop()
        self._ctx.term()
        if self._private is not None:
            self._private.close()

    def __repr__(self) -> str:
        return (
            f"<Broker {self.address} {self.config.balancer}: {len(self._peers)} workers, "
            f"{len(self._queue)} queued, {len(self._tasks)} unresolved>"
        )
