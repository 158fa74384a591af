"""Task functions for tests/test_optimize.py, importable by worker processes."""

from __future__ import annotations


def square(x):
    total = 0
    for i in range(200):  # a few tens of microseconds of work, so windows stay short
        total += i * x
    return x * x


def always_fails(x):
    raise ValueError(f"always_fails got {x!r}")
