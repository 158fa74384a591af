"""Reports of a tuning run: ``report.json``, the self-contained ``report.html``, the terminal
summary, and ``python -m tuner report DIR``.

Typical use, at the end of a run::

    report = build_report(result=result, trials=log.read(), baseline=baseline_trial,
                          workload={"name": wl.name, "description": wl.description,
                                    "function": wl.function_ref},
                          settings={...}, environment=environment())
    paths = write_report(out_dir, report, log.read())
    if json_wanted:
        sys.stdout.write(report_text(report))   # --json: the same document
    else:
        render_terminal(report)

Importing this package is cheap: matplotlib and rich are imported when a plot or the terminal
summary is drawn, never before.
"""

from .cli import load_report, report_main
from .document import (
    FORMAT_VERSION,
    ReportPaths,
    build_report,
    json_safe,
    report_text,
    write_report,
)
from .environment import environment
from .html import render_html
from .plots import Plot, plot_latency, plot_resources, plot_throughput, render_plots
from .terminal import render_terminal

__all__ = [
    "FORMAT_VERSION",
    "Plot",
    "ReportPaths",
    "build_report",
    "environment",
    "json_safe",
    "load_report",
    "plot_latency",
    "plot_resources",
    "plot_throughput",
    "render_html",
    "render_plots",
    "render_terminal",
    "report_main",
    "report_text",
    "write_report",
]
