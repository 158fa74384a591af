"""Helpers shared by the process tests of ``tuner.pool``.

Task functions live in an importable module so that workers (fresh interpreters started in
the repository root) unpickle them by reference.
"""

from __future__ import annotations

import time

#: Upper bound on any wait in a pool test: generous, because the machine is shared.
WAIT_S = 60


def add(x, y):
    return x + y


def wait_until(predicate, what, *, timeout_s=WAIT_S, step_s=0.02):
    """Poll ``predicate`` until true; fail the test naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(step_s)


def live_pids(pool):
    """Pids of the workers the pool's broker counts as live."""
    return {w.pid for w in pool.stats().workers}


def child_pids() -> set[int]:
    """Pids of every live descendant of the test process."""
    import psutil

    return {p.pid for p in psutil.Process().children(recursive=True)}
