"""WorkerPool honours the concurrent.futures.Executor contract (real worker processes).

Modelled on CPython's ``test_concurrent_futures``: submit/result, map order and timeout,
exceptions with the worker's traceback, cancellation, shutdown semantics, context manager.
One pool serves the module's read-only tests; tests that shut a pool down make their own.
"""

from __future__ import annotations

import concurrent.futures as cf
import threading
import time

import pytest

from tuner.errors import RemoteTraceback, SerializationError
from tuner.pool.executor import WorkerPool

WAIT_S = 60  # generous bound on any wait; tests never assert on elapsed time


# --------------------------------------------------------------------------- task functions


def mul(x, y=1):
    return x * y


def boom(message):
    raise KeyError(message)


def nap(seconds, value=None):
    time.sleep(seconds)
    return value


def unpicklable_result():
    return threading.Lock()


# --------------------------------------------------------------------------- fixtures




def wait_for_workers(pool, n):
    """Wait until ``n`` workers said READY (workers start in the background)."""
    deadline = time.monotonic() + WAIT_S
    while len(pool.stats().workers) != n:
        assert time.monotonic() < deadline, f"pool did not reach {n} workers"
        time.sleep(0.02)


@pytest.fixture(scope="module")
def pool():
    with WorkerPool(max_workers=2) as p:
        wait_for_workers(p, 2)
        yield p


# --------------------------------------------------------------------------- submit / result


def test_submit_returns_a_real_future_with_the_result(pool):
    fut = pool.submit(mul, 6, y=7)
    assert isinstance(fut, cf.Future)
    assert fut.result(timeout=WAIT_S) == 42


def test_lambdas_and_closures_run(pool):
    base = 10
    assert pool.submit(lambda x: x + base, 5).result(timeout=WAIT_S) == 15


def test_unpicklable_argument_fails_that_future_at_submit(pool):
    fut = pool.submit(mul, threading.Lock())
    assert fut.done()
    exc = fut.exception(timeout=0)
    assert isinstance(exc, SerializationError)
    assert "argument 0" in str(exc)
    assert pool.submit(mul, 2, 3).result(timeout=WAIT_S) == 6


def test_unpicklable_result_fails_that_task_only(pool):
    bad = pool.submit(unpicklable_result)
    good = pool.submit(mul, 3, 3)
    with pytest.raises(SerializationError, match="return value"):
        bad.result(timeout=WAIT_S)
    assert good.result(timeout=WAIT_S) == 9


def test_exception_carries_the_remote_traceback_as_cause(pool):
    fut = pool.submit(boom, "missing")
    with pytest.raises(KeyError, match="missing") as info:
        fut.result(timeout=WAIT_S)
    cause = info.value.__cause__
    assert isinstance(cause, RemoteTraceback)
    assert "in boom" in cause.text
    assert "raise KeyError(message)" in cause.text


# --------------------------------------------------------------------------- map


def test_map_yields_in_order(pool):
    xs = list(range(200))
    assert list(pool.map(mul, xs, xs, timeout=WAIT_S)) == [x * x for x in xs]


def test_map_stops_at_the_shortest_iterable(pool):
    assert list(pool.map(mul, [1, 2, 3], [10, 20], timeout=WAIT_S)) == [10, 40]


@pytest.mark.parametrize("chunksize", [2, 7, 500])
def test_map_with_chunksize(pool, chunksize):
    xs = list(range(101))
    assert list(pool.map(mul, xs, chunksize=chunksize, timeout=WAIT_S)) == xs


def test_map_with_buffersize_consumes_lazily(pool):
    consumed = []

    def source():
        for i in range(50):
            consumed.append(i)
            yield i

    it = pool.map(mul, source(), buffersize=4, timeout=WAIT_S)
    assert len(consumed) == 4
    assert next(it) == 0
    assert len(consumed) == 5
    assert list(it) == list(range(1, 50))


def test_map_raises_the_task_exception_in_order(pool):
    it = pool.map(boom, ["a"], timeout=WAIT_S)
    with pytest.raises(KeyError):
        next(it)


def test_map_timeout_counts_from_the_call(pool):
    it = pool.map(nap, [0.0, 3.0], timeout=1.0)
    assert next(it) is None
    with pytest.raises(cf.TimeoutError):
        next(it)


def test_map_rejects_bad_chunksize(pool):
    with pytest.raises(ValueError):
        pool.map(mul, [1], chunksize=0)


def test_max_workers_must_be_positive():
    with pytest.raises(ValueError, match="max_workers must be greater than 0"):
        WorkerPool(max_workers=0)


# --------------------------------------------------------------------------- cancellation


def test_cancel_before_dispatch_and_not_after():
    with WorkerPool(max_workers=1, prefetch=1) as p:
        running = p.submit(nap, 1.0, "ran")
        queued = p.submit(mul, 1)
        deadline = time.monotonic() + WAIT_S
        while not running.running() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert running.running()
        assert queued.cancel()
        assert not running.cancel()
        assert running.result(timeout=WAIT_S) == "ran"
        assert queued.cancelled()
        assert p.submit(mul, 5).result(timeout=WAIT_S) == 5
        assert p.stats().cancelled == 1


def test_closing_the_map_iterator_cancels_what_remains():
    with WorkerPool(max_workers=1, prefetch=1) as p:
        it = p.map(nap, [0.3] + [0.05] * 20, timeout=WAIT_S)
        assert next(it) is None
        it.close()
        p.shutdown(wait=True)
        stats = p.stats()
    assert stats.cancelled > 0
    assert stats.completed + stats.cancelled == 21


# --------------------------------------------------------------------------- shutdown


def test_submit_after_shutdown_raises_runtime_error():
    p = WorkerPool(max_workers=1)
    p.shutdown(wait=True)
    with pytest.raises(RuntimeError, match="after shutdown"):
        p.submit(mul, 1)
    p.shutdown()  # idempotent


def test_shutdown_waits_for_pending_work():
    p = WorkerPool(max_workers=2)
    futs = [p.submit(nap, 0.01, i) for i in range(20)]
    p.shutdown(wait=True)
    assert [f.result(timeout=0) for f in futs] == list(range(20))


def test_shutdown_cancel_futures_cancels_only_work_not_started():
    p = WorkerPool(max_workers=1, prefetch=1)
    first = p.submit(nap, 0.5, "first")
    deadline = time.monotonic() + WAIT_S
    while not first.running() and time.monotonic() < deadline:
        time.sleep(0.01)
    rest = [p.submit(mul, i) for i in range(10)]
    p.shutdown(wait=True, cancel_futures=True)
    assert first.result(timeout=0) == "first"
    assert all(f.cancelled() for f in rest)


def test_shutdown_without_wait_still_finishes_work():
    p = WorkerPool(max_workers=1)
    fut = p.submit(nap, 0.2, "done")
    p.shutdown(wait=False)
    assert fut.result(timeout=WAIT_S) == "done"
    p.shutdown(wait=True)


def test_context_manager_shuts_down_and_ends_the_workers():
    with WorkerPool(max_workers=2) as p:
        assert p.submit(mul, 2, 2).result(timeout=WAIT_S) == 4
        assert p.address.startswith("ipc://")
    with pytest.raises(RuntimeError):
        p.submit(mul, 1)
    assert "shut down" in repr(p)


def test_stats_and_submit_work_inside_a_done_callback(pool):
    seen = []
    done = threading.Event()

    def callback(fut):
        seen.append((fut.result(), pool.stats().completed, pool.submit(mul, 3, 3)))
        done.set()

    pool.submit(nap, 0.2, "x").add_done_callback(callback)
    assert done.wait(WAIT_S)
    value, completed, follow_up = seen[0]
    assert value == "x"
    assert completed >= 1
    assert follow_up.result(timeout=WAIT_S) == 9
