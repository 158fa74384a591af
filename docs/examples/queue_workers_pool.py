"""The seed's job (1,000 items handled by ten workers) done with ``tuner.WorkerPool``.

Run: ``python docs/examples/queue_workers_pool.py``. Prints ``pool: 1000 items, total
332833500, 10 workers``.

The pool owns the queue, the workers and their ending: no sentinels to count, and leaving
the ``with`` block shuts the pool down and waits for every worker process to end. Workers
are separate processes, so CPU-bound work runs in parallel (threads share the GIL). ``work``
is defined in this file; cloudpickle sends it to the workers by value, so it must not rely
on this module's other globals.
"""

from __future__ import annotations

from tuner import WorkerPool

N_WORKERS = 10
N_ITEMS = 1_000


def work(item: int) -> int:
    return item * item


def main() -> int:
    with WorkerPool(max_workers=N_WORKERS, balancer="least_outstanding", batch_size=16) as pool:
        results = list(pool.map(work, range(N_ITEMS), timeout=120))
        workers = pool.config.max_workers
    if results != [work(i) for i in range(N_ITEMS)]:  # in order, one per item
        raise RuntimeError("wrong results")
    print(f"pool: {len(results)} items, total {sum(results)}, {workers} workers")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
