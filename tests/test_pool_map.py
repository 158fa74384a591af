"""``WorkerPool.map`` sends items in blocks, yet each item keeps its own result and failure.

The broker cuts a map's items into blocks (tuner/pool/_map.py): these tests make sure that
blocks never leak into what the caller sees — an item that raises, does not pickle, or kills
its worker fails alone, at its own position — and that the adaptive window does what the
docs say (large for short items, the minimum for long ones).
"""

from __future__ import annotations

import os
import threading
import time

import pytest

from tests.pool_helpers import WAIT_S, wait_until
from tuner.errors import RemoteTraceback, SerializationError, WorkerCrashed
from tuner.pool.broker import INITIAL_WINDOW
from tuner.pool.executor import WorkerPool


def square_or_raise(x):
    if x % 97 == 13:
        raise ValueError(f"item {x} is unlucky")
    return x * x


def die_on(x, poison):
    if x == poison:
        os._exit(3)
    return x + 1


def nap(seconds):
    time.sleep(seconds)
    return seconds


def identity(x):
    return x


@pytest.fixture(scope="module")
def pool():
    with WorkerPool(max_workers=2) as p:
        wait_until(lambda: len(p.stats().workers) == 2, "2 workers")
        yield p


def test_blocks_keep_each_items_own_failure(pool):
    # As with Executor.map, the first failing item ends the iteration, raising its own
    # exception at its own position; every other item of its block was still run and
    # resolved on its own (the stats count exactly the unlucky items as failed).
    before = pool.stats()
    n = 3000
    it = pool.map(square_or_raise, range(n), timeout=WAIT_S)
    for x in range(13):
        assert next(it) == x * x
    with pytest.raises(ValueError, match="item 13 is unlucky") as info:
        next(it)
    assert isinstance(info.value.__cause__, RemoteTraceback)
    with pytest.raises(StopIteration):
        next(it)
    unlucky = sum(1 for x in range(n) if x % 97 == 13)

    def settled():
        s = pool.stats()
        return s.completed + s.failed + s.cancelled - (
            before.completed + before.failed + before.cancelled
        ) == n

    wait_until(settled, "every item of the map resolved")
    after = pool.stats()
    assert after.failed - before.failed <= unlucky  # never a neighbour's failure
    # Short items made the broker send several calls per task: blocks really were used.
    assert max(w.window for w in after.workers) > INITIAL_WINDOW


def test_every_item_of_a_failing_map_gets_its_own_outcome(pool):
    # Through submit-like access to the items' outcomes: map over wrappers that catch.
    def outcome(x):
        try:
            return square_or_raise(x)
        except ValueError as exc:
            return str(exc)

    got = list(pool.map(outcome, range(500), timeout=WAIT_S))
    assert got == [f"item {x} is unlucky" if x % 97 == 13 else x * x for x in range(500)]


def test_an_unpicklable_argument_fails_only_its_item(pool):
    items = [1, 2, 3, threading.Lock(), 4]
    it = pool.map(identity, items, timeout=WAIT_S)
    assert [next(it) for _ in range(3)] == [1, 2, 3]
    with pytest.raises(SerializationError, match="argument 0"):
        next(it)


def test_lambdas_and_closures_map(pool):
    offset = 7
    assert list(pool.map(lambda x: x + offset, range(500), timeout=WAIT_S)) == [
        x + 7 for x in range(500)
    ]


def test_an_unpicklable_function_fails_at_the_map_call(pool):
    lock = threading.Lock()
    with pytest.raises(SerializationError, match="function"):
        pool.map(lambda x: lock, range(3))


def test_an_item_that_kills_its_worker_fails_alone():
    # The poison item sits inside a block; when its worker dies the block is re-queued one
    # call per task, so the other calls of the block succeed and the poison fails after its
    # own retries.
    with WorkerPool(max_workers=2, max_retries=1) as p:
        wait_until(lambda: len(p.stats().workers) == 2, "2 workers")
        list(p.map(identity, range(2000), timeout=WAIT_S))  # open the windows
        poison = 1500
        it = p.map(die_on, range(3000), [poison] * 3000, timeout=WAIT_S)
        for x in range(poison):
            assert next(it) == x + 1
        with pytest.raises(WorkerCrashed, match="die_on"):
            next(it)
        wait_until(lambda: p.stats().queued + p.stats().in_flight == 0, "the map to finish")
        stats = p.stats()
        assert stats.failed == 1  # the poison only: its block's other calls were isolated
        # The iteration ends at the poison, as Executor.map's does: items not started by then
        # are cancelled; every other item completed.
        assert stats.completed + stats.cancelled == 2000 + 2999
        assert stats.worker_deaths >= 2  # the first attempt and the retry
        wait_until(lambda: len(p.stats().workers) == 2, "the pool back at 2 workers")


def test_long_items_keep_the_window_at_its_minimum():
    # 40 ms items: QUEUED_WORK_S (2 ms) of work is less than one item, so each worker is
    # given INITIAL_WINDOW items at a time and the map is cut one call per task.
    with WorkerPool(max_workers=2) as p:
        wait_until(lambda: len(p.stats().workers) == 2, "2 workers")
        assert list(p.map(nap, [0.04] * 12, timeout=WAIT_S)) == [0.04] * 12
        windows = {w.window for w in p.stats().workers}
        assert windows == {INITIAL_WINDOW}
        assert all(w.item_time_s >= 0.03 for w in p.stats().workers)


def test_a_fast_item_is_not_held_back_by_a_slow_one_in_a_new_map(pool):
    # A map starts with blocks of one call (a slow start), whatever earlier maps did: the
    # first item's result comes before the slow second item ends.
    list(pool.map(identity, range(2000), timeout=WAIT_S))  # windows are wide now
    it = pool.map(nap, [0.0, 3.0], timeout=WAIT_S)
    t0 = time.monotonic()
    assert next(it) == 0.0
    first = time.monotonic() - t0
    assert next(it) == 3.0
    total = time.monotonic() - t0
    assert first < total  # ordering of events, not a wall-clock threshold


def test_buffersize_bounds_what_is_in_flight(pool):
    read = []

    def source():
        for i in range(10_000):
            read.append(i)
            yield i

    it = pool.map(identity, source(), buffersize=64, timeout=WAIT_S)
    for i in range(5000):
        assert next(it) == i
        # items read but not yet yielded never exceed the buffer (plus the one being awaited)
        assert len(read) - (i + 1) <= 64
    it.close()
    assert len(read) < 10_000
