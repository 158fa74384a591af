"""Benchmarks for ``kernels.select`` and ``kernels.histogram``: balancer decisions, latencies.

Run: ``python -m benchmarks.kernels --only select``.

What is measured, with peers from the same run:

* smooth WRR: batch ``take`` (1M picks, 10 peers) and scalar ``next()`` against
  a plain-Python nginx loop;
* alias method: ``sample_many`` (1M draws) against
  ``numpy.random.Generator.choice(p=...)``, scalar ``sample()`` against
  ``random.choices``;
* power of two choices and least loaded: batch ``assign`` (1M decisions,
  loads updated in place) and scalar ``choose(loads)`` from Python, against
  a Python ``random`` P2C and ``int(np.argmin(loads))``;
* histogram: ``record_many`` of 1M lognormal latencies plus p50/p90/p99,
  against ``np.percentile`` on the raw array (the time to an answer), and
  the scalar ``record()`` call.

Scalar rows are per call from Python, loop overhead included (a bare
``for`` loop costs about 15-25 ns per iteration here).
"""

from __future__ import annotations

import random

import numpy as np

from benchmarks._harness import Row, best_time
from kernels._rng import make_state
from kernels._select_cores import _p2c_choose
from kernels.histogram import LatencyHistogram
from kernels.select import (
    AliasTable,
    LeastLoaded,
    PowerOfTwoChoices,
    SmoothWeightedRoundRobin,
)


def _per_call(fn, calls: int, repeat: int) -> float:
    """Best ns per call of ``fn()`` over ``repeat`` rounds of ``calls`` calls (loop included)."""
    return best_time(fn, repeat=repeat, number=calls) * 1e9


def _py_swrr(weights: list[int], k: int) -> list[int]:
    cur = [0] * len(weights)
    out = []
    n = len(weights)
    for _ in range(k):
        total = 0
        best = 0
        for i in range(n):
            cur[i] += weights[i]
            total += weights[i]
            if cur[i] > cur[best]:
                best = i
        cur[best] -= total
        out.append(best)
    return out


def _py_p2c(loads: list[int] | np.ndarray, rng: random.Random) -> int:
    """Power of two choices in plain Python, on a list or a numpy array of loads."""
    n = len(loads)
    i = rng.randrange(n)
    j = rng.randrange(n - 1)
    if j >= i:
        j += 1
    return j if loads[j] < loads[i] else i


def _swrr_rows(k: int, repeat: int, calls: int) -> list[Row]:
    weights = [5, 1, 1, 3, 2, 8, 1, 4, 2, 6]
    rows = []
    wrr = SmoothWeightedRoundRobin(weights)
    t_batch = best_time(lambda: wrr.take(k), repeat=repeat) / k * 1e9
    sample = max(k // 50, 1000)
    t_py = best_time(lambda: _py_swrr(weights, sample), repeat=3) / sample * 1e9
    rows.append(Row("swrr take, 10 peers", "python nginx loop", t_py, note=f"{sample:,} picks"))
    rows.append(
        Row("swrr take, 10 peers", "kernels", t_batch, "python nginx loop", t_py / t_batch,
            note=f"{k:,} picks")
    )  # fmt: skip
    t_next = _per_call(wrr.next, calls, repeat)
    rows.append(
        Row("swrr next() from Python", "kernels", t_next, "python nginx loop", t_py / t_next,
            note="buffered 64 picks per numba call")
    )  # fmt: skip
    return rows


def _alias_rows(k: int, repeat: int, calls: int) -> list[Row]:
    rows = []
    for n in (10, 1000):
        weights = np.random.default_rng(n).uniform(0.1, 10.0, n)
        p = weights / weights.sum()
        gen = np.random.default_rng(1)
        table = AliasTable(weights, seed=1)
        t_np = best_time(lambda gen=gen, p=p, n=n: gen.choice(n, size=k, p=p), repeat=repeat)
        t_k = best_time(lambda table=table: table.sample_many(k), repeat=repeat)
        case = f"weighted random, {n} weights"
        rows.append(Row(case, "numpy Generator.choice(p=)", t_np / k * 1e9, note=f"{k:,} draws"))
        rows.append(Row(case, "kernels AliasTable", t_k / k * 1e9, "numpy", t_np / t_k))
    table = AliasTable([5.0, 1.0, 1.0, 3.0], seed=2)
    py = random.Random(2)
    population, wts = range(4), [5.0, 1.0, 1.0, 3.0]
    t_py = _per_call(lambda: py.choices(population, wts), calls, repeat)
    t_s = _per_call(table.sample, calls, repeat)
    rows.append(Row("weighted random, one draw", "random.choices", t_py))
    rows.append(
        Row("weighted random, one draw", "kernels sample()", t_s, "random.choices", t_py / t_s,
            note="buffered 64 draws per numba call")
    )  # fmt: skip
    return rows


def _load_rows(k: int, repeat: int, calls: int) -> list[Row]:
    rows = []
    n = 100
    p2c = PowerOfTwoChoices(seed=1)
    ll = LeastLoaded(seed=1)

    def run_assign(policy, kk=k):
        loads = np.zeros(n, dtype=np.int64)
        policy.assign(loads, kk)

    t_p2c = best_time(lambda: run_assign(p2c), repeat=repeat) / k * 1e9
    ll_k = k // 10  # O(n) per decision
    t_ll = best_time(lambda: run_assign(ll, ll_k), repeat=repeat) / ll_k * 1e9
    py = random.Random(1)
    py_loads = [0] * n
    sample = max(k // 50, 1000)

    def py_assign():
        for _ in range(sample):
            c = _py_p2c(py_loads, py)
            py_loads[c] += 1

    t_py = best_time(py_assign, repeat=3) / sample * 1e9
    rows.append(Row(f"P2C assign, {n} peers", "python random P2C", t_py, note="per decision"))
    rows.append(
        Row(f"P2C assign, {n} peers", "kernels", t_p2c, "python random P2C", t_py / t_p2c,
            note=f"{k:,} decisions, loads updated in place")
    )  # fmt: skip
    rows.append(
        Row(f"least-loaded assign, {n} peers", "kernels", t_ll, note=f"{ll_k:,} decisions, O(n)")
    )
    loads = np.random.default_rng(0).integers(0, 8, n).astype(np.int64)
    state = make_state(3)
    t_choose_py = _per_call(lambda: _py_p2c(loads, py), calls, repeat)
    t_choose = _per_call(lambda: p2c.choose(loads), calls, repeat)
    t_core = _per_call(lambda: _p2c_choose(loads, state), calls, repeat)
    rows.append(Row("P2C choose() from Python", "python random P2C", t_choose_py,
                    note="on the same numpy loads"))  # fmt: skip
    rows.append(
        Row("P2C choose() from Python", "kernels", t_choose, "python random P2C",
            t_choose_py / t_choose, note="validation + numba dispatch")
    )  # fmt: skip
    rows.append(
        Row("P2C choose() from Python", "kernels _p2c_choose (no checks)", t_core,
            note="numba dispatch alone")
    )  # fmt: skip
    t_argmin = _per_call(lambda: int(np.argmin(loads)), calls, repeat)
    t_ll_choose = _per_call(lambda: ll.choose(loads), calls, repeat)
    rows.append(Row(f"least-loaded choose(), {n} peers", "int(np.argmin)", t_argmin,
                    note="no tie-break"))  # fmt: skip
    rows.append(
        Row(f"least-loaded choose(), {n} peers", "kernels", t_ll_choose, "np.argmin",
            t_argmin / t_ll_choose, note="random tie-break")
    )  # fmt: skip
    return rows


def _histogram_rows(k: int, repeat: int, calls: int) -> list[Row]:
    rows = []
    values = np.random.default_rng(0).lognormal(-7.0, 1.5, k)
    ps = [50, 90, 99]

    def hist_answer():
        h = LatencyHistogram()
        h.record_many(values)
        return h.percentiles(ps)

    t_np = best_time(lambda: np.percentile(values, ps), repeat=repeat)
    t_hist = best_time(hist_answer, repeat=repeat)
    h = LatencyHistogram()
    t_rec = best_time(lambda: h.record_many(values), repeat=repeat)
    t_q = best_time(lambda: h.percentiles(ps), repeat=repeat, number=100)
    case = f"p50/p90/p99 of {k:,} latencies"
    rows.append(Row(case, "np.percentile(raw)", t_np * 1e9 / k, note="ns per value"))
    rows.append(
        Row(case, "kernels record_many + percentiles", t_hist * 1e9 / k, "np.percentile",
            t_np / t_hist, note="ns per value, time to answer")
    )  # fmt: skip
    rows.append(Row("histogram record_many", "kernels", t_rec * 1e9 / k, note="ns per value"))
    rows.append(
        Row("histogram percentiles([50,90,99])", "kernels", t_q * 1e9, "np.percentile",
            t_np / t_q, note="ns per query, histogram already filled")
    )  # fmt: skip
    hr = LatencyHistogram()
    t_r = _per_call(lambda: hr.record(0.00123), calls, repeat)
    rows.append(Row("histogram record() from Python", "kernels", t_r,
                    note="validated, buffered 1,024 per numba call"))  # fmt: skip
    blob = h.to_bytes()
    t_ser = best_time(h.to_bytes, repeat=repeat, number=100)
    rows.append(Row("histogram to_bytes()", "kernels", t_ser * 1e9,
                    note=f"{len(blob):,} bytes for {h.count:,} values"))  # fmt: skip
    return rows


def run(quick: bool = False) -> list[Row]:
    """Measure everything above; ``quick`` uses 100k instead of 1M operations."""
    k = 100_000 if quick else 1_000_000
    repeat = 3 if quick else 5
    calls = 20_000 if quick else 200_000
    rows: list[Row] = []
    rows += _swrr_rows(k, repeat, calls)
    rows += _alias_rows(k, repeat, calls)
    rows += _load_rows(k, repeat, calls)
    rows += _histogram_rows(k, repeat, calls)
    return rows


if __name__ == "__main__":
    from benchmarks._harness import print_table

    print_table(run(), title="select + histogram")
