"""Former entry point of the pool scenarios, kept so that old commands still work.

``python -m benchmarks.pool_scenarios [ARGS]`` is ``python -m benchmarks.pool --only
heavy,kill,memory [ARGS]``; the scenarios live in :mod:`benchmarks.pool.scenarios`.
"""

from __future__ import annotations

import sys

from benchmarks.pool.__main__ import main as _pool_main


def main(argv: list[str] | None = None) -> int:
    """Run the heavy-tailed, worker-kill and memory sections of ``benchmarks.pool``."""
    rest = sys.argv[1:] if argv is None else argv
    return _pool_main(["--only", "heavy,kill,memory", *rest])


if __name__ == "__main__":
    raise SystemExit(main())
