"""``report.html``: one self-contained page a reader can open anywhere, offline.

Inline CSS, the plots as base64 PNG data URIs, no script, no font or stylesheet to fetch, no
network address at all.  Every piece of text that comes from outside this module (workload
names and descriptions, configuration values, error messages, explanations, environment
strings) goes through :func:`html.escape`: a workload called ``<script>`` shows as text.
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Mapping, Sequence
from typing import Any

from ..search.stats import confidence_interval
from ..search.trials import Trial, config_key
from . import fmt
from .plots import Plot, render_plots

__all__ = ["render_html"]

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px;
       color: #222; line-height: 1.45; padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 1.8em;
       border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.6em 0; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.5em; text-align: left;
         vertical-align: top; }
th { background: #f4f4f4; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.rec td { background: #fff6cc; }
tr.bad td { color: #999; }
pre, code { background: #f6f6f6; font-family: ui-monospace, monospace; }
pre { padding: 0.8em; overflow-x: auto; }
.big { font-size: 1.3em; font-weight: 600; }
.note { color: #666; font-size: 0.9em; }
.warn { color: #a33; }
img { max-width: 100%; border: 1px solid #eee; }
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _num(value: Any, digits: str = ",.0f") -> str:
    return fmt.DASH if value is None else format(value, digits)


def _kv_table(data: Mapping[str, Any]) -> str:
    rows = []
    for key, value in data.items():
        if isinstance(value, (Mapping, list)):
            text = json.dumps(value, ensure_ascii=False, allow_nan=False, default=repr)
        else:
            text = "" if value is None else str(value)
        rows.append(f"<tr><th>{_e(key)}</th><td>{_e(text) or fmt.DASH}</td></tr>")
    return "<table>" + "".join(rows) + "</table>" if rows else "<p class='note'>none</p>"


def _recommendation(report: Mapping[str, Any]) -> str:
    rec = report.get("recommendation")
    if not isinstance(rec, Mapping):
        reason = report.get("reason") or "no configuration could be recommended"
        return f"<p class='big warn'>No recommendation: {_e(reason)}.</p>"
    config = rec.get("config") or {}
    parts = [
        f"<p class='big'>{_e(fmt.config_text(config))}</p>",
        "<table>",
        f"<tr><th>throughput</th><td class='num'>{_e(fmt.rate(rec.get('throughput')))}</td>"
        f"<td>{_e(fmt.interval(rec.get('throughput_interval')))}</td></tr>",
    ]
    for key, label in (
        ("latency_p50_s", "p50 latency"),
        ("latency_p90_s", "p90 latency"),
        ("latency_p99_s", "p99 latency"),
    ):
        parts.append(
            f"<tr><th>{label}</th><td class='num'>{_e(fmt.ms(rec.get(key)))}</td><td></td></tr>"
        )
    parts.append(
        f"<tr><th>CPU (process tree)</th><td class='num'>{_e(fmt.percent(rec.get('cpu_percent')))}"
        f"</td><td>100% = one core</td></tr>"
        f"<tr><th>peak RSS</th><td class='num'>{_e(fmt.bytes_(rec.get('peak_rss_bytes')))}</td>"
        f"<td></td></tr>"
    )
    parts.append("</table>")
    parts.append(f"<pre><code>{_e(fmt.snippet(config))}</code></pre>")
    return "".join(parts)


def _baseline(report: Mapping[str, Any]) -> str:
    base = report.get("baseline")
    if not isinstance(base, Mapping):
        return "<p class='note'>The baseline (ProcessPoolExecutor) was not measured.</p>"
    if base.get("error"):
        return f"<p class='warn'>The baseline failed: {_e(base['error'])}</p>"
    gain = report.get("gain_over_baseline")
    p99_gain = report.get("p99_gain_over_baseline")
    rows = [
        f"<tr><th>configuration</th><td>{_e(fmt.config_text(base.get('config')))}</td></tr>",
        f"<tr><th>throughput</th><td>{_e(fmt.rate(base.get('throughput')))} "
        f"{_e(fmt.interval(base.get('throughput_interval')))}</td></tr>",
        f"<tr><th>p50 / p90 / p99</th><td>{_e(fmt.ms(base.get('latency_p50_s')))} / "
        f"{_e(fmt.ms(base.get('latency_p90_s')))} / {_e(fmt.ms(base.get('latency_p99_s')))}"
        "</td></tr>",
        f"<tr><th>CPU, peak RSS</th><td>{_e(fmt.percent(base.get('cpu_percent')))}, "
        f"{_e(fmt.bytes_(base.get('peak_rss_bytes')))}</td></tr>",
        "<tr><th>gain in throughput</th><td>"
        + (_e(f"×{gain:.2f}") if gain is not None else "not measured")
        + "</td></tr>",
        "<tr><th>p99 latency ratio (baseline / tuned)</th><td>"
        + (_e(f"×{p99_gain:.2f}") if p99_gain is not None else "not measured")
        + "</td></tr>",
    ]
    return "<table>" + "".join(rows) + "</table>"


def _explanation(report: Mapping[str, Any]) -> str:
    rec = report.get("recommendation")
    sentences = rec.get("explanation") if isinstance(rec, Mapping) else None
    if not sentences:
        sentences = (report.get("search") or {}).get("explanation") or []
    if not sentences:
        return "<p class='note'>No explanation was recorded.</p>"
    return "<ol>" + "".join(f"<li>{_e(s)}</li>" for s in sentences) + "</ol>"


def _plots(plots: Sequence[Plot]) -> str:
    parts = []
    for plot in plots:
        parts.append(f"<h3>{_e(plot.title)}</h3>")
        if plot.png is not None:
            data = base64.b64encode(plot.png).decode("ascii")
            parts.append(f"<img alt='{_e(plot.title)}' src='data:image/png;base64,{data}'>")
        parts.extend(f"<p class='note'>{_e(n)}</p>" for n in plot.notes)
    return "".join(parts)


def _usl(report: Mapping[str, Any]) -> str:
    search = report.get("search") or {}
    rows = []
    for fit in search.get("usl_by_balancer") or ():
        if not isinstance(fit, Mapping):
            continue
        if fit.get("fitted"):
            peak = f"{fit['n_star']:.1f}" if fit.get("n_star") is not None else "no peak (κ=0)"
            cells = [
                fit.get("balancer"),
                fmt.config_text(fit.get("fixed")),
                ", ".join(str(s) for s in fit.get("sizes") or ()),
                _num(fit.get("lambda"), ".4g"),
                _num(fit.get("sigma"), ".3f"),
                _num(fit.get("kappa"), ".2g"),
                peak,
                _num(fit.get("r2"), ".3f"),
            ]
        else:
            cells = [
                fit.get("balancer"),
                fmt.config_text(fit.get("fixed")),
                ", ".join(str(s) for s in fit.get("sizes") or ()),
            ]
            note = fit.get("note") or "not fitted"
            rows.append(
                "<tr>"
                + "".join(f"<td>{_e(c)}</td>" for c in cells)
                + f"<td colspan='5' class='note'>{_e(note)}</td></tr>"
            )
            continue
        rows.append("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in cells) + "</tr>")
    if not rows:
        return "<p class='note'>No pool-size sweep to fit.</p>"
    head = "".join(
        f"<th>{h}</th>"
        for h in ("balancer", "other settings", "sizes", "λ (tasks/s)", "σ", "κ", "N*", "R²")
    )
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def _trial_table(report: Mapping[str, Any], trials: Sequence[Trial]) -> str:
    ids = {}
    for c in report.get("configurations") or ():
        if isinstance(c, Mapping) and isinstance(c.get("config"), Mapping):
            ids[config_key(c["config"])] = str(c.get("id", ""))
    rec = report.get("recommendation")
    rec_key = config_key(rec["config"]) if isinstance(rec, Mapping) and rec.get("config") else None
    head = (
        "#",
        "config",
        "settings",
        "stage",
        "throughput (tasks/s)",
        "95% interval",
        "repeats",
        "p99",
        "CPU",
        "peak RSS",
        "stable",
        "violations / error",
    )
    rows = []
    for number, t in enumerate(trials, start=1):
        key = t.key
        if t.samples and t.repeats >= 2:
            ci = confidence_interval(t.samples)
            interval = f"{ci.low:,.0f} – {ci.high:,.0f}"
        else:
            interval = fmt.DASH
        problems = "; ".join(t.violations)
        if t.error:
            problems = f"error: {t.error}" + (f"; {problems}" if problems else "")
        cls = " class='rec'" if key == rec_key else (" class='bad'" if problems else "")
        cells = [
            (str(number), True),
            (ids.get(key, "?"), False),
            (fmt.config_text(t.config), False),
            (t.stage or t.strategy, False),
            (_num(t.throughput) if t.samples else fmt.DASH, True),
            (interval, True),
            (str(t.repeats), True),
            (fmt.ms(t.latency_p99_s), True),
            (fmt.percent(t.cpu_percent), True),
            (fmt.bytes_(t.peak_rss_bytes), True),
            ("yes" if t.stable else "no", False),
            (problems, False),
        ]
        tds = "".join(
            f"<td class='num'>{_e(v)}</td>" if n else f"<td>{_e(v)}</td>" for v, n in cells
        )
        rows.append(f"<tr{cls}>{tds}</tr>")
    if not rows:
        return "<p class='note'>No trials.</p>"
    header = "".join(f"<th>{_e(h)}</th>" for h in head)
    return f"<table><tr>{header}</tr>{''.join(rows)}</table>"


def render_html(
    report: Mapping[str, Any], trials: Sequence[Trial], *, plots: Sequence[Plot] | None = None
) -> str:
    """The whole ``report.html`` page as text.

    Parameters
    ----------
    report : mapping
        The ``report.json`` document.
    trials : sequence of Trial
        Every trial of the run: the table lists each, the throughput plot draws them.
    plots : sequence of Plot, optional
        Already drawn plots (drawn here when None).
    """
    if plots is None:
        plots = render_plots(report, trials)
    workload = report.get("workload") or {}
    search = report.get("search") or {}
    name = workload.get("name") or "workload"
    warnings = []
    counted = search.get("trials")
    if isinstance(counted, int) and counted != len(trials):
        warnings.append(
            f"report.json counts {counted} trials but {len(trials)} were given for the table "
            "and plots: the trial log changed after the report was built."
        )
    summary = (
        f"{_e(search.get('strategy'))} search for {_e(search.get('objective'))}: "
        f"{_e(search.get('evaluations'))} evaluations ({_e(search.get('samples'))} measured "
        f"windows, {_e(search.get('reused'))} trials reused), {len(trials)} trials of "
        f"{_e(search.get('configurations'))} configurations; stopped: "
        f"{_e(search.get('stopped'))}."
    )
    body = [
        f"<h1>Tuning report: {_e(name)}</h1>",
        f"<p class='note'>{_e(workload.get('description'))} "
        f"<code>{_e(workload.get('function'))}</code><br>"
        f"generated {_e(report.get('generated_at'))}, report format "
        f"{_e(report.get('format_version'))}</p>",
        *(f"<p class='warn'>{_e(w)}</p>" for w in warnings),
        "<h2>Recommendation</h2>",
        _recommendation(report),
        "<h2>Against the baseline: ProcessPoolExecutor with default settings</h2>",
        _baseline(report),
        "<h2>Why this configuration</h2>",
        _explanation(report),
        "<h2>Plots</h2>",
        _plots(plots),
        "<h2>Search</h2>",
        f"<p>{summary}</p>",
        "<h3>Universal Scalability Law fits</h3>",
        _usl(report),
        "<h2>Every trial</h2>",
        "<p class='note'>In the order measured; the config column names the configuration "
        "in the plots. The recommended configuration is highlighted; a trial that failed or "
        "broke a constraint is greyed.</p>",
        _trial_table(report, trials),
        "<h2>Workload</h2>",
        _kv_table(workload),
        "<h2>Settings</h2>",
        _kv_table(report.get("settings") or {}),
        "<h2>Environment</h2>",
        _kv_table(report.get("environment") or {}),
    ]
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>Tuning report: {_e(name)}</title><style>{_CSS}</style></head>"
        "<body>\n" + "\n".join(body) + "\n</body></html>\n"
    )
