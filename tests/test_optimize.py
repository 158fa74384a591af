"""``python -m tuner optimize`` and ``tuner.optimize``: end to end on a tiny budget, and bad input.

The end-to-end runs search real pools on a small, quick user workload (tests/optimize_tasks.py)
with a budget of a few seconds: they check the files, their contents and the exit codes, not
what configuration wins (that is the search's tests' job, on a simulator).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests import optimize_tasks
from tuner.autotune import Recommendation, optimize
from tuner.cli import main
from tuner.errors import ConfigError, SearchError, WorkloadError
from tuner.search import TrialLog

ROOT = Path(__file__).resolve().parent.parent
FIX = ["--fix", "workers=1..2", "--fix", "balancer=round_robin,least_outstanding"]


def _inputs_file(tmp_path: Path, n: int = 200) -> Path:
    path = tmp_path / "inputs.jsonl"
    path.write_text("".join(f"{i % 50}\n" for i in range(n)))
    return path


@pytest.mark.slow
def test_the_command_runs_end_to_end_and_writes_every_file(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "tuner", "optimize", "tests.optimize_tasks:square",
         "--inputs", str(_inputs_file(tmp_path)), "--budget", "20s", *FIX,
         "--out", str(out), "--json"],
        capture_output=True, text=True, timeout=240, cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report == json.loads((out / "report.json").read_text())
    config = report["recommendation"]["config"]
    assert config["max_workers"] in (1, 2)
    assert config["balancer"] in ("round_robin", "least_outstanding")
    assert report["recommendation"]["throughput"] > 0
    assert report["environment"]["python"]
    trials = TrialLog(out / "trials.jsonl").read()
    assert trials and all(t.config["max_workers"] in (1, 2) for t in trials)
    html = (out / "report.html").read_text()
    assert "data:image/png;base64," in html and "http://" not in html


def test_the_python_api_returns_a_recommendation_that_builds_the_pool(tmp_path):
    rec = optimize(
        optimize_tasks.square,
        [(i % 50,) for i in range(200)],
        budget=12,
        fix=["workers=1..2", "balancer=round_robin", "batch_size=1", "prefetch=1..16"],
        out=tmp_path,
        baseline=False,
    )
    assert isinstance(rec, Recommendation)
    assert rec.config is not None and rec.throughput > 0
    assert "WorkerPool(" in rec.snippet()
    with rec.pool() as pool:
        assert pool.submit(optimize_tasks.square, 7).result(60) == 49
    assert (tmp_path / "report.json").is_file()


def test_a_keyed_builtin_workload_starts_with_the_key_affine_balancer(tmp_path):
    rec = optimize(
        workload="affinity",
        budget=8,
        fix=["workers=1..2", "batch_size=1", "prefetch=4"],
        out=tmp_path,
        baseline=False,
    )
    trials = TrialLog(tmp_path / "trials.jsonl").read()
    assert trials[0].stage == "calibrate" and trials[0].config["balancer"] == "consistent_hash"
    assert any("carry keys" in line for line in rec.report["search"]["explanation"])


def test_resume_reuses_finished_trials(tmp_path):
    fix = ["workers=1", "balancer=round_robin", "batch_size=1", "prefetch=4"]
    args = (optimize_tasks.square, [(i,) for i in range(100)])
    first = optimize(*args, budget=8, fix=fix, out=tmp_path, baseline=False)
    before = TrialLog(tmp_path / "trials.jsonl").read()
    optimize(*args, budget=8, fix=fix, resume=tmp_path, baseline=False)
    after = TrialLog(tmp_path / "trials.jsonl").read()
    # The finished trials are kept as they were, never measured again.
    assert len(before) >= 1 and after[: len(before)] == before
    if first.report["search"]["stopped"] == "complete":
        # One configuration only, and its search finished: nothing new to measure.
        assert len(after) == len(before)
    else:
        # The first run's budget ran out (a loaded machine): the resumed run only adds the
        # repeats that were missing, for the same configuration.
        assert all(t.config == before[0].config for t in after)


# --------------------------------------------------------------------------- bad input


def _run(capsys, *argv):
    code = main(["optimize", *argv])
    return code, capsys.readouterr().err


def test_an_unknown_workload_is_one_line_and_exit_2(capsys):
    code, err = _run(capsys, "no-such-workload", "--budget", "10s")
    assert code == 2
    assert "no-such-workload" in err and "Traceback" not in err


def test_an_unknown_dimension_is_refused(capsys, tmp_path):
    code, err = _run(capsys, "--fix", "wrokers=4", "--out", str(tmp_path))
    assert code == 2 and "wrokers" in err and "Traceback" not in err


def test_a_budget_too_small_is_refused(capsys, tmp_path):
    code, err = _run(capsys, "--budget", "1s", "--out", str(tmp_path))
    assert code == 2 and "too small" in err


def test_a_bad_budget_text_is_refused(capsys):
    code, err = _run(capsys, "--budget", "soon")
    assert code == 2 and "soon" in err


def test_an_unwritable_out_is_refused(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, err = _run(capsys, "--out", str(blocker / "sub"), "--budget", "10s")
    assert code == 2 and "cannot write" in err


def test_an_unimportable_function_is_a_workload_error(capsys):
    code, err = _run(capsys, "no_such_module_xyz:task", "--inputs", "x.jsonl")
    assert code == 1 and "no_such_module_xyz" in err


def test_a_function_that_always_raises_exits_1_with_its_traceback(capsys, tmp_path):
    code, err = _run(
        capsys, "tests.optimize_tasks:always_fails", "--inputs", str(_inputs_file(tmp_path)),
        "--budget", "10s", "--out", str(tmp_path / "run"),
    )  # fmt: skip
    assert code == 1
    assert "always_fails" in err and "ValueError" in err


def test_api_errors_are_tuner_errors(tmp_path):
    with pytest.raises(ConfigError):
        optimize(optimize_tasks.square, None, out=tmp_path)
    with pytest.raises(SearchError, match="too small"):
        optimize(optimize_tasks.square, [(1,)], budget=1, out=tmp_path)
    with pytest.raises(WorkloadError):
        optimize(optimize_tasks.always_fails, [(1,)] * 5, budget=10, out=tmp_path)


def test_help_explains_every_option(capsys):
    assert main(["optimize", "--help"]) == 0
    out = capsys.readouterr().out
    for option in ("--budget", "--objective", "--strategy", "--slo-p99", "--max-rss",
                   "--max-cpu", "--fix", "--out", "--json", "--resume", "--seed"):  # fmt: skip
        assert option in out


@pytest.mark.slow
def test_ctrl_c_stops_after_the_running_trial_and_keeps_every_finished_one(tmp_path):
    import os
    import signal
    import time

    out = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tuner", "optimize", "tests.optimize_tasks:square",
         "--inputs", str(_inputs_file(tmp_path)), "--budget", "120s", *FIX,
         "--out", str(out), "--no-baseline"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    try:
        log = out / "trials.jsonl"
        deadline = time.monotonic() + 120
        while not (log.is_file() and log.read_text().count("\n") >= 2):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no trial finished"
            time.sleep(0.2)
        os.kill(proc.pid, signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, stderr
    trials = TrialLog(out / "trials.jsonl").read()
    assert len(trials) >= 2
    report = json.loads((out / "report.json").read_text())
    assert "stopped" in " ".join(report["search"]["explanation"])
    assert "WorkerPool(" in stdout
