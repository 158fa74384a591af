"""Trial records and their crash-safe JSON-lines log.

A :class:`Trial` is what one evaluation of one configuration measured.  :class:`TrialLog`
appends each trial to ``trials.jsonl`` the moment it finishes (flush and fsync per line, about
100 µs here), so a run killed at any point keeps every finished trial and can resume, and a
strategy can be replayed offline from the file.

The log is read back tolerantly: a torn last line (the process died mid-write) is skipped with
a warning; a corrupt line anywhere else is an error naming the line, because silently dropping
a measurement from the middle of a log would bias a resumed search.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import time
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..config import PoolConfig
from ..errors import ConfigError, TrialLogError

__all__ = ["Trial", "TrialLog", "config_key", "merge_by_config"]

_FORMAT_VERSION = 1


def _plain(value: Any) -> Any:
    """JSON-friendly, canonical form of a configuration value (numpy scalars, tuples)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return value


def config_key(config: Mapping[str, Any]) -> str:
    """Canonical text key of a configuration: equal pools give equal keys.

    Independent of key order; values are normalised by their knob (so ``np.int64(4)`` and
    ``4`` agree, and a float knob given as ``2`` equals ``2.0``).  Unknown keys are kept as
    given, so a key never silently merges two different configurations.
    """
    normal: dict[str, Any] = {}
    for name, value in config.items():
        # An unknown knob or an invalid value is kept as given: still canonical text.
        with contextlib.suppress(ConfigError):
            value = PoolConfig.knob(name).validate(value)
        normal[str(name)] = _plain(value)
    return json.dumps(normal, sort_keys=True, separators=(",", ":"), default=repr)


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


@dataclass(frozen=True)
class Trial:
    """One evaluation of one configuration: what was measured, when, and by which stage.

    Attributes
    ----------
    config : dict
        ``PoolConfig`` keyword arguments of the pool that ran.
    samples : tuple of float
        Throughput (tasks/s) of each repeat (each a measured window after warm-up).
    throughput : float
        The estimate: the mean of ``samples`` (0.0 when nothing was measured).
    latency_p50_s, latency_p90_s, latency_p99_s : float or None
        Task latency percentiles in seconds, over all repeats.
    p99_samples : tuple of float
        The p99 latency of each repeat (seconds), for comparisons when minimising p99; may be
        empty when the evaluator did not record it.
    cpu_percent : float or None
        Mean CPU use of the pool's whole process tree (100 = one core).
    peak_rss_bytes : int or None
        Peak resident memory of the whole process tree.
    stable : bool
        False when the monitor saw other work disturbing the measurement.
    error : str or None
        Why the evaluation failed, if it did; a failed trial is never recommended.
    started_at : float
        Unix time the evaluation started.
    duration_s : float
        Wall time the evaluation took (pool start, warm-up and every repeat).
    strategy : str
        The strategy that asked for it ("auto", "grid", "random").
    stage : str
        The step of the strategy ("calibrate", "size-sweep", "race", "confirm", ...).
    violations : tuple of str
        Constraints this trial breaks, as sentences; empty when it satisfies them all.
    """

    config: dict[str, Any]
    samples: tuple[float, ...]
    throughput: float = math.nan
    latency_p50_s: float | None = None
    latency_p90_s: float | None = None
    latency_p99_s: float | None = None
    p99_samples: tuple[float, ...] = ()
    cpu_percent: float | None = None
    peak_rss_bytes: int | None = None
    stable: bool = True
    error: str | None = None
    started_at: float = field(default_factory=time.time)
    duration_s: float = 0.0
    strategy: str = ""
    stage: str = ""
    violations: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "config", dict(self.config))
        samples = tuple(float(s) for s in self.samples)
        object.__setattr__(self, "samples", samples)
        object.__setattr__(self, "p99_samples", tuple(float(s) for s in self.p99_samples))
        object.__setattr__(self, "violations", tuple(self.violations))
        if math.isnan(self.throughput):
            estimate = sum(samples) / len(samples) if samples else 0.0
            object.__setattr__(self, "throughput", estimate)

    __hash__ = None  # type: ignore[assignment]  # holds a dict

    @property
    def key(self) -> str:
        """:func:`config_key` of the configuration."""
        return config_key(self.config)

    @property
    def repeats(self) -> int:
        """Number of measured repeats."""
        return len(self.samples)

    @property
    def ok(self) -> bool:
        """Measured without error and with at least one sample."""
        return self.error is None and bool(self.samples)

    def merged(self, later: Trial) -> Trial:
        """This trial and ``later`` (more repeats of the same configuration) as one record.

        Samples are concatenated and the estimate recomputed; latency percentiles and CPU are
        averaged weighted by repeats (an approximation: a pooled p99 would need the raw
        latencies), peak RSS is the maximum, ``stable`` holds only if both were stable, and
        ``stage``/``strategy`` are the later ones.  Violations are recomputed by the caller.

        Raises
        ------
        ConfigError
            The two trials are of different configurations.
        """
        if later.key != self.key:
            raise ConfigError(
                f"cannot merge trials of different configurations: {self.config} and {later.config}"
            )
        na, nb = max(self.repeats, 1), max(later.repeats, 1)

        def avg(a: float | None, b: float | None) -> float | None:
            if a is None or b is None:
                return a if b is None else b
            return (a * na + b * nb) / (na + nb)

        rss = [r for r in (self.peak_rss_bytes, later.peak_rss_bytes) if r is not None]
        return dataclasses.replace(
            later,
            samples=self.samples + later.samples,
            throughput=math.nan,
            latency_p50_s=avg(self.latency_p50_s, later.latency_p50_s),
            latency_p90_s=avg(self.latency_p90_s, later.latency_p90_s),
            latency_p99_s=avg(self.latency_p99_s, later.latency_p99_s),
            p99_samples=self.p99_samples + later.p99_samples,
            cpu_percent=avg(self.cpu_percent, later.cpu_percent),
            peak_rss_bytes=max(rss) if rss else None,
            stable=self.stable and later.stable,
            error=self.error or later.error,
            started_at=min(self.started_at, later.started_at),
            duration_s=self.duration_s + later.duration_s,
        )

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable dict (what one line of ``trials.jsonl`` holds)."""
        data = dataclasses.asdict(self)
        data["config"] = {k: _plain(v) for k, v in self.config.items()}
        for name in ("samples", "p99_samples", "violations"):
            data[name] = list(data[name])
        data["v"] = _FORMAT_VERSION
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Trial:
        """Rebuild from :meth:`to_json` output.

        Raises
        ------
        ConfigError
            Missing or mistyped fields (naming them).
        """
        if not isinstance(data, Mapping):
            raise ConfigError(f"a trial record is a JSON object, got {type(data).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        missing = [n for n in ("config", "samples") if n not in data]
        if missing:
            raise ConfigError(f"trial record lacks {', '.join(missing)}")
        if not isinstance(data["config"], Mapping):
            raise ConfigError("trial record's config is not a JSON object")
        kwargs = {k: v for k, v in data.items() if k in names}
        try:
            kwargs["samples"] = tuple(float(s) for s in kwargs["samples"])
            for name in ("throughput", "latency_p50_s", "latency_p90_s", "latency_p99_s"):
                if name in kwargs:
                    kwargs[name] = _opt_float(kwargs[name])
            if kwargs.get("throughput") is None:
                kwargs.pop("throughput", None)
            trial = cls(**kwargs)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"trial record has a field of the wrong type: {exc}") from exc
        return trial


class TrialLog:
    """Append-only JSON-lines file of :class:`Trial` records, one per line.

    Parameters
    ----------
    path : str or os.PathLike
        The file (``DIR/trials.jsonl``); created on the first append.

    Notes
    -----
    :meth:`append` opens, writes one line, flushes and fsyncs, then closes: a crash loses at
    most the trial being written.  If the file ends in a torn line (no final newline), the
    first append cuts it off (with a warning) so the new line starts clean.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._checked_tail = False

    def __repr__(self) -> str:
        return f"TrialLog({self.path!r})"

    def append(self, trial: Trial) -> None:
        """Write ``trial`` as one line and make it durable (flush + fsync).

        Raises
        ------
        OSError
            The file cannot be written (the caller reports the directory).
        """
        line = json.dumps(trial.to_json(), separators=(",", ":"), allow_nan=True) + "\n"
        with open(self.path, "ab") as handle:
            if not self._checked_tail:
                self._cut_torn_tail(handle)
                self._checked_tail = True
            handle.write(line.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())

    def extend(self, trials: Iterable[Trial]) -> None:
        """Append several trials, each durable on its own."""
        for trial in trials:
            self.append(trial)

    def _cut_torn_tail(self, handle: Any) -> None:
        size = handle.seek(0, os.SEEK_END)
        if size == 0:
            return
        with open(self.path, "rb") as reader:
            data = reader.read()
        if data.endswith(b"\n"):
            return
        keep = data.rfind(b"\n") + 1
        warnings.warn(
            f"{self.path}: dropping a torn last line ({size - keep} bytes, a crash mid-write) "
            "before appending",
            RuntimeWarning,
            stacklevel=3,
        )
        handle.truncate(keep)
        handle.seek(keep)

    def read(self) -> list[Trial]:
        """Every trial in the file, in order; ``[]`` when the file does not exist.

        Raises
        ------
        TrialLogError
            A corrupt line that is not the torn final line, naming the file and line number.
        """
        try:
            with open(self.path, "rb") as handle:
                data = handle.read()
        except FileNotFoundError:
            return []
        lines = data.split(b"\n")
        torn_possible = not data.endswith(b"\n")
        trials = []
        for number, raw in enumerate(lines, start=1):
            if not raw.strip():
                continue
            last = number == len(lines)
            try:
                trials.append(Trial.from_json(json.loads(raw.decode("utf-8"))))
            except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError, ConfigError
                if last and torn_possible:
                    warnings.warn(
                        f"{self.path}: ignoring a torn last line {number} (a crash mid-write)",
                        RuntimeWarning,
                        stacklevel=2,
                    )
                    break
                raise TrialLogError(
                    f"{self.path} line {number} is corrupt ({exc}); fix or delete that line, "
                    "or start a fresh run directory",
                    path=self.path,
                    line=number,
                ) from exc
        return trials


def merge_by_config(trials: Sequence[Trial]) -> dict[str, Trial]:
    """Trials merged per configuration key, in first-seen order (used to resume)."""
    merged: dict[str, Trial] = {}
    for trial in trials:
        key = trial.key
        merged[key] = merged[key].merged(trial) if key in merged else trial
    return merged
