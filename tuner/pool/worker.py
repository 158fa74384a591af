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
presumed dead and the worker exits (status 3).  DISCONNECT ends the worker (status 0).

With ``--keys DIR`` the socket is a CURVE client (``worker.key_secret`` and ``broker.key``
from DIR, see :mod:`tuner.security`).  Not built yet: reconnecting with backoff
(:func:`tuner.wire.reconnect_delay_s`) for remote workers; a worker that lost its broker exits.
"""

from __future__ import annotations

import argparse
import collections
import os
import platform
import socket
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

import zmq

from tuner import security, transport, wire
from tuner.errors import AuthError, ProtocolError, SerializationError, TransportError

__all__ = ["EXIT_BROKER_LOST", "EXIT_NO_WELCOME", "Worker", "main"]

EXIT_NO_WELCOME = 4
"""Exit status when the broker never answered READY."""

EXIT_BROKER_LOST = 3
"""Exit status when the broker went silent for ``liveness`` heartbeat intervals."""

WELCOME_TIMEOUT_S = 30.0
"""How long a worker waits for WELCOME before giving up."""

_PAYLOAD_SLACK = wire.MAX_HEADER_BYTES  # room kept for the header in a RESULTS message


def _version() -> str:
    try:
        import tuner

        return str(getattr(tuner, "__version__", ""))
    except Exception:  # pragma: no cover - tuner is importable if we are
        return ""


class Worker:
    """One worker's state and loop (used by :func:`main`).

    Parameters
    ----------
    endpoint : str
        The broker's endpoint.
    credit : int
        Tasks this worker asks to hold (the broker grants at most its ``prefetch``).
    """

    def __init__(self, endpoint: str, credit: int = wire.MAX_CREDIT, *, keys: Any = None) -> None:
        self.endpoint = endpoint
        self.keys = keys
        self.credit = credit
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

    # -------------------------------------------------------------- running one task

    def _run_one(self, task: wire.Task) -> wire.Result:
        start = time.perf_counter_ns()
        serializer = self._serializer
        try:
            fn, args, kwargs = wire.loads_call(task.payload, serializer)
        except SerializationError as exc:
            status, payload = wire.Status.ERROR, wire.pack_exception(exc, serializer)
        else:
            try:
                value = fn(*args, **kwargs)
            except BaseException as exc:  # SystemExit too: every task failure goes home
                status, payload = wire.Status.ERROR, wire.pack_exception(exc, serializer)
            else:
                status, payload = wire.pack_result(value, serializer)
                del value
        if len(payload) > self._max_bytes - _PAYLOAD_SLACK:
            exc2 = SerializationError(
                f"the result of task {task.task_id} is {len(payload)} bytes, more than "
                f"max_message_bytes={self._max_bytes} allows"
            )
            status, payload = wire.Status.UNPICKLABLE_RESULT, wire.pack_exception(exc2, serializer)
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
        if now - self._last_sent >= self._interval:
            sock.send_multipart(self._heartbeat)
            self._last_sent = now
        if now - self._last_recv > self._silence:
            print("tuner worker: broker silent, exiting", file=sys.stderr)
            self._finish(EXIT_BROKER_LOST)

    # -------------------------------------------------------------- the two threads

    def _watchdog(self, sock: zmq.Socket) -> None:
        """While a task runs (the runner released the lock), keep the connection alive."""
        while not self._stop.wait(self._interval / 4):
            if not self._lock.acquire(blocking=False):
                continue  # the runner is doing I/O itself
            try:
                if self._stop.is_set():
                    return
                self._drain(sock)
                self._keepalive(sock, time.monotonic())
                if self._exit_code == EXIT_BROKER_LOST:
                    os._exit(EXIT_BROKER_LOST)  # a task is running and may never return
            finally:
                self._lock.release()

    def _serve(self, sock: zmq.Socket) -> int:
        lock, pending, results = self._lock, self._pending, self._results
        first_unsent = 0.0
        lock.acquire()
        try:
            while not self._stop.is_set():
                if not pending:
                    if self._results:
                        self._send_results(sock)
                    now = time.monotonic()
                    timeout_ms = max(1, int((self._last_sent + self._interval - now) * 1000))
                    if sock.poll(timeout_ms):
                        self._drain(sock)
                    self._keepalive(sock, time.monotonic())
                    continue
                task = pending.popleft()
                lock.release()
                try:
                    result = self._run_one(task)
                finally:
                    lock.acquire()
                results = self._results
                if not results:
                    first_unsent = time.monotonic()
                results.append(result)
                self._drain(sock)
                now = time.monotonic()
                if not pending or len(results) >= 64 or now - first_unsent >= self._interval / 4:
                    self._send_results(sock)
                self._keepalive(sock, now)
            if self._results:
                self._send_results(sock)
        finally:
            lock.release()
        return self._exit_code or 0

    def run(self) -> int:
        """Connect, serve until DISCONNECT or broker loss; returns the exit status."""
        ctx = zmq.Context()
        sock = transport.make_socket(ctx, zmq.DEALER)
        watchdog = threading.Thread(
            target=self._watchdog, args=(sock,), name="tuner-watchdog", daemon=True
        )
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
            welcome = self._await_welcome(sock)
            if welcome is None:
                return EXIT_NO_WELCOME
            self._serializer = welcome.serializer
            self._max_bytes = welcome.max_message_bytes
            self._interval = welcome.heartbeat_interval_s
            self._silence = welcome.heartbeat_interval_s * welcome.heartbeat_liveness
            self._last_recv = self._last_sent = time.monotonic()
            watchdog.start()
            return self._serve(sock)
        except (TransportError, AuthError) as exc:
            print(f"tuner worker: {exc}", file=sys.stderr)
            return 1
        finally:
            self._stop.set()
            if watchdog.is_alive():
                watchdog.join()
            sock.close(0)
            ctx.term()

    def _await_welcome(self, sock: zmq.Socket) -> wire.Welcome | None:
        deadline = time.monotonic() + WELCOME_TIMEOUT_S
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m tuner worker``; returns the exit status.

    0 after DISCONNECT, 1 on a transport error, 2 on bad usage, 3 when the broker went
    silent, 4 when it never answered READY.
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
    return Worker(args.connect, keys=keys).run()


if __name__ == "__main__":
    raise SystemExit(main())
