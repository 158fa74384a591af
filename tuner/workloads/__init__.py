"""What a tuning trial runs: the registry of built-in workloads, and user workloads.

A :class:`Workload` is a task function plus a deterministic input stream with a documented
shape.  The built-ins cover the shapes whose best pool differs (see ``docs/workloads.md``)::

    cpu            uniform CPU-bound tasks          -> about one worker per core
    cpu-heavytail  lognormal task sizes             -> balancer and batch size matter
    io             mostly waiting                   -> more workers than cores
    mixed          CPU then waiting (the default)   -> an optimum in between
    memory         256 KiB - 4 MiB payloads in/out  -> batching, copies and RSS
    affinity       keyed tasks, per-worker caches   -> hash-based balancers

A user workload is ``load("mymodule:task", inputs="mymodule:make_inputs")`` or
``inputs="data.jsonl"``; ``resolve`` takes either kind of name, as the command line does.

This package is imported by every worker process that runs a built-in task, so importing it
stays cheap: the loader (:mod:`.user`) and the listing command (rich) load on first use.

Example
-------
>>> wl = get("cpu")
>>> args = next(wl.inputs(seed=1))
>>> isinstance(wl.fn(*args), int)
True
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any, Final

from . import builtin as _b
from ._record import Workload, WorkloadError

__all__ = [
    "BUILTINS",
    "DEFAULT_WORKLOAD",
    "Workload",
    "WorkloadError",
    "from_function",
    "get",
    "load",
    "names",
    "resolve",
    "workloads_main",
]

DEFAULT_WORKLOAD: Final = "mixed"
"""The workload ``python -m tuner optimize`` tunes when given none."""

# Trial sizes: a measured window of about 1.5-2.5 s with two workers (this pool's default on the
# 2-core development machine); more workers, where they help, shorten it.
_BUILTIN_LIST: Final = (
    Workload(
        name="cpu",
        description=(
            f"pure-Python busy loop, {_b.CPU_UNITS:,} work units ±10 % per task "
            "(0.55-0.8 ms), tiny arguments and results"
        ),
        stresses="raw CPU scaling and per-task overhead: the best pool is about one worker "
        "per core",
        fn=_b.cpu_task,
        source=_b.cpu_inputs,
        trial_tasks=2_500,
        warmup_tasks=250,
    ),
    Workload(
        name="cpu-heavytail",
        description=(
            f"busy loop of lognormal size: median {_b.HEAVYTAIL_MEDIAN_UNITS:,} units "
            f"(0.3-0.4 ms), sigma {_b.HEAVYTAIL_SIGMA}, mean 2 × median, p99 16 × median, "
            f"capped at {_b.HEAVYTAIL_MAX_UNITS:,}"
        ),
        stresses="load balancing under stragglers: blind round-robin and deep prefetch "
        "queue short tasks behind long ones",
        fn=_b.cpu_task,
        source=_b.cpu_heavytail_inputs,
        trial_tasks=2_000,
        warmup_tasks=200,
    ),
    Workload(
        name="io",
        description=(
            f"time.sleep of {_b.IO_WAIT_MS[0]:g}-{_b.IO_WAIT_MS[1]:g} ms (uniform) plus "
            f"{_b.IO_CPU_UNITS} units of CPU per task"
        ),
        stresses="waiting, not computing: throughput grows with workers well past the "
        "number of cores",
        fn=_b.io_task,
        source=_b.io_inputs,
        trial_tasks=800,
        warmup_tasks=80,
    ),
    Workload(
        name="mixed",
        description=(
            f"{_b.MIXED_CPU_UNITS // 2:,}-{_b.MIXED_CPU_UNITS * 3 // 2:,} units of CPU "
            f"(0.3-0.4 ms) then a wait of {_b.MIXED_WAIT_MS[0]:g}-{_b.MIXED_WAIT_MS[1]:g} ms "
            "per task"
        ),
        stresses="the default: an optimum between 'one per core' and 'as many as "
        "possible', which the usual rules of thumb miss",
        fn=_b.mixed_task,
        source=_b.mixed_inputs,
        trial_tasks=2_000,
        warmup_tasks=200,
    ),
    Workload(
        name="memory",
        description=(
            "bytes payloads in and out, each log-uniform in 256 KiB-4 MiB (mean 1.35 MiB), "
            "a CRC and a copy per task"
        ),
        stresses="data movement: pickling, copies, message size limits, batching and the "
        "RSS of workers and broker",
        fn=_b.memory_task,
        source=_b.memory_inputs,
        trial_tasks=150,
        warmup_tasks=20,
    ),
    Workload(
        name="affinity",
        description=(
            f"keyed tasks over {_b.AFFINITY_KEYS} keys (Zipf popularity); a warm key costs "
            f"{_b.AFFINITY_LOOKUP_UNITS:,} units, a cold one "
            f"{_b.AFFINITY_LOOKUP_UNITS + _b.AFFINITY_BUILD_UNITS:,}; "
            f"LRU cache of {_b.AFFINITY_CACHE_SIZE} keys per worker"
        ),
        stresses="locality: hash-based balancers keep each key on one worker's warm cache; "
        "the others rebuild tables",
        fn=_b.affinity_task,
        source=_b.affinity_inputs,
        keyed=True,
        trial_tasks=2_500,
        warmup_tasks=500,
    ),
)

BUILTINS: Final[Mapping[str, Workload]] = MappingProxyType({w.name: w for w in _BUILTIN_LIST})
"""The built-in workloads by name, in the order they are listed."""


def names() -> tuple[str, ...]:
    """The built-in workload names, in listing order."""
    return tuple(BUILTINS)


def get(name: str) -> Workload:
    """The built-in workload called ``name``.

    Raises
    ------
    WorkloadError
        Unknown name: the message lists the names and suggests the closest ones.
    """
    try:
        return BUILTINS[name]
    except (KeyError, TypeError):
        pass
    import difflib

    text = str(name)
    close = difflib.get_close_matches(
        text.lower().replace("_", "-"), list(BUILTINS), n=2, cutoff=0.5
    )
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise WorkloadError(
        f"unknown workload {text!r}.{hint} Built-in workloads: {', '.join(BUILTINS)}; "
        "or give your own as 'module:function' with --inputs "
        "(see `python -m tuner workloads`)"
    )


def resolve(spec: str, inputs: str | os.PathLike[str] | None = None) -> Workload:
    """A workload named as on the command line: a built-in name or ``module:function``.

    Parameters
    ----------
    spec : str
        ``"cpu"`` or ``"mymodule:task"``.
    inputs : str, optional
        For ``module:function`` only: ``"module:generator"`` or a JSON-lines file.

    Raises
    ------
    WorkloadError
        Unknown name, bad ``module:function`` or inputs, or inputs given to a built-in.
    """
    if isinstance(spec, str) and ":" in spec:
        return load(spec, inputs)
    workload = get(spec)
    if inputs is not None:
        raise WorkloadError(
            f"the built-in workload {spec!r} makes its own inputs; --inputs is for a "
            "workload given as 'module:function'"
        )
    return workload


def load(
    function: str,
    inputs: str | os.PathLike[str] | None = None,
    *,
    trial_tasks: int | None = None,
    warmup_tasks: int | None = None,
) -> Workload:
    """A user workload: see :func:`tuner.workloads.user.load`."""
    from .user import load as _load

    return _load(function, inputs, trial_tasks=trial_tasks, warmup_tasks=warmup_tasks)


def from_function(
    fn: Callable[..., Any],
    inputs: Iterable[Any] | Callable[[], Iterable[Any]],
    *,
    name: str | None = None,
    trial_tasks: int | None = None,
    warmup_tasks: int | None = None,
) -> Workload:
    """A user workload from a function object: see :func:`tuner.workloads.user.from_function`."""
    from .user import from_function as _from_function

    return _from_function(fn, inputs, name=name, trial_tasks=trial_tasks, warmup_tasks=warmup_tasks)


def workloads_main(argv: list[str]) -> int:
    """``python -m tuner workloads``: see :mod:`tuner.workloads.cli`."""
    from .cli import workloads_main as _main

    return _main(argv)
