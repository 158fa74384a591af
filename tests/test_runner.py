"""tuner.runner: real pools on tiny workloads, the closed-loop driver on threads, and the
failure rules (an error Trial, never an exception; Ctrl-C still stops).

Task functions live here at module level: workers import them as ``tests.test_runner:...``.
Nothing here compares timings with thresholds: only structure, ordering and counts.
"""

from __future__ import annotations

import functools
import itertools
import os
import pathlib
import re
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tuner.errors import ConfigError, RemoteTraceback, WorkloadError
from tuner.monitor import StabilityRule
from tuner.runner import (
    MIN_IN_FLIGHT,
    MIN_WINDOW_TASKS,
    PoolEvaluator,
    check_workload,
    describe_error,
    in_flight_limit,
    run_baseline,
)
from tuner.runner import _measure as measure_module
from tuner.runner._driver import ClosedLoop, Phase, PoolBroke
from tuner.runner._measure import (
    MIN_MONITOR_INTERVAL_S,
    SPAN_TICKS,
    _assemble,
    monitor_interval,
)
from tuner.search import Evaluator, SearchSpace, Trial, TrialLog, grid_search
from tuner.workloads import Workload, from_function

# ------------------------------------------------------------------------- task functions


def nap(x):
    """About a millisecond of waiting: cheap on a shared 2-core machine."""
    time.sleep(0.001)
    return x


def always_raises(x):
    raise ValueError(f"bad input {x}")


def raises_on_multiples_of_four(x):
    if x % 4 == 0:
        raise KeyError(x)
    return x


def raises_unless_multiple_of_four(x):
    if x % 4:
        raise ArithmeticError(f"no {x}")
    return x


def record_pid(key, path):
    """Append ``key pid`` to ``path`` (one small O_APPEND write: atomic between workers)."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{key} {os.getpid()}\n".encode())
    finally:
        os.close(fd)
    return os.getpid()


def _keyed_source(path, seed, n):
    keys = [f"key-{i}" for i in range(8)]
    for i in itertools.islice(itertools.count(), n):
        key = keys[(i * 5 + seed) % len(keys)]
        yield key, (key, path)


def _workload(fn, *, window=60, warmup=10, items=range(64)) -> Workload:
    return from_function(fn, list(items), trial_tasks=window, warmup_tasks=warmup)


def _evaluator(workload, **kwargs) -> PoolEvaluator:
    kwargs.setdefault("monitor_interval_s", 0.02)
    kwargs.setdefault("max_window_s", 30.0)
    return PoolEvaluator(workload, **kwargs)


# ------------------------------------------------------------------------- real pools


def test_evaluate_returns_a_sane_trial_and_reports_progress():
    events = []
    ev = _evaluator(_workload(nap), strategy="grid", on_event=lambda k, p: events.append((k, p)))
    assert isinstance(ev, Evaluator)
    trial = ev.evaluate({"max_workers": 2, "balancer": "round_robin"}, 3, "size-sweep")
    assert isinstance(trial, Trial)
    assert trial.error is None, trial.error
    assert trial.config == {"max_workers": 2, "balancer": "round_robin"}
    assert (trial.stage, trial.strategy) == ("size-sweep", "grid")
    assert len(trial.samples) == 3 and all(s > 0 for s in trial.samples)
    assert len(trial.p99_samples) == 3 and all(p > 0 for p in trial.p99_samples)
    assert 0 < trial.latency_p50_s <= trial.latency_p90_s <= trial.latency_p99_s
    assert trial.cpu_percent is not None and trial.cpu_percent >= 0
    assert trial.peak_rss_bytes is not None and trial.peak_rss_bytes > 0
    assert trial.duration_s > 0 and trial.started_at > 0
    kinds = [k for k, _ in events]
    assert kinds == ["trial-start", "ready", "warmup", "window", "window", "window", "trial-end"]
    windows = [p for k, p in events if k == "window"]
    assert [w["tasks"] for w in windows] == [60, 60, 60]
    assert [w["throughput"] for w in windows] == list(trial.samples)
    assert events[-1][1]["trial"] is trial
    assert ev.evaluations == 1


def test_keyed_workload_goes_through_submit_keyed(tmp_path):
    path = str(tmp_path / "pids.txt")
    workload = Workload(
        name="pid-keyed",
        description="records which worker ran each key",
        stresses="routing by key",
        fn=record_pid,
        source=functools.partial(_keyed_source, path),
        keyed=True,
        trial_tasks=80,
        warmup_tasks=16,
    )
    trial = _evaluator(workload).evaluate({"max_workers": 2, "balancer": "consistent_hash"}, 2, "t")
    assert trial.error is None, trial.error
    seen: dict[str, set[int]] = {}
    for line in pathlib.Path(path).read_text().splitlines():
        key, pid = line.split()
        seen.setdefault(key, set()).add(int(pid))
    assert len(seen) == 8
    assert all(len(pids) == 1 for pids in seen.values()), seen


def test_a_task_that_always_raises_gives_an_error_trial_with_the_worker_traceback():
    trial = _evaluator(_workload(always_raises)).evaluate({"max_workers": 1}, 2, "race")
    assert trial.error is not None and not trial.ok
    assert trial.error.startswith("every warm-up task raised (10 of 10): ValueError: bad input")
    assert "Traceback" in trial.error and "always_raises" in trial.error
    assert trial.samples == ()


@pytest.mark.parametrize(
    ("fn", "fails"),
    [(raises_on_multiples_of_four, False), (raises_unless_multiple_of_four, True)],
)
def test_some_failing_tasks_fail_the_trial_only_past_half(fn, fails):
    trial = _evaluator(_workload(fn, window=40, warmup=8)).evaluate({"max_workers": 1}, 1, "t")
    assert len(trial.samples) == 1 and trial.samples[0] > 0
    if fails:  # 3 in 4 raise
        assert trial.error is not None
        match = re.match(r"(\d+) of 48 tasks raised: ArithmeticError: no \d+\n", trial.error)
        assert match is not None, trial.error
        assert int(match[1]) > 24
    else:  # 1 in 4 raise: the configuration is still measured and usable
        assert trial.error is None


@pytest.mark.parametrize(
    "config",
    [{"max_workers": 1, "balancer": "nope"}, {"max_workers": 0}, {"max_wrokers": 2}],
)
def test_a_bad_configuration_is_an_error_trial(config):
    trial = _evaluator(_workload(nap)).evaluate(config, 2, "t")
    assert trial.error is not None and trial.error.startswith("invalid configuration: ")
    assert trial.samples == () and trial.config == config


@pytest.mark.slow
def test_a_window_is_capped_by_max_window_s():
    # A window of a million naps cannot finish in 0.5 s: it ends at the cap and counts what
    # finished.  (The warm-up is count-based and short.)
    workload = _workload(nap, window=1_000_000, warmup=4)
    ev = _evaluator(workload, max_window_s=0.5, max_in_flight=8)
    events = []
    ev._emit.hook = lambda k, p: events.append((k, p))
    trial = ev.evaluate({"max_workers": 1}, 2, "t")
    assert trial.error is None, trial.error
    windows = [p for k, p in events if k == "window"]
    assert [w["capped"] for w in windows] == [True, True]
    assert all(0 < w["tasks"] < 1_000_000 for w in windows)
    assert all(s > 0 for s in trial.samples)


@pytest.mark.slow
def test_a_workload_without_trial_tasks_is_calibrated_once():
    workload = from_function(nap, list(range(50)))
    assert workload.trial_tasks is None
    ev = _evaluator(workload)
    first = ev.evaluate({"max_workers": 1}, 1, "calibrate")
    assert first.error is None, first.error
    assert ev.window_tasks is not None and ev.window_tasks >= MIN_WINDOW_TASKS
    window = ev.window_tasks
    events = []
    ev._emit.hook = lambda k, p: events.append((k, p))
    second = ev.evaluate({"max_workers": 1, "balancer": "pull"}, 1, "t")
    assert second.error is None, second.error
    assert ev.window_tasks == window
    assert [p["tasks"] for k, p in events if k == "window"] == [window]
    assert "calibrated" not in [k for k, _ in events]


def test_ctrl_c_propagates_after_the_pool_is_shut_down():
    def hook(kind, payload):
        if kind == "window":
            raise KeyboardInterrupt

    ev = _evaluator(_workload(nap), on_event=hook)
    with pytest.raises(KeyboardInterrupt):
        ev.evaluate({"max_workers": 1}, 3, "t")
    # no leaked worker: the autouse fixture checks


def test_a_broken_input_stream_is_a_workload_error_not_an_error_trial():
    calls = itertools.count()

    def inputs():
        if next(calls) > 0:  # the first call is from_function's own check
            raise OSError("the data went away")
        return [1, 2, 3]

    ev = _evaluator(from_function(nap, inputs, trial_tasks=10, warmup_tasks=2))
    with pytest.raises(WorkloadError, match="the data went away"):
        ev.evaluate({"max_workers": 1}, 1, "t")


def test_a_failing_event_hook_does_not_fail_the_trial():
    def hook(kind, payload):
        raise RuntimeError("display broke")

    trial = _evaluator(_workload(nap, window=20, warmup=4), on_event=hook).evaluate(
        {"max_workers": 1}, 1, "t"
    )
    assert trial.error is None and len(trial.samples) == 1


@pytest.fixture
def stops_resource_tracker():
    """End multiprocessing's resource tracker if the test started it.

    A ``spawn`` ProcessPoolExecutor starts this helper process on first use and it normally
    lives until the interpreter exits; a test that starts it ends it (hygiene fixture)."""
    from multiprocessing import resource_tracker

    tracker = resource_tracker._resource_tracker
    running_before = tracker._pid is not None
    yield
    if not running_before and tracker._pid is not None:
        tracker._stop()


@pytest.mark.slow
@pytest.mark.usefixtures("stops_resource_tracker")
def test_baseline_runs_process_pool_executor_with_the_same_windows():
    trial = run_baseline(
        _workload(nap, window=40, warmup=8), repeats=2, max_workers=2, monitor_interval_s=0.02
    )
    assert trial.error is None, trial.error
    assert trial.config == {
        "executor": "ProcessPoolExecutor",
        "max_workers": 2,
        "mp_context": "spawn",
    }
    assert (trial.strategy, trial.stage) == ("baseline", "baseline")
    assert len(trial.samples) == 2 and all(s > 0 for s in trial.samples)
    assert trial.latency_p50_s <= trial.latency_p90_s <= trial.latency_p99_s


@pytest.mark.slow
@pytest.mark.usefixtures("stops_resource_tracker")
def test_baseline_with_a_raising_task_is_an_error_trial():
    trial = run_baseline(_workload(always_raises, window=20, warmup=4), repeats=1, max_workers=1)
    assert trial.error is not None and "ValueError: bad input" in trial.error
    assert "always_raises" in trial.error  # ProcessPoolExecutor's remote traceback


def test_grid_search_over_real_pools_recommends_a_measured_configuration(tmp_path):
    space = SearchSpace.from_pool_config().apply(
        ["workers=1", "balancer=pull,round_robin", "batch_size=1", "prefetch=4"]
    )
    log = TrialLog(tmp_path / "trials.jsonl")
    ev = _evaluator(_workload(nap, window=30, warmup=6))
    result = grid_search(space, ev, repeats=2, on_trial=log.append)
    assert result.evaluations == 2 == ev.evaluations
    assert result.best_config in [t.config for t in result.trials]
    assert all(t.strategy == "grid" and t.repeats == 2 and t.ok for t in result.trials)
    assert [t.to_json() for t in log.read()] == [t.to_json() for t in result.trials]


# ------------------------------------------------------------------------- check_workload


def test_check_workload_raises_with_the_traceback():
    with pytest.raises(WorkloadError) as info:
        check_workload(_workload(always_raises))
    text = str(info.value)
    assert "raised on every input tried (3 of 3)" in text
    assert "ValueError: bad input 0" in text and "always_raises" in text and "Traceback" in text
    assert isinstance(info.value.__cause__, ValueError)


def test_check_workload_accepts_a_partly_failing_function_and_times_it():
    assert check_workload(_workload(raises_on_multiples_of_four), tasks=4) > 0
    assert check_workload(_workload(nap), tasks=2) > 0


def test_check_workload_refuses_an_unpicklable_input():
    lock = threading.Lock()
    with pytest.raises(WorkloadError, match="cannot be sent to a worker"):
        check_workload(from_function(nap, [(lock,)]))


@pytest.mark.parametrize("tasks", [0, -1, True, 1.5])
def test_check_workload_validates_tasks(tasks):
    with pytest.raises(WorkloadError, match="tasks must be"):
        check_workload(_workload(nap), tasks=tasks)


# ------------------------------------------------------------------------- arguments, helpers


@pytest.mark.parametrize(
    "kwargs",
    [
        {"window_tasks": 0},
        {"warmup_tasks": -3},
        {"max_window_s": 0},
        {"max_window_s": float("nan")},
        {"monitor_interval_s": -1.0},
        {"seed": "x"},
        {"max_in_flight": True},
    ],
)
def test_evaluator_arguments_are_validated(kwargs):
    with pytest.raises(ConfigError):
        PoolEvaluator(_workload(nap), **kwargs)


def test_evaluator_refuses_a_non_workload_and_bad_repeats():
    with pytest.raises(ConfigError, match="workload must be"):
        PoolEvaluator(nap)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="repeats"):
        _evaluator(_workload(nap)).evaluate({"max_workers": 1}, 0, "t")


@given(
    workers=st.integers(1, 64),
    prefetch=st.integers(1, 4096),
    batch=st.integers(1, 1024),
    window=st.none() | st.integers(1, 10**6),
    queue=st.integers(0, 10_000),
)
def test_in_flight_limit_bounds(workers, prefetch, batch, window, queue):
    limit = in_flight_limit(
        workers, prefetch=prefetch, batch_size=batch, window_tasks=window, queue_size=queue
    )
    assert limit >= 1
    if queue:
        assert limit <= queue
    else:
        assert limit >= MIN_IN_FLIGHT
        more = in_flight_limit(
            workers + 1, prefetch=prefetch, batch_size=batch, window_tasks=window
        )
        assert more >= limit
    if window is None and not queue:
        assert limit >= workers * min(prefetch, 16)


def test_every_public_name_imports():
    import tuner.runner

    assert tuner.runner.__all__
    for name in tuner.runner.__all__:
        assert getattr(tuner.runner, name) is not None, name


def test_describe_error_appends_the_remote_traceback():
    exc = ValueError("boom")
    exc.__cause__ = RemoteTraceback('Traceback (most recent call last):\n  File "w.py"\n')
    text = describe_error(exc)
    assert text.startswith("ValueError: boom\nTraceback (most recent call last):")
    assert describe_error(KeyError("k")) == "KeyError: 'k'"


# ------------------------------------------------------------------------- the driver, on threads


class _Counting:
    """A thread executor that records how many of its tasks were unresolved at once."""

    def __init__(self, workers: int) -> None:
        self.executor = ThreadPoolExecutor(workers)
        self.lock = threading.Lock()
        self.live = 0
        self.peak = 0

    def submit(self, key, args) -> Future:
        with self.lock:
            self.live += 1
            self.peak = max(self.peak, self.live)
        future = self.executor.submit(sum, args)
        future.add_done_callback(self._done)
        return future

    def _done(self, _future) -> None:
        with self.lock:
            self.live -= 1


@settings(max_examples=25)
@given(
    limit=st.integers(1, 12),
    goals=st.lists(st.integers(1, 40), min_size=1, max_size=4),
    workers=st.integers(1, 3),
)
def test_closed_loop_respects_the_limit_and_partitions_completions(limit, goals, workers):
    fake = _Counting(workers)
    calls = ((None, (i, 1)) for i in itertools.count())
    loop = ClosedLoop(fake.submit, calls, limit)
    try:
        phases = [loop.run_phase(goal, 30.0) for goal in goals]
    finally:
        fake.executor.shutdown(wait=True)
    assert [p.tasks for p in phases] == goals
    assert all(p.failed == 0 and not p.capped for p in phases)
    assert all(len(p.latencies_s) == p.tasks and np.all(p.latencies_s >= 0) for p in phases)
    assert fake.peak <= limit
    assert loop.resolved >= sum(goals)


def test_closed_loop_counts_failures_and_ends_on_an_exhausted_stream():
    with ThreadPoolExecutor(2) as executor:
        calls = iter([(None, (1, 0)), (None, (1, 1)), (None, (2, 1))])

        def submit(key, args):
            return executor.submit(divmod, *args)  # divmod(1, 0) raises

        phase = ClosedLoop(submit, calls, 2).run_phase(10, 30.0)
    assert (phase.tasks, phase.failed, phase.exhausted) == (3, 1, True)
    assert isinstance(phase.first_error, ZeroDivisionError)


def test_closed_loop_turns_a_refused_submit_into_pool_broke():
    def submit(key, args):
        raise RuntimeError("cannot schedule new futures after shutdown")

    loop = ClosedLoop(submit, iter([(None, ())]), 4)
    with pytest.raises(PoolBroke, match="after shutdown"):
        loop.run_phase(1, 5.0)
    assert loop.outstanding == 0


# ------------------------------------------------------------------------- stability


def test_monitor_interval_samples_short_spans_faster_down_to_a_floor():
    assert monitor_interval(0.1, None) == 0.1
    assert monitor_interval(0.1, float("nan")) == 0.1
    assert monitor_interval(0.1, 100.0) == 0.1  # long spans: the asked rate
    assert monitor_interval(0.1, SPAN_TICKS * 0.06) == pytest.approx(0.06)
    assert monitor_interval(0.1, 0.01) == MIN_MONITOR_INTERVAL_S  # never faster than the floor
    assert monitor_interval(0.01, 0.01) == 0.01  # unless a faster rate was asked for


def _summary(stable: bool, reason: str | None = None) -> SimpleNamespace:
    return SimpleNamespace(
        tree_cpu_percent_mean=150.0, tree_rss_peak_bytes=10**8, stable=stable,
        unstable_reason=reason,
    )  # fmt: skip


def test_a_trials_cpu_rss_and_stability_come_from_its_windows_span():
    phase = Phase(tasks=10, failed=0, elapsed_s=0.1, latencies_s=np.full(10, 0.01))
    out = _assemble(phase, [phase, phase], _summary(True), 10)
    assert out.stable and out.extra["unstable_reason"] is None
    assert out.cpu_percent == pytest.approx(150.0) and out.peak_rss_bytes == 10**8
    busy = _summary(False, "other work used 80.0% of a core on average")
    out = _assemble(phase, [phase, phase], busy, 10)
    assert not out.stable and out.extra["unstable_reason"].startswith("other work")
    assert out.cpu_percent == pytest.approx(150.0)  # measured all the same, flagged
    out = _assemble(phase, [phase], None, 10)  # no monitor: nothing shows a quiet machine
    assert not out.stable and out.cpu_percent is None and out.peak_rss_bytes is None


def test_short_windows_get_enough_monitor_samples_to_be_judged(monkeypatch):
    # Two windows of ~0.15 s each (1 ms naps on two workers): at the asked 10 Hz their span
    # would hold about five samples, too few for a judgement; the runner samples it faster.
    spans = []

    def spy(warm, phases, span, window):
        spans.append(span)
        return _assemble(warm, phases, span, window)

    monkeypatch.setattr(measure_module, "_assemble", spy)
    ev = _evaluator(_workload(nap, window=300, warmup=40), monitor_interval_s=0.1)
    trial = ev.evaluate({"max_workers": 2, "balancer": "round_robin"}, 2, "size-sweep")
    assert trial.error is None, trial.error
    (span,) = spans
    assert span is not None
    assert span.n_samples >= 2 * StabilityRule().min_samples  # ~7 at 10 Hz, ~11 at 25 Hz
    assert span.unstable_reason is None or not span.unstable_reason.startswith("too few")
