"""The transport floor: what a raw pyzmq round trip costs on this machine.

A ROUTER socket in a thread of the benchmark process (where the pool's broker lives) and a
DEALER echo in a separate interpreter (:mod:`benchmarks.pool._echo`), over ipc, with
messages shaped like the pool's (a small header frame and a pickled call).  No
serialisation, no futures, no balancer: whatever the pool adds on top of these figures is
its own cost.  Three measures:

* serial round trip, timed inside the ROUTER's thread (the floor proper);
* serial round trip started from the main thread and relayed through the ROUTER's thread
  over an inproc PAIR (the caller-to-broker-thread hop every ``submit`` also pays);
* pipelined messages/s with a window of ``WINDOW`` messages in flight (below the default
  high-water mark of 1000, so nothing is dropped).  Both ends are Python loops handling one
  message per call, as a pool's broker and workers do; this rate is bound by those loops
  (a few µs of Python per send and per receive), not by libzmq.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any

import zmq

from benchmarks._harness import Row

from . import _echo
from .common import ROOT, Bench
from .tasks import noop

WINDOW = 256
TIMEOUT_MS = 30_000
THREAD = "pyzmq ROUTER thread"
HOP = "pyzmq main -> ROUTER thread (inproc)"
#: A header frame of about the size of the pool's msgpack header, and a pickled no-op call.
FRAMES = [b"\x93\x02\x01\xcd\x04\xd2" + bytes(10), pickle.dumps((noop, (12345,), {}))]


def _serial(router: zmq.Socket, peer: bytes, n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        router.send_multipart([peer, *FRAMES])
        router.recv_multipart()
    return time.perf_counter() - t0


def _pipelined(router: zmq.Socket, peer: bytes, n: int) -> float:
    sent = got = 0
    t0 = time.perf_counter()
    while got < n:
        while sent < n and sent - got < WINDOW:
            router.send_multipart([peer, *FRAMES])
            sent += 1
        router.recv_multipart()
        got += 1
    return time.perf_counter() - t0


def _relay(router: zmq.Socket, peer: bytes, inner: zmq.Socket) -> None:
    """Forward main-thread messages to the echo and back until the main thread says STOP."""
    poller = zmq.Poller()
    poller.register(inner, zmq.POLLIN)
    poller.register(router, zmq.POLLIN)
    while True:
        events = dict(poller.poll(TIMEOUT_MS))
        if not events:
            raise TimeoutError(f"transport floor: no message for {TIMEOUT_MS} ms")
        if inner in events:
            frames = inner.recv_multipart()
            if frames == [_echo.STOP]:
                return
            router.send_multipart([peer, *frames])
        if router in events:
            inner.send_multipart(router.recv_multipart()[1:])


def _rounds(fn: Callable[[], float], repeat: int) -> list[float]:
    fn()  # warm-up
    return [fn() for _ in range(repeat)]


def _in_thread(fn: Callable[[], Any]) -> tuple[threading.Thread, dict[str, Any]]:
    """Start ``fn`` on a new thread (the socket lives there from now on); :func:`_join` it.

    The returned dict receives ``fn``'s value, or the exception it raised, for ``_join`` to
    hand back or re-raise in the calling thread.
    """
    out: dict[str, Any] = {}

    def target() -> None:
        try:
            out["value"] = fn()
        except BaseException as exc:  # re-raised in the calling thread
            out["error"] = exc

    thread = threading.Thread(target=target, name="floor-router", daemon=True)
    thread.start()
    return thread, out


def _join(thread: threading.Thread, out: dict[str, Any]) -> Any:
    thread.join(300)
    if thread.is_alive():
        raise TimeoutError("transport floor: the ROUTER thread did not finish within 300 s")
    if "error" in out:
        raise out["error"]
    return out.get("value")


def run_floor(bench: Bench) -> list[Row]:
    """Measure the raw pyzmq floor; record and return its rows."""
    n_rtt = 300 if bench.quick else 5_000
    n_pipe = 5_000 if bench.quick else 200_000
    repeat = 1 if bench.quick else 3
    tmp = tempfile.mkdtemp(prefix="tuner-floor-")
    endpoint = f"ipc://{tmp}/floor.ipc"
    ctx = zmq.Context()
    router = ctx.socket(zmq.ROUTER)
    router.linger = 0
    router.rcvtimeo = router.sndtimeo = TIMEOUT_MS
    main_end = ctx.socket(zmq.PAIR)
    main_end.linger = 0
    main_end.rcvtimeo = main_end.sndtimeo = TIMEOUT_MS
    relay_end = ctx.socket(zmq.PAIR)
    relay_end.linger = 0
    proc = None
    try:
        router.bind(endpoint)
        main_end.bind("inproc://floor-hop")
        relay_end.connect("inproc://floor-hop")
        proc = subprocess.Popen([sys.executable, "-m", "benchmarks.pool._echo", endpoint], cwd=ROOT)
        try:
            peer, hello = router.recv_multipart()
        except zmq.Again:
            msg = f"transport floor: no READY from the echo in {TIMEOUT_MS} ms"
            raise TimeoutError(msg) from None
        if hello != _echo.READY:
            raise RuntimeError(f"transport floor: unexpected hello {hello!r}")

        def measure() -> tuple[list[float], list[float]]:
            serial = _rounds(lambda: _serial(router, peer, n_rtt), repeat)
            piped = _rounds(lambda: _pipelined(router, peer, n_pipe), repeat)
            return serial, piped

        serial, piped = _join(*_in_thread(measure))

        thread, out = _in_thread(lambda: _relay(router, peer, relay_end))
        try:

            def hop() -> float:
                t0 = time.perf_counter()
                for _ in range(n_rtt):
                    main_end.send_multipart(FRAMES)
                    main_end.recv_multipart()
                return time.perf_counter() - t0

            hopped = _rounds(hop, repeat)
        finally:
            with contextlib.suppress(zmq.ZMQError):
                main_end.send(_echo.STOP)
            _join(thread, out)
        router.send_multipart([peer, _echo.STOP])
        proc.wait(10)
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(10)
        for sock in (router, main_end, relay_end):
            sock.close(0)
        ctx.term()
        with contextlib.suppress(OSError):
            os.unlink(f"{tmp}/floor.ipc")
        with contextlib.suppress(OSError):
            os.rmdir(tmp)

    rtt_ns = min(serial) / n_rtt * 1e9
    hop_ns = min(hopped) / n_rtt * 1e9
    pipe_ns = min(piped) / n_pipe * 1e9
    bench.record("floor", "rtt", THREAD, n=n_rtt, seconds=serial, best_ns=rtt_ns)
    bench.record("floor", "rtt", HOP, n=n_rtt, seconds=hopped, best_ns=hop_ns)
    bench.record(
        "floor",
        "pipelined",
        THREAD,
        n=n_pipe,
        window=WINDOW,
        seconds=piped,
        best_ns=pipe_ns,
        msgs_per_s=1e9 / pipe_ns,
    )
    size = sum(map(len, FRAMES))
    return [
        Row(
            "serial round trip over ipc (ns)",
            THREAD,
            rtt_ns,
            note=f"the floor; {len(FRAMES)} frames, {size} bytes",
        ),
        Row(
            "serial round trip over ipc (ns)",
            HOP,
            hop_ns,
            note=f"+{(hop_ns - rtt_ns) / 1e3:.0f} us for the caller->thread hop",
        ),
        Row(
            f"pipelined echo, window {WINDOW} (ns/msg)",
            THREAD,
            pipe_ns,
            note=f"{1e9 / pipe_ns:,.0f} msgs/s",
        ),
    ]
