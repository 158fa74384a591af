"""``python -m benchmarks.tuner``: the tuner-quality benchmark (see the package docstring).

Usage::

    python -m benchmarks.tuner [replay] [--seeds 20] [--workloads cpu,io] [--json out.json]
    python -m benchmarks.tuner replay --quick          # smoke run: 2 seeds (what the tests run)
    python -m benchmarks.tuner record [--workloads cpu,io]   # re-measure (minutes each)
    python -m benchmarks.tuner verify [--workloads cpu,io]   # re-measure the grids' leaders
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from tuner.errors import ConfigError, SearchError, WorkloadError

from .record import DATA_DIR, WINDOWS, data_path, record, verify
from .replay import (
    AUTO_SECONDS,
    AUTO_SHARE,
    grid_table,
    load_recorded,
    replay_workload,
    results_table,
    summarise,
    targets_table,
)

QUICK_SEEDS = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.tuner",
        description="Tuner quality: regret of auto, random and Optuna TPE against the grid's "
        "best, replayed from recorded grids (default) or re-recorded on real pools.",
    )
    parser.add_argument(
        "mode",
        nargs="?",
        choices=("replay", "record", "verify"),
        default="replay",
        help="replay recorded grids (default), record them on real pools (15-30 minutes "
        "per workload; one workload at a time), or verify: measure each recorded grid's "
        "leading configurations again (about ten minutes per workload and round)",
    )
    parser.add_argument(
        "--workloads",
        default=None,
        help=f"comma-separated workloads (replay: every recorded one; record: {','.join(WINDOWS)})",
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=DATA_DIR,
        help=f"directory of recorded grids (default {DATA_DIR})",
    )
    parser.add_argument(
        "--seeds",
        type=int,
        default=None,
        help="replay seeds per workload (default 20; 2 with --quick)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 2 seeds, no grid replay; not a measurement"
    )
    parser.add_argument("--no-tpe", action="store_true", help="skip the Optuna TPE column")
    parser.add_argument(
        "--passes-only",
        action="store_true",
        help="replay the recorded passes alone, without the windows `verify` added",
    )
    parser.add_argument(
        "--json", type=Path, default=None, help="also write every replayed run to this file"
    )
    return parser  # fmt: skip


def _workloads(text: str | None, data: Path) -> list[str]:
    if text:
        return [w.strip() for w in text.split(",") if w.strip()]
    return [w for w in WINDOWS if data_path(w, data).exists()]


def _tpe_available(skip: bool) -> bool:
    if skip:
        print("TPE column skipped (--no-tpe).")
        return False
    try:
        import optuna  # noqa: F401
    except ImportError:
        print("TPE column skipped: optuna is not installed (pip install -e '.[bench]').")
        return False
    return True


def replay_main(args: argparse.Namespace) -> int:
    seeds = args.seeds if args.seeds is not None else (QUICK_SEEDS if args.quick else 20)
    if seeds < 1:
        print("error: --seeds must be at least 1", file=sys.stderr)
        return 2
    names = _workloads(args.workloads, args.data)
    if not names:
        print(f"error: no recorded grids in {args.data}; record them with "
              "`python -m benchmarks.tuner record`", file=sys.stderr)  # fmt: skip
        return 2
    try:
        recorded = [
            load_recorded(name, args.data, verified=not args.passes_only) for name in names
        ]
    except (SearchError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    tpe = _tpe_available(args.no_tpe)
    began = time.perf_counter()
    results = []
    for rec in recorded:
        results += replay_workload(rec, range(seeds), tpe=tpe, grid=not args.quick)
    summaries = summarise(results)
    print(f"\nmachine of the recordings: {_machine_line(recorded[0].meta)}")
    print(f"replay: {seeds} seed(s) per workload, Python {platform.python_version()}; "
          f"auto capped at {AUTO_SHARE:.0%} of the grid's evaluations, 'auto 60s' on a "
          f"{AUTO_SECONDS:g} s simulated clock; random and TPE matched to auto's evaluations"
          f"{' (quick: a smoke run, not a measurement)' if args.quick else ''}")  # fmt: skip
    print("\n## Recorded grids\n")
    print(grid_table(recorded))
    print("\n## Regret and budget\n")
    print(results_table(summaries))
    print("\n## Targets\n")
    print(targets_table(summaries))
    print(f"\nreplayed in {time.perf_counter() - began:.1f} s")
    if args.json is not None:
        doc = {
            "seeds": seeds,
            "meta": {rec.workload: rec.meta for rec in recorded},
            "runs": [r.to_json() for r in results],
        }
        args.json.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    return 0


def _machine_line(meta: dict) -> str:
    m = meta.get("machine") or {}
    if not m:
        return "unknown (no .meta.json)"
    mem = m.get("memory_bytes")
    return (f"{m.get('cpu_model', '?')}, {m.get('logical_cores', '?')} logical cores, "
            f"{mem / 2**30:.1f} GiB, {m.get('os', '?')}, Python {m.get('python', '?')}"
            if mem else str(m))  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code (2: bad usage or missing data)."""
    args = _parser().parse_args(argv)
    if args.mode in ("record", "verify"):
        try:
            names = _workloads(args.workloads, args.data) if args.workloads else list(WINDOWS)
            (record if args.mode == "record" else verify)(names, data_dir=args.data)
        except (WorkloadError, SearchError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        return 0
    return replay_main(args)


if __name__ == "__main__":
    sys.exit(main())
