"""Check that a workload works at all, in this process, before any pool starts.

A function that raises on every input would otherwise make every trial of a search fail, one
pool start after another, and end in "nothing to recommend".  :func:`check_workload` runs a
few of its calls directly (no pool, no processes) and raises
:class:`~tuner.errors.WorkloadError` with the function's own traceback, which the command
line prints before exiting with code 1.
"""

from __future__ import annotations

import time
import traceback

from .. import payloads
from ..errors import SerializationError, WorkloadError
from ..workloads import Workload

__all__ = ["check_workload"]


def check_workload(
    workload: Workload, *, tasks: int = 3, seed: int = 0, max_s: float = 5.0
) -> float:
    """Run up to ``tasks`` calls of ``workload`` in this process; raise if all of them fail.

    Each call is also pickled as the pool would send it, so an argument that cannot travel to
    a worker is caught here too.  Calls stop early once one succeeded and ``max_s`` seconds
    have passed (a slow function is checked, not benchmarked).

    Parameters
    ----------
    workload : Workload
    tasks : int
        Calls to try at most (the first ``tasks`` items of the stream for ``seed``).
    seed : int
        Seed of the input stream (use the search's).
    max_s : float
        Time after which no further call starts, once one has succeeded.

    Returns
    -------
    float
        Mean wall seconds of the calls that succeeded (a rough size of one task).

    Raises
    ------
    WorkloadError
        Every call tried raised (the message holds the first exception and its traceback,
        which is also the ``__cause__``), an input cannot be pickled, or the input stream
        itself failed or is empty.
    """
    if isinstance(tasks, bool) or not isinstance(tasks, int) or tasks < 1:
        raise WorkloadError(f"tasks must be an integer >= 1, got {tasks!r}")
    fn = workload.fn
    started = time.perf_counter()
    spent: list[float] = []
    failures: list[BaseException] = []
    tried = 0
    for _key, args in workload.calls(seed, tasks):
        try:
            payloads.dumps_call(fn, args, {})
        except SerializationError as exc:
            raise WorkloadError(
                f"workload {workload.name!r}: a task cannot be sent to a worker process: {exc}"
            ) from exc
        tried += 1
        t0 = time.perf_counter()
        try:
            fn(*args)
        except Exception as exc:
            failures.append(exc)
        else:
            spent.append(time.perf_counter() - t0)
            if time.perf_counter() - started >= max_s:
                break
    if tried == 0:
        raise WorkloadError(f"workload {workload.name!r} has no inputs (the stream is empty)")
    if not spent:
        first = failures[0]
        text = "".join(traceback.format_exception(first)).rstrip()
        raise WorkloadError(
            f"workload {workload.name!r} raised on every input tried ({tried} of {tried}); "
            f"the first: {type(first).__name__}: {first}\n\n{text}\n\n"
            "Fix the function or its inputs (it was called in this process, without a pool)."
        ) from first
    return sum(spent) / len(spent)
