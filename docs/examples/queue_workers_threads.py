"""Ten worker threads pull 1,000 items from a queue: the seed's example, done right.

Run: ``python docs/examples/queue_workers_threads.py``. Prints ``threads: 1000 items, total
332833500`` (the sum of the squares of 0..999).

Two fixes to the original: the queue is ``queue.Queue`` (there is no ``threading.Queue``),
and one ``None`` per worker is put after the items, so every worker sees its own ``None``,
leaves its loop, and ``join`` returns.
"""

from __future__ import annotations

import queue
import threading

N_WORKERS = 10
N_ITEMS = 1_000


def work(item: int) -> int:
    return item * item


def worker(tasks: queue.Queue, results: list[int], lock: threading.Lock) -> None:
    while True:
        item = tasks.get()
        try:
            if item is None:  # the sentinel: this worker is done
                return
            value = work(item)
            with lock:
                results.append(value)
        finally:
            tasks.task_done()


def main() -> int:
    tasks: queue.Queue = queue.Queue()
    results: list[int] = []
    lock = threading.Lock()
    threads = [
        threading.Thread(target=worker, args=(tasks, results, lock), name=f"worker-{i}")
        for i in range(N_WORKERS)
    ]
    for t in threads:
        t.start()
    for item in range(N_ITEMS):
        tasks.put(item)
    for _ in threads:  # one sentinel per worker: each worker consumes exactly one
        tasks.put(None)
    for t in threads:
        t.join(timeout=60)
        if t.is_alive():
            raise RuntimeError(f"{t.name} did not end")
    print(f"threads: {len(results)} items, total {sum(results)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
