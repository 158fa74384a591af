"""tuner.monitor: real child processes for what psutil reports, synthetic samples for the rules.

Nothing here compares a duration with a wall-clock threshold: CPU checks compare processes
measured in the same window (a busy child against an idle one), and waits poll with a timeout.
"""

from __future__ import annotations

import math
import os
import pathlib
import re
import subprocess
import sys
import threading

import psutil
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from tuner import monitor as mon_mod
from tuner.errors import ConfigError, TunerError
from tuner.monitor import (
    Mark,
    Monitor,
    MonitorError,
    MonitorSummary,
    ProcessSample,
    Sample,
    StabilityRule,
    judge_stability,
    summarize,
)

from .pool_helpers import wait_until

BUSY = "while True: pass"
IDLE = "import time; time.sleep(120)"
# Allocates (and touches) 200 MB when it reads a line, then says so and waits.
ALLOC = (
    "import sys, time\n"
    "sys.stdin.readline()\n"
    "b = b'x' * (200 * 2**20)\n"
    "print('ok', flush=True)\n"
    "time.sleep(120)\n"
)
MB = 2**20
WAIT_S = 30


@pytest.fixture
def spawn():
    """Start ``python -c code`` children; every one is killed and reaped at teardown."""
    procs: list[subprocess.Popen] = []

    def start(code: str, **kw) -> subprocess.Popen:
        p = subprocess.Popen([sys.executable, "-c", code], **kw)
        procs.append(p)
        return p

    yield start
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait(timeout=WAIT_S)
        for stream in (p.stdin, p.stdout):
            if stream is not None:
                stream.close()


def _seen(m: Monitor, *pids: int) -> bool:
    s = m.latest()
    return s is not None and set(pids) <= {p.pid for p in s.processes}


def _ticks_after(m: Monitor, mark: Mark, n: int) -> bool:
    s = m.latest()
    return s is not None and s.tick >= mark.baseline.tick + n


def _dead_pid() -> int:
    """A pid with no process behind it: a child that has exited and been reaped."""
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait(timeout=WAIT_S)
    assert not psutil.pid_exists(p.pid)
    return p.pid


# ----------------------------------------------------------------------- real processes


def test_busy_child_uses_more_cpu_than_idle_child(spawn):
    busy, idle = spawn(BUSY), spawn(IDLE)
    with Monitor(interval_s=0.05) as m:
        wait_until(lambda: _seen(m, busy.pid, idle.pid), "children sampled", timeout_s=WAIT_S)
        mark = m.mark()
        wait_until(lambda: _ticks_after(m, mark, 8), "8 ticks", timeout_s=WAIT_S)
        s = m.summary(since=mark)
    by_pid = {p.pid: p for p in s.processes}
    b, i = by_pid[busy.pid], by_pid[idle.pid]
    assert b.user_s + b.system_s > i.user_s + i.system_s
    assert b.cpu_percent_mean > i.cpu_percent_mean
    assert s.tree_cpu_percent_mean >= b.cpu_percent_mean
    assert math.isclose(s.user_s, sum(p.user_s for p in s.processes))
    assert s.processes[0].pid == os.getpid()  # the root comes first
    assert s.n_samples >= 8 and s.duration_s > 0
    assert s.tree_rss_peak_bytes >= max(b.rss_peak_bytes, i.rss_peak_bytes)
    assert BUSY in b.cmdline and IDLE[:40] in i.cmdline
    assert s.root_rss_peak_bytes is not None and s.root_alive
    assert s.stable == (s.unstable_reason is None)
    assert s.monitor_cpu_percent >= 0
    assert s.system_cpu_percent_mean is not None and s.n_cpus == psutil.cpu_count()
    assert not m.running
    after = m.summary(since=mark)  # stop() took a last sample; the window ends there
    assert after.end_s >= s.end_s and m.summary(since=mark) == after


def test_rss_and_uss_of_an_allocating_child_grow(spawn):
    child = spawn(ALLOC, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    with Monitor(interval_s=0.05, uss_every=1) as m:
        wait_until(lambda: _seen(m, child.pid), "child sampled", timeout_s=WAIT_S)
        before = m.mark()
        rss0 = next(p.rss_bytes for p in before.baseline.processes if p.pid == child.pid)
        child.stdin.write("go\n")
        child.stdin.flush()
        assert child.stdout.readline().strip() == "ok"
        s = m.summary(since=before)
    c = next(p for p in s.processes if p.pid == child.pid)
    assert c.rss_peak_bytes - rss0 >= 150 * MB
    assert c.uss_peak_bytes is not None and c.uss_peak_bytes >= 150 * MB
    assert s.tree_uss_peak_bytes is not None and s.tree_uss_peak_bytes >= c.uss_peak_bytes


def test_child_killed_mid_run_is_reported_exited_and_monitor_keeps_going(spawn):
    a, b = spawn(IDLE), spawn(IDLE)
    with Monitor(interval_s=0.05) as m:
        wait_until(lambda: _seen(m, a.pid, b.pid), "children sampled", timeout_s=WAIT_S)
        mark = m.mark()
        a.kill()
        a.wait(timeout=WAIT_S)
        wait_until(lambda: not _seen(m, a.pid), "killed child dropped", timeout_s=WAIT_S)
        assert m.running and m.root_alive
        s = m.summary(since=mark)
    by_pid = {p.pid: p for p in s.processes}
    assert by_pid[a.pid].exited and not by_pid[b.pid].exited


def test_zombie_child_is_skipped_and_counted(spawn):
    child = spawn(IDLE)
    m = Monitor()
    assert _pids(m.sample_now()) >= {child.pid}
    child.kill()  # not reaped yet: a zombie until wait()
    wait_until(
        lambda: psutil.Process(child.pid).status() == psutil.STATUS_ZOMBIE,
        "zombie", timeout_s=WAIT_S,
    )
    s = m.sample_now()
    assert child.pid not in _pids(s)
    assert s.skipped >= 1 and m.skipped_total >= 1


def test_process_vanishing_between_listing_and_sampling_is_skipped(monkeypatch):
    gone = _dead_pid()
    m = Monitor()
    monkeypatch.setattr(m, "_use_proc_children", True)
    monkeypatch.setattr(mon_mod, "_children_linux", lambda pid: [gone])
    s = m.sample_now()
    assert _pids(s) == {os.getpid()} and s.skipped == 1


def test_root_gone_stops_cleanly_and_summary_says_so(spawn):
    root = spawn(IDLE)
    m = Monitor(root_pid=root.pid, interval_s=0.02).start()
    try:
        first = m.mark()
        root.kill()
        root.wait(timeout=WAIT_S)
        wait_until(lambda: not m.running, "monitor thread to stop", timeout_s=WAIT_S)
        assert not m.root_alive and "root gone" in repr(m)
        assert m.sample_now() is None
        assert isinstance(m.mark(), Mark)  # the last sample stands in
        s = m.summary(since=first)
        assert not s.root_alive
    finally:
        m.stop()


def test_include_root_false_samples_only_descendants(spawn):
    child = spawn(IDLE)
    m = Monitor(include_root=False, per_cpu=True)
    m.sample_now()
    s = m.sample_now()
    assert os.getpid() not in _pids(s) and child.pid in _pids(s)
    assert s.root_rss_bytes is not None  # the root is still read, just not counted
    assert s.per_cpu_percent is not None and len(s.per_cpu_percent) == psutil.cpu_count()


def test_psutil_children_fallback_finds_the_same_tree(spawn, monkeypatch):
    child = spawn(IDLE)
    m = Monitor()
    monkeypatch.setattr(m, "_use_proc_children", False)
    assert child.pid in _pids(m.sample_now())


def test_thread_is_a_named_daemon_and_stop_joins():
    m = Monitor(interval_s=0.01)
    with m:
        thread = m._thread
        assert thread is not None and thread.daemon and "tuner-monitor" in thread.name
        wait_until(lambda: len(m.samples()) >= 3, "3 samples", timeout_s=WAIT_S)
    assert not thread.is_alive() and not m.running
    ticks = [s.tick for s in m.samples()]
    assert ticks == sorted(ticks) and len(set(ticks)) == len(ticks)


def test_ring_is_bounded_and_long_window_is_truncated():
    m = Monitor(max_samples=3, uss_every=0)
    mark = m.mark()
    for _ in range(6):
        m.sample_now()
    assert len(m.samples()) == 3
    s = m.summary(since=mark)
    assert s.truncated and s.n_samples == 3 and s.tree_uss_peak_bytes is None


def test_os_errors_become_monitor_errors_with_the_cause(monkeypatch):
    m = Monitor()

    def boom():
        raise OSError(5, "cannot read /proc/stat")

    monkeypatch.setattr(mon_mod.psutil, "cpu_times", boom)
    with pytest.raises(MonitorError) as info:
        m.sample_now()
    assert isinstance(info.value, TunerError) and isinstance(info.value.__cause__, OSError)


def test_a_failing_thread_surfaces_at_stop(monkeypatch):
    m = Monitor(interval_s=0.01).start()
    failed = threading.Event()

    def boom():
        failed.set()
        raise OSError(5, "I/O error")

    monkeypatch.setattr(mon_mod.psutil, "cpu_times", boom)
    wait_until(lambda: failed.is_set() and not m.running, "thread to fail", timeout_s=WAIT_S)
    with pytest.raises(MonitorError) as info:
        m.stop()
    assert isinstance(info.value.__cause__, MonitorError)
    assert isinstance(info.value.__cause__.__cause__, OSError)


def test_an_unexpected_exception_on_the_thread_is_not_lost(monkeypatch):
    m = Monitor(interval_s=0.01).start()

    def bug(cpu0):
        raise ValueError("a bug in the monitor")

    monkeypatch.setattr(m, "_take", bug)
    wait_until(lambda: not m.running, "thread to stop", timeout_s=WAIT_S)
    with pytest.raises(MonitorError) as info:
        m.summary()
    assert isinstance(info.value.__cause__.__cause__, ValueError)


# ----------------------------------------------------------------------- bad arguments


@pytest.mark.parametrize(
    ("kwargs", "knob"),
    [
        ({"interval_s": 0}, "interval_s"),
        ({"interval_s": -0.1}, "interval_s"),
        ({"interval_s": float("nan")}, "interval_s"),
        ({"interval_s": float("inf")}, "interval_s"),
        ({"interval_s": "0.1"}, "interval_s"),
        ({"interval_s": True}, "interval_s"),
        ({"root_pid": "1"}, "root_pid"),
        ({"root_pid": 1.5}, "root_pid"),
        ({"root_pid": True}, "root_pid"),
        ({"root_pid": 0}, "root_pid"),
        ({"root_pid": -3}, "root_pid"),
        ({"uss_every": -1}, "uss_every"),
        ({"max_samples": 1}, "max_samples"),
        ({"rule": {"max_steal_percent": 1}}, "rule"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, knob):
    with pytest.raises(ConfigError, match=knob) as info:
        Monitor(**kwargs)
    assert info.value.knob == knob and isinstance(info.value, ValueError)


@pytest.mark.parametrize("bad", [0, -0.1, float("nan"), float("inf"), "0.1", True])
def test_set_interval_checks_and_changes_a_running_monitors_rate(bad):
    m = Monitor(interval_s=0.5).start()
    try:
        with pytest.raises(ConfigError, match="interval_s") as info:
            m.set_interval(bad)
        assert info.value.knob == "interval_s" and m.interval_s == 0.5
        m.set_interval(0.01)  # from the next tick (within 0.5 s), then every 10 ms
        first = len(m.samples())
        wait_until(lambda: len(m.samples()) >= first + 10, "faster ticks", timeout_s=WAIT_S)
        assert m.interval_s == 0.01
        assert min(x.interval_s for x in m.samples()[-9:]) < 0.25  # not the old 0.5 s
    finally:
        m.stop()


def test_missing_root_pid_is_a_config_error():
    pid = _dead_pid()
    with pytest.raises(ConfigError, match=f"root_pid={pid}") as info:
        Monitor(root_pid=pid)
    assert isinstance(info.value.__cause__, psutil.NoSuchProcess)


@pytest.mark.parametrize(
    ("kwargs", "knob"),
    [
        ({"max_other_cpu_percent": -1}, "max_other_cpu_percent"),
        ({"max_steal_percent": float("nan")}, "max_steal_percent"),
        ({"max_steal_percent": "5"}, "max_steal_percent"),
        ({"min_samples": 0}, "min_samples"),
        ({"min_samples": 2.0}, "min_samples"),
    ],
)
def test_bad_rule_values_name_the_knob(kwargs, knob):
    with pytest.raises(ConfigError, match=knob):
        StabilityRule(**kwargs)


def test_summary_rejects_what_is_not_a_mark():
    m = Monitor()
    m.sample_now()
    with pytest.raises(ConfigError, match="since"):
        m.summary(since=3)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="another Monitor"):
        m.summary(since=Monitor().mark())


# ----------------------------------------------------------------------- pure rules


def _pids(sample: Sample | None) -> set[int]:
    assert sample is not None
    return {p.pid for p in sample.processes}


def _sample(tick: int, other: float | None = 0.0, steal: float | None = 0.0, *, dt=0.1, procs=()):
    return Sample(
        tick=tick, time_s=tick * dt, interval_s=dt if tick else 0.0, processes=tuple(procs),
        tree_cpu_percent=None if other is None else 50.0, system_cpu_percent=None,
        other_cpu_percent=other, steal_percent=steal, iowait_percent=None, per_cpu_percent=None,
        load_avg=None, n_cpus=2, root_rss_bytes=None,
    )


def _proc(pid, cpu_s, rss=100, *, born=False, ctx=0):
    return ProcessSample(pid, "p", "p", cpu_s, 0.0, None, rss, None, ctx, 0, born)


percents = st.floats(0, 400, allow_nan=False)
windows = st.lists(
    st.tuples(percents, st.none() | st.floats(0, 100), st.floats(0.01, 1.0)), max_size=30
)
rules = st.builds(
    StabilityRule,
    max_other_cpu_percent=st.floats(0, 200),
    max_steal_percent=st.floats(0, 50),
    min_samples=st.integers(1, 10),
)


def _mean(pairs):
    w = sum(d for _, d in pairs)
    return sum(v * d for v, d in pairs) / w


@given(windows, rules)
def test_stability_rule_matches_its_definition(rows, rule):
    samples = [_sample(i + 1, o, s, dt=d) for i, (o, s, d) in enumerate(rows)]
    stable, reason = judge_stability(samples, rule)
    other = [(o, d) for o, _, d in rows]
    steal = [(s, d) for _, s, d in rows if s is not None]
    expected = (
        len(rows) >= rule.min_samples
        and _mean(other) <= rule.max_other_cpu_percent
        and (not steal or _mean(steal) <= rule.max_steal_percent)
    )
    assert stable == expected
    assert (reason is None) == stable


@given(windows, rules, st.floats(0.1, 500))
def test_more_other_work_never_makes_a_window_stable(rows, rule, extra):
    samples = [_sample(i + 1, o, s, dt=d) for i, (o, s, d) in enumerate(rows)]
    busier = [_sample(i + 1, o + extra, s, dt=d) for i, (o, s, d) in enumerate(rows)]
    if not judge_stability(samples, rule)[0]:
        assert not judge_stability(busier, rule)[0]


@given(st.integers(0, 20), st.integers(1, 20))
def test_too_few_samples_is_the_reason_whatever_the_load(n, min_samples):
    assume(n < min_samples)
    stable, reason = judge_stability([_sample(i + 1) for i in range(n)],
                                     StabilityRule(min_samples=min_samples))
    assert not stable and "too few samples" in reason


def test_reasons_name_the_threshold():
    quiet = [_sample(i + 1) for i in range(10)]
    assert judge_stability(quiet) == (True, None)
    _, reason = judge_stability([_sample(i + 1, other=80.0) for i in range(10)])
    assert "max_other_cpu_percent" in reason
    _, reason = judge_stability([_sample(i + 1, steal=12.0) for i in range(10)])
    assert "max_steal_percent" in reason
    # A platform without steal (None) is judged on the other rules only.
    assert judge_stability([_sample(i + 1, steal=None) for i in range(10)])[0]


def test_summarize_counts_window_deltas_births_and_exits():
    base = _sample(0, procs=[_proc(1, 10.0), _proc(2, 5.0, ctx=3), _proc(3, 1.0)])
    window = [
        _sample(1, procs=[_proc(1, 10.5), _proc(2, 5.2, ctx=7), _proc(4, 0.3, born=True)]),
        _sample(2, procs=[_proc(1, 11.0, rss=900), _proc(4, 0.4), _proc(5, 7.0)]),
        _sample(3, procs=[_proc(1, 11.0), _proc(4, 0.5), _proc(5, 7.5)]),
    ]
    s = summarize(base, window, StabilityRule(min_samples=1), root_pid=1)
    assert isinstance(s, MonitorSummary)
    by = {p.pid: p for p in s.processes}
    assert by[1].user_s == pytest.approx(1.0) and by[1].rss_peak_bytes == 900
    assert by[2].user_s == pytest.approx(0.2) and by[2].exited and by[2].ctx_voluntary == 4
    assert by[4].user_s == pytest.approx(0.5)  # born in the window: counted from zero
    assert by[5].user_s == pytest.approx(0.5)  # existed, first seen late: from first sight
    assert by[3].exited and by[3].user_s == 0  # gone before the window's first tick
    assert s.user_s == pytest.approx(2.2)
    assert s.tree_cpu_percent_mean == pytest.approx(2.2 / 0.3 * 100)
    assert s.processes[0].pid == 1 and s.n_samples == 3 and s.stable


@given(
    st.lists(
        st.lists(
            st.tuples(st.integers(1, 6), st.floats(0, 1e4)), max_size=6, unique_by=lambda t: t[0]
        ),
        min_size=1,
        max_size=8,
    )
)
def test_summarize_totals_are_sums_and_never_negative(ticks):
    base = _sample(0)
    window = [
        _sample(i + 1, procs=[_proc(pid, c) for pid, c in row]) for i, row in enumerate(ticks)
    ]
    s = summarize(base, window)
    assert s.user_s >= 0 and all(p.user_s >= 0 and p.cpu_percent_mean >= 0 for p in s.processes)
    assert s.user_s == pytest.approx(sum(p.user_s for p in s.processes))
    assert s.n_samples == len(ticks) and s.stable == (s.unstable_reason is None)


def test_a_worker_pools_workers_are_in_the_tree():
    from tuner.pool.executor import WorkerPool

    from .pool_helpers import add, live_pids

    with WorkerPool(max_workers=2) as pool:
        assert pool.submit(add, 1, 2).result(timeout=60) == 3
        wait_until(lambda: len(live_pids(pool)) == 2, "2 live workers")
        workers = live_pids(pool)
        m = Monitor()
        mark = m.mark()
        assert list(pool.map(add, range(50), range(50))) == [2 * i for i in range(50)]
        s = m.summary(since=mark)  # not started: mark() and summary() still sample on demand
    assert workers <= _pids(mark.baseline)
    assert {p.pid for p in s.processes} >= workers | {os.getpid()}
    assert s.n_samples == 1 and not any(p.exited for p in s.processes)


def test_the_docs_example_runs(capsys):
    text = (pathlib.Path(__file__).resolve().parent.parent / "docs" / "monitor.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks, "docs/monitor.md has no python example"
    for block in blocks:
        exec(compile(block, "docs/monitor.md", "exec"), {})
    assert capsys.readouterr().out.strip()
