"""The closed-loop driver: keep a bounded number of tasks in flight and cut the stream of
completions into phases (the warm-up, then each measured window).

One stream runs from the first warm-up task to the end of the last window; phases are ranges
of *completion order*, not separate batches.  A window therefore never includes a ramp-up or a
drain (the pipeline stays full across the boundary), so deep prefetch and large batches are
not penalised by a stall at each window's end::

    caller thread                        executor's thread (done-callbacks)
    -------------                        ----------------------------------
    wait until outstanding < limit  <--- notify: outstanding -= 1, completion i recorded
    next(calls); submit(key, args)       (latency_i = done - submit, ok_i, time_i)
    phase ends when completions reach its goal (its end time = time of that completion)
      or its time cap passes (end time = now; what finished counts)

The callback does almost nothing (one lock, three appends) because it runs on the pool's
broker thread, which must keep dispatching.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["ClosedLoop", "Phase", "PoolBroke"]

_WAIT_STEP_S = 0.25  # longest single wait: bounds how late a time cap or Ctrl-C is noticed
_MAX_ERRORS_KEPT = 100  # task exceptions kept (each holds a traceback text)

Submit = Callable[[Hashable | None, tuple[Any, ...]], "Future[Any]"]


class PoolBroke(Exception):
    """Internal: the executor refused a task (its broker stopped, a ProcessPoolExecutor broke)."""


@dataclass
class Phase:
    """What one phase (warm-up or window) measured.

    Attributes
    ----------
    tasks : int
        Tasks resolved in the phase, with a value or an exception (both are work the pool did).
    failed : int
        Of those, tasks whose future holds an exception.
    elapsed_s : float
        Wall time of the phase: from the previous phase's end (or the first submit) to the
        completion that reached the goal, or to the time cap.
    latencies_s : numpy.ndarray of float64, shape (tasks,)
        Submit-to-done latency of each task resolved in the phase (perf_counter seconds).
    capped : bool
        The phase ended at its time cap before reaching its goal.
    exhausted : bool
        The input stream ended before the goal (only possible for finite user streams).
    first_error : BaseException or None
        The first exception of the phase, with its ``__cause__`` (the worker's traceback).
    """

    tasks: int
    failed: int
    elapsed_s: float
    latencies_s: np.ndarray = field(repr=False)
    capped: bool = False
    exhausted: bool = False
    first_error: BaseException | None = field(default=None, repr=False)

    @property
    def throughput(self) -> float:
        """Tasks per second over the phase (0.0 when no time passed)."""
        return self.tasks / self.elapsed_s if self.elapsed_s > 0 else 0.0


class ClosedLoop:
    """Submits ``calls`` through ``submit``, never more than ``limit`` unresolved at once.

    Parameters
    ----------
    submit : callable
        ``submit(key, args) -> Future``; ``key`` is None for unkeyed workloads.  Raising
        ``RuntimeError`` (a stopped pool; ``BrokenProcessPool`` is one) ends the run with
        :class:`PoolBroke`.
    calls : iterator of (key, args)
        The workload's calls; exceptions from it (a user generator) propagate unchanged.
    limit : int
        Most tasks in flight.
    """

    def __init__(self, submit: Submit, calls: Iterator[tuple[Any, tuple[Any, ...]]], limit: int):
        if limit < 1:
            raise ValueError(f"limit must be >= 1, got {limit}")
        self._submit = submit
        self._calls = calls
        self.limit = limit
        self._cond = threading.Condition(threading.Lock())
        self._outstanding = 0
        self._latencies: list[float] = []
        self._times: list[float] = []
        self._ok: list[bool] = []
        self._errors: dict[int, BaseException] = {}
        self._exhausted = False
        self._phase_start_idx = 0
        self._phase_start_t: float | None = None

    # -------------------------------------------------------------- executor thread side

    def _on_done(self, submitted: float, future: Future[Any]) -> None:
        now = time.perf_counter()
        if future.cancelled():
            with self._cond:
                self._outstanding -= 1
                self._cond.notify()
            return
        error = future.exception()
        with self._cond:
            if error is not None and len(self._errors) < _MAX_ERRORS_KEPT:
                self._errors[len(self._ok)] = error
            self._latencies.append(now - submitted)
            self._times.append(now)
            self._ok.append(error is None)
            self._outstanding -= 1
            self._cond.notify()

    # -------------------------------------------------------------- caller thread side

    @property
    def resolved(self) -> int:
        """Tasks resolved so far (all phases)."""
        return len(self._ok)

    @property
    def outstanding(self) -> int:
        """Tasks submitted and not yet resolved."""
        return self._outstanding

    def _submit_one(self) -> bool:
        """Submit the next call; False when the input stream has ended."""
        try:
            key, args = next(self._calls)
        except StopIteration:
            self._exhausted = True
            return False
        with self._cond:
            self._outstanding += 1
        started = time.perf_counter()
        try:
            future = self._submit(key, args)
        except RuntimeError as exc:
            with self._cond:
                self._outstanding -= 1
            raise PoolBroke(f"{type(exc).__name__}: {exc}") from exc
        except BaseException:
            with self._cond:
                self._outstanding -= 1
            raise
        future.add_done_callback(lambda f, t=started: self._on_done(t, f))
        return True

    def run_phase(self, goal: int | None, max_s: float, soft_s: float | None = None) -> Phase:
        """Run until ``goal`` more tasks resolve, or ``max_s`` seconds pass.

        Parameters
        ----------
        goal : int or None
            Completions that end the phase; None: end by time (``soft_s``) only.
        max_s : float
            Hard cap on the phase's wall time.
        soft_s : float, optional
            With ``goal=None``: end at ``soft_s`` once at least one task of the phase resolved
            (so a calibration probe of slow tasks still measures something), at ``max_s``
            regardless.
        """
        if self._phase_start_t is None:
            self._phase_start_t = time.perf_counter()
        start_idx, start_t = self._phase_start_idx, self._phase_start_t
        target = None if goal is None else start_idx + goal
        deadline = start_t + max_s
        soft = None if soft_s is None else start_t + soft_s
        capped = False
        while True:
            with self._cond:
                while True:
                    done = len(self._ok)
                    now = time.perf_counter()
                    if target is not None and done >= target:
                        end_idx, end_t = target, self._times[target - 1]
                        break
                    if now >= deadline:
                        end_idx, end_t, capped = done, now, target is not None
                        break
                    if soft is not None and now >= soft and done > start_idx:
                        end_idx, end_t = done, now
                        break
                    if self._exhausted and self._outstanding == 0:
                        end_idx, end_t = done, now
                        break
                    if not self._exhausted and self._outstanding < self.limit:
                        end_idx = -1
                        break
                    wake = deadline if soft is None or now >= soft else min(deadline, soft)
                    self._cond.wait(max(0.0, min(wake - now, _WAIT_STEP_S)))
            if end_idx >= 0:
                break
            self._submit_one()
        self._phase_start_idx, self._phase_start_t = end_idx, end_t
        ok = self._ok[start_idx:end_idx]
        failed = len(ok) - sum(ok)
        first_error = None
        if failed:
            inside = [i for i in self._errors if start_idx <= i < end_idx]
            first_error = self._errors[min(inside)] if inside else next(iter(self._errors.values()))
        return Phase(
            tasks=end_idx - start_idx,
            failed=failed,
            elapsed_s=max(end_t - start_t, 0.0),
            latencies_s=np.asarray(self._latencies[start_idx:end_idx], dtype=np.float64),
            capped=capped,
            exhausted=self._exhausted,
            first_error=first_error,
        )
