"""The monitor's own overhead: cost of one sample and CPU per second at 10 Hz, by tree size.

Usage: ``python -m benchmarks.monitor [--children 1 4 16] [--seconds 3] [--quick]``.

Cases, for a tree of this process plus N idle children (``time.sleep``), so the figures are
the monitor's cost, not the children's:

All figures are CPU time (``time.thread_time`` or the kernel's per-thread counters), not
wall time: on a shared machine that is the monitor's cost to the tuned work.

* ``one sample``: ``Monitor.sample_now()`` best CPU time, without USS (``uss_every=0``) and on a
  USS tick (``uss_every=1``: ``memory_full_info`` for every process).
* ``list tree``: the ``/proc/<pid>/task/<tid>/children`` walk the monitor uses, against
  psutil's ``Process.children(recursive=True)`` (which reads every process of the machine).
* ``thread CPU per s at 10 Hz``: the sampling thread's CPU time (read from the kernel's
  per-thread counters through psutil, so the wake-ups count too) divided by the run's wall
  time, with the default ``uss_every=10`` and with USS off.  ``ns/op`` is CPU ns per wall
  second; the note gives it as a percentage of one core, next to the monitor's own
  ``monitor_cpu_percent`` (which counts the sampling only, not the thread's wake-ups).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Callable

import psutil

from benchmarks._harness import Row, print_table
from tuner.monitor import Monitor, _children_linux

IDLE = "import time; time.sleep(600)"


def _thread_cpu_s(native_id: int) -> float:
    for t in psutil.Process().threads():
        if t.id == native_id:
            return t.user_time + t.system_time
    raise RuntimeError(f"thread {native_id} not found")


def best_cpu(fn: Callable[[], object], *, repeat: int = 5, number: int = 20) -> float:
    """Best CPU seconds of this thread per call of ``fn`` (``time.thread_time``).

    CPU time, not wall time: on a shared machine a sample's wall time mostly measures who
    else was running, while its CPU time is what the monitor takes from the tuned work.
    """
    fn()
    best = float("inf")
    for _ in range(repeat):
        t0 = time.thread_time()
        for _ in range(number):
            fn()
        best = min(best, (time.thread_time() - t0) / number)
    return best


def _thread_cpu_row(case: str, uss_every: int, seconds: float) -> Row:
    m = Monitor(interval_s=0.1, uss_every=uss_every).start()
    try:
        assert m._thread is not None and m._thread.native_id is not None
        tid = m._thread.native_id
        cpu0, t0 = _thread_cpu_s(tid), time.monotonic()
        mark = m.mark()
        time.sleep(seconds)
        cpu1, t1 = _thread_cpu_s(tid), time.monotonic()
        s = m.summary(since=mark)
    finally:
        m.stop()
    per_s = (cpu1 - cpu0) / (t1 - t0)
    return Row(
        f"10 Hz, {case}",
        f"thread CPU per s, uss_every={uss_every}",
        per_s * 1e9,
        note=f"{per_s * 100:.2f}% of a core; self-reported {s.monitor_cpu_percent:.2f}%; "
        f"{s.n_samples} samples in {t1 - t0:.1f} s",
    )


def measure(n_children: int, seconds: float) -> list[Row]:
    kids = [subprocess.Popen([sys.executable, "-c", IDLE]) for _ in range(n_children)]
    rows: list[Row] = []
    case = f"{n_children} children"
    try:
        me = psutil.Process()
        deadline = time.monotonic() + 60
        while len(me.children(recursive=True)) < n_children and time.monotonic() < deadline:
            time.sleep(0.02)

        plain = Monitor(uss_every=0)
        t_plain = best_cpu(plain.sample_now)
        rows.append(Row(f"one sample, {case}", "sample_now, no USS", t_plain * 1e9))
        uss = Monitor(uss_every=1)
        t_uss = best_cpu(uss.sample_now, number=5)
        rows.append(
            Row(f"one sample, {case}", "sample_now, USS tick", t_uss * 1e9,
                baseline="sample_now, no USS", speedup=t_plain / t_uss)
        )

        t_psutil = best_cpu(lambda: me.children(recursive=True))
        t_proc = best_cpu(lambda: _children_linux(os.getpid()))
        rows.append(Row(f"list tree, {case}", "psutil children()", t_psutil * 1e9))
        rows.append(
            Row(f"list tree, {case}", "/proc children walk", t_proc * 1e9,
                baseline="psutil children()", speedup=t_psutil / t_proc)
        )

        for uss_every in (10, 0):
            rows.append(_thread_cpu_row(case, uss_every, seconds))
    finally:
        for k in kids:
            k.kill()
        for k in kids:
            k.wait(timeout=30)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--children", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--quick", action="store_true", help="1 s per run")
    args = parser.parse_args(argv)
    seconds = 1.0 if args.quick else args.seconds
    rows: list[Row] = []
    for n in args.children:
        rows += measure(n, seconds)
    n_procs = len(psutil.pids())
    print_table(
        rows,
        f"tuner.monitor overhead ({psutil.cpu_count()} CPUs, {n_procs} processes on the machine, "
        f"psutil {psutil.__version__})",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
