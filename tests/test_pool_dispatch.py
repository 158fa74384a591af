"""The broker's dispatch rules, with real workers: keyed tasks wait for their owner without
holding up the queue, and tasks that shared a dying worker are not blamed for it."""

from __future__ import annotations

import os
import time

from tests.pool_helpers import WAIT_S, wait_until
from tuner.errors import WorkerCrashed
from tuner.pool.executor import WorkerPool


def pid_after(seconds):
    time.sleep(seconds)
    return os.getpid()


def exit_if(flag, value):
    if flag:
        os._exit(5)
    time.sleep(0.01)
    return value


def test_a_keyed_task_whose_owner_is_busy_does_not_hold_up_other_keys():
    with WorkerPool(max_workers=2, balancer="consistent_hash") as pool:
        wait_until(lambda: len(pool.stats().workers) == 2, "2 workers")
        owner = {}
        for i in range(64):
            key = f"key-{i}"
            owner[key] = pool.submit_keyed(key, pid_after, 0).result(WAIT_S)
        pids = sorted(set(owner.values()))
        assert len(pids) == 2, "64 keys all landed on one worker"
        busy_key = next(k for k, p in owner.items() if p == pids[0])
        free_key = next(k for k, p in owner.items() if p == pids[1])
        # Far more long tasks for busy_key than its owner's window: most of them wait.
        slow = [pool.submit_keyed(busy_key, pid_after, 0.2) for _ in range(8)]
        quick = pool.submit_keyed(free_key, pid_after, 0)
        assert quick.result(WAIT_S) == pids[1]
        # Ordering, not timing: the quick task finished while busy_key's queue was waiting.
        assert sum(f.done() for f in slow) < len(slow)
        assert [f.result(WAIT_S) for f in slow] == [pids[0]] * len(slow)


def test_tasks_held_with_a_crashing_task_are_rerun_alone_and_complete():
    # max_retries=1: the crashing task is charged on its first death and again when it runs
    # alone, then fails; the innocent tasks it shared a worker with run alone once and
    # succeed, though they too were held by the worker that died.
    with WorkerPool(max_workers=2, max_retries=1, balancer="round_robin") as pool:
        wait_until(lambda: len(pool.stats().workers) == 2, "2 workers")
        futures = [pool.submit(exit_if, i == 5, i) for i in range(12)]
        for i, fut in enumerate(futures):
            if i == 5:
                try:
                    fut.result(WAIT_S)
                except WorkerCrashed as exc:
                    assert "exit_if" in str(exc)
                else:
                    raise AssertionError("the crashing task returned")
            else:
                assert fut.result(WAIT_S) == i
        stats = pool.stats()
        assert stats.failed == 1
        assert stats.completed == 11
        wait_until(lambda: len(pool.stats().workers) == 2, "the pool back at 2 workers")
