"""WorkerPool survives worker death, silent workers and garbage on the wire (real processes).

Every pool is shut down by its test; every wait has a bound; no test asserts on elapsed time.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import os
import signal
import time

import msgpack
import pytest
import zmq

from tuner import wire
from tuner.errors import WorkerCrashed
from tuner.pool.executor import WorkerPool

from .pool_helpers import add, child_pids, live_pids, wait_until

WAIT_S = 60


def square_slowly(x):
    time.sleep(0.001)
    return x * x


def die():
    os._exit(1)







@pytest.mark.slow
def test_kill_9_workers_while_tasks_run_every_future_resolves_once():
    n = 10_000
    with WorkerPool(max_workers=2, max_retries=5) as pool:
        wait_until(lambda: len(pool.stats().workers) == 2, "2 workers")
        calls = [0] * n
        futures = []
        for i in range(n):
            fut = pool.submit(square_slowly, i)
            fut.add_done_callback(lambda _f, i=i: calls.__setitem__(i, calls[i] + 1))
            futures.append(fut)
        killed = set()
        for fraction in (0.1, 0.3, 0.5, 0.7):
            wait_until(lambda f=fraction: sum(x.done() for x in futures) >= f * n, "progress")
            victim = sorted(live_pids(pool) - killed)[0]
            os.kill(victim, signal.SIGKILL)
            killed.add(victim)
        results = [f.result(timeout=WAIT_S) for f in futures]
        assert results == [i * i for i in range(n)]
        assert calls == [1] * n
        wait_until(
            lambda: len(live_pids(pool) - killed) == 2 and len(pool.stats().workers) == 2,
            "the pool back at 2 workers",
        )
        stats = pool.stats()
        assert stats.worker_deaths >= 4
        assert stats.workers_started >= 6
        assert stats.completed == n


@pytest.mark.slow
def test_a_task_that_kills_every_worker_ends_as_worker_crashed():
    with WorkerPool(max_workers=2, max_retries=1) as pool:
        fut = pool.submit(die)
        with pytest.raises(WorkerCrashed) as info:
            fut.result(timeout=WAIT_S)
        err = info.value
        assert isinstance(err, cf.BrokenExecutor)
        assert err.attempts == 2
        assert "die" in err.function
        assert str(err.task_id) in str(err)
        assert pool.submit(add, 2, 3).result(timeout=WAIT_S) == 5
        wait_until(lambda: len(pool.stats().workers) == 2, "the pool back at 2 workers")
        assert pool.stats().retries == 1


def _dealer(ctx, address):
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(address)
    return sock


def test_malformed_frames_are_counted_logged_once_and_dropped(caplog):
    caplog.set_level(logging.WARNING, logger="tuner.pool")
    garbage = [
        [b"\xc1"],  # not msgpack
        [msgpack.packb([99, 1])],  # wrong protocol version
        [msgpack.packb([wire.PROTOCOL_VERSION, 4, [[1, 0, 0, 0]]])],  # RESULTS w/o payload
        [msgpack.packb([wire.PROTOCOL_VERSION, 3, [[1, 0]]]), b"x"],  # TASKS from a worker
    ]
    with WorkerPool(max_workers=1, bind="tcp://127.0.0.1:0") as pool:
        assert pool.address.startswith("tcp://127.0.0.1:")
        ctx = zmq.Context()
        try:
            sock = _dealer(ctx, pool.address)
            for frames in garbage:
                sock.send_multipart(frames)
            wait_until(lambda: pool.stats().protocol_errors == len(garbage), "errors counted")
            assert pool.submit(add, 40, 2).result(timeout=WAIT_S) == 42
            sock.close(0)
        finally:
            ctx.term()
    warnings = [r for r in caplog.records if "malformed" in r.getMessage()]
    assert len(warnings) == 1


def test_a_silent_worker_is_dropped_and_its_tasks_rerun_elsewhere():
    with WorkerPool(
        max_workers=1,
        balancer="round_robin",
        prefetch=4,
        bind="tcp://127.0.0.1:0",
        heartbeat_interval_s=0.1,
        heartbeat_liveness=3,
    ) as pool:
        wait_until(lambda: len(pool.stats().workers) == 1, "the local worker")
        ctx = zmq.Context()
        try:
            fake = _dealer(ctx, pool.address)
            ready = wire.Ready(os.getpid(), "fake-host", "0", "3", 8)
            fake.send_multipart(wire.encode(ready))
            assert fake.poll(WAIT_S * 1000)
            welcome = wire.decode(fake.recv_multipart(), max_message_bytes=2**26)
            assert welcome == wire.Welcome(4, 0.1, 3, wire.DEFAULT_MAX_MESSAGE_BYTES, "cloudpickle")
            wait_until(lambda: len(pool.stats().workers) == 2, "the fake worker joined")
            futures = [pool.submit(add, i, 1) for i in range(20)]
            assert [f.result(timeout=WAIT_S) for f in futures] == list(range(1, 21))
            stats = pool.stats()
            assert all(w.host != "fake-host" for w in stats.workers)
            assert stats.retries >= 1
            assert stats.worker_deaths >= 1
            fake.close(0)
        finally:
            ctx.term()


def test_stats_show_per_worker_counts_and_latency_percentiles():
    with WorkerPool(max_workers=2, balancer="round_robin") as pool:
        wait_until(lambda: len(pool.stats().workers) == 2, "2 workers")
        assert list(pool.map(add, range(100), range(100), timeout=WAIT_S)) == [
            2 * i for i in range(100)
        ]
        stats = pool.stats()
        children = child_pids()
        assert {w.pid for w in stats.workers} <= children
        assert sum(w.tasks_done for w in stats.workers) == 100
        assert all(w.tasks_done > 0 for w in stats.workers)
        assert all(w.busy_s > 0 for w in stats.workers)
        assert stats.completed == 100
        assert stats.latency_count == 100
        assert 0 < stats.latency_p50_s <= stats.latency_p90_s <= stats.latency_p99_s
        with pytest.raises(AttributeError):
            stats.completed = 0  # frozen record
    final = pool.stats()  # still readable after shutdown
    assert final.completed == 100


def nap(seconds):
    time.sleep(seconds)
    return seconds


def test_heartbeats_keep_flowing_during_a_long_task():
    # the task lasts more than three times the silence after which a worker is dead
    with WorkerPool(max_workers=1, heartbeat_interval_s=0.2, heartbeat_liveness=3) as pool:
        assert pool.submit(nap, 2.0).result(timeout=WAIT_S) == 2.0
        stats = pool.stats()
        assert stats.worker_deaths == 0
        assert stats.retries == 0
        assert stats.workers_started == 1


def test_a_worker_started_elsewhere_joins_over_loopback_tcp_and_leaves_on_shutdown():
    import subprocess
    import sys

    from tuner.pool.supervisor import WORKER_MODULE

    with WorkerPool(max_workers=1, balancer="round_robin", bind="tcp://127.0.0.1:0") as pool:
        remote = subprocess.Popen(
            [sys.executable, "-m", WORKER_MODULE, "--connect", pool.address],
            stdin=subprocess.DEVNULL,
        )
        try:
            wait_until(lambda: len(pool.stats().workers) == 2, "the remote worker joined")
            assert list(pool.map(add, range(50), range(50), timeout=WAIT_S)) == [
                2 * i for i in range(50)
            ]
            by_pid = {w.pid: w for w in pool.stats().workers}
            assert by_pid[remote.pid].local is False
            assert by_pid[remote.pid].tasks_done > 0
        except BaseException:
            remote.kill()
            remote.wait(WAIT_S)
            raise
    assert remote.wait(WAIT_S) == 0  # DISCONNECT at shutdown ends it cleanly
