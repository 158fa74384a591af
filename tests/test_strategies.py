"""tuner.search strategies against a simulated objective with a known optimum; trials and logs.

The simulator (tests/search_sim.py) draws noise from (seed, configuration, call number), so
every test here is deterministic.
"""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tuner.errors import ConfigError, TunerError
from tuner.search import (
    STRATEGIES,
    AutoSettings,
    Budget,
    Constraints,
    Objective,
    SearchError,
    SearchSpace,
    Trial,
    TrialLog,
    TrialLogError,
    auto_search,
    config_key,
    grid_search,
    random_search,
    run,
)
from tuner.search.objective import parse_bytes, parse_duration, parse_percent

from .search_sim import SHAPES, SimClock, SimEvaluator, SimShape

SPACE = SearchSpace.from_pool_config(logical_cores=2)
# A space small enough to run the grid in a test: 8 x 3 x 7 x 7 = 1176 configurations.
SMALL = SPACE.restrict(
    balancer=["round_robin", "least_outstanding", "pull"], batch_size=(1, 64), prefetch=(1, 64)
)


def _true_ratio(evaluator, result, space):
    _, best = evaluator.true_best(space)
    return evaluator.true_throughput(result.best_config) / best


# -- grid and random ---------------------------------------------------------------------------


def test_grid_enumerates_every_configuration_exactly_once():
    space = SPACE.restrict(balancer=["pull", "bounded_load_hash"], batch_size=(1, 4), prefetch=[8])
    space = space.restrict(balance_factor=(1.0, 2.0))
    sim = SimEvaluator(SHAPES["default"], seed=1)
    seen = []
    result = grid_search(space, sim, repeats=2, on_trial=seen.append)
    expected = [config_key(c) for c in space.grid()]
    assert [t.key for t in seen] == expected
    assert result.evaluations == sim.calls == len(expected) == 8 * 3 * (1 + 5)
    assert result.samples == 2 * len(expected)
    assert all(t.repeats == 2 and t.strategy == "grid" and t.stage == "grid" for t in seen)
    means = {t.key: np.mean(t.samples) for t in seen}
    assert config_key(result.best_config) == max(means, key=means.__getitem__)
    assert result.stopped == "complete"


def test_grid_stops_at_the_budget_and_recommends_the_best_so_far():
    sim = SimEvaluator(SHAPES["default"])
    result = grid_search(SMALL, sim, budget=Budget(evaluations=10))
    assert sim.calls == result.evaluations == 10
    assert result.stopped == "budget"
    assert result.best_config in [t.config for t in result.trials]
    assert any("budget ran out" in s for s in result.explain())


def test_random_is_seeded_and_never_repeats_a_configuration():
    a = random_search(SMALL, SimEvaluator(), budget=Budget(evaluations=40), seed=3)
    b = random_search(SMALL, SimEvaluator(), budget=Budget(evaluations=40), seed=3)
    c = random_search(SMALL, SimEvaluator(), budget=Budget(evaluations=40), seed=4)
    keys = [t.key for t in a.trials]
    assert keys == [t.key for t in b.trials]
    assert keys != [t.key for t in c.trials]
    assert len(set(keys)) == len(keys) == 40
    assert all(SMALL.contains(t.config) for t in a.trials)


def test_random_covers_a_tiny_space_and_stops():
    space = SMALL.fix(workers=2, balancer="pull", prefetch=8).restrict(batch_size=(1, 4))
    result = random_search(space, SimEvaluator(), seed=0)
    assert result.evaluations == len(space) == 3 and result.stopped == "complete"


def test_run_dispatches_by_name_and_rejects_unknown_names():
    assert set(STRATEGIES) == {"auto", "grid", "random"}
    tiny = SMALL.fix(workers=1, balancer="pull", batch_size=1, prefetch=1)
    assert run("grid", tiny, SimEvaluator()).evaluations == 1
    with pytest.raises(SearchError, match="valid: auto, grid, random"):
        run("bayes", tiny, SimEvaluator())


# -- auto: quality and cost --------------------------------------------------------------------


@settings(max_examples=12, derandomize=True)
@given(
    shape=st.sampled_from(sorted(SHAPES)),
    seed=st.integers(0, 1000),
    cores=st.sampled_from([2, 4]),
)
def test_auto_finds_within_5_percent_of_the_true_best_with_a_fraction_of_the_grid(
    shape, seed, cores
):
    space = SearchSpace.from_pool_config(cores)
    sim = SimEvaluator(SHAPES[shape], seed=seed)
    result = auto_search(space, sim)
    assert _true_ratio(sim, result, space) >= 0.95
    # The grid measures every configuration; auto at most a quarter of that, in evaluations
    # and in samples (grid at its default 3 repeats).
    assert result.evaluations == sim.calls <= 0.25 * len(space)
    assert result.samples <= 0.25 * 3 * len(space)
    assert result.stopped == "complete"


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_auto_against_a_real_grid_run_on_a_small_space(shape):
    grid_sim = SimEvaluator(SHAPES[shape], seed=11)
    grid = grid_search(SMALL, grid_sim)
    auto_sim = SimEvaluator(SHAPES[shape], seed=11)
    auto = auto_search(SMALL, auto_sim)
    assert auto.evaluations < 0.25 * grid.evaluations
    assert auto.samples < 0.25 * grid.samples
    truth = auto_sim.true_throughput
    assert truth(auto.best_config) >= 0.95 * truth(grid.best_config)
    assert _true_ratio(auto_sim, auto, SMALL) >= 0.95


def test_auto_races_a_small_space_whole():
    space = SPACE.apply(
        ["workers=2,4", "balancer=pull,random,round_robin", "batch=8,16", "prefetch=32"]
    )
    sim = SimEvaluator(SHAPES["default"], seed=3)
    result = auto_search(space, sim, constraints=Constraints(max_rss_bytes=10**9))
    assert len(space) == 12
    assert {t.key for t in result.trials} == {config_key(c) for c in space.grid()}
    assert result.best_config == sim.true_best(space)[0]
    assert any("raced" in s for s in result.explain())


def test_auto_returns_the_mean_not_the_luckiest_sample_and_a_ci():
    sim = SimEvaluator(SHAPES["hash-affinity"], seed=5)
    result = auto_search(SPACE, sim)
    best = result.best_trial
    assert result.estimate == pytest.approx(np.mean(best.samples))
    assert result.estimate < max(best.samples)
    assert result.interval.low < result.estimate < result.interval.high
    assert result.interval.n == best.repeats >= AutoSettings().confirm_repeats
    assert result.throughput_interval == result.interval


def test_result_serialises_for_the_report():
    result = auto_search(SPACE, SimEvaluator(SHAPES["io-like"], seed=1))
    data = json.loads(json.dumps(result.to_json()))
    assert data["config"] == result.best_config
    assert data["throughput"] == pytest.approx(result.best_trial.throughput)
    low, high = data["throughput_interval"]["low"], data["throughput_interval"]["high"]
    assert low < data["throughput"] < high
    assert data["evaluations"] == result.evaluations and data["stopped"] == "complete"
    assert data["explanations"] == result.explain()


class _TiedBalancerSim(SimEvaluator):
    """round_robin and least_outstanding tie at the default prefetch window (256), but
    least_outstanding is 15% faster with a window of 4 or less: an interaction that racing
    one dimension at a time misses whenever the tie goes to round_robin."""

    def true_throughput(self, config):
        base = super().true_throughput({**config, "balancer": "pull"})
        if config["balancer"] == "least_outstanding":
            return base * (1.15 if config["prefetch"] <= 4 else 1.0)
        return base * (1.0 if config["balancer"] == "round_robin" else 0.8)


def test_a_statistical_tie_opens_a_branch_that_finds_the_interaction():
    space = SPACE.restrict(balancer=["round_robin", "least_outstanding", "pull"])

    def found(settings, seed):
        sim = _TiedBalancerSim(SimShape(prefetch_width=0.0, noise_cv=0.03), seed=seed)
        result = auto_search(space, sim, settings=settings)
        best = result.best_config
        return best["balancer"] == "least_outstanding" and best["prefetch"] <= 4, result

    seeds = range(10)
    # Without branches the tie is a coin flip; with them the interaction is found.
    single = sum(found(AutoSettings(beam=1), seed)[0] for seed in seeds)
    runs = [found(AutoSettings(), seed) for seed in seeds]
    assert single <= 7
    assert sum(hit for hit, _ in runs) >= 9
    assert any("opens a branch" in line for _, r in runs for line in r.explanations)
    assert all(r.evaluations <= 0.25 * len(space) for _, r in runs)


class _NoisierWithSize(SimEvaluator):
    """Noise that grows with the pool: 2% at 2 workers, 12% at 8 (as on a loaded machine)."""

    def evaluate(self, config, repeats, stage):
        trial = super().evaluate(config, repeats, stage)
        cv = 0.02 if config["max_workers"] <= 2 else 0.12
        rng = np.random.default_rng([self.seed, config["max_workers"], self.calls])
        noisy = tuple(x * float(rng.lognormal(0.0, cv)) for x in trial.samples)
        return dataclasses.replace(trial, samples=noisy)


def test_pooled_noise_is_taken_at_the_raced_pool_size():
    from tuner.search.racing import RaceBase
    from tuner.search.session import Session

    sim = _NoisierWithSize(SimShape(noise_cv=0.0), seed=3)
    race = RaceBase(Session("auto", SPACE, sim), AutoSettings())
    assert race.noise_cv() == 0.0  # nothing measured yet
    for balancer in ("round_robin", "pull", "least_outstanding"):
        for n in (2, 8):
            race.s.measure(race.with_(max_workers=n, balancer=balancer), 6, "test")
    small, large = race.noise_cv({2}), race.noise_cv({8})
    assert 0.01 < small < 0.04
    assert 0.07 < large < 0.2
    assert small < race.noise_cv() < large  # pooled over both sizes
    assert race.noise_cv({5}) == race.noise_cv()  # nothing at 5 workers: all sizes


def test_auto_explains_each_step():
    result = auto_search(SPACE, SimEvaluator(SHAPES["default"], seed=2))
    text = "\n".join(result.explain())
    for phrase in ("coefficient of variation", "USL fit", "N*", "balancer race", "Confirmation"):
        assert phrase in text
    assert result.explain()[-1].startswith("Recommendation: ")
    assert all(s.endswith(".") for s in result.explain())


def test_auto_prefers_the_smallest_pool_on_a_plateau():
    # sigma=1: throughput is flat in the pool size, every size is "as good as" the best.
    shape = dataclasses.replace(SHAPES["default"], sigma=1.0, kappa=0.0, interaction=0.0)
    result = auto_search(SPACE, SimEvaluator(shape, seed=3))
    assert result.best_config["max_workers"] == 1
    assert any("plateaus" in s for s in result.explain())


def test_auto_never_evaluates_a_cached_configuration_for_nothing():
    sim = SimEvaluator(SHAPES["contended"], seed=8)
    result = auto_search(SPACE, sim)
    repeats: dict[str, int] = {}
    for trial in result.trials:
        repeats[trial.key] = repeats.get(trial.key, 0) + trial.repeats
    # Every further evaluation of a configuration was for more repeats, and was merged.
    for key, calls in sim.per_config.items():
        assert calls == sum(1 for t in result.trials if t.key == key)
    merged = {t.key: t for t in result.trials}
    assert result.best_trial.repeats == repeats[config_key(result.best_config)]
    assert len(merged) == len(sim.per_config)


def test_fixed_dimensions_are_respected_by_auto():
    space = SPACE.apply(["workers=3", "balancer=round_robin,pull"])
    sim = SimEvaluator(SHAPES["default"], seed=4)
    result = auto_search(space, sim)
    assert all(t.config["max_workers"] == 3 for t in result.trials)
    assert {t.config["balancer"] for t in result.trials} <= {"round_robin", "pull"}
    assert any("fixed at 3" in s for s in result.explain())


def test_auto_races_balance_factor_when_bounded_load_hash_wins_and_it_is_open():
    space = SPACE.restrict(balancer=["bounded_load_hash", "random"], balance_factor=(1.0, 2.0))
    sim = SimEvaluator(SHAPES["hash-affinity"], seed=2)
    result = auto_search(space, sim)
    assert result.best_config["balancer"] == "bounded_load_hash"
    bounded = [t.config for t in result.trials if t.config["balancer"] == "bounded_load_hash"]
    assert {c["balance_factor"] for c in bounded} == {1.0, 1.1, 1.25, 1.5, 2.0}
    assert any(t.stage == "race-balance_factor" for t in result.trials)
    assert all(
        "balance_factor" not in t.config for t in result.trials if t.config["balancer"] == "random"
    )


def test_auto_starts_a_keyed_workload_with_the_key_affine_balancer():
    sim = SimEvaluator(SHAPES["hash-affinity"], seed=3)
    result = auto_search(SPACE, sim, keyed=True, budget=Budget(evaluations=12))
    first = result.trials[0]
    assert first.stage == "calibrate" and first.config["balancer"] == "consistent_hash"
    sweep = [t for t in result.trials if t.stage == "size-sweep"]
    assert sweep and {t.config["balancer"] for t in sweep} == {"consistent_hash"}
    assert any("carry keys" in line for line in result.explain())
    # Everything else starts at the pool's defaults.
    default = SPACE.start_config()
    assert {k: v for k, v in first.config.items() if k != "balancer"} == {
        k: v for k, v in default.items() if k != "balancer"
    }


def test_keyed_does_not_override_a_fixed_balancer():
    space = SPACE.fix(balancer="pull")
    result = auto_search(space, SimEvaluator(SHAPES["default"], seed=3), keyed=True,
                         budget=Budget(evaluations=4))  # fmt: skip
    assert {t.config["balancer"] for t in result.trials} == {"pull"}
    assert not any("carry keys" in line for line in result.explain())


def test_objective_p99_minimises_latency():
    sim = SimEvaluator(SHAPES["default"], seed=6)
    result = auto_search(SPACE, sim, objective=Objective("p99"))
    start = SPACE.start_config()
    assert sim.true_p99_s(result.best_config) < sim.true_p99_s(start)
    assert result.estimate == pytest.approx(np.mean(result.best_trial.p99_samples))
    assert any("Objective is p99" in s for s in result.explain())
    lowest = min(sim.true_p99_s(c) for c in SPACE.grid())
    assert sim.true_p99_s(result.best_config) <= 1.5 * lowest


# -- constraints -------------------------------------------------------------------------------


@pytest.mark.parametrize("strategy", ["auto", "grid", "random"])
def test_a_violating_configuration_is_never_recommended(strategy):
    sim = SimEvaluator(SHAPES["default"], seed=9)
    limit = 250e6  # the unconstrained best (8 workers) needs ~370 MB
    constraints = Constraints(max_rss_bytes=int(limit))
    options = {"budget": Budget(evaluations=300)} if strategy != "auto" else {}
    result = run(strategy, SMALL, sim, constraints=constraints, **options)
    assert result.best_config is not None
    assert sim.true_rss_bytes(result.best_config) <= limit
    assert result.best_trial.violations == ()
    assert result.violating and all(t.violations for t in result.violating)
    assert all("exceeds the limit" in t.violations[0] for t in result.violating)
    if strategy == "auto":
        # Looser than the unconstrained 5%: the memory limit couples pool size, batch size
        # and prefetch, which racing one dimension at a time only partly recovers.
        _, best = sim.true_best(SMALL, constraints)
        assert sim.true_throughput(result.best_config) >= 0.90 * best


def test_p99_slo_and_cpu_constraints():
    sim = SimEvaluator(SHAPES["io-like"], seed=2)
    constraints = Constraints(slo_p99_s=0.05, max_cpu_percent=150.0)
    result = auto_search(SPACE, sim, constraints=constraints)
    assert sim.true_p99_s(result.best_config) <= 0.05 * 1.1
    assert sim.true_cpu_percent(result.best_config) <= 150.0
    assert result.best_trial.latency_p99_s <= 0.05


def test_nothing_satisfiable_means_no_recommendation():
    result = auto_search(SMALL, SimEvaluator(), constraints=Constraints(max_rss_bytes=1000))
    assert result.best_config is None and result.estimate is None
    assert any("nothing to recommend" in s for s in result.explain())
    assert len(result.violating) == len({t.key for t in result.trials})


def test_unmeasured_metrics_count_as_violations():
    trial = Trial({"max_workers": 1}, (1.0, 2.0))
    found = Constraints(slo_p99_s=0.1, max_rss_bytes=10, max_cpu_percent=50).check(trial)
    assert len(found) == 3 and all("not measured" in f for f in found)


@pytest.mark.parametrize("bad", [0, -1, math.inf, "50ms"])
def test_constraints_must_be_positive_numbers(bad):
    with pytest.raises(ConfigError, match="slo_p99_s"):
        Constraints(slo_p99_s=bad)


def test_command_line_spellings():
    assert parse_duration("50ms") == pytest.approx(0.05)
    assert parse_duration("60s") == 60.0 and parse_duration("2m") == 120.0
    assert parse_duration("1.5") == 1.5
    assert parse_bytes("2GiB") == 2 * 1024**3 and parse_bytes("512MB") == 512 * 10**6
    assert parse_percent("150%") == 150.0
    for parse, text in (
        (parse_duration, "fast"),
        (parse_bytes, "2 parsecs"),
        (parse_duration, "0s"),
    ):
        with pytest.raises(ConfigError):
            parse(text)


# -- budgets -----------------------------------------------------------------------------------


@settings(max_examples=15, derandomize=True)
@given(st.integers(1, 70), st.sampled_from(["auto", "grid", "random"]))
def test_an_evaluation_budget_is_never_exceeded(limit, strategy):
    sim = SimEvaluator(SHAPES["default"], seed=limit)
    result = run(strategy, SMALL, sim, budget=Budget(evaluations=limit))
    assert sim.calls == result.evaluations <= limit
    assert result.best_config is not None
    if result.stopped == "budget":
        assert sim.calls == limit


@pytest.mark.parametrize("seconds", [3.0, 20.0, 60.0])
def test_a_time_budget_is_respected_on_a_simulated_clock(seconds):
    clock = SimClock()
    sim = SimEvaluator(SHAPES["default"], seed=1, clock=clock)
    result = auto_search(SPACE, sim, budget=Budget(seconds=seconds, clock=clock))
    longest = max(t.duration_s for t in result.trials)
    assert clock.now <= seconds + longest  # checked between trials, a trial is never cut
    assert result.best_config is not None


def test_cancel_stops_after_the_current_trial():
    budget = Budget()
    seen = []

    def on_trial(trial):
        seen.append(trial)
        if len(seen) == 7:
            budget.cancel()

    result = auto_search(SPACE, SimEvaluator(), budget=budget, on_trial=on_trial)
    assert result.evaluations == 7 and result.stopped == "cancelled"
    assert any("cancelled" in s for s in result.explain())


def test_a_budget_too_small_for_one_trial_is_an_error():
    budget = Budget(evaluations=5)
    budget.cancel()
    with pytest.raises(SearchError, match="too small for even one trial"):
        auto_search(SPACE, SimEvaluator(), budget=budget)


@pytest.mark.parametrize(
    ("kwargs", "match"), [({"seconds": 0}, "seconds"), ({"evaluations": 0}, "evaluations")]
)
def test_budget_rejects_non_positive_limits(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        Budget(**kwargs)


def test_evaluator_must_return_a_trial():
    class Broken:
        def evaluate(self, config, repeats, stage):
            return {"samples": [1.0]}

    with pytest.raises(SearchError, match="not a Trial"):
        auto_search(SPACE, Broken())


def test_failed_trials_are_skipped_not_retried():
    class Failing(SimEvaluator):
        def evaluate(self, config, repeats, stage):
            trial = super().evaluate(config, repeats, stage)
            if config["balancer"] == "pull":
                return dataclasses.replace(trial, samples=(), error="pool did not start")
            return trial

    sim = Failing(SHAPES["default"], seed=1)
    result = auto_search(SPACE, sim)
    assert result.best_config["balancer"] != "pull"
    failed = [k for k in sim.per_config if '"pull"' in k]
    assert failed and all(sim.per_config[k] == 1 for k in failed)


# -- resume ------------------------------------------------------------------------------------


def test_resume_reuses_logged_trials(tmp_path):
    log = TrialLog(tmp_path / "trials.jsonl")
    first_sim = SimEvaluator(SHAPES["default"], seed=4)
    first = auto_search(SPACE, first_sim, budget=Budget(evaluations=15), on_trial=log.append)
    assert first.stopped == "budget" and first.evaluations == 15

    prior = log.read()
    assert [t.key for t in prior] == [t.key for t in first.trials]
    second_sim = SimEvaluator(SHAPES["default"], seed=4)
    second = auto_search(SPACE, second_sim, prior=prior, on_trial=log.append)
    full_sim = SimEvaluator(SHAPES["default"], seed=4)
    full = auto_search(SPACE, full_sim)

    assert second.reused == 15
    assert second.trials[:15] == tuple(prior)
    # The first run's configurations are answered from the log: none is measured again
    # for the repeats it already has (the calibration, for one, is never re-run).
    calibration = config_key(SPACE.start_config())
    assert calibration not in second_sim.per_config
    assert second.evaluations < full.evaluations
    assert first.evaluations + second.evaluations <= full.evaluations + 2
    assert _true_ratio(second_sim, second, SPACE) >= 0.95
    assert len(log.read()) == 15 + second.evaluations
    assert any("Resumed from 15" in s for s in second.explain())


def test_resuming_a_finished_run_measures_nothing_new():
    sim = SimEvaluator(SHAPES["contended"], seed=1)
    done = auto_search(SPACE, sim)
    again_sim = SimEvaluator(SHAPES["contended"], seed=1)
    again = auto_search(SPACE, again_sim, prior=done.trials)
    assert again_sim.calls == 0 and again.evaluations == 0
    assert again.best_config == done.best_config


def test_prior_trials_must_be_trials():
    with pytest.raises(SearchError, match="Trial records"):
        auto_search(SPACE, SimEvaluator(), prior=[{"config": {}}])


# -- trials and the log ------------------------------------------------------------------------


def _trial(**changes):
    base = Trial(
        {"max_workers": 2, "balancer": "pull", "batch_size": 4, "prefetch": 8},
        (100.0, 110.0, 90.0),
        latency_p50_s=0.01,
        latency_p90_s=0.02,
        latency_p99_s=0.05,
        p99_samples=(0.05, 0.06, 0.04),
        cpu_percent=180.0,
        peak_rss_bytes=10**8,
        started_at=1000.0,
        duration_s=2.5,
        strategy="auto",
        stage="race-balancer",
    )
    return dataclasses.replace(base, **changes)


def test_trial_estimate_is_the_mean_of_its_samples():
    assert _trial().throughput == pytest.approx(100.0)
    assert Trial({}, ()).throughput == 0.0 and not Trial({}, ()).ok


def test_config_key_is_canonical():
    a = {"max_workers": np.int64(4), "balancer": "pull", "balance_factor": 2}
    b = {"balance_factor": 2.0, "balancer": "pull", "max_workers": 4}
    assert config_key(a) == config_key(b)
    assert config_key({"max_workers": 4}) != config_key({"max_workers": 5})
    assert config_key({"unknown": (1, 2)}) == config_key({"unknown": [1, 2]})


def test_merging_more_repeats():
    a = _trial()
    b = _trial(samples=(120.0,), latency_p99_s=0.09, peak_rss_bytes=2 * 10**8, stable=False)
    m = a.merged(b)
    assert m.samples == (100.0, 110.0, 90.0, 120.0)
    assert m.throughput == pytest.approx(105.0)
    assert m.latency_p99_s == pytest.approx((0.05 * 3 + 0.09) / 4)
    assert m.peak_rss_bytes == 2 * 10**8 and not m.stable
    assert m.duration_s == 5.0
    with pytest.raises(ConfigError, match="different configurations"):
        a.merged(_trial(config={"max_workers": 3}))


def test_log_round_trip(tmp_path):
    log = TrialLog(tmp_path / "trials.jsonl")
    assert log.read() == []
    trials = [_trial(), _trial(error="boom", samples=()), _trial(violations=("too big",))]
    log.extend(trials)
    assert log.read() == trials
    lines = (tmp_path / "trials.jsonl").read_text().splitlines()
    assert len(lines) == 3 and json.loads(lines[0])["config"]["balancer"] == "pull"


def test_a_torn_last_line_is_ignored_with_a_warning_and_cut_before_appending(tmp_path):
    path = tmp_path / "trials.jsonl"
    log = TrialLog(path)
    log.append(_trial())
    with open(path, "a") as f:
        f.write(json.dumps(_trial().to_json())[:40])  # the process died mid-write
    with pytest.warns(RuntimeWarning, match="torn last line 2"):
        assert log.read() == [_trial()]
    fresh = TrialLog(path)
    with pytest.warns(RuntimeWarning, match="dropping a torn last line"):
        fresh.append(_trial(stage="confirm"))
    assert [t.stage for t in fresh.read()] == ["race-balancer", "confirm"]


def test_a_corrupt_middle_line_is_an_error_naming_the_line(tmp_path):
    path = tmp_path / "trials.jsonl"
    TrialLog(path).append(_trial())
    with open(path, "a") as f:
        f.write("{not json}\n")
    TrialLog(path).append(_trial())
    with pytest.raises(TrialLogError, match="line 2 is corrupt") as info:
        TrialLog(path).read()
    assert info.value.line == 2 and isinstance(info.value, TunerError)


def test_a_record_with_missing_fields_is_corrupt(tmp_path):
    path = tmp_path / "trials.jsonl"
    path.write_text('{"samples": [1.0]}\n')
    with pytest.raises(TrialLogError, match=r"line 1 is corrupt.*lacks config"):
        TrialLog(path).read()
