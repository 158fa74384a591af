"""The worker process: ``python -m tuner worker --connect ENDPOINT [--keys DIR]``.

One DEALER socket, two threads, one lock that says which thread may touch the socket::

    broker ROUTER <====> DEALER
                           |  socket lock held by ...
                           +-- runner (main thread): poll, receive TASKS, send RESULTS and
                           |   idle heartbeats; it RELEASES the lock while a task runs
                           +-- watchdog thread: takes the lock only while a task runs, to send
                               heartbeats and queue incoming messages, so a long task never
                               makes the worker look dead

The common path (receive a task, run it, send its result) stays on one thread: no hand-off
between threads per task.  ZeroMQ sockets are not thread-safe, but may move between threads
across a full memory barrier; the lock is that barrier, and only its holder uses the socket.

Protocol: READY, wait for WELCOME (heartbeat interval, liveness, message bound, serializer),
then serve.  Results are coalesced while more tasks are queued locally and sent when the local
queue is empty (or 64 results or an interval passed).  When nothing was sent for an interval
a HEARTBEAT goes out; when nothing was received for ``liveness`` intervals the broker is
presumed dead.  DISCONNECT ends the worker (status 0); a reconnecting worker first says
READY once more on a fresh socket (see below).

Reconnecting (Paranoid Pirate): a remote worker that lost its broker, or got no WELCOME within
``liveness`` intervals, closes its socket (linger 0), waits :func:`tuner.wire.reconnect_delay_s`
(1 s doubling to 32 s) and starts a new *session* on a fresh DEALER socket: READY, WELCOME,
serve.  A new socket is a new identity to the broker, which re-queued this worker's tasks when
it declared the old one dead; so the tasks not started and the results not sent are dropped,
and a task still running finishes and its result is dropped too.  It stops trying after
``--give-up-after`` seconds without a broker (status 3, or 4 if no broker ever answered).
libzmq reconnects a session's socket by itself, so a broker restarted on the same endpoint may
hear from an old socket and answer DISCONNECT (unknown identity): that is why DISCONNECT is
answered with one more READY, and ends the worker only when no WELCOME comes back.
Workers started by a pool run with ``--local``: they never reconnect (their pool is gone), and
they exit when their parent process dies (``os.getppid()`` changes; checked with each heartbeat).

With ``--keys DIR`` the socket is a CURVE client (``worker.key_secret`` and ``broker.key``
from DIR, see :mod:`tuner.security`).
"""

from __future__ import annotations

import argparse
import collections
import math
import os
import platform
import socket
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

import zmq

from tuner import payloads, security, transport, wire
from tuner.errors import (
    AuthError,
    ConfigError,
    ProtocolError,
    SerializationError,
    TransportError,
)

__all__ = [
    "DEFAULT_GIVE_UP_AFTER_S",
    "EXIT_BROKER_LOST",
    "EXIT_NO_WELCOME",
    "Worker",
    "main",
]

EXIT_NO_WELCOME = 4
"""Exit status when no broker ever answered READY (within the give-up bound)."""

EXIT_BROKER_LOST = 3
"""Exit status when the broker was lost and did not come back within the give-up bound."""

FLUSH_AFTER_BUSY_NS = 1_000_000
"""Results holding this much work (1 ms) are sent without waiting for the local queue to
empty: a message costs tens of microseconds, small against a millisecond of work."""

WELCOME_TIMEOUT_S = 30.0
"""How long a worker that does not reconnect waits for its one WELCOME."""

DEFAULT_GIVE_UP_AFTER_S = 300.0
"""``--give-up-after`` default: how long a remote worker keeps reconnecting without a broker."""

_PAYLOAD_SLACK = wire.MAX_HEADER_BYTES  # room kept for the header in a RESULTS message


def _give_up_seconds(value: Any) -> float:
    """``value`` as a give-up bound in seconds: a finite number >= 0 (0 = never reconnect)."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds >= 0):
        raise ConfigError(
            f"give_up_after_s must be a finite number of seconds >= 0, got {value!r}",
            knob="give_up_after_s",
            value=value,
            valid="0 <= seconds < inf",
        )
    return seconds


def _version() -> str:
    try:
        import tuner

        return str(getattr(tuner, "__version__", ""))
    except Exception:  # pragma: no cover - tuner is importable if we are
        return ""


def _run_block(fn: Any, calls: list[tuple[Any, ...]], serializer: str) -> bytes:
    outcomes: list[tuple[bool, Any]] = []
    append = outcomes.append
    for args in calls:
        try:
            append((True, fn(*args)))
        except BaseException as exc:  # each call of a block fails on its own
            append((False, exc))
    return payloads.pack_outcomes(outcomes, serializer)


class Worker:
    """One worker's state and loop (used by :func:`main`).

    Parameters
    ----------
    endpoint : str
        The broker's endpoint.
    credit : int
        Tasks this worker asks to hold (the broker grants at most its ``prefetch``).
    keys : optional
        CURVE client keys (:func:`tuner.security.load_client_keys`); None = plain socket.
    give_up_after_s : float
        How long to keep reconnecting after the broker was lost (or before any broker
        answered); 0 = never reconnect: one session, as a pool's own worker must.
    parent_pid : int, optional
        Exit when the parent process is no longer this one (a pool's own worker whose pool
        died); checked with each heartbeat.  None = do not watch the parent.
    """

    def __init__(
        self,
        endpoint: str,
        credit: int = wire.MAX_CREDIT,
        *,
        keys: Any = None,
        give_up_after_s: float = 0.0,
        parent_pid: int | None = None,
    ) -> None:
        self.give_up_after_s = _give_up_seconds(give_up_after_s)
        self.endpoint = endpoint
        self.keys = keys
        self.credit = credit
        self.parent_pid = parent_pid
        self._session_over = threading.Event()  # set when a session's serving has ended
        self._pending: collections.deque[wire.Task] = collections.deque()
        self._results: list[wire.Result] = []
        self._lock = threading.Lock()  # whoever holds it may use the socket
        self._stop = threading.Event()
        self._exit_code: int | None = None
        self._serializer = "cloudpickle"
        self._max_bytes = wire.DEFAULT_MAX_MESSAGE_BYTES
        self._interval = wire.HEARTBEAT_INTERVAL_S
        self._silence = wire.HEARTBEAT_INTERVAL_S * wire.HEARTBEAT_LIVENESS
        self._last_recv = self._last_sent = time.monotonic()
        self._heartbeat = wire.encode(wire.Heartbeat())
        self._functions = payloads.FunctionCache()  # functions packed once per map()
        self._flush = False  # send results now, without waiting for the local queue to empty

    # -------------------------------------------------------------- running one task

    def _run_one(self, task: wire.Task) -> wire.Result:
        start = time.perf_counter_ns()
        serializer = self._serializer
        error = wire.Status.ERROR
        try:
            fn, args, kwargs = payloads.loads_task(task.payload, serializer, self._functions)
        except SerializationError as exc:
            status, payload = error, payloads.pack_exception(exc, serializer)
        else:
            if kwargs is None:  # a block of map items: one outcome per call
                status, payload = wire.Status.OK, _run_block(fn, args, serializer)
                self._flush = True  # a block is worth a message: its credit goes back now
            else:
                try:
                    value = fn(*args, **kwargs)
                except BaseException as exc:  # SystemExit too: every task failure goes home
                    status, payload = error, payloads.pack_exception(exc, serializer)
                else:
                    status, payload = wire.pack_result(value, serializer)
                    del value
        if len(payload) > self._max_bytes - _PAYLOAD_SLACK:
            exc2 = SerializationError(
                f"the result of task {task.task_id} is {len(payload)} bytes, more than "
                f"max_message_bytes={self._max_bytes} allows"
            )
            status = wire.Status.UNPICKLABLE_RESULT
            payload = payloads.pack_exception(exc2, serializer)
        busy = time.perf_counter_ns() - start
        return wire.Result(task.task_id, task.attempt, status, busy, payload)

    # -------------------------------------------------------------- socket work (lock held)

    def _handle(self, frames: list[bytes]) -> None:
        self._last_recv = time.monotonic()
        try:
            msg = wire.decode(frames, max_message_bytes=self._max_bytes, accept=wire.FROM_BROKER)
        except ProtocolError:
            return  # a bad message from the broker is dropped, never fatal
        kind = type(msg)
        if kind is wire.Tasks:
            self._pending.extend(msg.tasks)
        elif kind is wire.Disconnect:
            self._finish(0)

    def _finish(self, code: int) -> None:
        if self._exit_code is None:
            self._exit_code = code
        self._stop.set()

    def _receive_ready(self, sock: zmq.Socket) -> None:
        """Read what a poll said is there: the first message without asking ZMQ_EVENTS."""
        try:
            self._handle(sock.recv_multipart(zmq.NOBLOCK))
        except zmq.Again:
            return
        self._drain(sock)

    def _drain(self, sock: zmq.Socket) -> None:
        # EVENTS first: a NOBLOCK receive on an empty socket raises, which costs ~20 µs.
        for _ in range(1000):
            if not sock.getsockopt(zmq.EVENTS) & zmq.POLLIN:
                return
            self._handle(sock.recv_multipart())

    def _send_results(self, sock: zmq.Socket) -> None:
        results, self._results = self._results, []
        budget = self._max_bytes - _PAYLOAD_SLACK
        i = 0
        while i < len(results):
            size, j = 0, i
            while j < len(results) and j - i < wire.MAX_BATCH_TASKS:
                if j > i and size + len(results[j].payload) > budget:
                    break
                size += len(results[j].payload)
                j += 1
            sock.send_multipart(wire.encode(wire.Results(tuple(results[i:j]))))
            i = j
        self._last_sent = time.monotonic()

    def _keepalive(self, sock: zmq.Socket, now: float) -> None:
        if self._exit_code is not None:
            return  # this session is ending: nothing more to say or to detect
        if now - self._last_sent >= self._interval:
            sock.send_multipart(self._heartbeat)
            self._last_sent = now
            # Once per heartbeat, not per task: getppid is a system call.
            if self.parent_pid is not None and os.getppid() != self.parent_pid:
                print(
                    f"tuner worker: parent process {self.parent_pid} is gone, exiting",
                    file=sys.stderr,
                )
                self._finish(EXIT_BROKER_LOST)
                return
        if now - self._last_recv > self._silence:
            print(f"tuner worker: broker silent for {self._silence:g} s", file=sys.stderr)
            self._finish(EXIT_BROKER_LOST)

    # -------------------------------------------------------------- the two threads

    def _watchdog(self, sock: zmq.Socket) -> None:
        """While a task runs (the runner released the lock), keep the connection alive.

        When the broker is lost while a task runs, a worker that does not reconnect exits at
        once (the task may never return, and its pool is gone).  A reconnecting worker lets
        the task finish (the runner then ends the session; the result is dropped with the
        socket) but exits if the task outlasts ``give_up_after_s``.
        """
        while not self._stop.wait(self._interval / 4):
            if not self._lock.acquire(blocking=False):
                continue  # the runner is doing I/O itself
            try:
                if self._stop.is_set():
                    return
                self._drain(sock)
                self._keepalive(sock, time.monotonic())
                if self._exit_code == EXIT_BROKER_LOST and not self.give_up_after_s:
                    os._exit(EXIT_BROKER_LOST)  # a task is running and may never return
            finally:
                self._lock.release()
        give_up = min(self.give_up_after_s, threading.TIMEOUT_MAX)
        if give_up and self._exit_code == EXIT_BROKER_LOST and not self._session_over.wait(give_up):
            print(
                f"tuner worker: broker lost and a task still running after "
                f"{self.give_up_after_s:g} s, exiting",
                file=sys.stderr,
            )
            os._exit(EXIT_BROKER_LOST)

    def _serve(self, sock: zmq.Socket) -> int:
        lock, pending, results = self._lock, self._pending, self._results
        first_unsent = 0.0
        unsent_busy_ns = 0
        lock.acquire()
        try:
            while not self._stop.is_set():
                if not pending:
                    if self._results:
                        self._flush = False
                        self._send_results(sock)
                    now = time.monotonic()
                    timeout_ms = max(1, int((self._last_sent + self._interval - now) * 1000))
                    if sock.poll(timeout_ms):
                        self._receive_ready(sock)
                    self._keepalive(sock, time.monotonic())
                    continue
                task = pending.popleft()
                lock.release()
                try:
                    result = self._run_one(task)
                finally:
                    lock.acquire()
                results = self._results
                now = time.monotonic()
                if not results:
                    first_unsent = now
                    unsent_busy_ns = 0
                results.append(result)
                unsent_busy_ns += result.busy_ns
                # Socket work only between batches: reading ZMQ_EVENTS costs a system call
                # (~10 µs here), more than a small task.  With nothing queued, the loop's
                # head sends the results and polls.  But results that took real work go
                # back at once: their credit lets the broker send more while the next task
                # runs (a short window would otherwise idle a round trip per window).  While
                # a task runs, the watchdog keeps the connection alive.
                if not pending:
                    continue
                if (
                    self._flush
                    or unsent_busy_ns >= FLUSH_AFTER_BUSY_NS
                    or len(results) >= 64
                    or now - first_unsent >= self._interval / 4
                ):
                    self._flush = False
                    self._drain(sock)
                    self._send_results(sock)
                    self._keepalive(sock, now)
            if self._results:
                self._send_results(sock)
        finally:
            lock.release()
        return self._exit_code or 0

    def run(self) -> int:
        """Serve until DISCONNECT, or until no broker answered for ``give_up_after_s``.

        Each session has a fresh DEALER socket: connect, READY, wait for WELCOME, serve.  A
        session that ends because the broker went silent, or that got no WELCOME within
        ``liveness`` intervals (30 s when not reconnecting), is followed, when reconnecting,
        by a pause of :func:`tuner.wire.reconnect_delay_s` (``failures`` counts sessions
        without a WELCOME since the last one) and a new session; the last session starts at
        most ``give_up_after_s`` after the broker was lost (or after start, if no broker ever
        answered).  A session ended by DISCONNECT is followed at once by one more session,
        and the worker returns 0 if that one gets no WELCOME.

        Returns
        -------
        int
            The exit status; see :func:`main`.
        """
        ctx = zmq.Context()
        try:
            return self._run_sessions(ctx)
        except (TransportError, AuthError) as exc:
            print(f"tuner worker: {exc}", file=sys.stderr)
            return 1
        finally:
            ctx.term()  # every session closed its socket

    def _run_sessions(self, ctx: zmq.Context) -> int:
        give_up = self.give_up_after_s
        welcomed_ever = False
        failures = 0  # sessions without a WELCOME since the last WELCOME
        lost_at = time.monotonic()  # since when this worker has had no broker
        told_to_go = False  # the last broker sent DISCONNECT
        while True:
            welcome_wait_s = self._silence if give_up else WELCOME_TIMEOUT_S
            welcomed, code = self._session(ctx, welcome_wait_s)
            if not give_up or code not in (0, EXIT_BROKER_LOST, EXIT_NO_WELCOME):
                return code
            if welcomed:
                welcomed_ever, failures, lost_at = True, 0, time.monotonic()
                told_to_go = code == 0
                if told_to_go:
                    # DISCONNECT: the pool is shutting down, or this broker does not know the
                    # socket (it restarted on the same endpoint and libzmq reconnected the old
                    # socket to it, under a new identity).  Say READY once more, at once, on
                    # a fresh socket: a broker that is still there welcomes this worker.
                    print(
                        f"tuner worker: DISCONNECT from {self.endpoint}; saying READY once more",
                        file=sys.stderr,
                    )
                    continue
            elif told_to_go:
                return 0  # no WELCOME after DISCONNECT: the pool really went away
            left = give_up - (time.monotonic() - lost_at)
            if left <= 0:
                print(
                    f"tuner worker: no broker at {self.endpoint} for {give_up:g} s, giving up",
                    file=sys.stderr,
                )
                return EXIT_BROKER_LOST if welcomed_ever else EXIT_NO_WELCOME
            delay = min(wire.reconnect_delay_s(failures), left)
            failures += 1
            print(
                f"tuner worker: no broker at {self.endpoint}; reconnecting in {delay:.3g} s",
                file=sys.stderr,
            )
            time.sleep(delay)

    def _session(self, ctx: zmq.Context, welcome_wait_s: float) -> tuple[bool, int]:
        """One connection on a fresh socket; returns (whether WELCOME came, exit status).

        What an earlier session left is dropped first: tasks not started and results not
        sent belong to a socket identity the broker has forgotten (it re-queued those tasks
        when it declared that identity dead, and ignores results from a peer it did not send
        the task to).
        """
        self._pending.clear()
        self._results = []
        self._exit_code = None
        self._stop.clear()  # the previous session's watchdog has been joined
        self._session_over = threading.Event()
        sock = transport.make_socket(ctx, zmq.DEALER)
        watchdog: threading.Thread | None = None
        try:
            if self.keys is not None:
                security.configure_client(sock, self.keys)
            transport.connect(sock, self.endpoint)
            ready = wire.Ready(
                pid=os.getpid(),
                host=socket.gethostname() or "localhost",
                worker_version=_version(),
                python_version=platform.python_version(),
                credit=self.credit,
            )
            with transport.translated("cannot send READY"):
                sock.send_multipart(wire.encode(ready))
            welcome = self._await_welcome(sock, welcome_wait_s)
            if welcome is None:
                return False, EXIT_NO_WELCOME
            self._serializer = welcome.serializer
            self._max_bytes = welcome.max_message_bytes
            self._interval = welcome.heartbeat_interval_s
            self._silence = welcome.heartbeat_interval_s * welcome.heartbeat_liveness
            self._last_recv = self._last_sent = time.monotonic()
            watchdog = threading.Thread(
                target=self._watchdog, args=(sock,), name="tuner-watchdog", daemon=True
            )
            watchdog.start()
            return True, self._serve(sock)
        finally:
            self._stop.set()
            self._session_over.set()
            if watchdog is not None:
                watchdog.join()
            sock.close(0)  # linger 0: whatever was queued for the lost broker is dropped

    def _await_welcome(self, sock: zmq.Socket, timeout_s: float) -> wire.Welcome | None:
        """WELCOME within ``timeout_s``; None on timeout or DISCONNECT (other messages skipped)."""
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            if not sock.poll(int(left * 1000) + 1):
                continue
            try:
                msg = wire.decode(
                    sock.recv_multipart(),
                    max_message_bytes=wire.MAX_MESSAGE_BYTES,
                    accept=wire.FROM_BROKER,
                )
            except ProtocolError:
                continue
            if type(msg) is wire.Welcome:
                return msg
            if type(msg) is wire.Disconnect:
                return None


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tuner worker",
        description="Run one worker process serving a tuner WorkerPool.",
    )
    parser.add_argument(
        "--connect",
        required=True,
        metavar="ENDPOINT",
        help="the pool's endpoint (tcp://HOST:PORT or ipc://PATH)",
    )
    parser.add_argument(
        "--keys",
        metavar="DIR",
        default=None,
        help="directory of CURVE keys (required for non-loopback TCP)",
    )
    lifetime = parser.add_mutually_exclusive_group()
    lifetime.add_argument(
        "--give-up-after",
        metavar="SECONDS",
        type=_give_up_arg,
        default=DEFAULT_GIVE_UP_AFTER_S,
        help=(
            "keep reconnecting (backoff 1 s doubling to 32 s) for this long after the broker "
            f"was lost or while none answers (default: {DEFAULT_GIVE_UP_AFTER_S:g}; "
            "0 = never reconnect)"
        ),
    )
    lifetime.add_argument(
        "--local",
        action="store_true",
        help=(
            "a worker started by its pool: never reconnect, and exit when the parent "
            "process dies (used by the pool's supervisor)"
        ),
    )
    return parser


def _give_up_arg(text: str) -> float:
    try:
        return _give_up_seconds(text)
    except ConfigError:
        raise argparse.ArgumentTypeError(
            f"must be a finite number of seconds >= 0, got {text!r}"
        ) from None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m tuner worker``; returns the exit status.

    Exit statuses:

    * 0: the broker sent DISCONNECT (its pool shut down, or it told this worker to go); a
      reconnecting worker first says READY once more and exits if no WELCOME comes back.
    * 1: a transport error (e.g. an endpoint that cannot be connected to).
    * 2: bad usage: unknown or invalid options, unreadable keys.
    * 3: the broker was lost (silent for ``liveness`` heartbeat intervals) and none answered
      again within ``--give-up-after`` seconds (at once with ``--give-up-after 0`` or
      ``--local``); also a ``--local`` worker whose parent process died.
    * 4: no broker answered READY at all: within ``--give-up-after`` seconds of starting
      (30 s with ``--give-up-after 0`` or ``--local``).
    """
    parser = _build_parser()
    try:
        args = parser.parse_args(None if argv is None else list(argv))
    except SystemExit as exc:
        return int(exc.code or 0)
    keys = None
    if args.keys is not None:
        try:
            keys = security.load_client_keys(args.keys)
        except AuthError as exc:
            print(f"tuner worker: {exc}", file=sys.stderr)
            return 2
    if args.local:
        # The parent is the pool's process; if it died before this line, getppid() is
        # already someone else's and the broker's silence ends this worker instead.
        worker = Worker(args.connect, keys=keys, give_up_after_s=0.0, parent_pid=os.getppid())
    else:
        worker = Worker(args.connect, keys=keys, give_up_after_s=args.give_up_after)
    return worker.run()


if __name__ == "__main__":
    raise SystemExit(main())
