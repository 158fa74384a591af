"""Number and configuration formatting shared by the HTML and terminal reports."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["bytes_", "config_text", "interval", "ms", "percent", "rate", "snippet"]

DASH = "–"


def rate(value: float | None) -> str:
    """``"1,234 tasks/s"`` (three significant digits below 100)."""
    if value is None:
        return DASH
    return f"{value:,.0f} tasks/s" if abs(value) >= 100 else f"{value:.3g} tasks/s"


def ms(seconds: float | None) -> str:
    """Seconds as ``"12.3 ms"``."""
    return DASH if seconds is None else f"{1000.0 * seconds:.3g} ms"


def percent(value: float | None) -> str:
    return DASH if value is None else f"{value:.0f}%"


def bytes_(value: float | None) -> str:
    """``"287 MiB"``."""
    if value is None:
        return DASH
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if value >= size:
            return f"{value / size:.3g} {unit}"
    return f"{value:.0f} B"


def interval(ci: Mapping[str, Any] | None, unit: str = "tasks/s", sep: str = " ") -> str:
    """``"[1,180, 1,260] tasks/s (95%, n=6)"``; unknown bounds (one repeat) said so; a
    throughput bound below zero is shown as 0 (report.json keeps the computed value).

    ``unit=""`` gives throughput bounds without the unit (for table columns that name it);
    ``sep`` goes before the ``(level, n)`` label (``"\n"`` puts it on a line of its own).
    """
    if not isinstance(ci, Mapping):
        return DASH
    level = ci.get("level")
    n = ci.get("n")
    label = f"{100 * level:.0f}%, n={n}" if isinstance(level, (int, float)) else f"n={n}"
    low, high = ci.get("low"), ci.get("high")
    if low is None or high is None:
        return f"unknown width ({label})"
    if unit in ("tasks/s", ""):
        # A t interval of a few noisy repeats can reach below zero; throughput cannot.
        low = max(0.0, low)
        return f"[{low:,.0f}, {high:,.0f}]{' ' if unit else ''}{unit}{sep}({label})"
    return f"[{low:.4g}, {high:.4g}] {unit}{sep}({label})"


def config_text(config: Mapping[str, Any] | None) -> str:
    """``"max_workers=4 balancer=pull batch_size=1 prefetch=64"``."""
    if not isinstance(config, Mapping):
        return DASH
    return " ".join(f"{k}={v}" for k, v in config.items())


def snippet(config: Mapping[str, Any], width: int = 88) -> str:
    """Paste-ready Python that builds the recommended pool (each value ``repr``'d).

    One line when it fits in ``width`` columns, else one keyword argument per line.
    """
    args = [f"{k}={v!r}" for k, v in config.items()]
    one = f"pool = WorkerPool({', '.join(args)})"
    if len(one) <= width:
        body = one
    else:
        body = "pool = WorkerPool(\n" + "".join(f"    {a},\n" for a in args) + ")"
    return f"from tuner import WorkerPool\n\n{body}\n"
