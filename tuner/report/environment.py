"""The machine a tuning run measured: what a reader needs to judge whether its numbers apply.

A recommendation holds for one machine, one Python and one set of library versions; the
report records them next to the numbers.  Every field is gathered on its own and a failure
gives ``None`` (with a note) instead of an exception: a report is never lost because, say,
``/proc/cpuinfo`` is missing in a container.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import platform
import socket
import sys
from collections.abc import Callable
from typing import Any

__all__ = ["environment"]


def _cpu_model() -> str | None:
    with (
        contextlib.suppress(OSError, UnicodeDecodeError),
        open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle,
    ):
        for line in handle:
            name, _, value = line.partition(":")
            if name.strip() == "model name" and value.strip():
                return value.strip()
    return platform.processor() or None


def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        module = sys.modules.get(distribution)
        return getattr(module, "__version__", None)


def _zmq_versions() -> tuple[str | None, str | None]:
    import zmq

    return zmq.__version__, zmq.zmq_version()


def _usable_cpus() -> int | None:
    counter = getattr(os, "process_cpu_count", None)
    if counter is not None:
        return counter()
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count()


def _tuner_version() -> str | None:
    from .. import __version__

    return __version__


def _safe(getter: Callable[[], Any], notes: list[str], what: str) -> Any:
    try:
        return getter()
    except Exception as exc:
        notes.append(f"{what} unavailable: {type(exc).__name__}: {exc}")
        return None


def environment() -> dict[str, Any]:
    """Describe this machine and software for ``report.json``.  Never raises.

    Returns
    -------
    dict
        ``cpu_model``, ``logical_cores``, ``physical_cores`` (None when psutil cannot tell,
        with a note), ``usable_cores`` (the CPUs this process may run on), ``memory_total_bytes``,
        ``os``, ``python``, ``python_implementation``, ``hostname``, ``versions`` (tuner,
        numpy, numba, pyzmq, libzmq, psutil, matplotlib, rich; None when not installed) and
        ``notes`` (what could not be determined, and why).
    """
    notes: list[str] = []

    def psutil_count(logical: bool) -> int | None:
        import psutil

        return psutil.cpu_count(logical=logical)

    def memory() -> int:
        import psutil

        return int(psutil.virtual_memory().total)

    logical = _safe(lambda: psutil_count(True), notes, "logical core count")
    if logical is None:
        logical = _safe(os.cpu_count, notes, "logical core count (os)")
    physical = _safe(lambda: psutil_count(False), notes, "physical core count")
    if physical is None:
        notes.append("physical core count unknown: psutil could not determine it on this system")
    zmq_versions = _safe(_zmq_versions, notes, "pyzmq version") or (None, None)
    versions = {
        "tuner": _safe(_tuner_version, notes, "tuner version"),
        "numpy": _safe(lambda: _version("numpy"), notes, "numpy version"),
        "numba": _safe(lambda: _version("numba"), notes, "numba version"),
        "pyzmq": zmq_versions[0],
        "libzmq": zmq_versions[1],
        "psutil": _safe(lambda: _version("psutil"), notes, "psutil version"),
        "matplotlib": _safe(lambda: _version("matplotlib"), notes, "matplotlib version"),
        "rich": _safe(lambda: _version("rich"), notes, "rich version"),
    }
    return {
        "cpu_model": _safe(_cpu_model, notes, "CPU model"),
        "logical_cores": logical,
        "physical_cores": physical,
        "usable_cores": _safe(_usable_cpus, notes, "usable core count"),
        "memory_total_bytes": _safe(memory, notes, "memory total"),
        "os": _safe(platform.platform, notes, "OS"),
        "python": _safe(platform.python_version, notes, "Python version"),
        "python_implementation": _safe(platform.python_implementation, notes, "Python"),
        "hostname": _safe(socket.gethostname, notes, "hostname"),
        "versions": versions,
        "notes": notes,
    }
