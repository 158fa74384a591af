"""``record`` mode: measure the reduced grid of every built-in workload on real pools.

A full grid (7,744 configurations on this 2-core machine) would take 6-10 hours per workload,
so the benchmark records a *reduced* grid per workload (:data:`RECORDED_SPACE`): every value
of it is a real ``WorkerPool`` trial measured by the tuner's own
:class:`~tuner.runner.PoolEvaluator`, ``RECORD_PASSES`` windows of the workload's own trial
size each (:data:`WINDOWS`), in shuffled passes over the grid (see :func:`record` for why).
The trials go to ``benchmarks/tuner_data/<workload>.jsonl`` as they finish (a killed
recording resumes where it stopped), and ``<workload>.meta.json`` says how they were measured.

Recording is slow (15-30 minutes per workload, and 10 more to verify) and noisy on a shared
machine, which is why the benchmark's default mode replays these files instead of measuring
again: every strategy then sees the same data.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import platform
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

from tuner.errors import SearchError
from tuner.search import SearchSpace, Trial, TrialLog, config_key
from tuner.search.trials import merge_by_config
from tuner.workloads import BUILTINS

__all__ = [
    "DATA_DIR",
    "RECORDED_SPACE",
    "RECORD_PASSES",
    "VERIFY_CONTROLS",
    "VERIFY_ROUNDS",
    "VERIFY_TOP",
    "VERIFY_WINDOWS",
    "WINDOWS",
    "Window",
    "compact",
    "data_path",
    "meta_path",
    "record",
    "recorded_space",
    "verification_rounds",
    "verify",
    "with_verification",
]

DATA_DIR: Final = Path(__file__).resolve().parent.parent / "tuner_data"
"""Where the recorded grids live (commit-worthy measurement data)."""

RECORD_PASSES: Final = 6
"""Windows (passes) measured per configuration.  Three were too few: on ``mixed`` the
configuration-to-configuration noise (a window's CV 8-15% on this machine) made the best of
144 three-window means a lucky draw (3,145 tasks/s; 2,794 once three more windows were
added), so regret was measured against noise.  Six halve the variance of each true value."""

VERIFY_TOP: Final = 12
"""Leading configurations :func:`verify` measures again."""

VERIFY_CONTROLS: Final = 24
"""Configurations outside the leaders :func:`verify` measures again as controls: enough to
put the drift's standard error near 2% at the noisiest workloads' 16% window CV."""

VERIFY_WINDOWS: Final = 18
"""Extra windows per verified configuration: with six from the passes, 24 in all, a standard
error of about 3% at the 15% window CV of the noisiest workloads."""

VERIFY_ROUNDS: Final = 3
"""Most verification rounds per workload.  A round pulls lucky leaders down, which can leave
the grid's best an unverified configuration whose six windows were lucky too (on
``cpu-heavytail``, 2026-11-27: the verified leaders fell 8% against the controls and the best
became the 13th by the passes); a further round then verifies the new leaders."""

RECORDED_SPACE: Final[Mapping[str, list[Any]]] = {
    "max_workers": [1, 2, 3, 4, 6, 8],
    "balancer": ["round_robin", "least_outstanding", "power_of_two", "pull"],
    "batch_size": [1, 16],
    "prefetch": [2, 16, 256],
}
"""The reduced grid (144 configurations): pool sizes around and past the 2 cores, the four
general-purpose balancers, no batching vs batches of 16, a shallow, medium and deep prefetch
window.  The ``affinity`` workload adds ``consistent_hash`` (180 configurations), the balancer
it is built to reward."""

_EXTRA_BALANCERS: Final[Mapping[str, list[str]]] = {"affinity": ["consistent_hash"]}


@dataclass(frozen=True)
class Window:
    """Measured-window and warm-up sizes (tasks) of one workload's recording."""

    window_tasks: int
    warmup_tasks: int


WINDOWS: Final[Mapping[str, Window]] = MappingProxyType(
    {name: Window(w.trial_tasks or 0, w.warmup_tasks or 0) for name, w in BUILTINS.items()}
)
"""Each built-in workload's recording window: the tuner's own trial window
(``Workload.trial_tasks``, 0.5-1 s at the best pools), as it measures at budgets of four
minutes or more.  The first recordings used about 0.3 s (the one-minute default's quarter
window): ``mixed``'s window CV was 15% there and the grid's own replayed pick 6% short of the
best, so the benchmark could not resolve its 5% target.  A longer window also sets the
driver's in-flight bound (a quarter window) as the live tuner does.  :func:`record` refuses
to extend a file recorded with other windows."""


def recorded_space(workload: str) -> SearchSpace:
    """The reduced search space recorded for ``workload`` (the same for its replay)."""
    limits = {name: list(values) for name, values in RECORDED_SPACE.items()}
    limits["balancer"] = limits["balancer"] + list(_EXTRA_BALANCERS.get(workload, []))
    return SearchSpace.from_pool_config(logical_cores=2).restrict(**limits)


def data_path(workload: str, data_dir: Path = DATA_DIR) -> Path:
    """``<data_dir>/<workload>.jsonl``."""
    return Path(data_dir) / f"{workload}.jsonl"


def meta_path(workload: str, data_dir: Path = DATA_DIR) -> Path:
    """``<data_dir>/<workload>.meta.json``."""
    return Path(data_dir) / f"{workload}.meta.json"


def _rounded(value: Any, key: str = "") -> Any:
    if key == "started_at" and isinstance(value, float):
        return round(value, 3)  # a Unix time: keep milliseconds, not 6 digits
    if isinstance(value, float) and math.isfinite(value) and value != 0:
        return float(f"{value:.6g}")
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    if isinstance(value, dict):
        return {k: _rounded(v, k) for k, v in value.items()}
    return value


def compact(path: Path) -> None:
    """Rewrite a recorded file with every float rounded to 6 significant digits (Unix
    times to the millisecond).

    Far below the measurements' noise (a few percent), and it halves the committed files.
    The rewrite goes through a temporary file and a rename, so a crash leaves the original.
    """
    path = Path(path)
    lines = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        if raw.strip():
            lines.append(json.dumps(_rounded(json.loads(raw)), separators=(",", ":")))
    tmp = path.with_suffix(".jsonl.tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _machine() -> dict[str, Any]:
    import psutil

    model = platform.processor() or ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cpu_model": model,
        "logical_cores": psutil.cpu_count(logical=True),
        "physical_cores": psutil.cpu_count(logical=False),
        "memory_bytes": psutil.virtual_memory().total,
        "os": platform.platform(),
        "python": platform.python_version(),
    }


def _evaluator(name: str) -> tuple[Any, Window]:
    """The tuner's own evaluator for ``name`` with its recording window, and the window."""
    from tuner.runner import PoolEvaluator
    from tuner.workloads import get

    workload = get(name)  # a built-in (anything else raises), so WINDOWS knows its window
    window = WINDOWS[name]
    evaluator = PoolEvaluator(
        workload, seed=0, window_tasks=window.window_tasks, warmup_tasks=window.warmup_tasks
    )
    return evaluator, window


def _measure_round(
    name: str, log: TrialLog, evaluator: Any, order: Sequence[tuple[Mapping[str, Any], str]],
    done: Mapping[str, Counter[str]], number: int, progress: list[float],
) -> None:  # fmt: skip
    """Round ``number`` (from 0): one window, staged ``<role>-<number + 1>``, of every
    ``(configuration, role)`` of ``order`` that has no more than ``number`` of that role yet
    (so a resumed recording skips what it measured)."""
    for config, role in order:
        key = config_key(config)
        if done[role][key] > number:
            continue
        trial = evaluator.evaluate(dict(config), 1, f"{role}-{number + 1}")
        log.append(dataclasses.replace(trial, strategy="record"))
        done[role][key] += 1
        progress[1] += 1
        if progress[1] % 20 == 0:
            print(f"  {name}: round {number + 1}, {progress[1]:.0f} trials, "
                  f"{time.time() - progress[0]:.0f} s", flush=True)  # fmt: skip


def _record_one(name: str, data_dir: Path, passes: int) -> None:
    import random

    space = recorded_space(name)
    configs = list(space.grid())
    log = TrialLog(data_path(name, data_dir))
    recorded, later = _split(log.read())
    if later:
        raise SearchError(
            f"{log.path} holds windows of `verify`, which rank the leaders by the passes: "
            "delete those lines (stages verify*-N and control*-N) before adding passes"
        )
    have = {k: t.repeats for k, t in merge_by_config(recorded).items()}
    done = {"pass": Counter(have)}
    evaluator, window = _evaluator(name)
    _check_same_window(name, data_dir, window, bool(recorded))
    began, load_before = time.time(), os.getloadavg()[0]
    progress = [began, 0.0]
    print(f"recording {name}: {len(configs)} configurations x {passes} shuffled passes "
          f"({sum(have.values())} windows already recorded)", flush=True)  # fmt: skip
    for number in range(passes):
        order = list(configs)
        random.Random(number).shuffle(order)
        _measure_round(name, log, evaluator, [(c, "pass") for c in order], done, number,
                       progress)  # fmt: skip
    compact(data_path(name, data_dir))
    meta = {
        "workload": name,
        "space": {d.name: list(d.values) for d in space.dimensions},
        "configurations": len(configs),
        "repeats": passes,
        "order": f"{passes} passes over the grid, each in its own shuffled order, one window "
        "per trial (a fresh pool each time)",
        "window_tasks": window.window_tasks,
        "warmup_tasks": window.warmup_tasks,
        "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "record_seconds": round(time.time() - began, 1),
        # Other work on the machine while recording (1-minute load average, 2 cores).
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "machine": _machine(),
    }
    _write_meta(name, data_dir, log.read(), meta)


def _check_same_window(name: str, data_dir: Path, window: Window, extending: bool) -> None:
    """Refuse to add passes to a file recorded with other window sizes: its windows would
    mix two measurements (a window's length changes its mean, not only its noise)."""
    mpath = meta_path(name, data_dir)
    if not extending or not mpath.exists():
        return
    meta = json.loads(mpath.read_text(encoding="utf-8"))
    had = (meta.get("window_tasks"), meta.get("warmup_tasks"))
    if had != (window.window_tasks, window.warmup_tasks):
        raise SearchError(
            f"{data_path(name, data_dir)} was recorded with windows of {had[0]} tasks "
            f"(warm-up {had[1]}), not {window.window_tasks} ({window.warmup_tasks}): move it "
            "away and record the workload afresh"
        )


_LATER: Final = ("verify", "control")
"""Stage prefixes of the windows ``verify`` adds after the passes."""


def _role(kind: str, round_number: int) -> str:
    """Stage role of a verification round's windows: ``verify`` and ``control`` in the first
    round (as first recorded), ``verify2``, ``control2``, ... in the later ones."""
    return kind if round_number == 1 else f"{kind}{round_number}"


def _role_of(stage: str) -> str:
    """The role of a recorded stage (``"verify2-5"`` -> ``"verify2"``)."""
    return stage.rsplit("-", 1)[0]


def _split(trials: Sequence[Trial]) -> tuple[list[Trial], list[Trial]]:
    """``(the passes' trials, the windows verify added)``."""
    passes, later = [], []
    for t in trials:
        (later if t.stage.startswith(_LATER) else passes).append(t)
    return passes, later


def verification_rounds(meta: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The finished verification rounds described by ``meta``, first round first (the first
    is ``meta["verified"]``, the later ones its ``followups``)."""
    first = meta.get("verified")
    if not isinstance(first, Mapping):
        return []
    later = first.get("followups") or []
    head = {k: v for k, v in first.items() if k != "followups"}
    return [head, *(r for r in later if isinstance(r, Mapping))]


def with_verification(
    raw: Sequence[Trial], meta: Mapping[str, Any], *, keep: bool = True, path: Path | str = ""
) -> tuple[list[Trial], float | None]:
    """The passes' trials, plus (``keep``) the windows of ``verify`` divided by ``1 + drift``
    of their round; returns them with the first round's drift (None without).

    The later windows were measured in another session, and sessions differ: the controls
    (random configurations measured again as many times as the passes) moved by up to ~10%
    on this machine.  Dividing by their change puts the leaders' new windows on the passes'
    scale, so what remains of their change is the winner's curse the verification is for.
    Each round is its own session with its own controls, so each is rescaled by its own.
    """
    passes, later = _split(raw)
    if not keep or not later:
        return passes, None
    rounds = verification_rounds(meta)
    scale: dict[str, float] = {}
    for number, entry in enumerate(rounds, start=1):
        change = entry.get("controls_change")
        if isinstance(change, (int, float)) and math.isfinite(change) and change > -1:
            for kind in _LATER:
                scale[_role(kind, number)] = 1.0 / (1.0 + change)
    unscaled = sorted({_role_of(t.stage) for t in later} - scale.keys())
    if unscaled:
        raise SearchError(
            f"{path} holds windows of `verify` ({', '.join(unscaled)}) but its meta file has "
            "no measured drift of their controls; finish it with `python -m benchmarks.tuner "
            "verify`, or replay with --passes-only"
        )
    rescaled = [
        dataclasses.replace(
            t, samples=tuple(x * scale[_role_of(t.stage)] for x in t.samples),
            throughput=math.nan,
        )
        for t in later
    ]  # fmt: skip
    return passes + rescaled, float(rounds[0]["controls_change"])


def _write_meta(
    name: str, data_dir: Path, trials: Sequence[Trial], meta: dict[str, Any]
) -> None:
    """Write ``meta`` with the figures every recording recomputes (unstable trials, best)
    from the file's ``trials``."""
    ranked = _ranked(trials, meta, path=data_path(name, data_dir))
    best = ranked[0] if ranked else None
    meta["unstable_trials"] = sum(not t.stable for t in trials)
    meta["grid_best"] = None if best is None else best.config
    meta["grid_best_throughput"] = None if best is None else best.throughput
    meta_path(name, data_dir).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    print(f"{name}: best {meta['grid_best']} at {meta['grid_best_throughput'] or 0:,.0f} "
          "tasks/s", flush=True)  # fmt: skip


def record(
    workloads: Sequence[str], *, data_dir: Path = DATA_DIR, passes: int = RECORD_PASSES
) -> None:
    """Record the reduced grid of each workload in turn, resuming a partial file.

    Each configuration is measured ``passes`` times, once per pass, every pass over the
    whole grid in its own shuffled order and each measurement a fresh pool with one window.
    On a shared machine the load drifts over minutes; measured in grid order (pool size
    outermost), a busy minute would fall on, say, every 8-worker configuration and bias that
    whole slice of the grid.  Shuffled passes turn the drift into noise between a
    configuration's windows, which the replay then reproduces, and its mean averages over
    ``passes`` moments.  A file with fewer passes is extended: the missing passes are
    added.  Costs one pool start-up per window instead of per configuration.

    One workload at a time, never two at once: they would share the cores and each would
    measure the other.
    """
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    for name in workloads:
        _record_one(name, Path(data_dir), passes)


def verify(
    workloads: Sequence[str], *, data_dir: Path = DATA_DIR, top: int = VERIFY_TOP,
    windows: int = VERIFY_WINDOWS, controls: int = VERIFY_CONTROLS,
    rounds: int = VERIFY_ROUNDS,
) -> None:  # fmt: skip
    """Measure the ``top`` configurations of each recorded grid ``windows`` times more, and
    ``controls`` others as many times as the passes did, to see the drift; repeat with the
    new leaders while the grid's best is not a verified configuration (``rounds`` at most).

    The grid's best is the largest of 144-180 means of six noisy windows each, so it is biased
    upwards (the winner's curse): among twenty configurations within noise of each other, the
    luckiest mean sits about two standard errors (8-10% here) above its true value, and regret
    would be measured against a lucky draw.  Re-measuring the leaders pulls lucky ones back
    to their true value where it matters.  The first round's leaders are ranked by the passes
    alone; a later round's are the configurations that every window of the rounds before it
    ranks above all verified ones (so a resumed verification picks the same ones).  The controls,
    drawn at random from the other configurations, are measured in the same rounds: their
    change from the passes is the machine's drift since then (they are not selected, so no
    curse), against which the leaders' change can be read.  Each round is its own shuffled
    order of both, each window a fresh pool, as in the passes.  The extra windows join the
    configuration's recorded ones (replays draw from all of them, each round's divided by its
    own drift); the meta file records which configurations each round verified and both
    changes (``verified``; the later rounds in its ``followups``).

    Raises
    ------
    SearchError
        A workload has no complete recording of its passes.
    """
    for name in workloads:
        path, mpath = data_path(name, Path(data_dir)), meta_path(name, Path(data_dir))
        if not path.exists() or not mpath.exists():
            raise SearchError(f"no recorded grid for {name!r} in {data_dir}; record it first")
        meta = json.loads(mpath.read_text(encoding="utf-8"))
        log = TrialLog(path)
        evaluator, _ = _evaluator(name)
        for number in range(1, max(rounds, 1) + 1):
            trials = log.read()
            done = verification_rounds(meta)
            previous = done[number - 1] if number <= len(done) else None
            if previous is not None:  # resume (or extend) a finished round, as described
                leaders = [config_key(c) for c in previous["configs"]]
                picked = [config_key(c) for c in previous["controls"]]
            else:
                leaders, picked = _pick(name, trials, meta, number, top, controls)
                if not leaders:  # nothing ranks above the verified: the best is one of them
                    break
            done[number - 1:number] = [_verify_round(
                name, log, trials, evaluator, meta, number, leaders, picked, windows, previous)]
            meta["verified"] = {**done[0], **({"followups": done[1:]} if done[1:] else {})}
            _write_meta(name, Path(data_dir), log.read(), meta)


def _finished(trials: Sequence[Trial], meta: Mapping[str, Any]) -> list[Trial]:
    """``trials`` without the windows of a round the meta file does not describe yet (one
    stopped midway: it is resumed, not ranked on)."""
    rounds = range(1, len(verification_rounds(meta)) + 1)
    roles = {_role(kind, n) for n in rounds for kind in _LATER}
    return [t for t in trials if not t.stage.startswith(_LATER) or _role_of(t.stage) in roles]


def _ranked(
    trials: Sequence[Trial], meta: Mapping[str, Any], path: Path | str = ""
) -> list[Trial]:
    """Every configuration that worked, best first, by the passes and the finished
    verification rounds' windows (each round's divided by its drift)."""
    scaled, _ = with_verification(_finished(trials, meta), meta, path=path)
    ok = [t for t in merge_by_config(scaled).values() if t.ok]
    return sorted(ok, key=lambda t: -t.throughput)


def _pick(
    name: str, trials: Sequence[Trial], meta: Mapping[str, Any], number: int, top: int,
    controls: int,
) -> tuple[list[str], list[str]]:  # fmt: skip
    """Round ``number``'s leaders and its controls (random others).

    Round 1's leaders are the ``top`` best by the passes; a later round's, the configurations
    ranked above every verified one by the windows of the finished rounds (at most ``top``;
    none when the best is verified): only they can be the grid's best, so only they need the
    extra windows."""
    import random

    ranked = _ranked(trials, meta)  # round 1: no round finished, so the passes alone
    verified = {config_key(c) for r in verification_rounds(meta) for c in r["configs"]}
    above = next((i for i, t in enumerate(ranked) if t.key in verified), len(ranked))
    candidates = [t.key for t in ranked if t.key not in verified]
    cut = top if number == 1 else min(top, above)
    leaders, others = candidates[:cut], sorted(candidates[cut:])
    seed = f"{name}-controls" if number == 1 else f"{name}-controls-{number}"
    return leaders, random.Random(seed).sample(others, min(controls, len(others)))


def _verify_round(
    name: str, log: TrialLog, trials: Sequence[Trial], evaluator: Any, meta: Mapping[str, Any],
    number: int, leaders: Sequence[str], picked: Sequence[str], windows: int,
    previous: Mapping[str, Any] | None,
) -> dict[str, Any]:  # fmt: skip
    """Measure round ``number`` (resuming it; ``trials``: the file so far) and describe it for
    the meta file; a finished round (``previous``) with nothing left to measure keeps its
    description."""
    import random

    configs = {t.key: t.config for t in merge_by_config(_split(trials)[0]).values()}
    verify_role, control_role = _role("verify", number), _role("control", number)
    roles = [(configs[k], verify_role, windows) for k in leaders]
    roles += [(configs[k], control_role, meta.get("repeats", RECORD_PASSES)) for k in picked]
    done = {role: Counter(t.key for t in trials if _role_of(t.stage) == role)
            for role in (verify_role, control_role)}  # fmt: skip
    began, load_before = time.time(), os.getloadavg()[0]
    progress = [began, 0.0]
    print(f"verifying {name}, round {number}: {len(leaders)} leading configurations, "
          f"{windows} more windows each, and {len(picked)} controls", flush=True)  # fmt: skip
    for step in range(max((n for _, _, n in roles), default=0)):
        order = [(config, role) for config, role, n in roles if step < n]
        random.Random(1000 * number + step).shuffle(order)
        _measure_round(name, log, evaluator, order, done, step, progress)
    if previous is not None and not progress[1]:
        return dict(previous)
    compact(Path(log.path))
    trials = log.read()
    ranking = "the passes' means" if number == 1 else "every window so far, above all verified"
    entry: dict[str, Any] = {} if number == 1 else {"round": number}
    entry |= {
        "top": len(leaders),
        "windows": windows,
        "configs": [configs[k] for k in leaders],
        "controls": [configs[k] for k in picked],
        "order": f"the top {len(leaders)} by {ranking}, {windows} more windows each, and "
        f"{len(picked)} random others as many windows as the passes, in shuffled rounds, one "
        "window per trial (a fresh pool each time)",
        # Mean of (new windows' mean / passes' mean): the leaders', and the controls'.
        "leaders_change": _change(trials, leaders, verify_role),
        "controls_change": _change(trials, picked, control_role),
        "verified_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "seconds": round(time.time() - began, 1),
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }
    print(f"{name}, round {number}: leaders changed by {entry['leaders_change']:+.1%}, "
          f"controls by {entry['controls_change']:+.1%}", flush=True)  # fmt: skip
    return entry


def _change(trials: Sequence[Trial], keys: Sequence[str], role: str) -> float:
    """Mean over the configurations ``keys`` of (their ``role`` windows' mean / their passes'
    mean) - 1."""
    passes = merge_by_config(_split(trials)[0])
    again = merge_by_config([t for t in trials if _role_of(t.stage) == role])
    ratios = [again[k].throughput / passes[k].throughput - 1.0
              for k in keys if k in again and passes[k].throughput > 0]  # fmt: skip
    return round(sum(ratios) / len(ratios), 4) if ratios else math.nan
