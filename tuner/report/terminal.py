"""The end of a tuning run in the terminal: a short table and a paste-ready snippet.

The snippet is printed without markup, highlighting or wrapping so it can be copied as is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import fmt

__all__ = ["render_terminal"]

_TOP = 5


_WIDE = 100
"""Console width from which the top-configurations table also shows each trial's id."""


def render_terminal(report: Mapping[str, Any], console: Any = None) -> str | None:
    """Print the summary of ``report`` (a ``report.json`` document) on ``console``.

    Shows the recommendation, its interval, the baseline and the gain, then the five best
    configurations, then a Python snippet that builds the recommended pool.

    Parameters
    ----------
    report : mapping
    console : rich.console.Console, optional
        Standard output when None.

    Returns
    -------
    str or None
        The snippet, or None when there is no recommendation.
    """
    from rich import box
    from rich.console import Console
    from rich.table import Table

    if console is None:
        console = Console()
    rec = report.get("recommendation")
    base = report.get("baseline")
    gain = report.get("gain_over_baseline")

    table = Table(title="Tuning result", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    if isinstance(rec, Mapping):
        table.add_row("recommendation", fmt.config_text(rec.get("config")))
        table.add_row("throughput", fmt.rate(rec.get("throughput")))
        table.add_row("interval", fmt.interval(rec.get("throughput_interval")))
        table.add_row(
            "latency p50/p99",
            f"{fmt.ms(rec.get('latency_p50_s'))} / {fmt.ms(rec.get('latency_p99_s'))}",
        )
        table.add_row(
            "CPU, peak RSS",
            f"{fmt.percent(rec.get('cpu_percent'))}, {fmt.bytes_(rec.get('peak_rss_bytes'))}",
        )
    else:
        table.add_row("recommendation", f"none: {report.get('reason') or 'see the report'}")
    if isinstance(base, Mapping):
        if base.get("error"):
            table.add_row("baseline", f"failed: {base['error']}")
        else:
            table.add_row(
                "baseline",
                f"{fmt.config_text(base.get('config'))}: {fmt.rate(base.get('throughput'))}",
            )
    else:
        table.add_row("baseline", "not measured")
    table.add_row("gain", "not measured" if gain is None else f"×{gain:.2f} throughput")
    search = report.get("search")
    if isinstance(search, Mapping):
        stopped = search.get("stopped")
        table.add_row(
            "search",
            f"{search.get('strategy')}: {search.get('evaluations')} evaluations, "
            f"{search.get('configurations')} configurations"
            + ("" if stopped == "complete" else f"; stopped early ({stopped})"),
        )
    console.print(table)

    ranked = sorted(
        (
            c
            for c in report.get("configurations") or ()
            if isinstance(c, Mapping) and c.get("rank") is not None
        ),
        key=lambda c: c["rank"],
    )[:_TOP]
    if ranked:
        narrow = console.width < _WIDE  # no room for ids and vertical rules
        top = Table(title=f"Top {len(ranked)} configurations", title_justify="left",
                    **({"box": box.SIMPLE_HEAD, "pad_edge": False, "padding": (0, 1, 0, 0)}
                       if narrow else {}))  # fmt: skip
        texts = [fmt.config_text(c.get("config")) for c in ranked]
        # The configuration wraps between its settings, never inside one ("batch_size=25" /
        # "6" on an 80-column terminal); numbers never wrap; the interval wraps at spaces.
        longest = max((len(part) for text in texts for part in text.split()), default=1)
        ids = [] if narrow else [("id", "left", False)]
        for name, justify, wrap in [
            ("#", "right", False),
            *ids,
            ("configuration", "left", True),
            ("tasks/s", "right", False),
            ("interval", "left", True),
            ("p99", "right", False),
            ("CPU", "right", False),
            ("RSS", "right", False),
        ]:
            top.add_column(name, justify=justify, overflow="fold", no_wrap=not wrap,
                           min_width=longest if name == "configuration" else None)  # fmt: skip
        for c, text in zip(ranked, texts, strict=True):
            top.add_row(
                str(c["rank"]),
                *([] if narrow else [str(c.get("id", ""))]),
                text,
                fmt.rate(c.get("throughput")).removesuffix(" tasks/s"),
                # On a narrow console the bounds and the level take a line each.
                fmt.interval(c.get("throughput_interval"), unit="", sep="\n" if narrow else " "),
                fmt.ms(c.get("latency_p99_s")),
                fmt.percent(c.get("cpu_percent")),
                fmt.bytes_(c.get("peak_rss_bytes")),
            )
        console.print(top)

    if not isinstance(rec, Mapping) or not isinstance(rec.get("config"), Mapping):
        return None
    code = fmt.snippet(rec["config"])
    console.print("\nPaste this to build the recommended pool:\n", highlight=False)
    console.print(code, markup=False, highlight=False, soft_wrap=True)
    return code
