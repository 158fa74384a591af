"""``python -m tuner report DIR``: re-render a run's report from its saved files.

What it does, and what it does not: it reads ``DIR/report.json`` (the recommendation, its
interval, the baseline, the environment, the workload and the settings, exactly as the run
decided them) and ``DIR/trials.jsonl`` (every trial), then rewrites ``DIR/report.html`` (the
trial table and the plots, drawn afresh from the trials) and prints the terminal summary.  It
does not re-run the search or recompute the recommendation: the recommendation is the
search's decision, made with its constraints, budget and statistics, and a report must not
silently disagree with the run it reports.  ``report.json`` is left untouched.  To continue
a run that stopped before writing its report, use ``python -m tuner optimize --resume DIR``.

Exit codes: 0 done, 1 missing or corrupt files (one line on standard error), 2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import TunerError
from ..search.trials import TrialLog
from .document import FORMAT_VERSION, atomic_write, report_text
from .html import render_html
from .plots import render_plots
from .terminal import render_terminal

__all__ = ["load_report", "report_main"]

_PROG = "python -m tuner report"


def load_report(directory: str | Path) -> tuple[dict[str, Any], list[Any], list[str]]:
    """Read ``DIR/report.json`` and ``DIR/trials.jsonl``.

    Returns
    -------
    (report, trials, notes)
        ``notes`` are warnings worth showing (a torn last line of the trial log, skipped).

    Raises
    ------
    TunerError
        A missing directory or file, or a corrupt one; the message says which and what to do.
    """
    root = Path(directory)
    if not root.is_dir():
        raise TunerError(f"{root} is not a directory: give the --out directory of a tuning run")
    report_path = root / "report.json"
    trials_path = root / "trials.jsonl"
    try:
        text = report_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TunerError(
            f"{report_path} does not exist: the run did not finish; continue it with "
            f"`python -m tuner optimize --resume {root}`"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TunerError(f"cannot read {report_path}: {exc}") from exc
    try:
        report = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TunerError(
            f"{report_path} is not valid JSON (line {exc.lineno}: {exc.msg}); "
            "re-run the tuning or restore the file"
        ) from exc
    if not isinstance(report, dict) or "recommendation" not in report:
        raise TunerError(f"{report_path} is not a tuner report (no 'recommendation' field)")
    version = report.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version > FORMAT_VERSION:
        raise TunerError(
            f"{report_path} has report format {version!r}; this tuner reads formats up to "
            f"{FORMAT_VERSION}: upgrade the tuner"
        )
    if not trials_path.is_file():
        raise TunerError(f"{trials_path} does not exist: the trial log of the run is missing")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            trials = TrialLog(trials_path).read()
        except OSError as exc:
            raise TunerError(f"cannot read {trials_path}: {exc.strerror or exc}") from exc
    notes = [str(w.message) for w in caught]
    return report, trials, notes


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=_PROG,
        description=(
            "Re-render report.html and the terminal summary of a tuning run from DIR/report.json "
            "and DIR/trials.jsonl, without re-running anything. The recommendation is the one "
            "the run made; the trial table and the plots are drawn from the trial log."
        ),
    )
    parser.add_argument("directory", metavar="DIR", help="the --out directory of a tuning run")
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the report.json document on standard output instead of the table",
    )
    parser.add_argument(
        "--save-plots",
        metavar="PLOTDIR",
        help="also save the plots as PNG files in PLOTDIR (for documentation)",
    )
    return parser


def report_main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m tuner report``; returns the exit code."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    try:
        args = _parser().parse_args(args_list)
    except SystemExit as exc:  # argparse: 2 on bad usage, 0 on --help
        return int(exc.code or 0)
    try:
        report, trials, notes = load_report(args.directory)
        for note in notes:
            print(f"{_PROG}: note: {note}", file=sys.stderr)
        plots = render_plots(report, trials, save_dir=args.save_plots)
        html_path = Path(args.directory) / "report.html"
        atomic_write(html_path, render_html(report, trials, plots=plots))
        if args.json:
            sys.stdout.write(report_text(report))
        else:
            render_terminal(report)
            print(f"\nwrote {html_path}")
    except TunerError as exc:
        message = " ".join(str(exc).split())  # one line, whatever the cause's text holds
        print(f"{_PROG}: error: {message}", file=sys.stderr)
        return 1
    return 0
