"""Placement benchmarks: jump hash (against C), Maglev and rendezvous batch lookups.

Run with ``python -m benchmarks.kernels --only placement`` (or ``python -m
benchmarks.kernels.bench_jump``).  Every lookup row is ns per key over a batch
of 1,000,000 random uint64 keys (200,000 with ``--quick``).

The C baseline is the same jump-hash loop, written below as a string,
compiled at run time with ``cc -O3`` in a temporary directory, and timed over
the same keys read from a binary file.  The C program also prints a checksum
of its buckets, which must equal the numba kernel's: the comparison is
between identical computations.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import timeit
from pathlib import Path

import numba
import numpy as np

from benchmarks._harness import Row, best_time, print_table
from kernels.jump import _jump_batch, _jump_batch_parallel, jump_hash
from kernels.maglev import MaglevTable
from kernels.rendezvous import Rendezvous

__all__ = ["run"]

# The paper's algorithm in C (our own transcription of the published pseudo-code),
# plus a timing harness: best of REPEATS passes over the keys, then a checksum.
_C_SOURCE = r"""
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static int64_t jump(uint64_t key, int64_t n) {
    int64_t b = -1, j = 0;
    while (j < n) {
        b = j;
        key = key * 2862933555777941757ULL + 1ULL;
        j = (int64_t)((double)(b + 1) * ((double)(1LL << 31) / (double)((key >> 33) + 1)));
    }
    return b;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s KEYFILE N REPEATS\n", argv[0]);
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (!f) { perror("fopen"); return 1; }
    fseek(f, 0, SEEK_END);
    long bytes = ftell(f);
    fseek(f, 0, SEEK_SET);
    size_t count = (size_t)bytes / sizeof(uint64_t);
    uint64_t *keys = malloc(count * sizeof(uint64_t));
    int64_t *out = malloc(count * sizeof(int64_t));
    if (!keys || !out || fread(keys, sizeof(uint64_t), count, f) != count) {
        fputs("cannot read keys\n", stderr);
        return 1;
    }
    fclose(f);
    int64_t n = atoll(argv[2]);
    int repeats = atoi(argv[3]);
    double best = 1e300;
    for (int r = 0; r < repeats; r++) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (size_t i = 0; i < count; i++) out[i] = jump(keys[i], n);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double ns = (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec);
        if (ns < best) best = ns;
    }
    uint64_t checksum = 0;
    for (size_t i = 0; i < count; i++) checksum = checksum * 31u + (uint64_t)out[i];
    printf("%.4f %llu\n", best / (double)count, (unsigned long long)checksum);
    free(keys);
    free(out);
    return 0;
}
"""

_MASK64 = (1 << 64) - 1


def _checksum(buckets: np.ndarray) -> int:
    """The C program's checksum (``c = c * 31 + bucket`` mod 2**64), computed with numpy.

    Unrolled, ``c = sum(bucket[i] * 31**(m - 1 - i))`` mod 2**64.
    """
    powers = np.full(buckets.shape[0], 31, dtype=np.uint64)
    powers[0] = 1
    with np.errstate(over="ignore"):
        powers = np.cumprod(powers, dtype=np.uint64)[::-1]
        return int(np.sum(buckets.astype(np.uint64) * powers, dtype=np.uint64))


class _CJump:
    """The C program, compiled into a temporary directory; ``skipped`` says why if not."""

    def __init__(self, keys: np.ndarray) -> None:
        self.skipped = ""
        self._tmp = tempfile.TemporaryDirectory(prefix="bench_jump_")
        tmp = self._tmp.name
        src, self._exe, self._data = Path(tmp, "jump.c"), Path(tmp, "jump"), Path(tmp, "keys.bin")
        cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
        if cc is None:
            self.skipped = "skipped: no C compiler"
            return
        src.write_text(_C_SOURCE)
        build = subprocess.run(
            [cc, "-O3", "-o", str(self._exe), str(src)], capture_output=True, text=True, check=False
        )
        if build.returncode != 0:
            self.skipped = f"skipped: {Path(cc).name} -O3 failed: {build.stderr.strip()[:120]}"
            return
        keys.astype("<u8").tofile(self._data)

    def run(self, n: int, repeats: int) -> tuple[float, int]:
        """(best ns/key over ``repeats`` passes, checksum of the buckets)."""
        proc = subprocess.run(
            [str(self._exe), str(self._data), str(n), str(repeats)],
            capture_output=True,
            text=True,
            check=True,
        )
        ns_per_key, checksum = proc.stdout.split()
        return float(ns_per_key), int(checksum)

    def close(self) -> None:
        self._tmp.cleanup()


def _ratio(baseline_ns: float | None, ns: float) -> float | None:
    return None if baseline_ns is None else baseline_ns / ns


def _jump_rows(keys: np.ndarray, rounds: int) -> list[Row]:
    """C and numba timed in alternation, ``rounds`` times; the best of each is kept.

    Alternating keeps a burst of load from other jobs on this shared machine
    from landing on one side of the comparison only.
    """
    rows: list[Row] = []
    m = keys.shape[0]
    out = np.empty(m, dtype=np.int64)
    threads = numba.get_num_threads()
    c = _CJump(keys)
    try:
        for n in (100, 10_000):
            case = f"jump_hash batch, n={n:,}"
            n64 = np.int64(n)
            best = {"c": np.inf, "serial": np.inf, "par": np.inf, "public": np.inf}
            c_sum = None
            for _ in range(rounds):
                if not c.skipped:
                    c_ns, c_sum = c.run(n, 3)
                    best["c"] = min(best["c"], c_ns)
                for key, fn in (
                    ("serial", lambda n64=n64: _jump_batch(keys, n64, out)),
                    ("par", lambda n64=n64: _jump_batch_parallel(keys, n64, out)),
                    ("public", lambda n=n: jump_hash(keys, n)),
                ):
                    best[key] = min(best[key], best_time(fn, repeat=3) / m * 1e9)
            base, c_ns = "", None
            if c.skipped:
                rows.append(Row(case, "C cc -O3", float("nan"), note=c.skipped))
            else:
                c_ns = best["c"]
                same = c_sum == _checksum(jump_hash(keys, n, parallel=False))
                note = "same buckets as numba" if same else "CHECKSUM MISMATCH"
                rows.append(Row(case, "C cc -O3 (1 core)", c_ns, note=note))
                base = "C cc -O3"
            serial, par, public = best["serial"], best["par"], best["public"]
            rows.append(
                Row(case, "numba 1 core", serial, base, _ratio(c_ns, serial), "within 1.25x of C")
            )
            rows.append(Row(case, f"numba prange ({threads} thr)", par, base, _ratio(c_ns, par)))
            rows.append(
                Row(case, "jump_hash() wrapper, 1 core", public, base, _ratio(c_ns, public))
            )
    finally:
        c.close()
    return rows


def _jump_py(key: int, n: int) -> int:
    """The paper's loop in pure Python: the alternative for single keys."""
    b, j = -1, 0
    while j < n:
        b = j
        key = (key * 2862933555777941757 + 1) & _MASK64
        j = int((b + 1) * (float(1 << 31) / float((key >> 33) + 1)))
    return b


def _scalar_jump_rows(quick: bool) -> list[Row]:
    rows = []
    number = 20_000 if quick else 100_000
    jump_hash(12345, 10)
    for n in (10, 10_000):
        case = f"jump_hash(int, {n:,}) single key"
        py = (
            min(timeit.repeat(lambda n=n: _jump_py(0x9E3779B97F4A7C15, n), number=number, repeat=5))
            / number
            * 1e9
        )
        nb = (
            min(
                timeit.repeat(lambda n=n: jump_hash(0x9E3779B97F4A7C15, n), number=number, repeat=5)
            )
            / number
            * 1e9
        )
        rows.append(Row(case, "pure Python loop", py))
        rows.append(Row(case, "jump_hash (numba)", nb, "pure Python loop", py / nb))
    return rows


def _maglev_rows(keys: np.ndarray, repeat: int) -> list[Row]:
    names = [f"10.0.{i // 256}.{i % 256}:8080" for i in range(100)]
    m = keys.shape[0]
    table = MaglevTable(names)
    rows = [
        Row(
            "Maglev lookup_hashes, 100 backends, M=65537",
            "kernels",
            best_time(lambda: table.lookup_hashes(keys), repeat=repeat) / m * 1e9,
        ),
    ]
    build = best_time(lambda: MaglevTable(names), repeat=repeat) * 1e9
    case = "build: 100 nodes"
    rows.append(Row(case, "MaglevTable M=65537", build))
    try:
        from kernels.ring import HashRing
    except ImportError:  # pragma: no cover - the ring module is optional here
        rows.append(Row(case, "HashRing", float("nan"), note="skipped: kernels.ring missing"))
        return rows
    for vnodes in (160, 2560):
        t = best_time(lambda v=vnodes: HashRing(names, vnodes=v), repeat=repeat) * 1e9
        rows.append(
            Row(
                case,
                f"HashRing {vnodes * 100:,} points",
                t,
                "MaglevTable M=65537",
                t / build,
                note="Maglev speedup = ratio",
            )
        )
    ring = HashRing(names)
    ring_ns = best_time(lambda: ring.lookup_hashes(keys), repeat=repeat) / m * 1e9
    rows.append(
        Row(
            "lookup_hashes, 100 nodes",
            "HashRing 16,000 points",
            ring_ns,
            note="for comparison with Maglev",
        )
    )
    return rows


def _rendezvous_rows(keys: np.ndarray, repeat: int) -> list[Row]:
    rows = []
    m = keys.shape[0]
    threads = numba.get_num_threads()
    for n in (10, 100):
        names = [f"node-{i}" for i in range(n)]
        for label, weights in (("equal", None), ("weighted", np.linspace(1, 4, n))):
            r = Rendezvous(names, weights)
            case = f"Rendezvous lookup_hashes, {n} nodes, {label}"
            one = best_time(lambda r=r: r.lookup_hashes(keys, parallel=False), repeat=repeat)
            two = best_time(lambda r=r: r.lookup_hashes(keys, parallel=True), repeat=repeat)
            rows.append(Row(case, "kernels 1 core", one / m * 1e9))
            rows.append(
                Row(
                    case,
                    f"kernels prange ({threads} threads)",
                    two / m * 1e9,
                    "kernels 1 core",
                    one / two,
                )
            )
    return rows


def run(quick: bool = False) -> list[Row]:
    """Measure every placement benchmark; returns the rows (see the module docstring)."""
    m = 200_000 if quick else 1_000_000
    repeat = 3 if quick else 7
    keys = np.random.default_rng(20140601).integers(0, 2**64, m, dtype=np.uint64, endpoint=False)
    rows = _jump_rows(keys, rounds=2 if quick else 4)
    rows += _scalar_jump_rows(quick)
    rows += _maglev_rows(keys, repeat)
    rows += _rendezvous_rows(keys, repeat)
    return rows


if __name__ == "__main__":
    print_table(run(), title="placement")
