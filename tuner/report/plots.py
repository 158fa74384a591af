"""The report's plots, drawn with matplotlib into PNG bytes (and files, when asked).

1. :func:`plot_throughput`: throughput against pool size per balancer, with the fitted
   Universal Scalability Law curve and its peak ``N*`` (see :mod:`.summary` for which trials
   form a balancer's curve, and why at least three sizes).
2. :func:`plot_latency`: p50, p90 and p99 task latency per configuration (log scale: tails
   span decades).
3. :func:`plot_resources`: mean CPU % and peak RSS per configuration.

Why no ``pyplot``: pyplot keeps global state (a current figure, a backend chosen for the
whole process) and leaks figures that are not closed.  These functions build a
:class:`matplotlib.figure.Figure` directly and print it with the Agg renderer, so they work
headless, are safe in threads, never change the backend of a program that embeds the tuner
and uses pyplot itself, and leave nothing behind.  matplotlib is imported on first use only,
never when :mod:`tuner` is imported.  PNGs carry no metadata (no "Software" URL), so the
HTML report holds no network address at all.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import TunerError
from ..search.trials import Trial, config_key
from .summary import UslSlice, summarise_configurations, usl_slices

__all__ = ["Plot", "plot_latency", "plot_resources", "plot_throughput", "render_plots"]

SaveDir = str | os.PathLike[str] | None
"""Where to save PNG files, if anywhere."""

_DPI = 100
_SHOWN_KNOBS = ("batch_size", "prefetch", "balance_factor")


@dataclass(frozen=True)
class Plot:
    """One drawn plot.

    Attributes
    ----------
    name : str
        File stem (``throughput_vs_workers``, ``latency``, ``resources``).
    title : str
    png : bytes or None
        The image; None when there was nothing to draw (``notes`` say why).
    notes : tuple of str
        What the reader should know: balancers without a fit, missing measurements.
    path : Path or None
        Where the PNG was saved, when a ``save_dir`` was given.
    """

    name: str
    title: str
    png: bytes | None
    notes: tuple[str, ...] = ()
    path: Path | None = field(default=None)


def _figure(width: float, height: float, rows: int = 1) -> tuple[Any, Any]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=_DPI, layout="constrained")
    axes = fig.subplots(rows, 1, sharex=True) if rows > 1 else fig.add_subplot(1, 1, 1)
    return fig, axes


def _finish(fig: Any, name: str, title: str, notes: list[str], save_dir: SaveDir) -> Plot:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    png = buffer.getvalue()
    path = None
    if save_dir is not None:
        path = Path(save_dir) / f"{name}.png"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(png)
        except OSError as exc:
            raise TunerError(f"cannot save the plot {path}: {exc.strerror or exc}") from exc
    return Plot(name, title, png, tuple(notes), path)


def _label(balancer: str, fixed: Mapping[str, Any]) -> str:
    shown = " ".join(f"{k}={fixed[k]}" for k in _SHOWN_KNOBS if k in fixed)
    return f"{balancer} ({shown})" if shown else balancer


def plot_throughput(slices: Sequence[UslSlice], *, save_dir: SaveDir = None) -> Plot:
    """Throughput (tasks/s) against pool size, one colour per balancer.

    Filled markers with 95% error bars are the balancer's slice (its best-covered settings),
    the line is the USL fitted to them and the star marks ``N*``; hollow markers are the
    balancer's other configurations, for context.
    """
    name, title = "throughput_vs_workers", "Throughput vs pool size, with the USL fit"
    few = [s.balancer for s in slices if s.fit is None and len(s.sizes) < 3]
    notes = [s.note for s in slices if s.note and s.balancer not in few]
    if few:
        notes.insert(
            0,
            f"USL not fitted for {', '.join(few)}: fewer than 3 pool sizes measured with the "
            "same other settings.",
        )
    if not slices:
        return Plot(name, title, None, ("no successful trials with a pool size to plot",))
    import numpy as np

    fig, ax = _figure(11.0, 5.0)
    starred = False
    colours = [f"C{i % 10}" for i in range(len(slices))]
    top = max(max(s.sizes) for s in slices)
    for s, colour in zip(slices, colours, strict=True):
        means = np.array(s.means)
        low = np.array(
            [m - lo if lo is not None else 0.0 for m, lo in zip(means, s.lows, strict=True)]
        )
        high = np.array(
            [hi - m if hi is not None else 0.0 for m, hi in zip(means, s.highs, strict=True)]
        )
        label = _label(s.balancer, s.fixed)
        if s.fit is not None:
            peak = f"N*={s.fit.n_star:.1f}" if math.isfinite(s.fit.n_star) else "no peak"
            label += f", USL σ={s.fit.sigma:.2f} κ={s.fit.kappa:.2g} {peak}"
        ax.errorbar(s.sizes, means, yerr=[low, high], fmt="o", color=colour, capsize=3, label=label)
        if s.other_points:
            xs, ys = zip(*s.other_points, strict=True)
            ax.scatter(xs, ys, facecolors="none", edgecolors=colour, alpha=0.5, s=20)
        fit = s.fit
        if fit is None:
            continue
        n_star = fit.n_star
        right = top
        if math.isfinite(n_star):
            right = max(top, min(n_star * 1.15, 2.0 * top))
        grid = np.linspace(1.0, right, 200)
        ax.plot(grid, fit.predict(grid), "-", color=colour, alpha=0.8, linewidth=1.2)
        if math.isfinite(n_star) and n_star <= right:
            ax.plot(
                [n_star],
                [float(fit.predict(n_star))],
                "*",
                color=colour,
                markersize=14,
                markeredgecolor="black",
            )
            starred = True
        elif math.isfinite(n_star):
            notes.append(f"{s.balancer}: N*={n_star:.1f} lies beyond the plotted sizes")
        else:
            notes.append(f"{s.balancer}: κ=0, the fit has no peak (throughput levels off)")
    ax.set_xlabel("pool size (max_workers)")
    ax.set_ylabel("throughput (tasks/s)")
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    if starred:
        ax.plot(
            [],
            [],
            "*",
            color="grey",
            markersize=12,
            markeredgecolor="black",
            label="N*: the fitted peak",
        )
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_title(title)
    return _finish(fig, name, title, notes, save_dir)


def _ticks(ax: Any, ids: Sequence[str]) -> None:
    step = max(1, math.ceil(len(ids) / 40))
    positions = list(range(0, len(ids), step))
    ax.set_xticks(positions)
    ax.set_xticklabels([ids[i] for i in positions], rotation=90, fontsize="small")


def _highlight(axes: Sequence[Any], ids: Sequence[str], chosen: str | None) -> None:
    if chosen in ids:
        i = list(ids).index(chosen)
        for ax in axes:
            ax.axvspan(i - 0.5, i + 0.5, color="gold", alpha=0.3, zorder=0)


def plot_latency(
    configurations: Sequence[Mapping[str, Any]],
    *,
    recommended: str | None = None,
    save_dir: SaveDir = None,
) -> Plot:
    """p50/p90/p99 latency (ms, log scale) per configuration id; ``recommended`` (an id) is
    shaded."""
    name, title = "latency", "Task latency percentiles per configuration"
    rows = [
        c
        for c in configurations
        if any((c.get(k) or 0) > 0 for k in ("latency_p50_s", "latency_p90_s", "latency_p99_s"))
    ]
    if not rows:
        return Plot(name, title, None, ("no configuration has latency measurements",))
    notes = []
    if len(rows) < len(configurations):
        notes.append(f"{len(configurations) - len(rows)} configuration(s) without latencies")
    fig, ax = _figure(min(4.0 + 0.22 * len(rows), 16.0), 4.5)
    ids = [str(c["id"]) for c in rows]
    for key, label, marker in (
        ("latency_p50_s", "p50", "o"),
        ("latency_p90_s", "p90", "s"),
        ("latency_p99_s", "p99", "^"),
    ):
        xs = [i for i, c in enumerate(rows) if (c.get(key) or 0) > 0]
        ys = [1000.0 * rows[i][key] for i in xs]
        if xs:
            ax.plot(xs, ys, marker, label=label, linestyle="none")
    ax.set_yscale("log")
    ax.set_ylabel("latency (ms)")
    ax.set_xlabel("configuration (see the trial table)")
    _ticks(ax, ids)
    _highlight([ax], ids, recommended)
    ax.grid(True, which="both", axis="y", alpha=0.3)
    ax.legend(fontsize="small")
    ax.set_title(title)
    return _finish(fig, name, title, notes, save_dir)


def plot_resources(
    configurations: Sequence[Mapping[str, Any]],
    *,
    recommended: str | None = None,
    save_dir: SaveDir = None,
) -> Plot:
    """Mean CPU % (100 = one core) and peak RSS (MiB) of the pool's process tree per
    configuration id; ``recommended`` (an id) is shaded."""
    name, title = "resources", "CPU and memory per configuration"
    rows = [
        c
        for c in configurations
        if c.get("cpu_percent") is not None or c.get("peak_rss_bytes") is not None
    ]
    if not rows:
        return Plot(name, title, None, ("no configuration has CPU or memory measurements",))
    notes = []
    if len(rows) < len(configurations):
        notes.append(f"{len(configurations) - len(rows)} configuration(s) without CPU/RSS")
    fig, (cpu_ax, rss_ax) = _figure(min(4.0 + 0.22 * len(rows), 16.0), 5.5, rows=2)
    ids = [str(c["id"]) for c in rows]
    cpu = [(i, c["cpu_percent"]) for i, c in enumerate(rows) if c.get("cpu_percent") is not None]
    rss = [
        (i, c["peak_rss_bytes"] / 2**20)
        for i, c in enumerate(rows)
        if c.get("peak_rss_bytes") is not None
    ]
    if cpu:
        cpu_ax.bar(*zip(*cpu, strict=True), color="C0")
    if rss:
        rss_ax.bar(*zip(*rss, strict=True), color="C1")
    cpu_ax.set_ylabel("CPU % (100 = 1 core)")
    rss_ax.set_ylabel("peak RSS (MiB)")
    rss_ax.set_xlabel("configuration (see the trial table)")
    _ticks(rss_ax, ids)
    _highlight([cpu_ax, rss_ax], ids, recommended)
    for ax in (cpu_ax, rss_ax):
        ax.grid(True, axis="y", alpha=0.3)
    cpu_ax.set_title(title)
    return _finish(fig, name, title, notes, save_dir)


def recommended_id(report: Mapping[str, Any]) -> str | None:
    """The id (``C7``) of the recommended configuration in ``report["configurations"]``."""
    rec = report.get("recommendation")
    if not isinstance(rec, Mapping) or not isinstance(rec.get("config"), Mapping):
        return None
    key = config_key(rec["config"])
    for c in report.get("configurations") or ():
        config = c.get("config") if isinstance(c, Mapping) else None
        if isinstance(config, Mapping) and config_key(config) == key:
            return str(c.get("id"))
    return None


def render_plots(
    report: Mapping[str, Any], trials: Sequence[Trial], *, save_dir: SaveDir = None
) -> list[Plot]:
    """The three plots of the report, in order (and as PNG files in ``save_dir``, if given,
    so the documentation can embed them).

    The throughput plot is drawn from ``trials``; the per-configuration plots from
    ``report["configurations"]``, so their ids match the report's tables.
    """
    rec = report.get("recommendation")
    prefer = rec.get("config") if isinstance(rec, Mapping) else None
    slices = usl_slices(summarise_configurations(trials), prefer=prefer)
    configurations = [c for c in report.get("configurations") or () if isinstance(c, Mapping)]
    chosen = recommended_id(report)
    return [
        plot_throughput(slices, save_dir=save_dir),
        plot_latency(configurations, recommended=chosen, save_dir=save_dir),
        plot_resources(configurations, recommended=chosen, save_dir=save_dir),
    ]
