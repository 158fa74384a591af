"""A pool with CURVE keys: local and remote workers join with keys; peers without are refused."""

from __future__ import annotations

import subprocess
import sys

import zmq

from tuner import security
from tuner.pool.executor import WorkerPool

from .pool_helpers import add, wait_until

WAIT_S = 60


def test_curve_pool_admits_keyed_workers_and_never_decodes_unauthenticated_peers(tmp_path):
    keys_dir = tmp_path / "keys"
    security.generate_keys(keys_dir)
    with WorkerPool(
        max_workers=1,
        balancer="round_robin",
        bind="tcp://127.0.0.1:0",
        curve_keys_dir=str(keys_dir),
    ) as pool:
        wait_until(lambda: len(pool.stats().workers) == 1, "the local worker (with keys)")
        remote = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tuner",
                "worker",
                "--connect",
                pool.address,
                "--keys",
                str(keys_dir),
            ],
            stdin=subprocess.DEVNULL,
        )
        ctx = zmq.Context()
        try:
            wait_until(lambda: len(pool.stats().workers) == 2, "the remote worker (with keys)")
            plain = ctx.socket(zmq.DEALER)  # no CURVE: the handshake fails in libzmq
            plain.setsockopt(zmq.LINGER, 0)
            plain.connect(pool.address)
            plain.send_multipart([b"\xc1 garbage"])
            assert list(pool.map(add, range(40), range(40), timeout=WAIT_S)) == [
                2 * i for i in range(40)
            ]
            stats = pool.stats()
            assert stats.protocol_errors == 0  # the garbage never reached the broker
            assert {w.local for w in stats.workers} == {True, False}
            plain.close(0)
        except BaseException:
            remote.kill()
            remote.wait(WAIT_S)
            raise
        finally:
            ctx.term()
    assert remote.wait(WAIT_S) == 0
