"""The built-in workloads' task functions and input generators.

Worker processes import this module by reference to run the tasks, so it imports only the
standard library (no numpy, no numba, no rich): a worker's start-up must stay cheap.

Work is measured in **work units**, not in time: one unit is one step of a 31-bit linear
congruential generator in pure Python (90-130 ns on the development machine, so 7,700-11,000
units per millisecond).  Sizing tasks in units keeps them deterministic (the same
input always does the same work) and lets tests compare costs by counting instead of timing.
The ``io`` and ``mixed`` workloads also sleep: waiting is what they model.

Every generator takes ``(seed, n)`` and yields argument tuples (``n=None``: an endless
stream); the same seed gives the same stream.  The ``affinity`` generator yields
``(key, args)`` pairs instead, the key being what the pool's hash balancers route by.
"""

from __future__ import annotations

import itertools
import math
import random
import time
import zlib
from collections import OrderedDict
from collections.abc import Iterator
from typing import Final

__all__ = [
    "AFFINITY_BUILD_UNITS",
    "AFFINITY_CACHE_SIZE",
    "AFFINITY_KEYS",
    "AFFINITY_LOOKUP_UNITS",
    "CPU_UNITS",
    "HEAVYTAIL_MEDIAN_UNITS",
    "HEAVYTAIL_SIGMA",
    "IO_CPU_UNITS",
    "MEMORY_MAX_BYTES",
    "MEMORY_MIN_BYTES",
    "MIXED_CPU_UNITS",
    "affinity_inputs",
    "affinity_task",
    "clear_affinity_cache",
    "cpu_heavytail_inputs",
    "cpu_inputs",
    "cpu_task",
    "io_inputs",
    "io_task",
    "memory_inputs",
    "memory_task",
    "mixed_inputs",
    "mixed_task",
    "spin",
]

_MASK31: Final = 0x7FFFFFFF

CPU_UNITS: Final = 6_000
"""Mean work units of a ``cpu`` task (0.55-0.8 ms here); sizes vary by ±10 %."""

HEAVYTAIL_MEDIAN_UNITS: Final = 3_000
"""Median work units of a ``cpu-heavytail`` task (0.3-0.4 ms here)."""

HEAVYTAIL_SIGMA: Final = 1.2
"""Log-space standard deviation of ``cpu-heavytail`` sizes: mean = 2.05 × median,
p99 = 16 × median."""

HEAVYTAIL_MAX_UNITS: Final = 100 * HEAVYTAIL_MEDIAN_UNITS
"""Cap on one ``cpu-heavytail`` task (30-40 ms here), so one unlucky draw cannot stall a trial."""

IO_CPU_UNITS: Final = 150
"""CPU work around each ``io`` wait (15-20 µs here: parsing a reply, say)."""

IO_WAIT_MS: Final = (2.0, 6.0)
"""Range of one ``io`` task's wait, uniform, in milliseconds."""

MIXED_CPU_UNITS: Final = 3_000
"""Mean CPU work of a ``mixed`` task (0.3-0.4 ms here), ±50 %."""

MIXED_WAIT_MS: Final = (0.4, 1.6)
"""Range of one ``mixed`` task's wait, uniform, in milliseconds (mean 1 ms, 2.5 × the CPU)."""

MEMORY_MIN_BYTES: Final = 256 * 1024
MEMORY_MAX_BYTES: Final = 4 * 1024 * 1024
"""Payload sizes of ``memory`` tasks, in and out: log-uniform in [256 KiB, 4 MiB]."""

AFFINITY_KEYS: Final = 64
"""Distinct keys of the ``affinity`` workload, drawn with Zipf(s=1) popularity."""

AFFINITY_CACHE_SIZE: Final = 24
"""Entries in each worker's LRU cache of ``affinity`` tables.  Smaller than the key space on
purpose: with an unbounded cache every worker would end warm for every key after warm-up and
the balancer would no longer matter."""

AFFINITY_LOOKUP_UNITS: Final = 2_000
"""Work of an ``affinity`` task whose key is warm (0.2-0.26 ms here)."""

AFFINITY_BUILD_UNITS: Final = 16_000
"""Extra work of building a cold key's table (1.5-2 ms here): a miss costs 9 × a hit."""

_AFFINITY_ZIPF_S: Final = 1.0


# ---------------------------------------------------------------------------------- work


def spin(units: int, state: int = 1) -> int:
    """Do ``units`` steps of pure-Python integer work and return the final state.

    Deterministic busy work that holds the GIL (as real Python code does) and cannot be
    optimised away; the result depends on every step.

    Parameters
    ----------
    units : int
        Number of LCG steps (90-130 ns each on the development machine).
    state : int
        Starting state; only its low 31 bits are used.
    """
    x = state & _MASK31
    for _ in range(units):
        x = (x * 1103515245 + 12345) & _MASK31
    return x


def cpu_task(units: int, state: int) -> int:
    """A CPU-bound task (``cpu`` and ``cpu-heavytail``): ``units`` of work, returns a checksum."""
    return spin(units, state)


def io_task(wait_ms: float, units: int, state: int) -> int:
    """A mostly-waiting task (``io``): a little CPU, then ``time.sleep`` for ``wait_ms``.

    Models a call to a slow service: the worker is idle while it waits, so more workers than
    cores raise throughput until the CPU part saturates the cores.
    """
    result = spin(units, state)
    time.sleep(wait_ms / 1000.0)
    return result


def mixed_task(units: int, wait_ms: float, state: int) -> int:
    """Half-way between ``cpu`` and ``io``: ``units`` of CPU work, then a wait of ``wait_ms``."""
    result = spin(units, state)
    time.sleep(wait_ms / 1000.0)
    return result


def memory_task(payload: bytes, out_bytes: int) -> bytes:
    """A large-payload task (``memory``): reads ``payload``, returns ``out_bytes`` derived from it.

    The CPU part is small and runs at C speed (a CRC and a copy), so the cost is moving and
    holding bytes: pickling, ZeroMQ frames, copies, and the workers' and broker's RSS.
    """
    crc = zlib.crc32(payload)
    if not payload:
        return bytes(out_bytes)
    reps = -(-out_bytes // len(payload))
    out = bytearray((payload * reps)[:out_bytes])
    out[:4] = crc.to_bytes(4, "little")[: min(4, out_bytes)]
    return bytes(out)


# Per-process cache of the affinity workload: key -> table, least recently used first.
_AFFINITY_CACHE: OrderedDict[str, int] = OrderedDict()


def clear_affinity_cache() -> None:
    """Empty this process's ``affinity`` cache (tests call it; workers start empty)."""
    _AFFINITY_CACHE.clear()


def affinity_task(key: str, units: int) -> tuple[int, int]:
    """A keyed task with a per-worker warm cache (``affinity``).

    The first task for ``key`` in a worker builds the key's table
    (:data:`AFFINITY_BUILD_UNITS` of work) and keeps it in an LRU cache of
    :data:`AFFINITY_CACHE_SIZE` entries; later tasks for a cached key only do the lookup
    (``units``).  A balancer that sends a key to the same worker every time (consistent
    hashing) keeps the caches warm; one that scatters keys pays the build again and again.

    Returns
    -------
    (int, int)
        The checksum, and the work units this call spent: counting units lets tests tell a
        warm call from a cold one without timing them.
    """
    spent = 0
    table = _AFFINITY_CACHE.get(key)
    if table is None:
        table = spin(AFFINITY_BUILD_UNITS, zlib.crc32(key.encode()))
        spent += AFFINITY_BUILD_UNITS
        _AFFINITY_CACHE[key] = table
        if len(_AFFINITY_CACHE) > AFFINITY_CACHE_SIZE:
            _AFFINITY_CACHE.popitem(last=False)
    else:
        _AFFINITY_CACHE.move_to_end(key)
    spent += units
    return spin(units, table), spent


# ---------------------------------------------------------------------------------- inputs


def _count(n: int | None) -> Iterator[int]:
    return itertools.count() if n is None else iter(range(n))


def _state(rng: random.Random) -> int:
    return rng.getrandbits(31)


def cpu_inputs(seed: int, n: int | None) -> Iterator[tuple[int, int]]:
    """``(units, state)`` for ``cpu_task``: :data:`CPU_UNITS` ±10 %, uniform."""
    rng = random.Random(seed)
    low, high = int(CPU_UNITS * 0.9), int(CPU_UNITS * 1.1)
    for _ in _count(n):
        yield rng.randint(low, high), _state(rng)


def cpu_heavytail_inputs(seed: int, n: int | None) -> Iterator[tuple[int, int]]:
    """``(units, state)`` for ``cpu_task``: lognormal units, median
    :data:`HEAVYTAIL_MEDIAN_UNITS`, sigma :data:`HEAVYTAIL_SIGMA`, capped at
    :data:`HEAVYTAIL_MAX_UNITS`."""
    rng = random.Random(seed)
    mu = math.log(HEAVYTAIL_MEDIAN_UNITS)
    for _ in _count(n):
        units = min(HEAVYTAIL_MAX_UNITS, max(1, round(rng.lognormvariate(mu, HEAVYTAIL_SIGMA))))
        yield units, _state(rng)


def io_inputs(seed: int, n: int | None) -> Iterator[tuple[float, int, int]]:
    """``(wait_ms, units, state)`` for ``io_task``: waits uniform in :data:`IO_WAIT_MS`."""
    rng = random.Random(seed)
    for _ in _count(n):
        yield round(rng.uniform(*IO_WAIT_MS), 3), IO_CPU_UNITS, _state(rng)


def mixed_inputs(seed: int, n: int | None) -> Iterator[tuple[int, float, int]]:
    """``(units, wait_ms, state)`` for ``mixed_task``."""
    rng = random.Random(seed)
    low, high = MIXED_CPU_UNITS // 2, MIXED_CPU_UNITS * 3 // 2
    for _ in _count(n):
        yield rng.randint(low, high), round(rng.uniform(*MIXED_WAIT_MS), 3), _state(rng)


def memory_inputs(seed: int, n: int | None) -> Iterator[tuple[bytes, int]]:
    """``(payload, out_bytes)`` for ``memory_task``: both sizes log-uniform in
    [:data:`MEMORY_MIN_BYTES`, :data:`MEMORY_MAX_BYTES`].

    Payloads are slices of one random block made once per stream, so producing the inputs
    costs a memory copy per task, not a random-number generator's run over megabytes
    (the parent process shares the machine with the workers it measures).
    """
    rng = random.Random(seed)
    block = rng.randbytes(2 * MEMORY_MAX_BYTES)
    log_low, log_high = math.log(MEMORY_MIN_BYTES), math.log(MEMORY_MAX_BYTES)
    for _ in _count(n):
        size = round(math.exp(rng.uniform(log_low, log_high)))
        out = round(math.exp(rng.uniform(log_low, log_high)))
        start = rng.randrange(len(block) - size + 1)
        yield block[start : start + size], out


def _zipf_weights(count: int, s: float) -> list[float]:
    return [1.0 / (rank**s) for rank in range(1, count + 1)]


def affinity_inputs(seed: int, n: int | None) -> Iterator[tuple[str, tuple[str, int]]]:
    """``(key, (key, units))`` for ``affinity_task``: :data:`AFFINITY_KEYS` keys with Zipf
    popularity (the most popular key gets about 21 % of the tasks)."""
    rng = random.Random(seed)
    keys = [f"key-{i:03d}" for i in range(AFFINITY_KEYS)]
    rng.shuffle(keys)  # popularity is not alphabetical
    cumulative = list(itertools.accumulate(_zipf_weights(AFFINITY_KEYS, _AFFINITY_ZIPF_S)))
    for _ in _count(n):
        (key,) = rng.choices(keys, cum_weights=cumulative)
        yield key, (key, AFFINITY_LOOKUP_UNITS)
