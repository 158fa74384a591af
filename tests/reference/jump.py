"""Plain-Python twin of ``kernels.jump``: the paper's loop, written with Python ints and floats."""

from __future__ import annotations

_MASK64 = (1 << 64) - 1


def jump_hash(key: int, n: int) -> int:
    """Lamping & Veach's jump consistent hash of a uint64 ``key`` into ``n`` buckets."""
    b, j = -1, 0
    while j < n:
        b = j
        key = (key * 2862933555777941757 + 1) & _MASK64
        j = int((b + 1) * (float(1 << 31) / float((key >> 33) + 1)))
    return b
