"""Timing helpers and the result table shared by every benchmark module.

Benchmarks are scripts, not tests: they print what they measured, with ratios
against peers measured in the same run, and never assert on wall-clock time.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Row", "best_time", "print_table"]


@dataclass(frozen=True)
class Row:
    """One measured line: ``impl`` did ``case`` at ``ns_per_op``.

    ``speedup`` is how many times faster ``impl`` was than ``baseline`` in the
    same run (``baseline_ns / ns_per_op``); ``None`` for the baseline itself.
    """

    case: str
    impl: str
    ns_per_op: float
    baseline: str = ""
    speedup: float | None = None
    target: str = ""
    note: str = ""


def best_time(fn: Callable[[], object], *, repeat: int = 5, number: int = 1) -> float:
    """Best (minimum) seconds per call of ``fn`` over ``repeat`` rounds of ``number`` calls.

    The minimum is the figure least disturbed by other work on a shared machine.
    One untimed call first warms caches and triggers any JIT compilation.
    """
    fn()
    best = float("inf")
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(repeat):
            t0 = time.perf_counter()
            for _ in range(number):
                fn()
            best = min(best, (time.perf_counter() - t0) / number)
    finally:
        if gc_was_enabled:
            gc.enable()
    return best


def print_table(rows: list[Row], title: str = "") -> None:
    """Print rows as a fixed-width table (plain text, so it pastes into docs)."""
    if title:
        print(f"\n## {title}\n")
    headers = ("case", "impl", "ns/op", "speedup", "vs", "target", "note")
    cells = [
        (
            r.case,
            r.impl,
            f"{r.ns_per_op:,.1f}",
            "" if r.speedup is None else f"{r.speedup:.2f}x",
            r.baseline,
            r.target,
            r.note,
        )
        for r in rows
    ]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for c in cells:
        print("| " + " | ".join(v.ljust(w) for v, w in zip(c, widths, strict=True)) + " |")
