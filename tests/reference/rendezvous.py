"""Plain-Python twin of ``kernels.rendezvous``: score every node, sort, no pruning.

XXH64 comes from the ``xxhash`` package and splitmix64 is written out below,
so this twin shares no code with the kernels.
"""

from __future__ import annotations

import math

import xxhash

_MASK64 = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15


def splitmix64_mix(z: int) -> int:
    """splitmix64's output function (Stafford's Mix13)."""
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


def mix64(x: int, seed: int) -> int:
    """``kernels.hashing.mix64(x, seed)``: ``m(x ^ m(seed + golden))``."""
    return splitmix64_mix(x ^ splitmix64_mix((seed + _GOLDEN) & _MASK64))


def node_hash(name: str) -> int:
    return xxhash.xxh64_intdigest(name.encode("utf-8"), seed=0)


def key_hash(key: str | bytes) -> int:
    if isinstance(key, str):
        key = key.encode("utf-8")
    return xxhash.xxh64_intdigest(key, seed=0)


def score(key_h: int, node_h: int, weight: float) -> float:
    """``-w / ln(u)`` with ``u = ((h >> 12) + 0.5) / 2**52``, ``h = mix64(key, node)``."""
    h = mix64(key_h, node_h)
    u = ((h >> 12) + 0.5) / 2.0**52
    return -float(weight) / math.log(u)


def ranking(names: list[str], weights: list[float] | None, key_h: int) -> list[int]:
    """All node indices, best first; equal scores: lower index first."""
    if weights is None:
        weights = [1.0] * len(names)
    scores = [score(key_h, node_hash(n), w) for n, w in zip(names, weights, strict=True)]
    return sorted(range(len(names)), key=lambda i: (-scores[i], i))


def best(names: list[str], weights: list[float] | None, key_h: int) -> int:
    return ranking(names, weights, key_h)[0]
