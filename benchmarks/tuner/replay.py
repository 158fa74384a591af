"""``replay`` mode: compare strategies offline on recorded grids, on identical data.

Each recorded workload (``benchmarks/tuner_data/<workload>.jsonl``, see :mod:`.record`) holds
every configuration of a reduced grid measured ``RECORD_PASSES`` times on real pools.  A
:class:`ReplayEvaluator` answers ``evaluate(config, repeats, stage)`` by drawing ``repeats``
of that configuration's recorded windows *with replacement* (seeded), so a strategy sees
realistic noise, and two strategies given the same seed see the same distributions.

Definitions used by every table:

- the **true value** of a configuration is the mean of its recorded windows; the **grid's
  best** is the highest true value (failed configurations have none);
- the **regret** of a run is ``1 - true(recommended) / true(grid's best)``: 0 when the run
  recommends the best configuration, 0.05 when it recommends one 5% slower; a run that
  recommends nothing has regret 1;
- **evaluations** are evaluator calls (one pool started, ``repeats`` windows measured); the
  grid makes one per configuration; **windows** are measured repeats (the grid measures 3
  per configuration).

Budgets (the decision the issue leaves open):

- ``auto`` gets an evaluation budget of 25% of the grid's configurations (the target's
  ceiling), so its row answers the target directly: how close does it get with that much?
  Like ``python -m tuner optimize``, it is told whether the workload's tasks carry keys
  (``affinity``'s do), and then starts with the ``consistent_hash`` balancer;
- ``auto 60s`` gets the product's default time budget, 60 s on a simulated clock that each
  replayed trial advances by its recorded cost (pool start-up and warm-up plus the replayed
  windows' durations), which is what ``python -m tuner optimize`` would spend here;
- ``random`` and ``tpe`` (Optuna's default sampler, TPE) get, seed by seed, exactly the
  evaluations ``auto`` used, 3 windows each (like the grid);
- ``tpe, auto's windows`` gets as many 3-window trials as it takes to measure as many
  windows as ``auto`` did (auto's trials measure 2 to 6 windows each): the same measuring
  cost rather than the same trial count;
- ``tpe, auto's start`` (keyed workloads only) is ``tpe`` with auto's keyed start
  configuration enqueued as its first trial: what ``auto`` is told, given to TPE too;
- ``grid`` replays the whole grid: its regret is the floor set by the replayed noise alone.

TPE suggests each dimension as a categorical over the same reduced values; a suggestion of a
configuration it already measured is answered from its cache without spending an evaluation
(a favour: otherwise its budget would go to re-measuring).
"""

from __future__ import annotations

import json
import math
import statistics
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tuner.errors import SearchError
from tuner.search import (
    Budget,
    SearchResult,
    SearchSpace,
    Trial,
    TrialLog,
    auto_search,
    config_key,
    grid_search,
    random_search,
)
from tuner.search.trials import merge_by_config
from tuner.workloads import BUILTINS

from .record import data_path, recorded_space, verification_rounds, with_verification

__all__ = [
    "AUTO_SECONDS",
    "AUTO_SHARE",
    "GRID_REPEATS",
    "TARGET_REGRET",
    "Recorded",
    "ReplayClock",
    "ReplayEvaluator",
    "RunResult",
    "load_recorded",
    "replay_seed",
    "replay_workload",
    "run_tpe",
    "summarise",
]

AUTO_SHARE = 0.25
"""Evaluation budget of the ``auto`` row, as a share of the grid's configurations."""

AUTO_SECONDS = 60.0
"""Simulated time budget of the ``auto 60s`` row (the CLI's default budget)."""

TARGET_REGRET = 0.05
"""The issue's target: ``auto`` within 5% of the grid's best."""

GRID_REPEATS = 3
"""Windows per configuration of the ``grid``, ``random`` and ``tpe`` rows (``grid_search``'s
default): the cost the shares are measured against, whatever the recording holds."""


# ------------------------------------------------------------------------------ recorded data


@dataclass(frozen=True)
class Recorded:
    """One workload's recorded grid, merged per configuration.

    Attributes
    ----------
    workload : str
        Its name.
    space : SearchSpace
        Exactly the recorded grid; the strategies search this space.
    trials : dict of str to Trial
        Every repeat of each configuration, merged, by :func:`~tuner.search.config_key`.
    window_tasks : int or None
        Tasks per recorded window (to cost replayed windows in time); None if unknown.
    meta : dict
        The ``<workload>.meta.json`` written by the recording (empty if absent).
    fixed_s : dict of str to float
        Per configuration, the mean cost of one recorded trial besides its windows (pool
        start-up, warm-up, shutdown), in seconds.
    drift : float or None
        When the windows of ``verify`` are included: the change of its controls since the
        passes, by which those windows were divided; None when they are not.
    """

    workload: str
    space: SearchSpace
    trials: dict[str, Trial]
    window_tasks: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    fixed_s: dict[str, float] = field(default_factory=dict)
    drift: float | None = None

    def true_value(self, config: Mapping[str, Any] | None) -> float:
        """Mean of the recorded windows of ``config`` (0 when it failed or is None)."""
        if config is None:
            return 0.0
        trial = self.trials.get(config_key(self.space.normalise(config)))
        return trial.throughput if trial is not None and trial.ok else 0.0

    @property
    def keyed(self) -> bool:
        """Whether the workload's tasks carry keys (``auto`` is told, as the live tuner is)."""
        builtin = BUILTINS.get(self.workload)
        return builtin is not None and builtin.keyed

    @property
    def best(self) -> tuple[dict[str, Any], float]:
        """The grid's best configuration and its true value."""
        ok = [t for t in self.trials.values() if t.ok]
        top = max(ok, key=lambda t: t.throughput)
        return dict(top.config), top.throughput

    def regret(self, config: Mapping[str, Any] | None) -> float:
        """``1 - true(config) / true(best)``, clipped to [0, 1]."""
        return min(1.0, max(0.0, 1.0 - self.true_value(config) / self.best[1]))

    @property
    def noise_cv(self) -> float:
        """Median coefficient of variation of a configuration's recorded windows."""
        cvs = [
            statistics.stdev(t.samples) / t.throughput
            for t in self.trials.values()
            if t.ok and t.repeats >= 2 and t.throughput > 0
        ]
        return statistics.median(cvs) if cvs else math.nan


def _space_from_meta(workload: str, meta: Mapping[str, Any]) -> SearchSpace:
    limits = meta.get("space")
    if not isinstance(limits, Mapping):
        return recorded_space(workload)
    base = SearchSpace.from_pool_config(logical_cores=2)
    searched = {name: list(values) for name, values in limits.items() if name in base.names}
    return base.restrict(**searched)


def load_recorded(
    workload: str, data_dir: Path | None = None, *, path: Path | None = None,
    verified: bool = True,
) -> Recorded:  # fmt: skip
    """Read ``<data_dir>/<workload>.jsonl`` (and its ``.meta.json``) as a :class:`Recorded`.

    With ``verified`` (the default) the windows that ``verify`` added are included, rescaled
    by the drift of its controls (see :func:`~benchmarks.tuner.record.with_verification`);
    without, the passes alone.

    Raises
    ------
    SearchError
        The file is missing or corrupt (:class:`~tuner.errors.TrialLogError`), or does not
        cover every configuration of its grid
        (a recording that was stopped early: resume it with ``record``).
    """
    kwargs = {} if data_dir is None else {"data_dir": Path(data_dir)}
    path = Path(path) if path is not None else data_path(workload, **kwargs)
    if not path.exists():
        raise SearchError(
            f"no recorded grid for {workload!r} at {path}; record one with "
            f"`python -m benchmarks.tuner record --workloads {workload}`"
        )
    mpath = path.with_suffix(".meta.json")  # <workload>.jsonl -> <workload>.meta.json
    meta: dict[str, Any] = {}
    if mpath.exists():
        try:
            meta = json.loads(mpath.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise SearchError(f"{mpath} is not valid JSON ({exc})") from exc
    space = _space_from_meta(workload, meta)
    raw, drift = with_verification(TrialLog(path).read(), meta, keep=verified, path=path)
    merged = {config_key(space.normalise(t.config)): t for t in merge_by_config(raw).values()}
    missing = [c for c in space.grid() if config_key(c) not in merged]
    if missing:
        raise SearchError(
            f"{path} covers {len(space) - len(missing)} of the {len(space)} configurations of "
            f"its grid (first missing: {missing[0]}); finish it with "
            f"`python -m benchmarks.tuner record --workloads {workload}`"
        )
    if not any(t.ok for t in merged.values()):
        raise SearchError(f"{path}: every recorded configuration failed")
    window = meta.get("window_tasks")
    window = int(window) if isinstance(window, int) and window > 0 else None
    fixed: dict[str, list[float]] = {}
    for t in raw:
        if window is not None and t.ok and all(x > 0 for x in t.samples):
            cost = max(0.0, t.duration_s - sum(window / x for x in t.samples))
            fixed.setdefault(config_key(space.normalise(t.config)), []).append(cost)
    return Recorded(
        workload=workload,
        space=space,
        trials={config_key(c): merged[config_key(c)] for c in space.grid()},
        window_tasks=window,
        meta=meta,
        fixed_s={k: statistics.fmean(v) for k, v in fixed.items()},
        drift=drift,
    )


# ---------------------------------------------------------------------------------- replay


class ReplayClock:
    """A clock the replay advances by each trial's cost: pass it to ``Budget(clock=...)``."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class ReplayEvaluator:
    """An :class:`~tuner.search.Evaluator` answering from a :class:`Recorded` grid.

    ``evaluate(config, repeats, stage)`` draws ``repeats`` of the configuration's recorded
    windows with replacement, from a generator seeded by ``(seed, configuration, call
    number)``, so the draws do not depend on the order in which a strategy asks.  Each draw
    keeps its window's p99.  The trial's ``duration_s`` is the recording's fixed cost (pool
    start-up and warm-up: the recorded duration less its windows) plus the drawn windows'
    durations, and the :class:`ReplayClock` advances by it, so time budgets and the ``auto``
    strategy's time-aware choices behave as on the real machine.

    Raises
    ------
    SearchError
        From :meth:`evaluate`, for a configuration outside the recorded grid (the strategies
        search the recorded space, so this is a bug, not noise).
    """

    def __init__(self, recorded: Recorded, seed: int = 0, clock: ReplayClock | None = None):
        self.recorded = recorded
        self.seed = seed
        self.clock = clock if clock is not None else ReplayClock()
        self.calls = 0
        self.windows = 0
        self._per_config: dict[str, int] = {}

    def _window_s(self, trial: Trial, sample: float) -> float:
        window = self.recorded.window_tasks
        if window is not None and sample > 0:
            return window / sample
        return trial.duration_s / max(trial.repeats, 1)

    def _fixed_s(self, key: str, trial: Trial) -> float:
        if key in self.recorded.fixed_s:
            return self.recorded.fixed_s[key]
        # No window size known: assume one recorded trial per window, as ``record`` makes.
        return 0.0 if self.recorded.window_tasks is None else trial.duration_s / trial.repeats

    def evaluate(self, config: dict[str, Any], repeats: int, stage: str) -> Trial:
        """The replayed trial of ``config``: ``repeats`` recorded windows drawn at random."""
        key = config_key(self.recorded.space.normalise(config))
        recorded = self.recorded.trials.get(key)
        if recorded is None:
            raise SearchError(f"{config} is not in the recorded grid of {self.recorded.workload!r}")
        call = self._per_config.get(key, 0)
        self._per_config[key] = call + 1
        self.calls += 1
        started = self.clock.now
        if not recorded.ok:
            self.clock.now += recorded.duration_s
            error = recorded.error or "failed when recorded"
            return Trial(config, (), error=error, started_at=started,
                         duration_s=recorded.duration_s, stage=stage)  # fmt: skip
        rng = np.random.default_rng([self.seed, zlib.crc32(key.encode()), call])
        picks = rng.integers(0, recorded.repeats, size=repeats)
        samples = tuple(recorded.samples[i] for i in picks)
        p99s = recorded.p99_samples
        p99 = tuple(p99s[i] for i in picks) if len(p99s) == recorded.repeats else ()
        duration = self._fixed_s(key, recorded) + sum(self._window_s(recorded, s) for s in samples)
        self.clock.now += duration
        self.windows += repeats
        return Trial(
            config,
            samples,
            latency_p50_s=recorded.latency_p50_s,
            latency_p90_s=recorded.latency_p90_s,
            latency_p99_s=statistics.fmean(p99) if p99 else recorded.latency_p99_s,
            p99_samples=p99,
            cpu_percent=recorded.cpu_percent,
            peak_rss_bytes=recorded.peak_rss_bytes,
            stable=recorded.stable,
            started_at=started,
            duration_s=duration,
            stage=stage,
        )


# ----------------------------------------------------------------------------------- runs


@dataclass(frozen=True)
class RunResult:
    """One strategy's run on one workload with one seed."""

    workload: str
    strategy: str
    seed: int
    config: dict[str, Any] | None
    regret: float
    evaluations: int
    windows: int
    grid_evaluations: int
    grid_windows: int
    simulated_s: float

    @property
    def share(self) -> float:
        """Evaluations as a share of the grid's."""
        return self.evaluations / self.grid_evaluations

    @property
    def window_share(self) -> float:
        """Measured windows as a share of the grid's."""
        return self.windows / self.grid_windows

    def to_json(self) -> dict[str, Any]:
        """JSON-serialisable form (for ``--json``)."""
        return {
            "workload": self.workload, "strategy": self.strategy, "seed": self.seed,
            "config": self.config, "regret": self.regret, "evaluations": self.evaluations,
            "windows": self.windows, "grid_evaluations": self.grid_evaluations,
            "grid_windows": self.grid_windows, "simulated_s": self.simulated_s,
        }  # fmt: skip


def _result(
    recorded: Recorded, strategy: str, seed: int, config: dict[str, Any] | None,
    evaluator: ReplayEvaluator,
) -> RunResult:  # fmt: skip
    n = len(recorded.space)
    return RunResult(
        workload=recorded.workload,
        strategy=strategy,
        seed=seed,
        config=None if config is None else dict(config),
        regret=recorded.regret(config),
        evaluations=evaluator.calls,
        windows=evaluator.windows,
        grid_evaluations=n,
        grid_windows=n * GRID_REPEATS,
        simulated_s=evaluator.clock.now,
    )


def _run_strategy(
    recorded: Recorded,
    name: str,
    seed: int,
    search: Callable[[ReplayEvaluator, ReplayClock], SearchResult],
) -> RunResult:
    clock = ReplayClock()
    evaluator = ReplayEvaluator(recorded, seed=seed, clock=clock)
    result = search(evaluator, clock)
    return _result(recorded, name, seed, result.best_config, evaluator)


def run_tpe(
    recorded: Recorded,
    seed: int,
    evaluations: int,
    repeats: int = GRID_REPEATS,
    *,
    name: str = "tpe",
    first: Mapping[str, Any] | None = None,
) -> RunResult:
    """Optuna's TPE sampler on the recorded grid, maximising the replayed throughput.

    Each dimension is a categorical suggestion over the recorded values; the recommendation
    is the measured configuration with the best mean (Optuna's ``best_trial``).  ``first``,
    when given, is enqueued as the first trial (Optuna's way of seeding a study with a
    known-good point).

    Raises
    ------
    ImportError
        Optuna is not installed (``pip install -e '.[bench]'``).
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    evaluator = ReplayEvaluator(recorded, seed=seed)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    dims = [d for d in recorded.space.dimensions if not d.fixed]
    if first is not None:
        study.enqueue_trial({d.name: first[d.name] for d in dims if d.name in first})
    seen: dict[str, tuple[dict[str, Any], float]] = {}
    asks = 0
    while evaluator.calls < evaluations and asks < 20 * evaluations:
        asks += 1
        trial = study.ask()
        config = {d.name: trial.suggest_categorical(d.name, list(d.values)) for d in dims}
        config = recorded.space.normalise(config)
        key = config_key(config)
        if key not in seen:
            measured = evaluator.evaluate(config, repeats, "tpe")
            seen[key] = (config, measured.throughput if measured.ok else 0.0)
        study.tell(trial, seen[key][1])
    best = max(seen.values(), key=lambda item: item[1])[0] if seen else None
    return _result(recorded, name, seed, best, evaluator)


def replay_seed(
    recorded: Recorded, seed: int, *, tpe: bool = True, grid: bool = True
) -> list[RunResult]:
    """Every strategy on ``recorded`` with one seed (see the module docstring for budgets)."""
    space = recorded.space
    cap = max(1, math.floor(AUTO_SHARE * len(space)))

    def auto_capped(ev: ReplayEvaluator, clock: ReplayClock) -> SearchResult:
        return auto_search(
            space, ev, budget=Budget(evaluations=cap, clock=clock), keyed=recorded.keyed
        )

    def auto_timed(ev: ReplayEvaluator, clock: ReplayClock) -> SearchResult:
        return auto_search(
            space, ev, budget=Budget(seconds=AUTO_SECONDS, clock=clock), keyed=recorded.keyed
        )

    auto = _run_strategy(recorded, "auto", seed, auto_capped)
    results = [auto, _run_strategy(recorded, "auto 60s", seed, auto_timed)]
    budget = max(1, auto.evaluations)

    def random_matched(ev: ReplayEvaluator, clock: ReplayClock) -> SearchResult:
        return random_search(space, ev, budget=Budget(evaluations=budget, clock=clock), seed=seed)

    results.append(_run_strategy(recorded, "random", seed, random_matched))
    if tpe:
        results.append(run_tpe(recorded, seed, budget))
        # The same measuring cost instead of the same trial count: auto's trials measure
        # more windows each (up to 6, against 3).
        same_windows = max(1, math.ceil(auto.windows / GRID_REPEATS))
        results.append(run_tpe(recorded, seed, same_windows, name=TPE_SAME_WINDOWS))
        if recorded.keyed:
            # What auto is told, given to TPE too: its first trial is auto's keyed start.
            start = space.start_config(keyed=True)
            results.append(run_tpe(recorded, seed, budget, name=TPE_KEYED_START, first=start))
    if grid:
        results.append(
            _run_strategy(
                recorded,
                "grid",
                seed,
                lambda ev, clock: grid_search(space, ev, repeats=GRID_REPEATS),
            )
        )
    return results


def replay_workload(
    recorded: Recorded,
    seeds: Iterable[int],
    *,
    tpe: bool = True,
    grid: bool = True,
) -> list[RunResult]:
    """:func:`replay_seed` for each seed."""
    results: list[RunResult] = []
    for seed in seeds:
        results.extend(replay_seed(recorded, seed, tpe=tpe, grid=grid))
    return results


# -------------------------------------------------------------------------------- summaries

TPE_SAME_WINDOWS = "tpe, auto's windows"
TPE_KEYED_START = "tpe, auto's start"
STRATEGY_ORDER = ("auto", "auto 60s", "random", "tpe", TPE_SAME_WINDOWS, TPE_KEYED_START, "grid")


@dataclass(frozen=True)
class Summary:
    """One workload x strategy line of the results table."""

    workload: str
    strategy: str
    runs: int
    median_regret: float
    p90_regret: float
    max_regret: float
    within_target: float
    median_evaluations: float
    max_share: float
    median_share: float
    median_window_share: float
    median_simulated_s: float


def summarise(results: Sequence[RunResult]) -> list[Summary]:
    """Median, 90th percentile and worst regret, and the budget used, per workload and
    strategy (in the order the workloads first appear, strategies in table order)."""
    groups: dict[tuple[str, str], list[RunResult]] = {}
    for r in results:
        groups.setdefault((r.workload, r.strategy), []).append(r)
    workloads = list(dict.fromkeys(r.workload for r in results))
    out = []
    for workload in workloads:
        for strategy in STRATEGY_ORDER:
            runs = groups.get((workload, strategy))
            if not runs:
                continue
            regrets = sorted(r.regret for r in runs)
            out.append(
                Summary(
                    workload=workload,
                    strategy=strategy,
                    runs=len(runs),
                    median_regret=statistics.median(regrets),
                    p90_regret=float(np.quantile(regrets, 0.9)),
                    max_regret=regrets[-1],
                    within_target=sum(x <= TARGET_REGRET for x in regrets) / len(regrets),
                    median_evaluations=statistics.median(r.evaluations for r in runs),
                    max_share=max(r.share for r in runs),
                    median_share=statistics.median(r.share for r in runs),
                    median_window_share=statistics.median(r.window_share for r in runs),
                    median_simulated_s=statistics.median(r.simulated_s for r in runs),
                )
            )
    return out


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A fixed-width markdown table (pastes into the docs as it prints)."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(headers)]  # fmt: skip
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |",
             "|" + "|".join("-" * (w + 2) for w in widths) + "|"]  # fmt: skip
    lines += [
        "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in rows
    ]
    return "\n".join(lines)


def results_table(summaries: Sequence[Summary]) -> str:
    """Regret and budget per workload and strategy."""
    headers = ("workload", "strategy", "runs", "median regret", "p90 regret", "max regret",
               "runs within 5%", "median evals", "evals / grid",
               "windows / grid", "simulated time")  # fmt: skip
    rows = [
        (s.workload, s.strategy, str(s.runs), _pct(s.median_regret), _pct(s.p90_regret),
         _pct(s.max_regret), _pct(s.within_target),
         f"{s.median_evaluations:g}",
         _pct(s.median_share), _pct(s.median_window_share), f"{s.median_simulated_s:.0f} s")
        for s in summaries
    ]  # fmt: skip
    return markdown_table(headers, rows)


def grid_table(recorded: Sequence[Recorded]) -> str:
    """What was recorded: grid size, noise, and the grid's best per workload."""
    headers = ("workload", "configs", "windows", "median CV", "verified (drift)", "grid best",
               "tasks/s", "failed configs")  # fmt: skip
    rows = []
    for rec in recorded:
        best, value = rec.best
        brief = ", ".join(f"{k}={v}" for k, v in best.items() if k != "balance_factor")
        failed = sum(not t.ok for t in rec.trials.values())
        verified = "no" if rec.drift is None else ", ".join(
            f"{'top ' if n == 0 else '+'}{len(r['configs'])} ({r['controls_change']:+.1%})"
            for n, r in enumerate(verification_rounds(rec.meta)))  # fmt: skip
        rows.append((rec.workload, str(len(rec.space)),
                     str(sum(t.repeats for t in rec.trials.values())), _pct(rec.noise_cv),
                     verified, brief, f"{value:,.0f}", str(failed)))  # fmt: skip
    return markdown_table(headers, rows)


def targets_table(summaries: Sequence[Summary]) -> str:
    """The issue's targets, as measured by this replay."""
    by = {(s.workload, s.strategy): s for s in summaries}
    workloads = list(dict.fromkeys(s.workload for s in summaries))
    rows = []
    for w in workloads:
        auto = by.get((w, "auto"))
        if auto is None:
            continue
        held = auto.median_regret <= TARGET_REGRET and auto.max_share <= AUTO_SHARE + 1e-9
        grid = by.get((w, "grid"))
        floor = "" if grid is None else (
            f"; the whole grid, replayed: median {_pct(grid.median_regret)} (the noise floor)"
        )  # fmt: skip
        rows.append((
            f"{w}: auto within 5% of the grid's best with <= 25% of its trials",
            f"median regret {_pct(auto.median_regret)}, worst {_pct(auto.max_regret)} "
            f"({_pct(auto.within_target)} of runs within 5%); at most "
            f"{_pct(auto.max_share)} of the grid's trials{floor}",
            "yes" if held else "no",
        ))  # fmt: skip
        tpe = by.get((w, "tpe"))
        if tpe is None:
            rows.append((f"{w}: auto median regret below TPE's", "TPE not run", "n/a"))
        else:
            better = auto.median_regret < tpe.median_regret
            tie = auto.median_regret == tpe.median_regret
            same = by.get((w, TPE_SAME_WINDOWS))
            also = (
                ""
                if same is None
                else (
                    f"; TPE given auto's windows (median {same.median_evaluations:g} trials): "
                    f"{_pct(same.median_regret)}"
                )
            )
            started = by.get((w, TPE_KEYED_START))
            if started is not None:
                also += f"; TPE started where auto starts: {_pct(started.median_regret)}"
            rows.append((
                f"{w}: auto median regret below TPE's at the same budget",
                f"auto {_pct(auto.median_regret)} vs TPE {_pct(tpe.median_regret)}{also}",
                "yes" if better else ("tie" if tie else "no"),
            ))  # fmt: skip
    return markdown_table(("target", "measured", "held?"), rows)
