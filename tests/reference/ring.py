"""Plain-Python twins of ``kernels.ring`` and ``kernels.bounded``: sorted lists and ``bisect``.

Everything here is written from the documented definitions with Python ints,
``hashlib.md5``, the ``xxhash`` package (the published XXH64) and ``struct``
for float32 rounding; nothing is shared with the kernels.
"""

from __future__ import annotations

import bisect
import hashlib
import math
import struct

import xxhash

MASK64 = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15


def _splitmix_mix(z: int) -> int:
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def mix64(x: int, seed: int) -> int:
    """``kernels.hashing.mix64`` as documented: ``m(x ^ m(seed + golden))``."""
    return _splitmix_mix(x ^ _splitmix_mix((seed + _GOLDEN) & MASK64))


def _f32(x: float) -> float:
    """Round a Python float to the nearest float32 (as C's ``(float)x``)."""
    return struct.unpack("<f", struct.pack("<f", x))[0]


def _key_bytes(key: str | bytes) -> bytes:
    return key.encode("utf-8") if isinstance(key, str) else bytes(key)


def ketama_hash(key: str | bytes) -> int:
    """Little-endian uint32 of ``md5(key)[0:4]``."""
    return int.from_bytes(hashlib.md5(_key_bytes(key)).digest()[:4], "little")


def _digest_points(name: str, k: int) -> list[int]:
    d = hashlib.md5(f"{name}-{k}".encode()).digest()
    return [int.from_bytes(d[4 * h : 4 * h + 4], "little") for h in range(4)]


def libketama_digests(weights: list[int]) -> list[int]:
    """``floorf(pct * 40.0 * (float)n)`` with ``pct = (float)w / (float)total`` per server."""
    n = len(weights)
    total = sum(weights)
    out = []
    for w in weights:
        pct = _f32(_f32(float(w)) / _f32(float(total)))  # float32 division, correctly rounded
        prod = pct * 40.0 * _f32(float(n))  # double arithmetic
        out.append(math.floor(_f32(prod)))  # floorf: converted to float first
    return out


class RefRing:
    """A ring as a sorted list of ``(point, owner)`` with ``bisect`` lookups.

    ``compat=None``: native; ``"libketama"``; ``"uhashring"`` (see ``kernels.ring``).
    """

    def __init__(
        self,
        names: list[str],
        weights: list | None = None,
        compat: str | None = None,
        vnodes: int | None = None,
    ) -> None:
        self.names = list(names)
        self.weights = list(weights) if weights is not None else [1] * len(names)
        self.compat = compat
        self.space = 1 << (64 if compat is None else 32)
        entries: list[tuple[int, int]] = []  # (point, owner) in generation order
        if compat is None:
            vnodes = 160 if vnodes is None else vnodes
            for i in sorted(range(len(names)), key=lambda i: names[i]):
                count = max(1, math.floor(self.weights[i] * vnodes + 0.5))
                base = xxhash.xxh64_intdigest(names[i].encode("utf-8"), 0)
                entries += [(mix64(base, j), i) for j in range(count)]
            entries.sort(key=lambda e: e[0])  # stable: ties stay in name order
        elif compat == "libketama":
            for i, ks in enumerate(libketama_digests(self.weights)):
                entries += [(p, i) for k in range(ks) for p in _digest_points(names[i], k)]
            entries.sort(key=lambda e: e[0])  # stable, as glibc's merge-sort qsort
        elif compat == "uhashring":
            vnodes = 40 if vnodes is None else vnodes
            total = sum(self.weights)
            ring: dict[int, int] = {}
            keys: list[int] = []
            for i, w in enumerate(self.weights):
                for k in range(vnodes * len(names) * w // total):
                    for p in _digest_points(names[i], k):
                        ring[p] = i  # last writer wins, as in uhashring's dict
                        keys.append(p)
            keys.sort()
            entries = [(p, ring[p]) for p in keys]
        else:
            raise ValueError(compat)
        self.points = [p for p, _ in entries]
        self.owners = [o for _, o in entries]

    def hash(self, key: str | bytes) -> int:
        if self.compat is None:
            return xxhash.xxh64_intdigest(_key_bytes(key), 0)
        return ketama_hash(key)

    def position(self, h: int) -> int:
        """Index of the point that owns hash ``h`` (``>= h``, or ``> h`` for uhashring)."""
        if self.compat == "uhashring":
            i = bisect.bisect_right(self.points, h)
        else:
            i = bisect.bisect_left(self.points, h)
        return 0 if i == len(self.points) else i

    def lookup_hash(self, h: int) -> int:
        return self.owners[self.position(h)]

    def get(self, key: str | bytes) -> str:
        return self.names[self.lookup_hash(self.hash(key))]

    def distribution(self) -> list[float]:
        share = [0] * len(self.names)
        pts = self.points
        for i, p in enumerate(pts):
            arc = p - pts[i - 1] if i else self.space - (pts[-1] - pts[0])
            share[self.owners[i]] += arc
        return [s / self.space for s in share]


def capacities(ring: RefRing, m: int, balance: float) -> list[int]:
    """``ceil((c * m * w_i) / W)`` over nodes that own at least one point, else 0."""
    has_points = set(ring.owners)
    w = [float(x) if i in has_points else 0.0 for i, x in enumerate(ring.weights)]
    total = sum(w)
    return [math.ceil((balance * m * wi) / total) if wi > 0 else 0 for wi in w]


def _walk(ring: RefRing, h: int, loads: list[int], caps: list[int]) -> int:
    i = ring.position(h)
    while loads[ring.owners[i]] >= caps[ring.owners[i]]:
        i = (i + 1) % len(ring.points)
    return ring.owners[i]


def assign_bounded(ring: RefRing, hashes: list[int], balance: float) -> list[int]:
    """Keys in order; each walks clockwise from its point past full nodes."""
    caps = capacities(ring, len(hashes), balance)
    loads = [0] * len(ring.names)
    out = []
    for h in hashes:
        o = _walk(ring, h, loads, caps)
        loads[o] += 1
        out.append(o)
    return out


def assign_online(ring: RefRing, hashes: list[int], balance: float) -> list[int]:
    """Online rule: request ``t`` (0-based) sees caps for ``t + 1`` requests."""
    loads = [0] * len(ring.names)
    out = []
    for t, h in enumerate(hashes):
        caps = capacities(ring, t + 1, balance)
        o = _walk(ring, h, loads, caps)
        loads[o] += 1
        out.append(o)
    return out
