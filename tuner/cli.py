"""Command line of ``python -m tuner``.

``main(argv=None) -> int`` parses, dispatches and returns the exit code:
0 success, 1 error (workload error, bad key file), 2 bad usage.

Every subcommand (``optimize``, ``report``, ``workloads``, ``keys``, ``worker``) has options
of its own and is delegated whole to the module that implements it, imported only when
used, so that ``python -m tuner --help`` stays fast and loads neither numba nor ZeroMQ.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable

__all__ = ["main"]

#: name -> (module, function taking argv and returning an exit code, one-line help)
_DELEGATED: dict[str, tuple[str, str, str]] = {
    "optimize": (
        "tuner.optimize_cli",
        "main",
        "search pool sizes and strategies for a workload and recommend the fastest",
    ),
    "report": (
        "tuner.report.cli",
        "report_main",
        "re-render the report of a finished or interrupted optimize run (DIR)",
    ),
    "keys": (
        "tuner.security",
        "keys_main",
        "create CURVE keys for a pool that accepts remote workers over TCP",
    ),
    "workloads": (
        "tuner.workloads",
        "workloads_main",
        "list the built-in workloads and how to give your own",
    ),
    "worker": (
        "tuner.pool.worker",
        "main",
        "run a worker process that connects to a pool (--connect tcp://HOST:PORT)",
    ),
}


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tuner",
        description="Tune the performance of multiprocess and distributed Python work.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_module, _func, text) in _DELEGATED.items():
        sub.add_parser(name, help=text, add_help=False)
    return parser


def _delegate(name: str) -> Callable[[list[str]], int]:
    module, func, _text = _DELEGATED[name]
    return getattr(importlib.import_module(module), func)


def main(argv: list[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list and args_list[0] in _DELEGATED:
        return int(_delegate(args_list[0])(args_list[1:]))
    parser = _build_parser()
    try:
        parser.parse_args(args_list)
    except SystemExit as exc:  # argparse exits 2 on bad usage, 0 on --help
        return int(exc.code or 0)
    parser.print_help(sys.stderr)  # no command (every command is delegated above)
    return 2
