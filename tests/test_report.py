"""tuner.report: report.json, report.html, the terminal summary and ``python -m tuner report``.

Search results come from the search package's own strategies over the simulated objective
(tests/search_sim.py), so every test here is deterministic and runs no pool.
"""

from __future__ import annotations

import ast
import base64
import io
import json
import math
import os
import shutil
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from tuner.config import PoolConfig
from tuner.errors import TunerError
from tuner.report import (
    FORMAT_VERSION,
    build_report,
    environment,
    fmt,
    json_safe,
    load_report,
    plot_throughput,
    render_html,
    render_plots,
    render_terminal,
    report_main,
    write_report,
)
from tuner.report.summary import UslSlice, summarise_configurations, usl_slices
from tuner.search import (
    Constraints,
    Objective,
    SearchSpace,
    Trial,
    TrialLog,
    USLFit,
    auto_search,
    grid_search,
)

from .search_sim import SHAPES, SimEvaluator

SPACE = SearchSpace.from_pool_config(logical_cores=2)
SMALL = SPACE.restrict(balancer=["round_robin", "pull"], batch_size=(1, 4), prefetch=[8])
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
EVIL = "<script>alert('x')</script>"

BASELINE = Trial(
    {"executor": "ProcessPoolExecutor", "max_workers": 2},
    (800.0, 820.0, 790.0),
    latency_p50_s=0.002,
    latency_p90_s=0.003,
    latency_p99_s=0.010,
    cpu_percent=190.0,
    peak_rss_bytes=100 * 2**20,
)
WORKLOAD = {"name": "mixed", "description": "CPU then waiting", "function": "m:f"}
SETTINGS = {
    "budget": "60s",
    "objective": "throughput",
    "strategy": "auto",
    "constraints": {"slo_p99_s": None},
    "seed": 0,
    "fixed": [],
}


def _report(result, baseline=BASELINE, workload=WORKLOAD, env=None):
    return build_report(
        result=result,
        trials=result.trials,
        baseline=baseline,
        workload=workload,
        settings=SETTINGS,
        environment=env if env is not None else {"cpu_model": "test", "logical_cores": 2},
    )


@pytest.fixture(scope="module")
def result():
    return auto_search(SPACE, SimEvaluator(SHAPES["default"], seed=1))


@pytest.fixture(scope="module")
def report(result):
    return _report(result)


@pytest.fixture(scope="module")
def infeasible():
    return auto_search(SMALL, SimEvaluator(), constraints=Constraints(max_rss_bytes=1000))


@pytest.fixture(scope="module")
def written(tmp_path_factory, result, report):
    """A finished run's directory: trials.jsonl, report.json, report.html (drawn once)."""
    directory = tmp_path_factory.mktemp("run")
    TrialLog(directory / "trials.jsonl").extend(result.trials)
    write_report(directory, report, result.trials)
    return directory


@pytest.fixture
def run_dir(tmp_path, written):
    """A private copy of :func:`written`, for tests that change or damage it."""
    return shutil.copytree(written, tmp_path / "run")


def _no_nan(text: str) -> None:
    json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} in the JSON"))


# -- report.json -------------------------------------------------------------------------------


def test_report_holds_the_fixed_names(result, report):
    rec = report["recommendation"]
    assert rec["config"] == result.best_config
    assert PoolConfig(**rec["config"]).max_workers == result.best_config["max_workers"]
    assert rec["throughput"] == pytest.approx(result.best_trial.throughput)
    ci = rec["throughput_interval"]
    assert ci["level"] == 0.95 and ci["n"] == result.best_trial.repeats
    assert ci["low"] <= rec["throughput"] <= ci["high"]
    assert (ci["low"], ci["high"]) == pytest.approx(
        (result.throughput_interval.low, result.throughput_interval.high)
    )
    assert 0 < rec["latency_p50_s"] <= rec["latency_p90_s"] <= rec["latency_p99_s"]
    assert rec["cpu_percent"] > 0 and rec["peak_rss_bytes"] > 0
    assert rec["explanation"] == result.explain() and rec["explanation"]
    assert report["reason"] is None
    assert report["baseline"]["config"] == BASELINE.config
    assert report["baseline"]["throughput"] == pytest.approx(BASELINE.throughput)
    assert report["gain_over_baseline"] == pytest.approx(rec["throughput"] / BASELINE.throughput)
    assert report["p99_gain_over_baseline"] == pytest.approx(0.010 / rec["latency_p99_s"])
    assert report["format_version"] == FORMAT_VERSION
    assert report["workload"] == WORKLOAD and report["settings"] == SETTINGS
    assert report["environment"]["cpu_model"] == "test"


def test_search_section_counts_and_usl_fit(result, report):
    search = report["search"]
    assert search["strategy"] == "auto" and search["objective"] == "throughput"
    assert search["evaluations"] == result.evaluations
    assert search["trials"] == len(result.trials)
    assert search["configurations"] == len(report["configurations"])
    assert search["trial_seconds"] == pytest.approx(sum(t.duration_s for t in result.trials))
    usl = search["usl"]
    # The simulator's true sigma and kappa at the recommended batch size: 0.05 and 0.01.
    assert usl["fitted"] and usl["balancer"] == result.best_config["balancer"]
    assert abs(usl["sigma"] - 0.05) < 0.03 and 0.005 < usl["kappa"] < 0.02
    assert usl["n_star"] == pytest.approx(math.sqrt((1 - usl["sigma"]) / usl["kappa"]))
    assert usl["peak"] is True and len(usl["sizes"]) >= 3
    assert {s["balancer"] for s in search["usl_by_balancer"]} >= {result.best_config["balancer"]}


def test_configurations_are_ranked_and_merged(result, report):
    configs = report["configurations"]
    assert [c["id"] for c in configs] == [f"C{i}" for i in range(1, len(configs) + 1)]
    ranked = sorted((c for c in configs if c["rank"] is not None), key=lambda c: c["rank"])
    assert ranked[0]["config"] == result.best_config
    throughputs = [c["throughput"] for c in ranked]
    assert throughputs == sorted(throughputs, reverse=True)
    assert sum(c["repeats"] for c in configs) == sum(t.repeats for t in result.trials)


def test_report_round_trips_through_json_without_nan(report):
    text = json.dumps(report, allow_nan=False)
    _no_nan(text)
    assert json.loads(text) == report


def test_no_recommendation_gives_a_reason(infeasible):
    report = _report(infeasible)
    assert infeasible.best_config is None
    assert report["recommendation"] is None
    assert "constraint" in report["reason"]
    assert report["gain_over_baseline"] is None
    assert report["search"]["violating"]
    assert all(c["rank"] is None and c["violations"] for c in report["configurations"])
    _no_nan(json.dumps(report, allow_nan=False))
    page = render_html(report, infeasible.trials, plots=())  # plots: tested below
    assert "No recommendation" in page


@pytest.mark.parametrize(
    "baseline",
    [None, Trial({"executor": "ProcessPoolExecutor"}, (), error="BrokenProcessPool: died")],
)
def test_gain_is_null_without_a_measured_baseline(result, baseline):
    report = _report(result, baseline=baseline)
    assert report["gain_over_baseline"] is None and report["p99_gain_over_baseline"] is None
    if baseline is None:
        assert report["baseline"] is None
    else:
        assert report["baseline"]["error"].startswith("BrokenProcessPool")
        assert report["baseline"]["throughput"] is None


def test_build_report_rejects_what_is_not_a_result(result):
    with pytest.raises(TunerError, match="SearchResult"):
        build_report(result={}, trials=[], baseline=None, workload={}, settings={}, environment={})
    with pytest.raises(TunerError, match="Trial"):
        build_report(
            result=result, trials=[{}], baseline=None, workload={}, settings={}, environment={}
        )


class _Replay:
    """An evaluator that returns a prepared trial per pool size and balancer."""

    def __init__(self, table):
        self.table = table

    def evaluate(self, config, repeats, stage):
        return self.table[(config["max_workers"], config["balancer"])]


_odd = st.one_of(
    st.none(), st.just(math.nan), st.just(math.inf), st.floats(1e-6, 10.0, allow_nan=False)
)


@settings(max_examples=25)
@given(
    table=st.dictionaries(
        st.tuples(st.integers(1, 4), st.sampled_from(["pull", "round_robin"])),
        st.tuples(
            st.lists(st.floats(1.0, 1e5, allow_nan=False), min_size=1, max_size=4),
            _odd,
            _odd,
            st.one_of(st.none(), st.integers(1, 2**40)),
        ),
        min_size=8,
        max_size=8,
    ),
)
def test_any_measurements_give_strict_json(table):
    trials = {
        key: Trial(
            {"max_workers": key[0], "balancer": key[1]},
            samples,
            latency_p50_s=p99,
            latency_p99_s=p99,
            cpu_percent=cpu,
            peak_rss_bytes=rss,
        )
        for key, (samples, p99, cpu, rss) in table.items()
    }
    space = SPACE.restrict(max_workers=(1, 4), balancer=["pull", "round_robin"]).fix(
        batch_size=1, prefetch=8
    )
    result = grid_search(space, _Replay(trials), repeats=1)
    report = _report(result)
    _no_nan(json.dumps(report, allow_nan=False))
    for c in report["configurations"]:
        ci = c["throughput_interval"]
        assert ci["n"] == c["repeats"]
        assert (ci["low"] is None) == (c["repeats"] == 1)


def test_json_safe_handles_foreign_values():
    import numpy as np

    data = {1: (np.float64(1.5), np.int64(3), math.inf), "f": len, "s": {2}}
    safe = json_safe(data)
    assert safe == {"1": [1.5, 3, None], "f": "builtins:len", "s": [2]}
    json.dumps(safe, allow_nan=False)


# -- report.html ---------------------------------------------------------------------------------


def test_write_report_writes_both_files_atomically(tmp_path, result, report):
    paths = write_report(tmp_path / "run", report, result.trials)
    assert paths.json.name == "report.json" and paths.html.name == "report.html"
    assert json.loads(paths.json.read_text()) == report
    assert sorted(p.name for p in paths.json.parent.iterdir()) == ["report.html", "report.json"]
    assert os.stat(paths.json).st_mode & 0o444 == 0o444  # readable like any file, not 0600
    page = paths.html.read_text()
    images = page.split("data:image/png;base64,")[1:]
    assert len(images) == 3
    for image in images:
        assert base64.b64decode(image.split("'", 1)[0]).startswith(PNG_MAGIC)
    assert "http://" not in page and "https://" not in page
    assert "<script" not in page.lower() and "<link" not in page.lower()
    assert fmt.config_text(result.best_config) in page


def test_html_escapes_every_foreign_text(result):
    workload = {"name": EVIL, "description": "a & b <i>", "function": "<m>:f"}
    report = _report(result, workload=workload, env={"cpu_model": EVIL, "os": "<b>"})
    page = render_html(report, result.trials, plots=())
    assert "<script" not in page and "<i>" not in page and "<b>" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "a &amp; b &lt;i&gt;" in page


def test_html_lists_every_trial(result, report):
    page = render_html(report, result.trials, plots=())
    table = page.split("<h2>Every trial</h2>", 1)[1].split("<h2>", 1)[0]
    assert table.count("<tr") == len(result.trials) + 1  # the header row, then one per trial
    assert table.count("class='rec'") == sum(t.config == result.best_config for t in result.trials)


def test_write_report_to_an_unwritable_place_is_a_tuner_error(tmp_path, result, report):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(TunerError, match="cannot create"):
        write_report(blocker / "sub", report, result.trials)


# -- plots ---------------------------------------------------------------------------------------


def test_plots_are_saved_when_asked(tmp_path, result, report):
    plots = render_plots(report, result.trials, save_dir=tmp_path / "img")
    assert [p.name for p in plots] == ["throughput_vs_workers", "latency", "resources"]
    for plot in plots:
        assert plot.png.startswith(PNG_MAGIC)
        assert plot.path.read_bytes() == plot.png
    assert b"matplotlib.org" not in plots[0].png  # no metadata: no network address anywhere


def test_balancers_with_fewer_than_three_sizes_are_not_fitted():
    trials = [
        Trial({"max_workers": n, "balancer": b}, (100.0 * n, 101.0 * n))
        for n in (1, 2)
        for b in ("pull", "random")
    ] + [Trial({"max_workers": 4, "balancer": "pull"}, (300.0, 310.0))]
    slices = {s.balancer: s for s in usl_slices(summarise_configurations(trials))}
    assert slices["pull"].fit is not None and slices["random"].fit is None
    assert "only 2 pool size(s)" in slices["random"].note
    plot = plot_throughput(list(slices.values()))
    assert plot.png.startswith(PNG_MAGIC)
    assert any("random" in n and "fewer than 3" in n for n in plot.notes)


def test_a_fit_without_peak_is_noted():
    # Amdahl's law (κ = 0): throughput only levels off, so there is no N* to mark.
    flat = USLFit(lam=100.0, sigma=0.3, kappa=0.0, r2=1.0, rms_relative_error=0.0, n_points=3)
    sizes = (1, 2, 4)
    means = tuple(float(flat.predict(n)) for n in sizes)
    pull = UslSlice("pull", {"balancer": "pull"}, sizes, means, means, means, flat, None)
    assert pull.to_json()["n_star"] is None and pull.to_json()["peak"] is False
    plot = plot_throughput([pull])
    assert plot.png.startswith(PNG_MAGIC)
    assert any("no peak" in n for n in plot.notes)


def test_nothing_to_plot_gives_notes_not_images():
    report = {"recommendation": None, "configurations": [{"id": "C1", "config": {}}]}
    plots = render_plots(report, [Trial({"max_workers": 1}, (), error="boom")])
    assert all(p.png is None and p.notes for p in plots)
    page = render_html(report, [])
    assert "data:image" not in page


# -- terminal ------------------------------------------------------------------------------------


def _console(width=200):
    return Console(file=io.StringIO(), width=width, record=True, color_system=None)


@pytest.mark.parametrize("width", [200, 60])
def test_terminal_summary_ends_with_a_snippet_that_builds_the_pool(result, report, width):
    console = _console(width)
    code = render_terminal(report, console)
    out = console.export_text()
    assert code in out  # printed verbatim, never wrapped, whatever the terminal width
    for text in ("Tuning result", "Top 5 configurations", "baseline", "×"):
        assert text in out
    tree = ast.parse(code)  # valid Python
    assert isinstance(tree.body[0], ast.ImportFrom) and tree.body[0].module == "tuner"
    namespace = {"WorkerPool": PoolConfig}  # the same keywords, without starting processes
    exec(compile(ast.Module(tree.body[1:], []), "<snippet>", "exec"), namespace)
    assert namespace["pool"] == PoolConfig(**result.best_config)


def test_top_table_fits_an_80_column_terminal_without_splitting_a_setting(report):
    console = _console(80)
    render_terminal(report, console)
    out = console.export_text()
    table = out[out.index("Top 5 configurations") : out.index("Paste this")]
    assert max(len(line.rstrip()) for line in table.splitlines()) <= 80
    words = set(table.split())
    for c in report["configurations"]:
        if c.get("rank") is not None and c["rank"] <= 5:
            assert all(f"{k}={v}" in words for k, v in c["config"].items())  # never split
    assert "RSS" in words  # the last column is not cut off
    wide = _console(200)
    render_terminal(report, wide)
    ids = [c["id"] for c in report["configurations"] if c.get("rank") == 1]
    assert ids and ids[0] in wide.export_text()  # wide consoles also show the trial ids


def test_interval_text_puts_the_label_after_the_separator():
    from tuner.report import fmt

    ci = {"low": -5.0, "high": 1260.4, "level": 0.95, "n": 6}
    assert fmt.interval(ci) == "[0, 1,260] tasks/s (95%, n=6)"  # never below zero
    assert fmt.interval(ci, unit="", sep="\n") == "[0, 1,260]\n(95%, n=6)"
    assert fmt.interval({"low": None, "high": None, "n": 1}) == "unknown width (n=1)"


def test_terminal_without_recommendation_prints_the_reason(infeasible):
    console = _console()
    assert render_terminal(_report(infeasible), console) is None
    assert "none: no measured configuration met the constraints" in console.export_text()


@given(
    workers=st.integers(1, 64),
    balancer=st.sampled_from(["pull", "round_robin", "bounded_load_hash"]),
    batch=st.integers(1, 1024),
    extra=st.booleans(),
)
def test_snippet_is_valid_python_for_any_config(workers, balancer, batch, extra):
    config = {"max_workers": workers, "balancer": balancer, "batch_size": batch}
    if extra:
        config |= {"serializer": "pickle", "balance_factor": 1.5, "heartbeat_interval_s": 0.5}
    code = fmt.snippet(config)
    assert all(len(line) <= 88 for line in code.splitlines())
    namespace = {"WorkerPool": PoolConfig}
    exec(code.replace("from tuner import WorkerPool\n", ""), namespace)
    assert namespace["pool"] == PoolConfig(**config)


# -- python -m tuner report DIR ------------------------------------------------------------------


def test_report_main_re_renders_from_the_saved_files(run_dir, result, capsys):
    (run_dir / "report.html").unlink()
    before = (run_dir / "report.json").read_text()
    assert report_main([str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert fmt.snippet(result.best_config).splitlines()[-1] in out
    assert (run_dir / "report.html").read_text().count("data:image/png;base64,") == 3
    assert (run_dir / "report.json").read_text() == before  # the record is left untouched


def test_report_main_json_prints_the_same_document(run_dir, capsys):
    assert report_main([str(run_dir), "--json"]) == 0
    printed = capsys.readouterr().out
    assert json.loads(printed) == json.loads((run_dir / "report.json").read_text())


def test_report_main_saves_plots_for_the_docs(run_dir, tmp_path):
    assert report_main([str(run_dir), "--save-plots", str(tmp_path / "img")]) == 0
    assert sorted(p.name for p in (tmp_path / "img").iterdir()) == [
        "latency.png",
        "resources.png",
        "throughput_vs_workers.png",
    ]


def _one_line_error(capsys, match):
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert "error" in err and match in err, err


def test_report_main_on_a_missing_directory(tmp_path, capsys):
    assert report_main([str(tmp_path / "nope")]) == 1
    _one_line_error(capsys, "is not a directory")


@pytest.mark.parametrize(
    "damage, match",
    [
        (lambda d: (d / "report.json").unlink(), "--resume"),
        (lambda d: (d / "report.json").write_text("{not json"), "not valid JSON"),
        (lambda d: (d / "report.json").write_text("[1, 2]"), "not a tuner report"),
        (lambda d: (d / "report.json").write_text('{"recommendation": null}'), "format"),
        (lambda d: (d / "trials.jsonl").unlink(), "trials.jsonl does not exist"),
        (
            lambda d: (d / "trials.jsonl").write_text('{"x": 1}\n{"config": {}, "samples": []}\n'),
            "line 1 is corrupt",
        ),
    ],
)
def test_report_main_on_damaged_files(run_dir, capsys, damage, match):
    damage(run_dir)
    assert report_main([str(run_dir)]) == 1
    _one_line_error(capsys, match)


def test_report_main_reports_a_torn_trial_log_and_goes_on(run_dir, capsys):
    with open(run_dir / "trials.jsonl", "a") as handle:
        handle.write('{"config": {"max_wor')
    assert report_main([str(run_dir)]) == 0
    assert "torn last line" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, code", [([], 2), (["a", "b"], 2), (["--bogus", "d"], 2), (["--help"], 0)]
)
def test_report_main_usage(argv, code, capsys):
    assert report_main(argv) == code


def test_load_report_returns_the_document_and_trials(run_dir, result, report):
    loaded, trials, notes = load_report(run_dir)
    assert loaded == report and notes == []
    assert [t.key for t in trials] == [t.key for t in result.trials]


def test_p99_objective_ranks_by_latency():
    result = auto_search(SMALL, SimEvaluator(seed=4), objective=Objective("p99"))
    report = _report(result)
    ranked = sorted((c for c in report["configurations"] if c["rank"]), key=lambda c: c["rank"])
    p99s = [c["latency_p99_s"] for c in ranked]
    assert p99s == sorted(p99s)
    assert report["recommendation"]["objective"] == "p99"
    assert report["search"]["usl"] is None or report["search"]["usl"]["fitted"]


# -- environment ---------------------------------------------------------------------------------


def test_environment_describes_this_machine():
    import zmq

    env = environment()
    assert env["logical_cores"] >= 1 and env["memory_total_bytes"] > 0
    assert env["python"] == ".".join(map(str, sys.version_info[:3]))
    assert env["versions"]["pyzmq"] == zmq.__version__
    assert env["versions"]["libzmq"] == zmq.zmq_version()
    for name in ("numpy", "numba", "psutil", "tuner"):
        assert env["versions"][name]
    json.dumps(env, allow_nan=False)


def test_environment_never_raises(monkeypatch):
    import psutil

    def broken(*args, **kwargs):
        raise RuntimeError("no /proc here")

    monkeypatch.setattr(psutil, "virtual_memory", broken)
    monkeypatch.setattr(psutil, "cpu_count", lambda logical=True: None if not logical else 2)
    env = environment()
    assert env["memory_total_bytes"] is None and env["physical_cores"] is None
    assert any("memory total unavailable" in n for n in env["notes"])
    assert any("physical core count unknown" in n for n in env["notes"])


def test_importing_the_report_package_loads_neither_matplotlib_nor_rich():
    code = (
        "import sys, tuner.report; "
        "print(sorted(m for m in ('matplotlib', 'rich') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip() == "[]"


def test_every_public_name_imports():
    import tuner.report

    assert len(set(tuner.report.__all__)) == len(tuner.report.__all__)
    for name in tuner.report.__all__:
        assert getattr(tuner.report, name) is not None, name
