"""The caller-runs bound: a real pool worker driven from the caller's own thread.

What a serial ``submit(fn, x).result()`` could cost if the pool had no broker thread at
all: the calling thread owns the ROUTER socket and does, inline, the per-task work the
broker does (pack the call, encode TASKS, send, receive, decode RESULTS, unpickle, resolve
a ``Future``), against a real ``python -m tuner worker --local`` process.  No doorbell, no
hand-off between threads, no balancer, no bookkeeping.  A leader/follower broker (the
caller's thread doing the broker's work while it waits) could approach this figure and not
beat it, so it bounds what redesigning the broker's threading can give the round trip.

Benchmark only: it speaks just enough of the protocol (READY, WELCOME, TASKS, RESULTS) for
one worker and serial calls; heartbeats are set an hour apart so that none is needed.  The
worker is started and stopped by the pool's own :class:`~tuner.pool.supervisor.Supervisor`.
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any

import zmq

from tuner import payloads, wire
from tuner.pool.supervisor import Supervisor

TIMEOUT_MS = 30_000
_MAX = wire.DEFAULT_MAX_MESSAGE_BYTES


class DirectWorker(Executor):
    """One worker process; :meth:`submit` runs the whole round trip before it returns."""

    def __init__(self) -> None:
        self._tmp = tempfile.mkdtemp(prefix="tuner-direct-")
        self._ctx = zmq.Context()
        self._sock = self._ctx.socket(zmq.ROUTER)
        self._sock.linger = 0
        self._sock.rcvtimeo = self._sock.sndtimeo = TIMEOUT_MS
        self._ids = itertools.count(1)
        self._packed: dict[Callable[..., Any], payloads.PackedFunction] = {}
        endpoint = f"ipc://{self._tmp}/direct.ipc"
        # The pool's own supervisor: the same worker command line and environment.
        self._workers = Supervisor(endpoint)
        try:
            self._sock.bind(endpoint)
            self._workers.spawn()
            self._peer, *frames = self._recv()
            if type(wire.decode(frames, max_message_bytes=_MAX)) is not wire.Ready:
                raise RuntimeError("caller-runs bound: the worker's first message is not READY")
            welcome = wire.Welcome(
                credit=1, heartbeat_interval_s=3600.0, heartbeat_liveness=1,
                max_message_bytes=_MAX, serializer="cloudpickle",
            )  # fmt: skip
            self._sock.send_multipart([self._peer, *wire.encode(welcome)])
        except BaseException:
            self.shutdown()
            raise

    def _recv(self) -> list[bytes]:
        try:
            return self._sock.recv_multipart()
        except zmq.Again:
            raise TimeoutError(f"caller-runs bound: no message in {TIMEOUT_MS} ms") from None

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        packed = self._packed.get(fn)
        if packed is None:
            packed = self._packed[fn] = payloads.pack_function(fn)
        task_id = next(self._ids)
        body = payloads.dumps_packed_call(packed, args, kwargs)
        self._sock.send_multipart([self._peer, *wire.encode_tasks([(task_id, 0, body)])])
        while True:  # skip anything else (a heartbeat) until the result
            msg = wire.decode(self._recv()[1:], max_message_bytes=_MAX)
            if type(msg) is wire.Results:
                break
        (result,) = msg.results
        if result.task_id != task_id:
            raise RuntimeError(f"caller-runs bound: result for task {result.task_id}")
        ok, value = wire.unpack_result(result.status, result.payload)
        future: Future[Any] = Future()
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._workers.stop_all()
        if not self._sock.closed:
            self._sock.close(0)
            self._ctx.term()
        shutil.rmtree(self._tmp, ignore_errors=True)
