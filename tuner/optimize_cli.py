"""``python -m tuner optimize``: the command line over :func:`tuner.autotune.optimize`.

Exit codes: 0 success (a recommendation, or a report saying why there is none), 1 the
workload failed (its traceback is printed), 2 bad usage (unknown workload or dimension, an
unwritable ``--out``, a budget too small).  Errors are one line; ``--debug`` adds the
traceback of the tool itself.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import traceback
from collections.abc import Sequence
from typing import Any

from .errors import ConfigError, SearchError, TrialLogError, TunerError, WorkloadError

__all__ = ["main"]

_EPILOG = """\
examples:
  python -m tuner optimize                          # the default built-in workload, ~60 s
  python -m tuner optimize cpu-heavytail --objective p99 --slo-p99 50ms
  python -m tuner optimize mymodule:task --inputs mymodule:make_inputs --budget 2m
  python -m tuner optimize mymodule:task --inputs data.jsonl --fix workers=4
  python -m tuner optimize --resume tuner-runs/mixed-20261126-150000
  python -m tuner report tuner-runs/mixed-20261126-150000   # re-render a report

exit codes: 0 success, 1 workload error (with its traceback), 2 bad usage
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tuner optimize",
        description=(
            "Find the worker pool configuration (pool size, balancer, batch size, prefetch "
            "window) that runs a workload fastest on this machine, measuring real pools on "
            "the real workload, and explain the answer."
        ),
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "workload",
        nargs="?",
        default=None,
        help="a built-in workload (see `python -m tuner workloads`; default: mixed) or "
        "module:function of your own (imported from the current directory and PYTHONPATH)",
    )
    parser.add_argument(
        "--inputs",
        metavar="SPEC",
        help="inputs of a module:function workload: module:generator (a generator function "
        "yielding argument tuples or single arguments) or a JSON-lines file (one JSON "
        "value or argument list per line)",
    )
    parser.add_argument(
        "--budget",
        default="60s",
        help="wall time for the whole run, baseline included (e.g. 60s, 2m; default 60s)",
    )
    parser.add_argument(
        "--objective",
        choices=("throughput", "p99"),
        default="throughput",
        help="maximise tasks per second (default), or minimise the 99th percentile latency",
    )
    parser.add_argument(
        "--strategy",
        choices=("auto", "grid", "random"),
        default="auto",
        help="auto (default): calibrate noise, fit the scalability law to pool sizes, race "
        "the other options; grid: try everything (slow, the ground truth); random",
    )
    parser.add_argument(
        "--slo-p99",
        metavar="TIME",
        help="constraint: p99 task latency at most TIME (e.g. 50ms)",
    )
    parser.add_argument(
        "--max-rss",
        metavar="SIZE",
        help="constraint: peak memory of the pool's processes at most SIZE (e.g. 2GiB)",
    )
    parser.add_argument(
        "--max-cpu",
        metavar="PERCENT",
        help="constraint: mean CPU of the pool's processes at most PERCENT (100%% = 1 core)",
    )
    parser.add_argument(
        "--fix",
        action="append",
        default=[],
        metavar="DIM=VALUE",
        help="fix or restrict a dimension; repeatable: workers=4, balancer=pull,round_robin, "
        "batch_size=1..64 (dimensions: workers, balancer, batch_size, prefetch, "
        "balance_factor)",
    )
    parser.add_argument("--out", metavar="DIR", help="directory for trials.jsonl and reports")
    parser.add_argument(
        "--resume",
        metavar="DIR",
        help="continue a previous run: its finished trials are reused, never re-run",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of inputs and strategies")
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the report.json document on standard output instead of the table",
    )
    parser.add_argument(
        "--no-baseline",
        action="store_true",
        help="skip measuring ProcessPoolExecutor with default settings",
    )
    parser.add_argument(
        "--debug", action="store_true", help="show the tool's own tracebacks on errors"
    )
    return parser


class _Progress:
    """The live display: trials done, budget left, the current best with its interval."""

    def __init__(self, budget_s: float, enabled: bool) -> None:
        self.budget_s = budget_s
        self.enabled = enabled
        self.started = time.monotonic()
        self.trials = 0
        self.best: tuple[float, dict[str, Any]] | None = None
        self.stage = "starting"
        self._progress: Any = None
        self._task: Any = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> _Progress:
        if not self.enabled:
            return self
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self._progress = Progress(
            TextColumn("[bold]tuning[/]"),
            BarColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.description}"),
            console=Console(stderr=True),
            transient=False,
        )
        self._progress.__enter__()
        self._task = self._progress.add_task(self._text(), total=self.budget_s)
        self._thread = threading.Thread(target=self._tick, name="tuner-progress", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2)
        if self._progress is not None:
            self._progress.update(self._task, completed=self.budget_s, description=self._text())
            self._progress.__exit__(*exc)

    def _text(self) -> str:
        left = max(0.0, self.budget_s - (time.monotonic() - self.started))
        text = f"{self.trials} trials, {left:.0f} s left, {self.stage}"
        if self.best is not None:
            value, config = self.best
            short = ", ".join(f"{k}={v}" for k, v in config.items() if k != "max_message_bytes")
            text += f"; best so far {value:,.0f} tasks/s ({short})"
        return text

    def _tick(self) -> None:
        while not self._stop.wait(0.5):
            elapsed = min(self.budget_s, time.monotonic() - self.started)
            self._progress.update(self._task, completed=elapsed, description=self._text())

    def trial(self, trial: Any) -> None:
        self.trials += 1
        usable = trial.error is None and not trial.violations and trial.samples
        if usable and (self.best is None or trial.throughput > self.best[0]):
            self.best = (trial.throughput, dict(trial.config))

    def event(self, kind: str, details: dict[str, Any]) -> None:
        stage = details.get("stage")
        if isinstance(stage, str):
            self.stage = stage


def _fail(message: str, code: int, exc: BaseException | None, debug: bool) -> int:
    if debug and exc is not None:
        traceback.print_exception(exc)
    print(f"tuner optimize: {message}", file=sys.stderr)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m tuner optimize``; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(None if argv is None else list(argv))
    except SystemExit as exc:  # argparse: 2 on bad usage, 0 on --help
        return int(exc.code or 0)
    from .autotune import optimize
    from .search import parse_duration

    try:
        budget_s = parse_duration(args.budget)
    except TunerError as exc:
        return _fail(str(exc), 2, exc, args.debug)
    if args.workload is not None and ":" not in args.workload:
        from .workloads import get

        try:
            get(args.workload)  # a name that is not a built-in is a usage error
        except WorkloadError as exc:
            return _fail(str(exc), 2, exc, args.debug)
    progress = _Progress(budget_s, enabled=not args.json and sys.stderr.isatty())
    try:
        with progress:
            rec = optimize(
                workload=args.workload,
                inputs=args.inputs,
                budget=budget_s,
                objective=args.objective,
                strategy=args.strategy,
                slo_p99=args.slo_p99,
                max_rss=args.max_rss,
                max_cpu=args.max_cpu,
                fix=args.fix,
                out=args.out,
                resume=args.resume,
                seed=args.seed,
                baseline=not args.no_baseline,
                on_trial=progress.trial,
                on_event=progress.event,
            )
    except WorkloadError as exc:
        # The user's function failed: its traceback (from the worker) is what helps.
        cause = exc.__cause__
        if cause is not None and not args.debug:
            print("".join(traceback.format_exception(cause)), file=sys.stderr, end="")
        return _fail(str(exc).splitlines()[0], 1, exc, args.debug)
    except (ConfigError, SearchError, TrialLogError) as exc:
        return _fail(str(exc), 2, exc, args.debug)
    except KeyboardInterrupt:
        return _fail("interrupted; finished trials are kept in the output directory", 130,
                     None, args.debug)  # fmt: skip
    if args.json:
        print(json.dumps(rec.report, indent=2, sort_keys=False))
    else:
        from .report import render_terminal

        render_terminal(rec.report)
        print(f"\nfiles: {rec.out_dir}/report.html, report.json, trials.jsonl")
    return 0
