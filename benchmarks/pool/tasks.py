"""Task functions of the pool benchmark, in an importable module.

Workers of every pool (fresh interpreters) unpickle these by reference.  Defined in
``__main__`` instead, cloudpickle would send them by value, which is not what a user's
task module costs.
"""

from __future__ import annotations

import time


def noop(x):
    """Return ``x``: the task whose cost is all pool overhead."""
    return x


def spin(seconds):
    """Busy-loop for ``seconds`` (CPU-bound), return them."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass
    return seconds


def nap(seconds):
    """Sleep ``seconds`` (not CPU-bound), return them."""
    time.sleep(seconds)
    return seconds
