"""Plain-Python twin of ``kernels.histogram``: log-linear buckets from the IEEE-754 bit pattern.

Bucket of ``v``: exponent and top ``log2(S)`` mantissa bits of ``v`` minus those
of ``lowest``; a percentile is the midpoint of the bucket holding the exact
order statistic, clamped to ``[min, max]``, or ``max`` past ``highest``.
"""

from __future__ import annotations

import math
import struct


def bits(x: float) -> int:
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def from_bits(b: int) -> float:
    return struct.unpack("<d", struct.pack("<Q", b))[0]


class RefHistogram:
    def __init__(self, lowest: float, highest: float, sub_buckets: int) -> None:
        self.lowest, self.highest, self.s = lowest, highest, sub_buckets
        self.shift = 52 - int(math.log2(sub_buckets))
        self.offset = bits(lowest) >> self.shift
        self.n = (bits(highest) >> self.shift) - self.offset + 1
        self.counts = [0] * self.n
        self.overflow = 0
        self.rejected = 0
        self.values: list[float] = []  # every accepted value, for exact statistics

    def index(self, v: float) -> int:
        """Counter index: n + 1 rejected, n overflow, 0 below lowest, else the bucket."""
        if math.isnan(v) or v < 0 or math.isinf(v):
            return self.n + 1
        if v > self.highest:
            return self.n
        if v < self.lowest:
            return 0
        return (bits(v) >> self.shift) - self.offset

    def record(self, v: float) -> None:
        i = self.index(v)
        if i == self.n + 1:
            self.rejected += 1
            return
        self.values.append(v + 0.0)
        if i == self.n:
            self.overflow += 1
        else:
            self.counts[i] += 1

    def bucket_mid(self, i: int) -> float:
        b = i + self.offset
        return 0.5 * (from_bits(b << self.shift) + from_bits((b + 1) << self.shift))

    def rank(self, p: float) -> int:
        return min(max(1, math.ceil(p * len(self.values) / 100.0)), len(self.values))

    def order_statistic(self, p: float) -> float:
        """The exact ``rank``-th smallest value, ``rank = max(1, ceil(p * N / 100))``."""
        return sorted(self.values)[self.rank(p) - 1]

    def percentile(self, p: float) -> float:
        if not self.values:
            return math.nan
        x = self.order_statistic(p)
        if self.rank(p) in (1, len(self.values)):
            return x  # ranks 1 and N: the exact extremes
        if x > self.highest:
            return max(self.values)
        mid = self.bucket_mid(self.index(x))
        return min(max(mid, min(self.values)), max(self.values))
