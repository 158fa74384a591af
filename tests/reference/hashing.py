"""Plain-Python twins of ``kernels.hashing``: slow, short and obviously correct.

XXH64 is transcribed from the published specification (doc/xxhash_spec.md); MD5
comes from ``hashlib``; the mixers are written with Python ints masked to 64 bits.
"""

from __future__ import annotations

import hashlib

M64 = (1 << 64) - 1

P1 = 0x9E3779B185EBCA87
P2 = 0xC2B2AE3D27D4EB4F
P3 = 0x165667B19E3779F9
P4 = 0x85EBCA77C2B2AE63
P5 = 0x27D4EB2F165667C5


def _rotl(x: int, r: int) -> int:
    return ((x << r) | (x >> (64 - r))) & M64


def _round(acc: int, lane: int) -> int:
    return (_rotl((acc + lane * P2) & M64, 31) * P1) & M64


def _merge(acc: int, v: int) -> int:
    return ((acc ^ _round(0, v)) * P1 + P4) & M64


def xxh64(data: bytes, seed: int = 0) -> int:
    """XXH64 of ``data`` (bytes) with ``seed`` (taken mod 2**64), per the specification."""
    seed &= M64
    n = len(data)
    p = 0
    if n >= 32:
        v = [(seed + P1 + P2) & M64, (seed + P2) & M64, seed, (seed - P1) & M64]
        while p + 32 <= n:
            for lane in range(4):
                word = int.from_bytes(data[p + 8 * lane : p + 8 * lane + 8], "little")
                v[lane] = _round(v[lane], word)
            p += 32
        h = (_rotl(v[0], 1) + _rotl(v[1], 7) + _rotl(v[2], 12) + _rotl(v[3], 18)) & M64
        for lane in range(4):
            h = _merge(h, v[lane])
    else:
        h = (seed + P5) & M64
    h = (h + n) & M64
    while p + 8 <= n:
        h ^= _round(0, int.from_bytes(data[p : p + 8], "little"))
        h = (_rotl(h, 27) * P1 + P4) & M64
        p += 8
    if p + 4 <= n:
        h ^= (int.from_bytes(data[p : p + 4], "little") * P1) & M64
        h = (_rotl(h, 23) * P2 + P3) & M64
        p += 4
    while p < n:
        h ^= (data[p] * P5) & M64
        h = (_rotl(h, 11) * P1) & M64
        p += 1
    h ^= h >> 33
    h = (h * P2) & M64
    h ^= h >> 29
    h = (h * P3) & M64
    return h ^ (h >> 32)


def fmix64(x: int) -> int:
    """MurmurHash3 ``fmix64``."""
    x &= M64
    x ^= x >> 33
    x = (x * 0xFF51AFD7ED558CCD) & M64
    x ^= x >> 33
    x = (x * 0xC4CEB9FE1A85EC53) & M64
    return x ^ (x >> 33)


def splitmix64_mix(z: int) -> int:
    """splitmix64's output function (Stafford Mix13)."""
    z &= M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def mix64(x: int, seed: int = 0) -> int:
    """``mix64`` as documented: ``m(x ^ m(seed + golden))`` with ``m`` = splitmix64_mix."""
    key = splitmix64_mix((seed + 0x9E3779B97F4A7C15) & M64)
    return splitmix64_mix((x & M64) ^ key)


def key_bytes(key: str | bytes) -> bytes:
    """How the kernels see one key: str as UTF-8, bytes unchanged."""
    return key.encode("utf-8") if isinstance(key, str) else bytes(key)


def ketama_hash(key: str | bytes) -> int:
    """libketama's key hash: little-endian uint32 of ``md5(key)[0:4]``."""
    return int.from_bytes(hashlib.md5(key_bytes(key)).digest()[:4], "little")


def md5_digest(key: str | bytes) -> bytes:
    return hashlib.md5(key_bytes(key)).digest()


def pack(keys: list[str | bytes]) -> tuple[bytes, list[int]]:
    """Packed form: the concatenated UTF-8/bytes and the n + 1 offsets."""
    parts = [key_bytes(k) for k in keys]
    offsets = [0]
    for part in parts:
        offsets.append(offsets[-1] + len(part))
    return b"".join(parts), offsets
