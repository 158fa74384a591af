"""Idle memory of one implementation, measured in a fresh interpreter.

Run by :func:`benchmarks.pool.scenarios.run_memory` as
``python -m benchmarks.pool._idle_probe IMPL WORKERS``; prints one JSON object.  A fresh
interpreter, because the benchmark process has already imported every peer and run many
tasks, so its RSS says nothing about what starting one pool costs the caller.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time

import psutil

MB = 2**20
#: The module each implementation needs imported (the pool's balancers import numba).
MODULES = {
    "WorkerPool": "tuner.pool.executor",  # what `from tuner import WorkerPool` loads
    "ProcessPoolExecutor": "concurrent.futures.process",
    "multiprocessing.Pool": "multiprocessing.pool",
    "loky": "loky",
}


def _rss() -> float:
    return psutil.Process().memory_info().rss / MB


def main(argv: list[str] | None = None) -> int:
    """Print the caller's RSS bare, after import, after start; and each worker's RSS."""
    impl, workers = sys.argv[1:] if argv is None else argv
    from .common import close_executor, make_executor, worker_pids  # psutil, no peers
    from .tasks import noop

    bare = _rss()
    importlib.import_module(MODULES[impl])
    imported = _rss()
    ex = make_executor(impl, int(workers))
    try:
        if impl == "multiprocessing.Pool":
            ex.map(noop, range(4 * int(workers)), chunksize=1)
        else:
            list(ex.map(noop, range(4 * int(workers))))
        time.sleep(0.5)
        started = _rss()
        pids = worker_pids(ex)
        per_worker = [psutil.Process(p).memory_info().rss / MB for p in pids]
    finally:
        close_executor(ex)
    print(
        json.dumps(
            {
                "caller_bare_mb": bare,
                "caller_imported_mb": imported,
                "caller_started_mb": started,
                "worker_rss_mb": per_worker,
                "numba_loaded": "numba" in sys.modules,
                "pid": os.getpid(),
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
