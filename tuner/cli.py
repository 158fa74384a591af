"""Command line of ``python -m tuner``.

``main(argv=None) -> int`` parses, dispatches and returns the exit code:
0 success, 1 workload error, 2 bad usage or not available.
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["main"]

_NOT_YET = (
    "tuner {cmd}: not yet implemented: this build ships the `kernels` package and the "
    "project skeleton only; the worker pool and the auto-tuner are planned "
    "(see docs/index.md, 'Status')."
)


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tuner",
        description="Tune the performance of multiprocess and distributed Python work.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser(
        "optimize",
        help="search pool sizes and strategies for a workload (not yet implemented)",
        description="Search pool sizes and strategies for a workload (not yet implemented).",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on bad usage, 0 on --help
        return int(exc.code or 0)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    print(_NOT_YET.format(cmd=args.command), file=sys.stderr)
    return 2
