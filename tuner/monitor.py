"""Sample a process tree's CPU, memory and context switches, and judge whether a window was quiet.

The auto-tuner measures a pool (the broker thread in this process, the worker processes below
it) while it runs a trial.  A figure is only worth comparing with another when the machine was
not busy with something else, so alongside the tree the monitor samples the whole machine
(CPU, steal, iowait, load) and :func:`judge_stability` says whether other work disturbed the
window.  See ``docs/monitor.md`` for units, the stability rule and the measured overhead.

How one tick works (on the monitor's daemon thread, every ``interval_s``)::

    list the tree    /proc/<pid>/task/<tid>/children walk (Linux), else psutil children()
    each process     Process.oneshot(): cpu_times, memory_info, num_ctx_switches
                     (+ memory_full_info for USS every ``uss_every`` ticks: it reads smaps)
    the machine      psutil.cpu_times() deltas: busy, steal, iowait; getloadavg()
    -> one frozen Sample appended to a bounded deque

CPU percentages are computed from ``cpu_times`` deltas here, not with psutil's ``cpu_percent``,
whose module-level state is shared with every other caller in the process.

Use::

    with Monitor() as mon:            # root = this process, its descendants included
        m = mon.mark()                # start of a measured window (takes a sample now)
        run_trial()
        s = mon.summary(since=m)      # frozen MonitorSummary; s.stable, s.unstable_reason
"""

from __future__ import annotations

import math
import numbers
import os
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import psutil

from .errors import ConfigError, MonitorError

__all__ = [
    "Mark",
    "Monitor",
    "MonitorError",
    "MonitorSummary",
    "ProcessSample",
    "ProcessSummary",
    "Sample",
    "StabilityRule",
    "judge_stability",
    "summarize",
]

DEFAULT_INTERVAL_S: Final = 0.1
DEFAULT_USS_EVERY: Final = 10
DEFAULT_MAX_SAMPLES: Final = 3000
STOP_TIMEOUT_S: Final = 5.0
_CMDLINE_CHARS: Final = 80
_RENAME_AGE_S: Final = 1.0
_GONE: Final = (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied)


# --------------------------------------------------------------------------- records


@dataclass(frozen=True, slots=True)
class ProcessSample:
    """One process at one tick.

    Attributes
    ----------
    pid : int
    name : str
        Short process name (``comm`` on Linux).
    cmdline : str
        The command line, joined and cut to 80 characters; read when the process is first
        seen (and once more at its next tick if it was younger than a second, in case it had
        not yet exec'd).
    user_s, system_s : float
        Cumulative CPU seconds in user and kernel mode since the process started (its reaped
        children's time is not included).
    cpu_percent : float or None
        CPU use since this process's previous sample, 100 = one core busy (``top``'s
        convention).  For a process born since the previous tick, measured from its birth;
        ``None`` for a process first seen on the monitor's first tick.
    rss_bytes : int
        Resident set size.
    uss_bytes : int or None
        Unique set size (memory freed if the process exited); sampled every ``uss_every``
        ticks only, ``None`` on the others or when it could not be read.
    ctx_voluntary, ctx_involuntary : int
        Cumulative context switches (voluntary: it waited; involuntary: it was preempted).
    born_in_tick : bool
        The process started after the previous tick, so all its CPU time belongs to this tick.
    """

    pid: int
    name: str
    cmdline: str
    user_s: float
    system_s: float
    cpu_percent: float | None
    rss_bytes: int
    uss_bytes: int | None
    ctx_voluntary: int
    ctx_involuntary: int
    born_in_tick: bool = False


@dataclass(frozen=True, slots=True)
class Sample:
    """One tick: the tree's processes and the machine.

    Process-level CPU figures use 100 = one core; machine-level shares (``system_cpu_percent``,
    ``steal_percent``, ``iowait_percent``) are 0-100 of the whole machine, like ``top``'s
    ``%Cpu(s)`` line.  Fields that need a previous tick are ``None`` on the first one.

    Attributes
    ----------
    tick : int
        Sequence number (0 for the first sample of a monitor).
    time_s : float
        ``time.monotonic()`` when the tick was taken.
    interval_s : float
        Seconds since the previous tick (0.0 for the first).
    processes : tuple of ProcessSample
        The root (when included) first, then its descendants.
    tree_cpu_percent : float or None
        Sum of the processes' CPU since the previous tick, 100 = one core.
    system_cpu_percent : float or None
        Share of the machine's CPU time spent running anything (user, nice, system, irq,
        softirq); idle, iowait and steal are not counted as busy.
    other_cpu_percent : float or None
        CPU used by work outside the tree (and outside this process), 100 = one core:
        machine busy cores minus the tree minus this process when it is not in the tree.
        Can be slightly negative from sampling skew.
    steal_percent, iowait_percent : float or None
        Machine shares; ``None`` where the platform does not report them.
    per_cpu_percent : tuple of float or None
        Busy share of each CPU, when the monitor was built with ``per_cpu=True``.
    load_avg : tuple of float or None
        1, 5 and 15 minute load averages.
    n_cpus : int
        Logical CPUs of the machine.
    root_rss_bytes : int or None
        The root's RSS (even when the root is not included in ``processes``).
    skipped : int
        Processes that vanished or denied access while this tick sampled them.
    monitor_cpu_s : float
        CPU seconds this tick's sampling cost (the monitor's own overhead).
    uss_tick : bool
        USS was sampled on this tick.
    """

    tick: int
    time_s: float
    interval_s: float
    processes: tuple[ProcessSample, ...]
    tree_cpu_percent: float | None
    system_cpu_percent: float | None
    other_cpu_percent: float | None
    steal_percent: float | None
    iowait_percent: float | None
    per_cpu_percent: tuple[float, ...] | None
    load_avg: tuple[float, float, float] | None
    n_cpus: int
    root_rss_bytes: int | None
    skipped: int = 0
    monitor_cpu_s: float = 0.0
    uss_tick: bool = False


@dataclass(frozen=True, slots=True)
class Mark:
    """Start of a measured window: holds the baseline sample, so the window's totals stay exact
    even after the ring of samples has dropped it."""

    baseline: Sample
    monitor_id: int = 0


@dataclass(frozen=True, slots=True)
class ProcessSummary:
    """One process over a window (CPU and context switches are deltas within the window)."""

    pid: int
    name: str
    cmdline: str
    user_s: float
    system_s: float
    cpu_percent_mean: float
    rss_peak_bytes: int
    uss_peak_bytes: int | None
    ctx_voluntary: int
    ctx_involuntary: int
    exited: bool


@dataclass(frozen=True, slots=True)
class MonitorSummary:
    """Aggregates over a measured window; see ``docs/monitor.md`` for every field's meaning.

    CPU percentages of processes (``tree_*``, ``other_*``, ``monitor_*``) use 100 = one core;
    ``system_cpu_percent_mean``, ``steal_percent_mean`` and ``iowait_percent_mean`` are
    machine shares (0-100).  ``stable`` is :func:`judge_stability` over the window's samples;
    ``root_alive`` is separate: a dead root makes the trial failed, not noisy.
    """

    start_s: float
    end_s: float
    duration_s: float
    n_samples: int
    tree_cpu_percent_mean: float
    tree_cpu_percent_max: float
    user_s: float
    system_s: float
    tree_rss_peak_bytes: int
    root_rss_peak_bytes: int | None
    tree_uss_peak_bytes: int | None
    ctx_voluntary: int
    ctx_involuntary: int
    system_cpu_percent_mean: float | None
    other_cpu_percent_mean: float | None
    steal_percent_mean: float | None
    iowait_percent_mean: float | None
    load_avg: tuple[float, float, float] | None
    n_cpus: int
    processes: tuple[ProcessSummary, ...]
    skipped: int
    monitor_cpu_percent: float
    truncated: bool
    root_alive: bool
    stable: bool
    unstable_reason: str | None


# --------------------------------------------------------------------------- stability


@dataclass(frozen=True, slots=True)
class StabilityRule:
    """When a window counts as disturbed by other work.

    Parameters
    ----------
    max_other_cpu_percent : float
        Largest mean CPU of work outside the tree, 100 = one core (default 25: a quarter core).
    max_steal_percent : float
        Largest mean steal share of the machine (default 5 %): the hypervisor ran someone else.
    min_samples : int
        Fewest ticks with CPU figures a window needs to be judged at all (default 5).
    """

    max_other_cpu_percent: float = 25.0
    max_steal_percent: float = 5.0
    min_samples: int = 5

    def __post_init__(self) -> None:
        for knob in ("max_other_cpu_percent", "max_steal_percent"):
            value = getattr(self, knob)
            if (
                isinstance(value, bool)
                or not isinstance(value, numbers.Real)
                or not math.isfinite(value)
                or value < 0
            ):
                raise ConfigError(
                    f"{knob} must be a finite number >= 0, got {value!r}",
                    knob=knob, value=value, valid=">= 0",
                )
        _check_int("min_samples", self.min_samples, 1)


def _weighted_mean(pairs: Sequence[tuple[float, float]]) -> float | None:
    # Mean of values weighted by the interval they cover (ticks are not exactly evenly spaced).
    weight = sum(w for _, w in pairs)
    if not pairs:
        return None
    if weight <= 0:
        return sum(v for v, _ in pairs) / len(pairs)
    return sum(v * w for v, w in pairs) / weight


def judge_stability(
    samples: Sequence[Sample], rule: StabilityRule | None = None
) -> tuple[bool, str | None]:
    """Decide whether a window's samples show a machine quiet enough to trust the measurement.

    Pure: reads only ``other_cpu_percent``, ``steal_percent`` and ``interval_s`` of the
    samples, so it is tested without processes.  Checked in this order, the first failure
    being the reason:

    1. fewer than ``rule.min_samples`` samples with ``other_cpu_percent`` -> unstable;
    2. interval-weighted mean of ``other_cpu_percent`` above ``rule.max_other_cpu_percent``;
    3. interval-weighted mean of ``steal_percent`` (where reported) above
       ``rule.max_steal_percent``.

    Means, not single ticks, are judged: one tick is too coarse (the kernel counts CPU in
    10 ms clock ticks) to say anything alone.

    Returns
    -------
    (stable, reason) : tuple of bool and str or None
        ``reason`` is ``None`` exactly when ``stable`` is true.
    """
    rule = StabilityRule() if rule is None else rule
    other = [
        (s.other_cpu_percent, s.interval_s) for s in samples if s.other_cpu_percent is not None
    ]
    if len(other) < rule.min_samples:
        return False, f"too few samples: {len(other)} < min_samples={rule.min_samples}"
    other_mean = _weighted_mean(other)
    assert other_mean is not None
    if other_mean > rule.max_other_cpu_percent:
        return False, (
            f"other work used {other_mean:.1f}% of a core on average "
            f"(> max_other_cpu_percent={rule.max_other_cpu_percent:g})"
        )
    steal = [(s.steal_percent, s.interval_s) for s in samples if s.steal_percent is not None]
    steal_mean = _weighted_mean(steal)
    if steal_mean is not None and steal_mean > rule.max_steal_percent:
        return False, (
            f"CPU steal averaged {steal_mean:.1f}% (> max_steal_percent={rule.max_steal_percent:g})"
        )
    return True, None


# --------------------------------------------------------------------------- helpers


def _check_interval(interval_s: Any) -> float:
    if (
        isinstance(interval_s, bool)
        or not isinstance(interval_s, numbers.Real)
        or not math.isfinite(interval_s)
        or interval_s <= 0
    ):
        raise ConfigError(
            f"interval_s must be a finite number of seconds > 0, got {interval_s!r}",
            knob="interval_s", value=interval_s, valid="> 0",
        )
    return float(interval_s)


def _check_int(knob: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ConfigError(
            f"{knob} must be an int >= {minimum}, got {value!r}",
            knob=knob, value=value, valid=f">= {minimum}",
        )


def _proc_children_supported() -> bool:
    return os.path.exists(f"/proc/self/task/{threading.get_native_id()}/children")


def _children_linux(pid: int) -> list[int]:
    """Descendants of ``pid`` by walking ``/proc/<pid>/task/<tid>/children`` (Linux).

    Cost grows with the tree, not with the machine's process count as psutil's
    ``children()`` does (it reads every ``/proc/<pid>/stat`` to build a parent map): about
    0.3 ms against 2.8 ms for 16 children here.  A process exiting mid-walk is skipped.
    """
    found: list[int] = []
    stack = [pid]
    while stack:
        parent = stack.pop()
        try:
            tids = os.listdir(f"/proc/{parent}/task")
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        for tid in tids:
            try:
                with open(f"/proc/{parent}/task/{tid}/children", "rb") as f:
                    data = f.read()
            except (FileNotFoundError, ProcessLookupError, PermissionError):
                continue
            for field in data.split():
                child = int(field)
                found.append(child)
                stack.append(child)
    return found


class _Tracked:
    """What the monitor remembers about one process between ticks."""

    __slots__ = ("cmdline", "create_time", "name", "named", "prev_cpu_s", "prev_time_s", "proc")

    def __init__(self, proc: psutil.Process, name: str, cmdline: str, create_time: float) -> None:
        self.proc = proc
        self.name = name
        self.cmdline = cmdline
        self.create_time = create_time
        # A child seen just after fork still shows its parent's name and command line until
        # it execs: a young process is named again at its next tick, once.
        self.named = time.time() - create_time > _RENAME_AGE_S
        self.prev_cpu_s: float | None = None
        self.prev_time_s = 0.0

    def rename(self) -> None:
        self.named = True
        try:
            self.name = self.proc.name()
            self.cmdline = " ".join(self.proc.cmdline())[:_CMDLINE_CHARS]
        except _GONE:
            pass  # keep the first names; the sampling that follows reports the exit


def _machine_times() -> tuple[float, float, float | None, float | None]:
    """(total, busy, steal, iowait) CPU seconds of the machine since boot."""
    t = psutil.cpu_times()
    total = sum(t)
    # Linux counts guest time inside user and nice as well: do not count it twice.
    total -= getattr(t, "guest", 0.0) + getattr(t, "guest_nice", 0.0)
    steal = getattr(t, "steal", None)
    iowait = getattr(t, "iowait", None)
    busy = total - t.idle - (iowait or 0.0) - (steal or 0.0)
    return total, busy, steal, iowait


def _busy_per_cpu() -> list[tuple[float, float]]:
    out = []
    for t in psutil.cpu_times(percpu=True):
        total = sum(t) - getattr(t, "guest", 0.0) - getattr(t, "guest_nice", 0.0)
        idle = t.idle + getattr(t, "iowait", 0.0) + getattr(t, "steal", 0.0)
        out.append((total, total - idle))
    return out


# --------------------------------------------------------------------------- monitor


class Monitor:
    """Samples a process tree and the machine at a steady rate on a daemon thread.

    Parameters
    ----------
    root_pid : int, optional
        Root of the tree; default this process (whose descendants are the pool's workers and
        whose threads include the pool's broker).
    interval_s : float
        Seconds between ticks (default 0.1, i.e. 10 Hz).
    include_root : bool
        Sample the root itself, not only its descendants.  With ``False`` and the default
        root, this process's CPU (the tuner's own work) is kept out of both the tree and
        "other work".
    uss_every : int
        Read USS every this many ticks (default 10; 0 = never): ``memory_full_info`` reads
        ``/proc/<pid>/smaps_rollup``, about 0.45 ms per process, six times a plain tick.
    per_cpu : bool
        Also record each CPU's busy share.
    max_samples : int
        Ring size (default 3000: five minutes at 10 Hz).  Windows longer than the ring keep
        exact CPU totals (the :class:`Mark` holds the baseline) but lose older peaks, and say
        so with ``truncated``.
    rule : StabilityRule, optional
        Thresholds for ``stable``; default :class:`StabilityRule()`.

    Raises
    ------
    ConfigError
        An argument is invalid or ``root_pid`` names no running process.
    MonitorError
        The root exists but cannot be read (access denied), with the psutil error as cause.
    """

    def __init__(
        self,
        root_pid: int | None = None,
        interval_s: float = DEFAULT_INTERVAL_S,
        include_root: bool = True,
        *,
        uss_every: int = DEFAULT_USS_EVERY,
        per_cpu: bool = False,
        max_samples: int = DEFAULT_MAX_SAMPLES,
        rule: StabilityRule | None = None,
    ) -> None:
        if root_pid is None:
            root_pid = os.getpid()
        _check_int("root_pid", root_pid, 1)
        interval_s = _check_interval(interval_s)
        _check_int("uss_every", uss_every, 0)
        _check_int("max_samples", max_samples, 2)
        if rule is not None and not isinstance(rule, StabilityRule):
            raise ConfigError(
                f"rule must be a StabilityRule, got {type(rule).__name__}",
                knob="rule", value=rule,
            )
        try:
            root = psutil.Process(int(root_pid))
            root.name()  # proves the root is readable now, not at the first tick
        except psutil.NoSuchProcess as exc:
            raise ConfigError(
                f"root_pid={root_pid}: no such process", knob="root_pid", value=root_pid
            ) from exc
        except psutil.Error as exc:
            raise MonitorError(f"cannot read process {root_pid}: {exc}") from exc
        self.root_pid = int(root_pid)
        self.interval_s = interval_s
        self.include_root = bool(include_root)
        self.uss_every = int(uss_every)
        self.per_cpu = bool(per_cpu)
        self.rule = StabilityRule() if rule is None else rule
        self._root = root
        self._samples: deque[Sample] = deque(maxlen=int(max_samples))
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._tracked: dict[int, _Tracked] = {}
        self._tick = 0
        self._prev_time_s: float | None = None
        self._prev_wall_s = 0.0
        self._prev_machine: tuple[float, float, float | None, float | None] | None = None
        self._prev_percpu: list[tuple[float, float]] | None = None
        self._prev_own_cpu_s = 0.0
        self._root_alive = True
        self._stopped = False
        self._error: MonitorError | None = None
        self._skipped_total = 0
        self._use_proc_children = _proc_children_supported()
        self._n_cpus = psutil.cpu_count() or 1

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> Monitor:
        """Take a first sample now and start the sampling thread; returns ``self``."""
        if self._thread is not None and self._thread.is_alive():
            return self
        self._stop.clear()
        self._stopped = False
        self.sample_now()
        self._thread = threading.Thread(
            target=self._run, name=f"tuner-monitor-{self.root_pid}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """Take a last sample and stop the thread, waiting at most ``timeout_s``.

        The last sample makes a window summarised after ``stop()`` end at the stop.  A tick
        takes milliseconds, so the join is short; the thread is a daemon either way.

        Raises
        ------
        MonitorError
            The thread stopped on a sampling failure (cause chained).
        """
        thread = self._thread
        was_running = thread is not None and thread.is_alive() and not self._stop.is_set()
        self._stop.set()
        self._stopped = True
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout_s)
        self._raise_if_failed()
        if was_running:
            self.sample_now()

    def __enter__(self) -> Monitor:
        return self.start()

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            self.stop()
        except MonitorError:
            if exc_type is None:
                raise

    @property
    def running(self) -> bool:
        """The sampling thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def root_alive(self) -> bool:
        """False once the root process has been seen gone; the thread then stops."""
        return self._root_alive

    @property
    def skipped_total(self) -> int:
        """Processes skipped since the monitor was built (exited or denied mid-sample)."""
        return self._skipped_total

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        if not self._root_alive:
            state += ", root gone"
        return (
            f"<Monitor root_pid={self.root_pid} interval_s={self.interval_s:g} {state} "
            f"samples={len(self._samples)} skipped={self._skipped_total}>"
        )

    def set_interval(self, interval_s: float) -> None:
        """Change the sampling interval of a running (or not yet started) monitor; it takes
        effect from the next tick.  The runner samples a trial's first window fast and then
        slows down once the windows' length is known.

        Raises
        ------
        ConfigError
            ``interval_s`` is not a finite number > 0.
        """
        self.interval_s = _check_interval(interval_s)

    def _run(self) -> None:
        next_s = time.monotonic() + self.interval_s
        while not self._stop.wait(max(0.0, next_s - time.monotonic())):
            try:
                self.sample_now()
            except MonitorError as exc:
                self._error = exc
                return
            except Exception as exc:  # a bug here must not die unseen on a daemon thread
                err = MonitorError(f"the monitor thread of pid {self.root_pid} crashed: {exc!r}")
                err.__cause__ = exc
                self._error = err
                return
            if not self._root_alive:
                return
            next_s += self.interval_s
            now = time.monotonic()
            if next_s < now:  # fell behind (machine busy, or a slow tick): skip, do not burst
                next_s = now + self.interval_s

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise MonitorError(f"the monitor of pid {self.root_pid} failed") from self._error

    # ----------------------------------------------------------------- sampling

    def sample_now(self) -> Sample | None:
        """Take one sample immediately (thread-safe); ``None`` once the root has gone."""
        with self._lock:
            if not self._root_alive:
                return None
            try:
                sample = self._take(time.thread_time())
            except (psutil.Error, OSError) as exc:
                raise MonitorError(f"sampling pid {self.root_pid} failed: {exc}") from exc
            if sample is not None:
                self._samples.append(sample)
            return sample

    def _list_tree(self) -> list[int] | None:
        """Pids to sample, root first; ``None`` when the root has gone."""
        if self._use_proc_children:
            if not os.path.exists(f"/proc/{self.root_pid}"):
                return None
            kids = _children_linux(self.root_pid)
        else:
            try:
                kids = [p.pid for p in self._root.children(recursive=True)]
            except (psutil.NoSuchProcess, psutil.ZombieProcess):
                return None
        return [self.root_pid, *kids]

    def _root_gone(self) -> None:
        self._root_alive = False
        self._stop.set()

    def _track(self, pid: int) -> _Tracked | None:
        try:
            proc = self._root if pid == self.root_pid else psutil.Process(pid)
            with proc.oneshot():
                name = proc.name()
                create_time = proc.create_time()
            try:
                cmd = " ".join(proc.cmdline())
            except _GONE:
                cmd = ""
        except _GONE:
            return None
        return _Tracked(proc, name, cmd[:_CMDLINE_CHARS], create_time)

    def _take(self, cpu0: float) -> Sample | None:
        now = time.monotonic()
        wall = time.time()
        pids = self._list_tree()
        if pids is None:
            self._root_gone()
            return None
        first = self._prev_time_s is None
        uss_tick = self.uss_every > 0 and self._tick % self.uss_every == 0
        procs: list[ProcessSample] = []
        skipped = 0
        root_rss: int | None = None
        tree_cpu_s = root_cpu_s = 0.0
        seen: dict[int, _Tracked] = {}
        for pid in pids:
            tr = self._tracked.get(pid)
            if tr is not None and not tr.named:
                tr.rename()
            if tr is None:
                tr = self._track(pid)
                if tr is None:
                    if pid == self.root_pid:
                        self._root_gone()
                        return None
                    skipped += 1
                    continue
            proc = tr.proc
            try:
                with proc.oneshot():
                    if proc.status() == psutil.STATUS_ZOMBIE:
                        raise psutil.ZombieProcess(pid)
                    times = proc.cpu_times()
                    rss = proc.memory_info().rss
                    ctx = proc.num_ctx_switches()
                uss = None
                if uss_tick:
                    try:
                        uss = proc.memory_full_info().uss
                    except psutil.AccessDenied:
                        uss = None
            except (psutil.NoSuchProcess, psutil.ZombieProcess):
                if pid == self.root_pid:
                    self._root_gone()
                    return None
                skipped += 1
                continue
            except psutil.AccessDenied:
                if pid == self.root_pid:
                    raise
                skipped += 1
                continue
            seen[pid] = tr
            cpu_s = times.user + times.system
            if pid == self.root_pid:
                root_rss = rss
                root_cpu_s = cpu_s
                if not self.include_root:
                    continue
            born = not first and tr.prev_cpu_s is None and tr.create_time >= self._prev_wall_s
            if tr.prev_cpu_s is not None:
                dt = now - tr.prev_time_s
                used = max(0.0, cpu_s - tr.prev_cpu_s)
            elif born:
                dt = max(wall - tr.create_time, 1e-9)
                used = cpu_s
            else:
                dt, used = 0.0, 0.0
            pct = used / dt * 100.0 if dt > 0 else None
            tree_cpu_s += used
            tr.prev_cpu_s, tr.prev_time_s = cpu_s, now
            procs.append(
                ProcessSample(
                    pid, tr.name, tr.cmdline, times.user, times.system, pct, rss, uss,
                    ctx.voluntary, ctx.involuntary, born,
                )
            )
        self._tracked = seen
        self._skipped_total += skipped

        machine = _machine_times()
        # This process's CPU (the tuner's own work, and this sampling) is not "other work".
        # It is in the tree unless it is an excluded root or outside the tree altogether.
        me = os.getpid()
        mine_in_tree = me in seen and (self.include_root or me != self.root_pid)
        if mine_in_tree:
            own_cpu_s = 0.0
        elif me == self.root_pid:
            own_cpu_s = root_cpu_s  # already read this tick: no extra system call
        else:
            own_cpu_s = time.process_time()
        tree_pct = sys_pct = other_pct = steal_pct = iowait_pct = None
        per_cpu: tuple[float, ...] | None = None
        interval = 0.0 if first else now - self._prev_time_s  # type: ignore[operator]
        if not first and self._prev_machine is not None and interval > 0:
            tree_pct = tree_cpu_s / interval * 100.0
            d_total = machine[0] - self._prev_machine[0]
            if d_total > 0:
                d_busy = machine[1] - self._prev_machine[1]
                sys_pct = d_busy / d_total * 100.0
                if machine[2] is not None and self._prev_machine[2] is not None:
                    steal_pct = (machine[2] - self._prev_machine[2]) / d_total * 100.0
                if machine[3] is not None and self._prev_machine[3] is not None:
                    iowait_pct = (machine[3] - self._prev_machine[3]) / d_total * 100.0
                other_pct = sys_pct * self._n_cpus - tree_pct
                if not mine_in_tree:
                    other_pct -= (own_cpu_s - self._prev_own_cpu_s) / interval * 100.0
        if self.per_cpu:
            cur = _busy_per_cpu()
            if self._prev_percpu is not None and len(cur) == len(self._prev_percpu):
                per_cpu = tuple(
                    (b1 - b0) / (t1 - t0) * 100.0 if t1 > t0 else 0.0
                    for (t0, b0), (t1, b1) in zip(self._prev_percpu, cur, strict=True)
                )
            self._prev_percpu = cur
        try:
            load = psutil.getloadavg()
        except (AttributeError, OSError):
            load = None
        sample = Sample(
            tick=self._tick,
            time_s=now,
            interval_s=interval,
            processes=tuple(procs),
            tree_cpu_percent=tree_pct,
            system_cpu_percent=sys_pct,
            other_cpu_percent=other_pct,
            steal_percent=steal_pct,
            iowait_percent=iowait_pct,
            per_cpu_percent=per_cpu,
            load_avg=load,
            n_cpus=self._n_cpus,
            root_rss_bytes=root_rss,
            skipped=skipped,
            monitor_cpu_s=time.thread_time() - cpu0,
            uss_tick=uss_tick,
        )
        self._tick += 1
        self._prev_time_s = now
        self._prev_wall_s = wall
        self._prev_machine = machine
        self._prev_own_cpu_s = own_cpu_s
        return sample

    # ----------------------------------------------------------------- reading

    def samples(self) -> tuple[Sample, ...]:
        """The samples still in the ring, oldest first."""
        with self._lock:
            return tuple(self._samples)

    def latest(self) -> Sample | None:
        """The most recent sample, or ``None`` before the first."""
        with self._lock:
            return self._samples[-1] if self._samples else None

    def mark(self) -> Mark:
        """Start a measured window: takes a sample now and returns it as the baseline.

        Raises
        ------
        MonitorError
            No sample can be taken (the root has gone before any sample, or sampling failed).
        """
        self._raise_if_failed()
        sample = self.sample_now()
        if sample is None:
            sample = self.latest()
        if sample is None:
            raise MonitorError(f"process {self.root_pid} has gone; nothing to mark")
        return Mark(sample, id(self))

    def summary(self, since: Mark | None = None) -> MonitorSummary:
        """Aggregate the window from ``since`` (default: the oldest retained sample) to now.

        Takes a final sample first, so the window ends at the call; after :meth:`stop` (or
        once the root has gone) the window ends at the last sample.  A monitor never started
        works too, sampling only at :meth:`mark` and here (no peaks in between).

        Raises
        ------
        MonitorError
            The sampling thread failed, or there is no sample at all.
        ConfigError
            ``since`` is not a :class:`Mark`.
        """
        if since is not None and not isinstance(since, Mark):
            raise ConfigError(
                f"since must be a Mark from mark(), got {type(since).__name__}",
                knob="since", value=since,
            )
        if since is not None and since.monitor_id != id(self):
            raise ConfigError(
                "since is a Mark from another Monitor: its ticks mean nothing here",
                knob="since", value=since,
            )
        self._raise_if_failed()
        if not self._stopped:
            self.sample_now()
        with self._lock:
            ring = list(self._samples)
        if since is None:
            if len(ring) < 1:
                raise MonitorError("no samples yet: call start(), mark() or sample_now() first")
            baseline = ring[0]
        else:
            baseline = since.baseline
        window = [s for s in ring if s.tick > baseline.tick]
        truncated = bool(window) and window[0].tick > baseline.tick + 1
        if since is not None and not window and ring and ring[0].tick > baseline.tick:
            truncated = True
        return summarize(baseline, window, self.rule, root_alive=self._root_alive,
                         root_pid=self.root_pid, truncated=truncated)


def summarize(
    baseline: Sample,
    window: Sequence[Sample],
    rule: StabilityRule | None = None,
    *,
    root_alive: bool = True,
    root_pid: int | None = None,
    truncated: bool = False,
) -> MonitorSummary:
    """Aggregate ``window`` (samples after ``baseline``, oldest first) into a summary.

    Pure, like :func:`judge_stability`: CPU and context switches are deltas from each
    process's value in ``baseline`` (or from zero for a process born inside the window, or
    from its first sample for one that existed but was not yet seen), peaks are over
    ``window``.
    """
    end = window[-1] if window else baseline
    duration = end.time_s - baseline.time_s
    base = {p.pid: p for p in baseline.processes}
    first: dict[int, ProcessSample] = {}
    last: dict[int, ProcessSample] = {}
    rss_peak: dict[int, int] = {}
    uss_peak: dict[int, int] = {}
    tree_rss_peak = 0
    tree_uss_peak: int | None = None
    root_rss_peak: int | None = None
    for s in window:
        tree_rss_peak = max(tree_rss_peak, sum(p.rss_bytes for p in s.processes))
        if s.root_rss_bytes is not None:
            root_rss_peak = max(root_rss_peak or 0, s.root_rss_bytes)
        if s.uss_tick:
            tot = sum(p.uss_bytes for p in s.processes if p.uss_bytes is not None)
            tree_uss_peak = max(tree_uss_peak or 0, tot)
        for p in s.processes:
            first.setdefault(p.pid, p)
            last[p.pid] = p
            rss_peak[p.pid] = max(rss_peak.get(p.pid, 0), p.rss_bytes)
            if p.uss_bytes is not None:
                uss_peak[p.pid] = max(uss_peak.get(p.pid, 0), p.uss_bytes)
    for pid, b in base.items():
        # Present at the baseline, gone before the window's first tick: report it as exited
        # (its CPU between the baseline and its exit went unseen).
        if pid not in last:
            first[pid] = last[pid] = b
            rss_peak[pid] = b.rss_bytes
    end_pids = {p.pid for p in end.processes} if window else set(base)
    per: list[ProcessSummary] = []
    user_total = system_total = 0.0
    vol_total = invol_total = 0
    for pid, lp in last.items():
        b = base.get(pid)
        if b is None:
            fp = first[pid]
            b = None if fp.born_in_tick else fp
        user = max(0.0, lp.user_s - (b.user_s if b else 0.0))
        system = max(0.0, lp.system_s - (b.system_s if b else 0.0))
        vol = max(0, lp.ctx_voluntary - (b.ctx_voluntary if b else 0))
        invol = max(0, lp.ctx_involuntary - (b.ctx_involuntary if b else 0))
        user_total += user
        system_total += system
        vol_total += vol
        invol_total += invol
        per.append(
            ProcessSummary(
                pid=pid, name=lp.name, cmdline=lp.cmdline, user_s=user, system_s=system,
                cpu_percent_mean=(user + system) / duration * 100.0 if duration > 0 else 0.0,
                rss_peak_bytes=rss_peak[pid], uss_peak_bytes=uss_peak.get(pid),
                ctx_voluntary=vol, ctx_involuntary=invol, exited=pid not in end_pids,
            )
        )
    tree_max = max((s.tree_cpu_percent for s in window if s.tree_cpu_percent is not None),
                   default=0.0)

    def mean_of(attr: str) -> float | None:
        return _weighted_mean(
            [(getattr(s, attr), s.interval_s) for s in window if getattr(s, attr) is not None]
        )

    other_mean = mean_of("other_cpu_percent")
    stable, reason = judge_stability(window, rule)
    return MonitorSummary(
        start_s=baseline.time_s,
        end_s=end.time_s,
        duration_s=duration,
        n_samples=len(window),
        tree_cpu_percent_mean=(
            (user_total + system_total) / duration * 100.0 if duration > 0 else 0.0
        ),
        tree_cpu_percent_max=tree_max,
        user_s=user_total,
        system_s=system_total,
        tree_rss_peak_bytes=tree_rss_peak,
        root_rss_peak_bytes=root_rss_peak,
        tree_uss_peak_bytes=tree_uss_peak,
        ctx_voluntary=vol_total,
        ctx_involuntary=invol_total,
        system_cpu_percent_mean=mean_of("system_cpu_percent"),
        other_cpu_percent_mean=None if other_mean is None else max(0.0, other_mean),
        steal_percent_mean=mean_of("steal_percent"),
        iowait_percent_mean=mean_of("iowait_percent"),
        load_avg=end.load_avg,
        n_cpus=end.n_cpus,
        processes=tuple(sorted(per, key=lambda p: (p.pid != root_pid, p.pid))),
        skipped=sum(s.skipped for s in window),
        monitor_cpu_percent=(
            sum(s.monitor_cpu_s for s in window) / duration * 100.0 if duration > 0 else 0.0
        ),
        truncated=truncated,
        root_alive=root_alive,
        stable=stable,
        unstable_reason=reason,
    )
