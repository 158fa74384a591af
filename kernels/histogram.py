"""A log-linear latency histogram with bounded relative error (HdrHistogram-style).

Why a histogram?  Keeping every latency to compute p50/p99 costs memory and a
sort; a histogram answers in microseconds from a fixed ~14 kB array, merges
by addition (each worker keeps its own and ships it to the broker), and
serialises to a few kB.

The layout (after Gil Tene's HdrHistogram): the value range is cut into
power-of-two *octaves* ``[2**e, 2**(e+1))``, each split into ``S`` equal
linear *sub-buckets* of width ``2**e / S``, with ``S`` a power of two.  For a
float64 value that is exactly "the exponent and the top ``log2(S)`` mantissa
bits", so the bucket index is one shift of the value's IEEE-754 bit pattern::

    index(v) = (bits(v) >> (52 - log2 S)) - (bits(lowest) >> (52 - log2 S))

No logarithm, no division, no rounding: bucket boundaries are exact binary
fractions of seconds.

Error bound.  A percentile is reported as the *midpoint* of its bucket,
clamped to the recorded ``[min, max]``.  A value ``x`` in ``[2**e, 2**(e+1))``
lies in a bucket of width ``2**e / S <= x / S``, so the midpoint is within
``x / (2 S)`` of it: **the relative error is at most ``1 / (2 S)``** for every
percentile whose exact value lies in ``[lowest, highest]``.  ``S`` is the
smallest power of two with ``1 / (2 S) <= rel_error``; the default
``rel_error=0.01`` gives ``S = 64`` and a bound of ``1/128 = 0.78%``; 1 us to
100 s then takes 1,698 counters (about 13.6 kB).

Percentile definition.  For ``N`` recorded values (overflow included) and
``p`` in ``[0, 100]``, let ``rank = max(1, ceil(p * N / 100))``: the answer
estimates the ``rank``-th smallest value (numpy's ``method="inverted_cdf"``):
the smallest value ``v`` such that at least ``p%`` of values are ``<= v``
(computed as ``p * N / 100``, exact for integer ``p``; numpy multiplies by the
inexact ``p / 100`` and is one rank higher in some cases, e.g. N=100, p=7).
Since buckets are ordered, the bucket where the cumulative count first
reaches ``rank`` is exactly the bucket holding that order statistic.  Ranks 1
and ``N`` (p0 and p100, and any ``p`` that rounds to them) return the exact
``min`` and ``max``, which are tracked.

Out of range.  Values below ``lowest`` (including 0) are counted in the first
bucket; a percentile landing there is clamped into ``[min, ...]`` so it is
still within ``[min, first bucket's midpoint]``, an absolute error below about
``lowest``.  Values above ``highest`` are counted as *overflow*: they count in
``count``, ``mean``, ``max`` exactly, and a percentile landing among them
returns ``max`` (an upper bound, flagged by ``overflow > 0``) rather than a
made-up figure.  NaN, negative and infinite values are errors: ``record``
raises ``ValueError``; ``record_many`` skips them and counts them in
``rejected`` (a batch from a worker should not be lost to one bad timing).

Layout for numba callers: ``counts`` is int64[n_buckets + 2] (buckets, then
overflow, then rejected) and ``params`` is float64[9]: ``lowest, highest, S,
shift, offset, n_buckets`` (fixed) then ``min, max, sum`` (running, updated by
``_hist_record``).  ``LatencyHistogram.arrays`` hands out both, live.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable

import numpy as np

from ._config import jit
from ._validate import check_real, is_int

__all__ = ["LatencyHistogram"]

_P_LOWEST, _P_HIGHEST, _P_S, _P_SHIFT, _P_OFFSET, _P_N, _P_MIN, _P_MAX, _P_SUM = range(9)
_MIN_NORMAL = 2.2250738585072014e-308
_MAX_SUB_BUCKETS = 1 << 20
_MAX_BUCKETS = 1 << 24  # 128 MiB of counters: surely a configuration mistake beyond
_FLUSH = 1024  # record() buffers this many values before one numba call
_FORMAT = 1
_MAGIC = b"KLHG"
_HEADER = struct.Struct("<4sBBBxddIIdddQQ")
_INF = math.inf


# ---------------------------------------------------------------------------------------------
# numba cores


@jit
def _hist_index(value, params):
    """Counter index of ``value`` (float seconds) under ``params`` (float64[9]).

    Returns ``n_buckets + 1`` for a rejected value (NaN, negative, +inf),
    ``n_buckets`` for overflow (``> highest``), 0 below ``lowest``, else the
    log-linear bucket.
    """
    n = np.int64(params[5])
    if not value >= 0.0 or value == np.inf:
        return n + 1
    if value > params[1]:
        return n
    if value < params[0]:
        return np.int64(0)
    bits = np.float64(value).view(np.uint64)
    return np.int64((bits >> np.uint64(params[3])) - np.uint64(params[4]))


@jit
def _hist_record(counts, params, value):
    """Record one value: bump its counter and the running min/max/sum.

    ``counts`` int64[n_buckets + 2], ``params`` float64[9].  Returns False
    (and counts it as rejected) for NaN, negative or infinite values.
    """
    i = _hist_index(value, params)
    counts[i] += 1
    if i > np.int64(params[5]):
        return False
    v = value + 0.0  # -0.0 -> 0.0
    if v < params[6]:
        params[6] = v
    if v > params[7]:
        params[7] = v
    params[8] += v
    return True


@jit
def _hist_record_many(counts, params, values):
    """Record ``values`` (float64[m]); returns how many were rejected.

    The same result as ``m`` calls of :func:`_hist_record` in order (the sum
    is accumulated in the same order), with the running statistics kept in
    registers.
    """
    n = np.int64(params[5])
    lowest = params[0]
    highest = params[1]
    shift = np.uint64(params[3])
    offset = np.uint64(params[4])
    lo = params[6]
    hi = params[7]
    total = params[8]
    rejected = 0
    for t in range(values.shape[0]):
        v = values[t]
        if not v >= 0.0 or v == np.inf:
            rejected += 1
            continue
        v = v + 0.0
        if v < lo:
            lo = v
        if v > hi:
            hi = v
        total += v
        if v > highest:
            counts[n] += 1
        elif v < lowest:
            counts[0] += 1
        else:
            counts[np.int64((np.float64(v).view(np.uint64) >> shift) - offset)] += 1
    counts[n + 1] += rejected
    params[6] = lo
    params[7] = hi
    params[8] = total
    return rejected


@jit
def _hist_bucket_mid(i, params):
    """Midpoint (float seconds) of bucket ``i``: exact, both bounds are short binary fractions."""
    shift = np.uint64(params[3])
    b = np.uint64(i) + np.uint64(params[4])
    lower = np.uint64(b << shift).view(np.float64)
    upper = np.uint64((b + np.uint64(1)) << shift).view(np.float64)
    return 0.5 * (lower + upper)


@jit
def _hist_total(counts, params):
    """Values recorded: the buckets plus the overflow (rejected ones excluded)."""
    total = np.int64(0)
    for i in range(np.int64(params[5]) + 1):
        total += counts[i]
    return total


@jit
def _hist_estimate(i, params):
    """Bucket ``i``'s midpoint clamped to the recorded ``[min, max]``."""
    v = _hist_bucket_mid(i, params)
    if v < params[6]:
        v = params[6]
    if v > params[7]:
        v = params[7]
    return v


@jit
def _hist_percentile(counts, params, p):
    """The ``p``-th percentile (``p`` in [0, 100]) as defined in the module docstring.

    NaN when nothing was recorded; ``max`` when the rank falls in the overflow.
    """
    total = _hist_total(counts, params)
    if total == 0:
        return np.nan
    rank = np.int64(math.ceil(p * total / 100.0))
    if rank <= 1:
        return params[6]  # the smallest value is known exactly
    if rank >= total:
        return params[7]  # and so is the largest
    cum = np.int64(0)
    for i in range(np.int64(params[5])):
        cum += counts[i]
        if cum >= rank:
            return _hist_estimate(i, params)
    return params[7]


@jit
def _hist_percentiles(counts, params, ps, out):
    """Fill ``out`` (float64[k]) with the percentiles ``ps`` (float64[k], any order).

    One walk over the buckets for all of them (ranks visited in increasing
    order); each answer equals :func:`_hist_percentile`'s.
    """
    total = _hist_total(counts, params)
    if total == 0:
        out[:] = np.nan
        return
    n = np.int64(params[5])
    i = np.int64(0)
    cum = np.int64(0)  # sum of counts[:i]
    for t in np.argsort(ps, kind="mergesort"):
        rank = np.int64(math.ceil(ps[t] * total / 100.0))
        if rank <= 1:
            out[t] = params[6]
        elif rank >= total:
            out[t] = params[7]
        else:
            while i < n and cum + counts[i] < rank:
                cum += counts[i]
                i += 1
            out[t] = params[7] if i == n else _hist_estimate(i, params)


@jit
def _hist_merge(counts, params, other_counts, other_params):
    """Add ``other`` into ``counts``/``params`` (same fixed parameters assumed)."""
    for i in range(counts.shape[0]):
        counts[i] += other_counts[i]
    if other_params[6] < params[6]:
        params[6] = other_params[6]
    if other_params[7] > params[7]:
        params[7] = other_params[7]
    params[8] += other_params[8]


# ---------------------------------------------------------------------------------------------
# Python API


def _sub_buckets_for(rel_error: float) -> int:
    s = 1
    while 0.5 / s > rel_error:
        s *= 2
    return s


def _bits(x: float) -> int:
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def _params_for(lowest: float, highest: float, sub_buckets: int) -> np.ndarray:
    shift = 52 - (sub_buckets.bit_length() - 1)
    offset = _bits(lowest) >> shift
    n = (_bits(highest) >> shift) - offset + 1
    if n > _MAX_BUCKETS:
        raise ValueError(
            f"{n} buckets needed for [{lowest}, {highest}] at this rel_error; "
            f"at most {_MAX_BUCKETS} are supported (raise rel_error or narrow the range)"
        )
    return np.array(
        [lowest, highest, sub_buckets, shift, offset, n, _INF, -_INF, 0.0], dtype=np.float64
    )


class LatencyHistogram:
    """Latency histogram with relative error at most ``1 / (2 S)`` (see the module docstring).

    Parameters
    ----------
    lowest : float
        Smallest value (seconds) measured with full relative precision;
        smaller values, 0 included, fall in the first bucket.  > 0.
    highest : float
        Largest value tracked in buckets; larger ones count as overflow.
    rel_error : float
        Wanted bound on the relative error of a percentile, in
        ``[2**-21, 0.5]``; the bound achieved, ``rel_error_bound``, is the
        largest ``1 / (2 S)`` (``S`` a power of two) not above it.

    Notes
    -----
    Values are float seconds; buckets are exact binary fractions of a second.
    ``record()`` validates at once but buffers up to 1,024 values before one
    numba call (every reader flushes first), which makes it cheap from
    Python.  Not thread-safe: keep one histogram per thread (or worker) and
    :meth:`merge`.

    Examples
    --------
    >>> h = LatencyHistogram()
    >>> h.record_many(np.array([0.001, 0.002, 0.003, 0.004]))
    0
    >>> round(h.percentile(50), 5)
    0.002
    """

    __slots__ = ("__weakref__", "_counts", "_params", "_pending")

    def __init__(
        self, lowest: float = 1e-6, highest: float = 100.0, rel_error: float = 0.01
    ) -> None:
        lowest = check_real(lowest, "lowest")
        highest = check_real(highest, "highest")
        rel_error = check_real(rel_error, "rel_error")
        if not (math.isfinite(lowest) and lowest >= _MIN_NORMAL):
            raise ValueError(f"lowest must be a finite number >= {_MIN_NORMAL}, got {lowest}")
        if not (math.isfinite(highest) and highest > lowest):
            raise ValueError(f"highest must be finite and > lowest ({lowest}), got {highest}")
        if not 0.5 / _MAX_SUB_BUCKETS <= rel_error <= 0.5:
            raise ValueError(f"rel_error must be in [2**-21, 0.5], got {rel_error}")
        self._params = _params_for(lowest, highest, _sub_buckets_for(rel_error))
        self._counts = np.zeros(int(self._params[_P_N]) + 2, dtype=np.int64)
        self._pending: list[float] = []

    # -- recording ---------------------------------------------------------------------------

    def record(self, value: float) -> None:
        """Record one latency (seconds).  Raises ValueError for NaN, negative or infinite."""
        if type(value) is not float:
            value = check_real(value, "value")
        if not 0.0 <= value < _INF:
            raise ValueError(f"value must be a finite latency >= 0, got {value}")
        pending = self._pending
        pending.append(value)
        if len(pending) >= _FLUSH:
            self._flush()

    def record_many(self, values: Iterable[float] | np.ndarray) -> int:
        """Record an array of latencies (any shape, flattened); returns how many were rejected.

        NaN, negative and infinite values are skipped and counted in
        :attr:`rejected`; everything else is recorded.
        """
        try:
            arr = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise TypeError("values must be an array or sequence of real numbers") from exc
        self._flush()
        return int(_hist_record_many(self._counts, self._params, arr.reshape(-1)))

    def _flush(self) -> None:
        if self._pending:
            values = np.array(self._pending, dtype=np.float64)
            self._pending = []
            _hist_record_many(self._counts, self._params, values)

    def merge(self, other: LatencyHistogram) -> LatencyHistogram:
        """Add ``other``'s values into this histogram (in place); returns ``self``.

        Raises ValueError unless both have the same ``lowest``, ``highest``
        and sub-bucket count: merging differently cut buckets would be wrong.
        """
        if not isinstance(other, LatencyHistogram):
            raise TypeError(f"other must be a LatencyHistogram, not {type(other).__name__}")
        if not np.array_equal(self._params[:_P_MIN], other._params[:_P_MIN]):
            raise ValueError(
                "cannot merge histograms with different parameters: "
                f"{self._describe()} vs {other._describe()}"
            )
        self._flush()
        other._flush()
        _hist_merge(self._counts, self._params, other._counts, other._params)
        return self

    def reset(self) -> None:
        """Forget every value (parameters kept)."""
        self._pending = []
        self._counts[:] = 0
        self._params[_P_MIN] = _INF
        self._params[_P_MAX] = -_INF
        self._params[_P_SUM] = 0.0

    def copy(self) -> LatencyHistogram:
        """An independent copy."""
        self._flush()
        new = object.__new__(LatencyHistogram)
        new._params = self._params.copy()
        new._counts = self._counts.copy()
        new._pending = []
        return new

    # -- queries -----------------------------------------------------------------------------

    def percentile(self, p: float) -> float:
        """The ``p``-th percentile in seconds, ``p`` in [0, 100]; NaN if empty."""
        p = check_real(p, "p")
        if not 0.0 <= p <= 100.0:
            raise ValueError(f"p must be in [0, 100], got {p}")
        self._flush()
        return float(_hist_percentile(self._counts, self._params, p))

    def percentiles(self, ps: Iterable[float] = (50, 90, 99)) -> np.ndarray:
        """Several percentiles at once, float64[k]; NaN entries if empty."""
        try:
            arr = np.ascontiguousarray(ps, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError) as exc:
            raise TypeError("ps must be a sequence of numbers") from exc
        if not ((arr >= 0.0) & (arr <= 100.0)).all():
            raise ValueError("ps must all be in [0, 100]")
        self._flush()
        out = np.empty(arr.shape[0], dtype=np.float64)
        _hist_percentiles(self._counts, self._params, arr, out)
        return out

    @property
    def count(self) -> int:
        """Number of values recorded (overflow included, rejected excluded)."""
        self._flush()
        return int(self._counts[:-1].sum())

    @property
    def overflow(self) -> int:
        """Number of values above ``highest``."""
        self._flush()
        return int(self._counts[-2])

    @property
    def rejected(self) -> int:
        """Number of NaN, negative or infinite values skipped by ``record_many``."""
        self._flush()
        return int(self._counts[-1])

    @property
    def min(self) -> float:
        """Smallest value recorded (exact), NaN if empty."""
        self._flush()
        return float(self._params[_P_MIN]) if self._counts[:-1].any() else math.nan

    @property
    def max(self) -> float:
        """Largest value recorded (exact, overflow included), NaN if empty."""
        self._flush()
        return float(self._params[_P_MAX]) if self._counts[:-1].any() else math.nan

    @property
    def sum(self) -> float:
        """Sum of the values recorded (seconds)."""
        self._flush()
        return float(self._params[_P_SUM])

    @property
    def mean(self) -> float:
        """Exact mean of the values recorded, NaN if empty."""
        n = self.count
        return float(self._params[_P_SUM]) / n if n else math.nan

    @property
    def counts(self) -> np.ndarray:
        """Per-bucket counts, a read-only view, int64[n_buckets] (overflow/rejected excluded)."""
        self._flush()
        view = self._counts[:-2].view()
        view.flags.writeable = False
        return view

    @property
    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """The live ``(counts, params)`` arrays for the ``_hist_*`` numba cores (see module doc)."""
        self._flush()
        return self._counts, self._params

    def bucket_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper bound of every bucket, float64[n_buckets] each (seconds)."""
        shift = np.uint64(self._params[_P_SHIFT])
        idx = np.arange(self.n_buckets + 1, dtype=np.uint64) + np.uint64(self._params[_P_OFFSET])
        edges = (idx << shift).view(np.float64)
        return edges[:-1].copy(), edges[1:].copy()

    @property
    def lowest(self) -> float:
        """Lower end of the precise range (seconds)."""
        return float(self._params[_P_LOWEST])

    @property
    def highest(self) -> float:
        """Upper end of the bucketed range (seconds)."""
        return float(self._params[_P_HIGHEST])

    @property
    def sub_bucket_count(self) -> int:
        """``S``, linear sub-buckets per power-of-two octave."""
        return int(self._params[_P_S])

    @property
    def rel_error_bound(self) -> float:
        """The guaranteed relative error of in-range percentiles, ``1 / (2 S)``."""
        return 0.5 / self._params[_P_S]

    @property
    def n_buckets(self) -> int:
        """Number of bucket counters (overflow and rejected not included)."""
        return int(self._params[_P_N])

    # -- serialisation -------------------------------------------------------------------------

    def to_dict(self) -> dict:
        """Sparse, msgpack/JSON-friendly form: parameters, statistics, non-zero buckets."""
        self._flush()
        buckets = self._counts[:-2]
        nz = np.flatnonzero(buckets)
        p = self._params
        return {
            "format": _FORMAT,
            "lowest": float(p[_P_LOWEST]),
            "highest": float(p[_P_HIGHEST]),
            "sub_buckets": int(p[_P_S]),
            "min": float(p[_P_MIN]),
            "max": float(p[_P_MAX]),
            "sum": float(p[_P_SUM]),
            "overflow": int(self._counts[-2]),
            "rejected": int(self._counts[-1]),
            "index": nz.tolist(),
            "counts": buckets[nz].tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict) -> LatencyHistogram:
        """Rebuild from :meth:`to_dict` output; ValueError/TypeError on malformed input."""
        if not isinstance(data, dict):
            raise TypeError(f"data must be a dict, not {type(data).__name__}")
        missing = {
            "format", "lowest", "highest", "sub_buckets", "min", "max", "sum",
            "overflow", "rejected", "index", "counts",
        } - data.keys()  # fmt: skip
        if missing:
            raise ValueError(f"data is missing keys: {sorted(missing)}")
        if data["format"] != _FORMAT:
            raise ValueError(f"unsupported histogram format {data['format']!r}")
        try:
            index = np.asarray(data["index"], dtype=np.int64).reshape(-1)
            counts = np.asarray(data["counts"], dtype=np.int64).reshape(-1)
        except (TypeError, ValueError, OverflowError) as exc:
            raise ValueError("data['index'] and data['counts'] must be lists of ints") from exc
        return cls._build(
            data["lowest"], data["highest"], data["sub_buckets"],
            (data["min"], data["max"], data["sum"]),
            data["overflow"], data["rejected"], index, counts,
        )  # fmt: skip

    def to_bytes(self) -> bytes:
        """Compact binary form (header + sparse buckets, narrowest integer widths).

        About 3-6 bytes per non-zero bucket plus a 72-byte header; the default
        histogram holding a few decades of latencies ships in 1-4 kB.
        """
        self._flush()
        buckets = self._counts[:-2]
        nz = np.flatnonzero(buckets)
        vals = buckets[nz]
        iw = 2 if self.n_buckets <= 1 << 16 else 4
        top = int(vals.max()) if vals.size else 0
        cw = 1 if top < 1 << 8 else 2 if top < 1 << 16 else 4 if top < 1 << 32 else 8
        p = self._params
        header = _HEADER.pack(
            _MAGIC, _FORMAT, iw, cw,
            float(p[_P_LOWEST]), float(p[_P_HIGHEST]), int(p[_P_S]), int(nz.size),
            float(p[_P_MIN]), float(p[_P_MAX]), float(p[_P_SUM]),
            int(self._counts[-2]), int(self._counts[-1]),
        )  # fmt: skip
        return header + nz.astype(f"<u{iw}").tobytes() + vals.astype(f"<u{cw}").tobytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> LatencyHistogram:
        """Rebuild from :meth:`to_bytes` output; ValueError on malformed input."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"data must be bytes, not {type(data).__name__}")
        data = bytes(data)
        if len(data) < _HEADER.size:
            raise ValueError("data is too short for a histogram header")
        (magic, fmt, iw, cw, lowest, highest, s, nnz, lo, hi, total, overflow, rejected) = (
            _HEADER.unpack_from(data)
        )
        if magic != _MAGIC:
            raise ValueError("data is not a serialised LatencyHistogram (bad magic)")
        if fmt != _FORMAT:
            raise ValueError(f"unsupported histogram format {fmt}")
        if iw not in (2, 4) or cw not in (1, 2, 4, 8):
            raise ValueError("data has invalid integer widths")
        if len(data) != _HEADER.size + nnz * (iw + cw):
            raise ValueError("data length does not match its bucket count")
        start = _HEADER.size
        index = np.frombuffer(data, dtype=f"<u{iw}", count=nnz, offset=start).astype(np.int64)
        raw = np.frombuffer(data, dtype=f"<u{cw}", count=nnz, offset=start + nnz * iw)
        if cw == 8 and raw.size and int(raw.max()) >= 1 << 63:
            raise ValueError("data holds a bucket count beyond int64")
        return cls._build(
            lowest, highest, s, (lo, hi, total), overflow, rejected, index, raw.astype(np.int64)
        )

    @classmethod
    def _build(cls, lowest, highest, s, stats, overflow, rejected, index, counts):
        if not is_int(s):
            raise ValueError("sub_buckets must be an int")
        s = int(s)
        if not (1 <= s <= _MAX_SUB_BUCKETS and s & (s - 1) == 0):
            raise ValueError(f"sub_buckets must be a power of two <= 2**20, got {s}")
        h = cls(lowest, highest, 0.5 / s)
        if h.sub_bucket_count != s:  # pragma: no cover - 0.5 / s maps back to s exactly
            raise ValueError("inconsistent sub_buckets")
        if index.shape != counts.shape:
            raise ValueError("index and counts must have the same length")
        if index.size and (index[0] < 0 or index[-1] >= h.n_buckets or (np.diff(index) <= 0).any()):
            raise ValueError("bucket indices must be increasing and within range")
        if (counts < 0).any():
            raise ValueError("bucket counts must be non-negative")
        for name, v in (("overflow", overflow), ("rejected", rejected)):
            if not is_int(v) or not 0 <= v < 1 << 63:
                raise ValueError(f"{name} must be a non-negative int64")
        try:
            lo, hi, total = (float(x) for x in stats)
        except (TypeError, ValueError) as exc:
            raise ValueError("min, max and sum must be numbers") from exc
        h._counts[index] = counts
        h._counts[-2] = overflow
        h._counts[-1] = rejected
        h._params[_P_MIN] = lo
        h._params[_P_MAX] = hi
        h._params[_P_SUM] = total
        return h

    # -- dunder --------------------------------------------------------------------------------

    def _describe(self) -> str:
        return (
            f"lowest={self.lowest!r}, highest={self.highest!r}, "
            f"sub_bucket_count={self.sub_bucket_count}"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LatencyHistogram):
            return NotImplemented
        self._flush()
        other._flush()
        return bool(
            np.array_equal(self._params, other._params)
            and np.array_equal(self._counts, other._counts)
        )

    __hash__ = None  # mutable

    def __repr__(self) -> str:
        n = self.count
        if not n:
            return f"LatencyHistogram({self._describe()}, count=0)"
        p50, p99 = self.percentiles([50, 99])
        return (
            f"LatencyHistogram(count={n}, p50={p50:.6g}, p99={p99:.6g}, "
            f"max={self.max:.6g}, overflow={self.overflow})"
        )
