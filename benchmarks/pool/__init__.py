"""Benchmark of ``tuner.WorkerPool`` against ProcessPoolExecutor, multiprocessing.Pool and loky.

Run ``python -m benchmarks.pool [--quick] [--only SECTIONS] [--json PATH]``; see
:mod:`benchmarks.pool.__main__` for the sections.  Task functions live in
:mod:`benchmarks.pool.tasks` so that every pool's workers import them by name.
"""
