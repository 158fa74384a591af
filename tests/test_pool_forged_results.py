"""A RESULTS message from a peer the task was never sent to must not resolve it.

A late result from a worker declared dead is used once, but a peer that never held the task
(a stray or forged message) must not settle it: its payload is dropped unread, counted in
``stats().unexpected_results``, and the real worker's result wins.
"""

from __future__ import annotations

import pickle
import time

import zmq

from tuner import wire
from tuner.pool.executor import WorkerPool

WAIT_S = 60


def nap(seconds):
    time.sleep(seconds)
    return "real"


def test_results_from_a_peer_that_never_said_ready_do_not_resolve_a_live_task():
    with WorkerPool(max_workers=1, bind="tcp://127.0.0.1:0") as pool:
        fut = pool.submit(nap, 1.0)
        deadline = time.monotonic() + WAIT_S
        while not fut.running():
            assert time.monotonic() < deadline
            time.sleep(0.01)
        ctx = zmq.Context()
        sock = ctx.socket(zmq.DEALER)
        try:
            sock.setsockopt(zmq.LINGER, 0)
            sock.connect(pool.address)
            forged = wire.Results(
                tuple(
                    wire.Result(i, 0, wire.Status.OK, 0, pickle.dumps("forged")) for i in range(16)
                )
            )
            sock.send_multipart(wire.encode(forged))
            assert fut.result(timeout=WAIT_S) == "real"
            # the one live task; the other 15 ids are unknown (counted as duplicates)
            assert pool.stats().unexpected_results == 1
        finally:
            sock.close(0)
            ctx.term()
