"""``python -m benchmarks.pool`` works: every section, case and peer appears, nothing leaks.

These tests check that the benchmark command runs end to end and reports what it promises;
they assert nothing about the figures themselves (the machine is shared and noisy).  The
benchmark runs in its own session, so that every process it starts, including the workers
of every pool, can be found afterwards and, on a timeout, ended together.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from hypothesis import given
from hypothesis import strategies as st

from benchmarks.pool.__main__ import SECTIONS, main, targets
from benchmarks.pool.common import (
    DIRECT,
    LOKY,
    MPP,
    POOL,
    PPE,
    TUNED,
    Bench,
    executors,
    reaped,
)
from benchmarks.pool.direct import DirectWorker
from benchmarks.pool.scenarios import BALANCERS

from .pool_helpers import child_pids

ROOT = Path(__file__).resolve().parent.parent
#: Upper bound on one benchmark run in these tests; a quick run takes well under a minute.
RUN_TIMEOUT_S = 300


def _session_members(sid: int) -> list[psutil.Process]:
    members = []
    for proc in psutil.process_iter():
        with contextlib.suppress(psutil.Error, OSError):
            if os.getsid(proc.pid) == sid:
                members.append(proc)
    return members


def _run_benchmark(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the benchmark in a new session; fail if it, or anything it started, outlives it."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.pool", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    sid = proc.pid
    try:
        out, err = proc.communicate(timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(sid, signal.SIGKILL)
        proc.communicate(timeout=30)
        pytest.fail(f"python -m benchmarks.pool {' '.join(args)} ran over {RUN_TIMEOUT_S} s")
    finally:
        # Resource trackers exit once their parent has gone; anything else left is a leak.
        deadline = time.monotonic() + 10
        left = _session_members(sid)
        while left and time.monotonic() < deadline:
            time.sleep(0.1)
            left = _session_members(sid)
        for p in left:
            with contextlib.suppress(psutil.Error):
                p.kill()
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:\n{out}\nstderr:\n{err}"
    assert not left, f"the benchmark left processes behind: {[p.pid for p in left]}"
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def _impls(doc: dict, section: str) -> set[str]:
    return {row["impl"] for row in doc["rows"][section]}


@pytest.mark.slow
def test_quick_run_reports_every_section_case_and_peer(tmp_path):
    path = tmp_path / "figures.json"
    result = _run_benchmark("--quick", "--json", str(path))
    out = result.stdout
    doc = json.loads(path.read_text())

    assert doc["quick"] is True
    assert list(doc["rows"]) == list(SECTIONS)
    for name, (title, _run) in SECTIONS.items():
        assert f"## {name}: {title}" in out
    # Every printed row is in the JSON, with its raw figures.
    for rows in doc["rows"].values():
        for row in rows:
            assert row["impl"] in out and row["case"] in out

    assert any("pyzmq ROUTER thread" in impl for impl in _impls(doc, "floor"))
    assert {r["case"].split(" (")[0] for r in doc["rows"]["floor"]} == {
        "serial round trip over ipc",
        "pipelined echo, window 256",
    }
    peers = {PPE, MPP, LOKY, POOL, TUNED}
    for case in ("map1", "map64"):
        assert set(doc["figures"]["map"][case]) == peers
        for figs in doc["figures"]["map"][case].values():
            assert figs["seconds"] and figs["best_ns"] > 0
    assert set(doc["figures"]["rtt"]["rtt"]) == peers | {DIRECT}
    assert _impls(doc, "heavy") == {f"{POOL} {b}" for b in BALANCERS} | {PPE, LOKY}
    assert _impls(doc, "kill") == {POOL, PPE, MPP, LOKY}
    assert doc["figures"]["kill"]["under load"][POOL]["failed_futures"] == 0
    idle = doc["figures"]["memory"]["idle"]
    assert set(idle) == {POOL, PPE, MPP, LOKY}
    assert all(len(v["worker_rss_mb"]) == 2 for v in idle.values())
    peaks = {impl for case, v in doc["figures"]["memory"].items() if case != "idle" for impl in v}
    assert any(i.startswith(POOL) and "buffersize" in i for i in peaks)
    assert any(i.startswith(PPE) for i in peaks)

    assert "## Targets of the issue, as measured in this run" in out
    assert {t["target"].split(":")[0].split(" <")[0] for t in doc["targets"]} >= {
        "map chunksize 1",
        "round trip",
        "(context) round trip vs the raw pyzmq floor",
    }
    assert any(t["target"].startswith("memory growth") for t in doc["targets"])


def test_only_floor_runs_alone(tmp_path):
    path = tmp_path / "floor.json"
    result = _run_benchmark("--quick", "--only", "floor", "--json", str(path))
    doc = json.loads(path.read_text())
    assert list(doc["rows"]) == ["floor"]
    assert "## floor:" in result.stdout and "## map:" not in result.stdout
    pipelined = doc["figures"]["floor"]["pipelined"]["pyzmq ROUTER thread"]
    assert pipelined["msgs_per_s"] > 0 and pipelined["window"] == 256


@pytest.mark.parametrize(
    "argv, complaint",
    [
        (["--only", "floor,nonsense"], "nonsense"),
        (["--workers", "0"], "--workers"),
    ],
)
def test_bad_arguments_are_refused_by_name(argv, complaint, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert complaint in capsys.readouterr().err


@given(
    pool_ns=st.floats(1.0, 1e9),
    ppe_ns=st.floats(1.0, 1e9),
    mpp_ns=st.floats(1.0, 1e9),
    growth=st.floats(0.0, 1e4),
)
def test_targets_judge_the_recorded_figures(pool_ns, ppe_ns, mpp_ns, growth):
    bench = Bench(workers=2, quick=True)
    for impl, ns in ((POOL, pool_ns), (PPE, ppe_ns), (MPP, mpp_ns)):
        bench.record("map", "map1", impl, best_ns=ns)
        bench.record("rtt", "rtt", impl, best_ns=ns)
    label = f"{POOL} chunksize=1000 buffersize=16"
    bench.record("memory", "peak 10", label, n=10, growth_mb=growth)
    held = {t["target"]: t["held"] for t in targets(bench)}
    assert held[f"map chunksize 1: >= 20x {PPE}"] == (ppe_ns / pool_ns >= 20)
    assert held[f"map chunksize 1: >= 3x {MPP}"] == (mpp_ns / pool_ns >= 3)
    assert held[f"round trip <= 0.5x {PPE}'s"] == (pool_ns / ppe_ns <= 0.5)
    assert held["memory growth mapping 10 items < 50 MB"] == (growth < 50)


def test_sections_end_their_processes_when_they_raise():
    # What the kill and memory scenarios rely on: an error inside the block still ends the
    # pool's workers (executors' finally) and any other child started there (reaped's).
    before = child_pids()
    with pytest.raises(RuntimeError, match="boom"), executors([POOL], 1) as exs:
        stray = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        assert exs[POOL].submit(pow, 2, 5).result(60) == 32
        with reaped():
            raise RuntimeError("boom")
    assert stray.wait(10) is not None
    assert child_pids() - before == set()


def test_the_caller_runs_bound_runs_real_tasks_and_ends_its_worker():
    before = child_pids()
    worker = DirectWorker()
    try:
        assert [worker.submit(pow, 2, i).result(0) for i in range(5)] == [1, 2, 4, 8, 16]
        failed = worker.submit(divmod, 1, 0)
        assert isinstance(failed.exception(0), ZeroDivisionError)
        assert worker.submit(pow, 3, 2).result(0) == 9  # the worker survives a task's failure
    finally:
        worker.shutdown()
    assert child_pids() - before == set()
