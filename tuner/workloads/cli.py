"""``python -m tuner workloads``: list the built-in workloads (rich table, or ``--json``)."""

from __future__ import annotations

import argparse
import json
import sys

from . import BUILTINS, DEFAULT_WORKLOAD

__all__ = ["workloads_main"]

_USER_HINT = (
    "Your own function: python -m tuner optimize mymodule:task --inputs mymodule:make_inputs "
    "(a generator: a tuple is the positional arguments, anything else one argument) or "
    "--inputs data.jsonl (one JSON value per line: a list is the positional arguments, "
    "anything else, objects included, one argument). See docs/workloads.md."
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tuner workloads",
        description="List the built-in workloads the tuner can run, with their shapes.",
        epilog=_USER_HINT,
    )
    parser.add_argument(
        "--json", action="store_true", help="print the list as JSON on standard output"
    )
    return parser


def _rows() -> list[dict[str, object]]:
    return [
        {
            "name": w.name,
            "default": w.name == DEFAULT_WORKLOAD,
            "shape": w.description,
            "stresses": w.stresses,
            "keyed": w.keyed,
            "trial_tasks": w.trial_tasks,
            "warmup_tasks": w.warmup_tasks,
            "function": w.function_ref,
        }
        for w in BUILTINS.values()
    ]


def workloads_main(argv: list[str]) -> int:
    """Print the built-in workloads; returns the exit code (0, or 2 for bad usage).

    Parameters
    ----------
    argv : list of str
        The arguments after ``workloads``.
    """
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # argparse: 0 for --help, 2 for bad usage
        return int(exc.code or 0)
    rows = _rows()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Built-in workloads", title_justify="left", show_lines=True)
    table.add_column("name", style="bold", no_wrap=True)
    table.add_column("shape")
    table.add_column("what it stresses")
    table.add_column("tasks per trial", justify="right", no_wrap=True)
    for row in rows:
        name = str(row["name"]) + (" (default)" if row["default"] else "")
        tasks = f"{row['warmup_tasks']:,} + {row['trial_tasks']:,}"
        table.add_row(name, str(row["shape"]), str(row["stresses"]), tasks)
    console = Console(file=sys.stdout)
    console.print(table)
    console.print("tasks per trial: warm-up + measured window", style="dim")
    console.print(_USER_HINT, highlight=False)
    return 0
