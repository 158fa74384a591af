"""Run every kernels benchmark and print one table per area, measured in this run.

Usage: ``python -m benchmarks.kernels [--quick] [--only hashing,ring,...]``.
Each area module exposes ``run(quick: bool) -> list[Row]``; ratios compare
against peers (numpy, uhashring, libketama, C) measured in the same process
and the same minute, so the shared machine's noise hits both sides alike.
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import sys

import numba
import numpy as np

from benchmarks._harness import print_table

AREAS = {
    "hashing": "benchmarks.kernels.bench_hashing",
    "ring": "benchmarks.kernels.bench_ring",
    "placement": "benchmarks.kernels.bench_jump",
    "select": "benchmarks.kernels.bench_select",
}


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.kernels", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller inputs, fewer repeats")
    parser.add_argument(
        "--only", default="", help=f"comma-separated areas among {', '.join(AREAS)}"
    )
    args = parser.parse_args(argv)
    areas = [a for a in args.only.split(",") if a] or list(AREAS)
    unknown = [a for a in areas if a not in AREAS]
    if unknown:
        parser.error(f"unknown area(s) {unknown}; choose from {list(AREAS)}")
    print(
        f"# kernels benchmarks\n\nmachine: {_cpu_model()}, {os.cpu_count()} logical cores; "
        f"Python {platform.python_version()}, numpy {np.__version__}, numba {numba.__version__}; "
        f"numba threads {numba.get_num_threads()}"
    )
    for area in areas:
        module = importlib.import_module(AREAS[area])
        print_table(module.run(quick=args.quick), title=area)
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
