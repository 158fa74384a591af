"""LatencyHistogram: log-linear buckets, percentiles within 1/(2S), merge, serialisation."""

from __future__ import annotations

import math

import msgpack
import numba
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kernels.histogram import (
    LatencyHistogram,
    _hist_index,
    _hist_percentile,
    _hist_record,
)
from tests.reference.histogram import RefHistogram

LOWEST, HIGHEST = 1e-6, 100.0

in_range = st.floats(LOWEST, HIGHEST, allow_nan=False)
any_value = st.one_of(
    in_range,
    st.floats(0.0, LOWEST),  # clamped into the first bucket
    st.floats(HIGHEST, 1e300, allow_infinity=False),  # overflow
    st.sampled_from([0.0, -0.0, LOWEST, HIGHEST, math.nextafter(HIGHEST, math.inf)]),
    st.sampled_from([math.nan, math.inf, -math.inf, -1.0, -1e-9]),  # rejected
)
rel_errors = st.sampled_from([0.5, 0.1, 0.01, 0.001])
percents = st.one_of(st.integers(0, 100).map(float), st.floats(0.0, 100.0))


@st.composite
def latency_arrays(draw):
    """Shapes of latency data that stress the bucketing differently."""
    kind = draw(st.sampled_from(["lognormal", "uniform", "constant", "few", "listed"]))
    size = draw(st.integers(1, 2000))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if kind == "lognormal":
        x = rng.lognormal(mean=-7.0, sigma=draw(st.floats(0.1, 3.0)), size=size)
    elif kind == "uniform":
        lo = draw(st.floats(1e-6, 1.0))
        x = rng.uniform(lo, lo * draw(st.floats(1.0, 1e3)), size=size)
    elif kind == "constant":
        x = np.full(size, draw(in_range))
    elif kind == "few":
        x = rng.choice(np.array(draw(st.lists(in_range, min_size=1, max_size=4))), size=size)
    else:
        x = np.array(draw(st.lists(in_range, min_size=1, max_size=50)))
    return np.clip(x, LOWEST, HIGHEST)


def ref_of(h: LatencyHistogram, values) -> RefHistogram:
    r = RefHistogram(h.lowest, h.highest, h.sub_bucket_count)
    for v in values:
        r.record(float(v))
    return r


# ---------------------------------------------------------------------------------------------
# bucketing


def test_default_parameters_and_bound():
    h = LatencyHistogram()
    assert h.sub_bucket_count == 64  # smallest power of two with 1 / (2 S) <= 1%
    assert h.rel_error_bound == 1 / 128
    assert h.n_buckets == 1698
    lower, upper = h.bucket_bounds()
    assert lower[0] <= LOWEST < upper[0] and lower[-1] <= HIGHEST < upper[-1]
    assert np.array_equal(lower[1:], upper[:-1])  # contiguous
    assert np.all((upper - lower) / lower <= 1 / 64)  # width at most 1/S of the value


@pytest.mark.parametrize(("rel_error", "s"), [(0.5, 1), (0.25, 2), (0.2, 4), (0.001, 512)])
def test_sub_bucket_count_from_rel_error(rel_error, s):
    h = LatencyHistogram(rel_error=rel_error)
    assert h.sub_bucket_count == s
    assert h.rel_error_bound <= rel_error < 2 * h.rel_error_bound


@given(any_value, rel_errors)
def test_index_matches_reference(value, rel_error):
    h = LatencyHistogram(LOWEST, HIGHEST, rel_error)
    r = RefHistogram(LOWEST, HIGHEST, h.sub_bucket_count)
    assert _hist_index(value, h.arrays[1]) == r.index(value)


@given(st.lists(any_value, max_size=300), rel_errors)
def test_record_many_matches_reference(values, rel_error):
    h = LatencyHistogram(LOWEST, HIGHEST, rel_error)
    rejected = h.record_many(np.array(values, dtype=np.float64))
    r = ref_of(h, values)
    assert rejected == r.rejected == h.rejected
    assert h.counts.tolist() == r.counts
    assert h.overflow == r.overflow
    assert h.count == len(r.values)
    if r.values:
        assert h.min == min(r.values) and h.max == max(r.values)
        assert h.sum == sum(r.values)  # sequential float64 sum, same order
    else:
        assert math.isnan(h.min) and math.isnan(h.max) and math.isnan(h.mean)


@given(st.lists(st.one_of(in_range, st.floats(0.0, 1e3)), min_size=1, max_size=3000))
def test_record_equals_record_many(values):
    """record() buffers and flushes 1,024 at a time; the result is identical, sum included."""
    one, many = LatencyHistogram(), LatencyHistogram()
    for v in values:
        one.record(v)
    many.record_many(values)
    assert one == many
    assert one.sum == many.sum and one.count == len(values)


# ---------------------------------------------------------------------------------------------
# percentiles


@given(latency_arrays(), percents, rel_errors)
def test_percentile_within_stated_relative_error(values, p, rel_error):
    h = LatencyHistogram(LOWEST, HIGHEST, rel_error)
    h.record_many(values)
    got = h.percentile(p)
    r = ref_of(h, values)
    exact = r.order_statistic(p)
    assert abs(got - exact) <= h.rel_error_bound * exact * (1 + 1e-12)
    assert got == r.percentile(p)  # the documented estimator, bit for bit
    assert h.min <= got <= h.max


@given(latency_arrays(), st.lists(st.integers(0, 100), min_size=1, max_size=5))
def test_rank_definition_is_numpy_inverted_cdf(values, ps):
    """Our order statistic is numpy's method="inverted_cdf" (up to numpy's rounding).

    numpy multiplies by the inexact ``p / 100`` and lands one rank too high
    when ``p * N / 100`` is a whole number (N = 100, p = 7: 0.07 * 100 =
    7.000000000000001, rank 8); we compute ``p * N / 100``, exact for integer p.
    """
    h = LatencyHistogram()
    h.record_many(values)
    r = ref_of(h, values)
    xs = np.sort(values)
    n = len(values)
    numpy_says = np.percentile(values, ps, method="inverted_cdf")
    got = h.percentiles(ps)
    for p, theirs, ours in zip(ps, numpy_says, got, strict=True):
        exact = r.order_statistic(p)
        assert exact == xs[max(1, -(-p * n // 100)) - 1]  # integer arithmetic
        if (p * n) % 100:
            assert exact == theirs
        else:
            assert theirs in (exact, xs[min(r.rank(p), n - 1)])
        assert abs(ours - exact) <= exact / 128 * (1 + 1e-12)


@given(latency_arrays(), st.lists(percents, min_size=1, max_size=8))
def test_percentiles_equal_single_percentile(values, ps):
    """The one-walk batch query gives each single query's answer, in the caller's order."""
    h = LatencyHistogram(highest=0.01)  # some overflow too
    h.record_many(values)
    assert h.percentiles(ps).tolist() == [h.percentile(p) for p in ps]


def test_percentiles_of_known_data():
    h = LatencyHistogram()
    h.record_many(np.arange(1, 1001) * 1e-3)  # 1 ms .. 1 s
    p50, p90, p99, p100 = h.percentiles([50, 90, 99, 100])
    assert abs(p50 - 0.5) <= 0.5 / 128
    assert abs(p90 - 0.9) <= 0.9 / 128
    assert abs(p99 - 0.99) <= 0.99 / 128
    assert p100 == 1.0 and h.percentile(0) == 1e-3  # clamped to the exact max / min
    assert h.mean == pytest.approx(0.5005, rel=1e-12)


def test_empty_histogram():
    h = LatencyHistogram()
    assert h.count == 0
    assert math.isnan(h.percentile(50)) and np.isnan(h.percentiles([1, 2])).all()
    assert math.isnan(h.min) and math.isnan(h.max) and math.isnan(h.mean)
    assert "count=0" in repr(h)


def test_below_lowest_clamps_into_first_bucket():
    h = LatencyHistogram()
    h.record_many([0.0, 1e-9, 5e-7])
    assert h.counts[0] == 3 and h.count == 3
    assert h.percentile(0) == 0.0  # the exact min
    assert h.percentile(100) == 5e-7  # the exact max: never above what was seen


def test_overflow_counted_and_reported_as_max():
    h = LatencyHistogram(highest=10.0)
    h.record_many([1.0, 2.0, 50.0, 1e6])
    assert h.overflow == 2 and h.count == 4
    assert h.max == 1e6 and h.mean == pytest.approx((1 + 2 + 50 + 1e6) / 4)
    assert abs(h.percentile(50) - 2.0) <= 2.0 / 128
    assert h.percentile(75) == 1e6  # in the overflow: the honest upper bound, the max
    assert h.percentile(100) == 1e6
    assert "overflow=2" in repr(h)


def test_rejected_values():
    h = LatencyHistogram()
    for bad in (math.nan, -1.0, math.inf, -math.inf):
        with pytest.raises(ValueError, match="value must be a finite latency"):
            h.record(bad)
    for bad in ("1", None, True):
        with pytest.raises(TypeError, match="value must be a real number"):
            h.record(bad)
    assert h.record_many([1e-3, math.nan, -1.0, math.inf, 2e-3]) == 3
    assert h.rejected == 3 and h.count == 2 and h.sum == 3e-3
    h.record(np.float32(0.5))
    h.record(2)  # ints are fine
    assert h.count == 4 and h.max == 2.0


# ---------------------------------------------------------------------------------------------
# merge, reset, copy, serialisation


@given(st.lists(any_value, max_size=400), st.integers(0, 400), rel_errors)
def test_merge_equals_recording_everything(values, cut, rel_error):
    a = LatencyHistogram(LOWEST, HIGHEST, rel_error)
    b = LatencyHistogram(LOWEST, HIGHEST, rel_error)
    whole = LatencyHistogram(LOWEST, HIGHEST, rel_error)
    a.record_many(values[:cut])
    for v in values[cut:]:
        if 0 <= v < math.inf:
            b.record(v)  # buffered: merge must flush it
        else:
            b.record_many([v])
    whole.record_many(values)
    assert a.merge(b) is a
    assert a.counts.tolist() == whole.counts.tolist()
    assert (a.count, a.overflow, a.rejected) == (whole.count, whole.overflow, whole.rejected)
    assert a.sum == pytest.approx(whole.sum, rel=1e-12)  # float addition order differs
    if whole.count:
        assert (a.min, a.max) == (whole.min, whole.max)
        assert np.array_equal(a.percentiles([0, 50, 99, 100]), whole.percentiles([0, 50, 99, 100]))


def test_merge_requires_same_parameters():
    h = LatencyHistogram()
    for other in (
        LatencyHistogram(lowest=1e-5),
        LatencyHistogram(highest=10.0),
        LatencyHistogram(rel_error=0.001),
    ):
        with pytest.raises(ValueError, match="cannot merge histograms with different parameters"):
            h.merge(other)
    with pytest.raises(TypeError, match="other must be a LatencyHistogram"):
        h.merge({"counts": []})
    h.merge(LatencyHistogram(rel_error=0.009))  # same S = 64: compatible


def test_reset_and_copy():
    h = LatencyHistogram()
    h.record_many([1e-3, 2e-3])
    h.record(3e-3)
    c = h.copy()
    h.reset()
    assert h.count == 0 and h == LatencyHistogram()
    assert c.count == 3 and c.max == 3e-3


@given(st.lists(any_value, max_size=300), rel_errors, st.integers(0, 3))
def test_serialisation_round_trips(values, rel_error, scale):
    h = LatencyHistogram(LOWEST, HIGHEST, rel_error)
    h.record_many(np.repeat(np.array(values, dtype=np.float64), 10**scale))  # wide counts
    assert LatencyHistogram.from_bytes(h.to_bytes()) == h
    assert LatencyHistogram.from_dict(h.to_dict()) == h
    shipped = msgpack.unpackb(msgpack.packb(h.to_dict()))
    assert LatencyHistogram.from_dict(shipped) == h
    assert LatencyHistogram.from_bytes(msgpack.unpackb(msgpack.packb(h.to_bytes()))) == h


def test_serialisation_is_compact():
    h = LatencyHistogram()
    h.record_many(np.random.default_rng(0).lognormal(-7, 1, 1_000_000))
    blob = h.to_bytes()
    nnz = int(np.count_nonzero(h.counts))
    width = 2 if h.counts.max() < 2**16 else 4  # the narrowest that holds every count
    assert len(blob) == 72 + nnz * (2 + width)  # uint16 indices (1,698 buckets)
    assert len(blob) < 8 * h.n_buckets // 2  # well under the dense counters


def test_from_bytes_rejects_malformed_input():
    h = LatencyHistogram()
    h.record_many([1e-3, 2e-3, 1.0])
    blob = h.to_bytes()
    with pytest.raises(ValueError, match="too short"):
        LatencyHistogram.from_bytes(blob[:10])
    with pytest.raises(ValueError, match="bad magic"):
        LatencyHistogram.from_bytes(b"XXXX" + blob[4:])
    with pytest.raises(ValueError, match="length does not match"):
        LatencyHistogram.from_bytes(blob[:-1])
    with pytest.raises(TypeError, match="data must be bytes"):
        LatencyHistogram.from_bytes("text")
    bad_index = bytearray(blob)
    bad_index[72:74] = (65535).to_bytes(2, "little")  # first index far out of range
    with pytest.raises(ValueError, match="bucket indices"):
        LatencyHistogram.from_bytes(bytes(bad_index))


def test_from_dict_rejects_malformed_input():
    d = LatencyHistogram().to_dict()
    with pytest.raises(ValueError, match="missing keys"):
        LatencyHistogram.from_dict({k: v for k, v in d.items() if k != "index"})
    with pytest.raises(ValueError, match="unsupported histogram format"):
        LatencyHistogram.from_dict({**d, "format": 99})
    with pytest.raises(ValueError, match="power of two"):
        LatencyHistogram.from_dict({**d, "sub_buckets": 3})
    with pytest.raises(ValueError, match="same length"):
        LatencyHistogram.from_dict({**d, "index": [1, 2], "counts": [1]})
    with pytest.raises(ValueError, match="non-negative"):
        LatencyHistogram.from_dict({**d, "index": [1], "counts": [-4]})
    with pytest.raises(ValueError, match="increasing"):
        LatencyHistogram.from_dict({**d, "index": [2, 1], "counts": [1, 1]})
    with pytest.raises(ValueError, match="lists of ints"):
        LatencyHistogram.from_dict({**d, "index": ["a"], "counts": [1]})
    with pytest.raises(TypeError, match="data must be a dict"):
        LatencyHistogram.from_dict([])


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"lowest": 0.0}, ValueError, "lowest must be a finite number"),
        ({"lowest": -1.0}, ValueError, "lowest must be a finite number"),
        ({"lowest": math.nan}, ValueError, "lowest must be a finite number"),
        ({"highest": 1e-7}, ValueError, "highest must be finite and > lowest"),
        ({"highest": math.inf}, ValueError, "highest must be finite and > lowest"),
        ({"rel_error": 0.0}, ValueError, "rel_error must be in"),
        ({"rel_error": 0.6}, ValueError, "rel_error must be in"),
        ({"rel_error": "1%"}, TypeError, "rel_error must be a real number"),
        ({"lowest": 1e-300, "highest": 1e300, "rel_error": 1e-6}, ValueError, "buckets needed"),
    ],
)
def test_bad_parameters(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        LatencyHistogram(**kwargs)


def test_bad_percentile_arguments():
    h = LatencyHistogram()
    with pytest.raises(ValueError, match=r"p must be in \[0, 100\]"):
        h.percentile(101)
    with pytest.raises(TypeError, match="p must be a real number"):
        h.percentile("50")
    with pytest.raises(ValueError, match=r"ps must all be in \[0, 100\]"):
        h.percentiles([50, -1])
    with pytest.raises(ValueError, match=r"ps must all be in \[0, 100\]"):
        h.percentiles([math.nan])
    with pytest.raises(TypeError, match="values must be an array"):
        h.record_many(["fast"])


# ---------------------------------------------------------------------------------------------
# numba interop


@numba.njit
def _record_in_numba(counts, params, values):
    for v in values:
        _hist_record(counts, params, v)
    return _hist_percentile(counts, params, 99.0)


def test_usable_from_numba():
    values = np.random.default_rng(3).lognormal(-6, 1, 5000)
    h = LatencyHistogram()
    counts, params = h.arrays
    p99 = _record_in_numba(counts, params, values)
    twin = LatencyHistogram()
    twin.record_many(values)
    assert h == twin  # the live arrays are the histogram's state
    assert p99 == twin.percentile(99) == h.percentile(99)
