"""Every balancer drives a real pool end to end; keyed tasks, backpressure."""

from __future__ import annotations

import time

import pytest

from tuner.config import BALANCERS
from tuner.errors import QueueFull
from tuner.pool.executor import WorkerPool

WAIT_S = 60


def add(x, y):
    return x + y


def nap(seconds):
    time.sleep(seconds)
    return seconds


@pytest.mark.parametrize("balancer", BALANCERS)
def test_every_balancer_serves_plain_and_keyed_tasks(balancer):
    with WorkerPool(max_workers=2, balancer=balancer, batch_size=4, prefetch=4) as pool:
        assert list(pool.map(add, range(300), range(300), timeout=WAIT_S)) == [
            2 * i for i in range(300)
        ]
        keyed = [pool.submit_keyed(f"user-{i % 7}", add, i, 1) for i in range(100)]
        assert [f.result(timeout=WAIT_S) for f in keyed] == list(range(1, 101))
        stats = pool.stats()
        assert stats.completed == 400
        assert sum(w.tasks_done for w in stats.workers) == 400


def test_submit_keyed_rejects_a_bad_key():
    with WorkerPool(max_workers=1) as pool, pytest.raises(TypeError):
        pool.submit_keyed(1.5, add, 1, 2)


def test_queue_full_raises_when_configured():
    with WorkerPool(max_workers=1, prefetch=1, queue_size=2, on_full="raise") as pool:
        first = pool.submit(nap, 0.5)
        second = pool.submit(nap, 0.0)
        with pytest.raises(QueueFull):
            pool.submit(nap, 0.0)
        assert first.result(timeout=WAIT_S) == 0.5
        assert second.result(timeout=WAIT_S) == 0.0
        assert pool.submit(add, 1, 1).result(timeout=WAIT_S) == 2


def test_queue_full_blocks_by_default_until_room():
    with WorkerPool(max_workers=1, prefetch=1, queue_size=1) as pool:
        futures = [pool.submit(add, i, 0) for i in range(20)]
        assert [f.result(timeout=WAIT_S) for f in futures] == list(range(20))
