"""The trial runner of the auto-tuner: real pools, the real workload, measured windows.

- :class:`PoolEvaluator` is the search's evaluator: each ``evaluate(config, repeats, stage)``
  starts a fresh ``WorkerPool(**config)``, waits for its workers, warms it up, measures
  ``repeats`` windows with a closed-loop driver and a process-tree monitor, shuts it down and
  returns a :class:`~tuner.search.Trial` (with ``error`` set when the configuration fails).
- :func:`run_baseline` measures ``ProcessPoolExecutor()`` with its defaults the same way, for
  the report's "gain over the baseline".
- :func:`check_workload` runs a few calls in this process first, so a function that raises on
  every input is a :class:`~tuner.errors.WorkloadError` with its traceback, not a search in
  which every trial failed.

Measurement choices (why they are what they are) are documented on :func:`in_flight_limit`
and in :mod:`tuner.runner._driver`.
"""

from __future__ import annotations

from ._measure import (
    CALIBRATION_S,
    FAIL_FRACTION,
    MAX_WINDOW_TASKS,
    MIN_IN_FLIGHT,
    MIN_WINDOW_TASKS,
    TARGET_WINDOW_S,
    WARMUP_MAX_S,
    describe_error,
    in_flight_limit,
)
from .check import check_workload
from .evaluator import READY_TIMEOUT_S, PoolEvaluator, run_baseline

__all__ = [
    "CALIBRATION_S",
    "FAIL_FRACTION",
    "MAX_WINDOW_TASKS",
    "MIN_IN_FLIGHT",
    "MIN_WINDOW_TASKS",
    "READY_TIMEOUT_S",
    "TARGET_WINDOW_S",
    "WARMUP_MAX_S",
    "PoolEvaluator",
    "check_workload",
    "describe_error",
    "in_flight_limit",
    "run_baseline",
]
