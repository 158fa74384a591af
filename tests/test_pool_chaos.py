"""Chaos: workers killed at random while 10,000 tasks run, and tasks that end their worker.

Real processes. Every pool is shut down by its test, every wait has a bound, no test asserts
on elapsed time. The kill schedule comes from a seeded RNG (which worker, and when), so a
failure names the seed that reproduces the schedule as closely as process timing allows.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import random
import signal
import sys
import threading
import time

import pytest

from tuner.errors import WorkerCrashed
from tuner.pool.executor import WorkerPool

from .pool_helpers import add, child_pids, live_pids, wait_until

WAIT_S = 60
SEED = 20261126


def square_slowly(x):
    time.sleep(0.0005)
    return x * x


def raise_system_exit(code):
    raise SystemExit(code)


def segfault():
    ctypes.string_at(0)  # reads address 0: SIGSEGV in the worker





class Killer(threading.Thread):
    """Every 50-200 ms (seeded), SIGKILL one random live worker of ``pool``, until stopped."""

    def __init__(self, pool, seed, max_kills, pending):
        super().__init__(daemon=True)
        self.pool = pool
        self.pending = pending  # () -> tasks not yet resolved, recorded at each kill
        self.pending_at_kill: list[int] = []
        self.rng = random.Random(seed)
        self.max_kills = max_kills
        self.killed: list[int] = []
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def run(self):
        try:
            while len(self.killed) < self.max_kills:
                if self.stop.wait(self.rng.uniform(0.05, 0.2)):
                    return
                pids = sorted(live_pids(self.pool) - set(self.killed))
                if not pids:
                    continue
                pending = self.pending()
                if pending == 0:  # the run is over: kills now would not test anything
                    return
                victim = self.rng.choice(pids)
                self.pending_at_kill.append(pending)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(victim, signal.SIGKILL)
                self.killed.append(victim)
        except BaseException as exc:  # surfaced by the test
            self.error = exc


@pytest.mark.slow
def test_random_kill_9_every_50_to_200_ms_while_10000_tasks_run():
    n = 10_000
    workers = 2
    with WorkerPool(max_workers=workers, max_retries=100, prefetch=8) as pool:
        wait_until(lambda: len(pool.stats().workers) == workers, "the workers")
        calls = [0] * n
        futures = []
        for i in range(n):
            fut = pool.submit(square_slowly, i)
            fut.add_done_callback(lambda _f, i=i: calls.__setitem__(i, calls[i] + 1))
            futures.append(fut)
        killer = Killer(pool, SEED, 30, lambda: n - sum(calls))
        killer.start()
        try:
            results = [f.result(timeout=WAIT_S) for f in futures]
        finally:
            killer.stop.set()
            killer.join(WAIT_S)
        assert not killer.is_alive()
        assert killer.error is None
        # kills land while work is left (at most 30, so the run stays short)
        assert len(killer.killed) >= 5, f"seed {SEED}: too few kills: {killer.pending_at_kill}"
        assert results == [i * i for i in range(n)]
        assert calls == [1] * n, "a future resolved more than once, or never"
        killed = set(killer.killed)
        wait_until(
            lambda: len(live_pids(pool)) == workers and not live_pids(pool) & killed,
            "the pool back at its size with fresh workers",
        )
        assert not killed & child_pids(), "a killed worker was not reaped"
        stats = pool.stats()
        assert stats.completed == n
        assert stats.failed == 0
        assert stats.worker_deaths >= len(killed)
        assert stats.workers_started >= workers + len(killed)
        assert pool.submit(add, 1, 2).result(timeout=WAIT_S) == 3


def test_a_task_raising_system_exit_fails_its_future_and_the_worker_lives_on():
    with WorkerPool(max_workers=1) as pool:
        wait_until(lambda: len(pool.stats().workers) == 1, "the worker")
        pid = pool.stats().workers[0].pid
        with pytest.raises(SystemExit) as info:
            pool.submit(raise_system_exit, 7).result(timeout=WAIT_S)
        assert info.value.code == 7
        assert pool.submit(add, 2, 3).result(timeout=WAIT_S) == 5
        stats = pool.stats()
        assert [w.pid for w in stats.workers] == [pid]
        assert stats.worker_deaths == 0
        assert stats.failed == 1


@pytest.mark.slow
def test_a_task_that_segfaults_its_worker_ends_as_worker_crashed_after_retries():
    with WorkerPool(max_workers=2, max_retries=2) as pool:
        fut = pool.submit(segfault)
        with pytest.raises(WorkerCrashed) as info:
            fut.result(timeout=WAIT_S)
        err = info.value
        assert err.attempts == 3  # the first run and two retries
        assert "segfault" in err.function
        assert str(err.task_id) in str(err)
        assert pool.submit(add, 20, 22).result(timeout=WAIT_S) == 42
        wait_until(lambda: len(pool.stats().workers) == 2, "the pool back at 2 workers")
        stats = pool.stats()
        assert stats.retries == 2
        assert stats.worker_deaths == 3
        assert stats.failed == 1


def test_segfault_helper_really_segfaults():
    """The crash above is a real SIGSEGV, not an exception the worker could catch."""
    import subprocess

    code = "import ctypes; ctypes.string_at(0)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=WAIT_S)
    assert proc.returncode == -signal.SIGSEGV
