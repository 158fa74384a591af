"""Numba cores for XXH64 and the 64-bit integer mixers (private; see ``kernels.hashing``).

Everything here assumes valid input (the public wrappers in :mod:`kernels.hashing`
check types, dtypes and offsets).  All arithmetic is on ``uint64`` with wrap-around:
every constant and shift amount is a module-level ``np.uint64`` so numba never
promotes a mixed ``uint64``/``int64`` expression to ``float64``.

XXH64 follows the published specification (Yann Collet, "xxHash fast digest
algorithm", doc/xxhash_spec.md, version 0.1.1): four 64-bit lanes over 32-byte
stripes, a merge of the lanes, then 8/4/1-byte tail steps and an avalanche.
"""

from __future__ import annotations

import numpy as np

from ._config import jit

__all__ = [
    "_fmix64",
    "_mix64_array",
    "_mix64_seed_key",
    "_mix64_seeded",
    "_mix64_with_key",
    "_splitmix64_mix",
    "_xxh64_one",
    "_xxh64_packed",
    "_xxh64_spans",
]

# XXH64 primes (from the specification).
_P1 = np.uint64(0x9E3779B185EBCA87)
_P2 = np.uint64(0xC2B2AE3D27D4EB4F)
_P3 = np.uint64(0x165667B19E3779F9)
_P4 = np.uint64(0x85EBCA77C2B2AE63)
_P5 = np.uint64(0x27D4EB2F165667C5)

# MurmurHash3 fmix64 constants (Appleby, MurmurHash3.cpp).
_FM1 = np.uint64(0xFF51AFD7ED558CCD)
_FM2 = np.uint64(0xC4CEB9FE1A85EC53)

# splitmix64 (Steele, Lea & Flood 2014; Stafford's "Mix13" finaliser).
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_SM1 = np.uint64(0xBF58476D1CE4E5B9)
_SM2 = np.uint64(0x94D049BB133111EB)

_U0 = np.uint64(0)
_U1 = np.uint64(1)
_S7 = np.uint64(7)
_S8 = np.uint64(8)
_S11 = np.uint64(11)
_S12 = np.uint64(12)
_S16 = np.uint64(16)
_S18 = np.uint64(18)
_S23 = np.uint64(23)
_S24 = np.uint64(24)
_S27 = np.uint64(27)
_S29 = np.uint64(29)
_S30 = np.uint64(30)
_S31 = np.uint64(31)
_S32 = np.uint64(32)
_S33 = np.uint64(33)
_S64 = np.uint64(64)


@jit
def _rotl(x, r):
    return (x << r) | (x >> (_S64 - r))


@jit
def _read32(data, p):
    # Little-endian, byte by byte: works at any alignment; LLVM merges the loads.
    return (
        np.uint64(data[p])
        | (np.uint64(data[p + 1]) << _S8)
        | (np.uint64(data[p + 2]) << _S16)
        | (np.uint64(data[p + 3]) << _S24)
    )


@jit
def _read64(data, p):
    return _read32(data, p) | (_read32(data, p + 4) << _S32)


@jit
def _round(acc, lane):
    acc = acc + lane * _P2
    acc = _rotl(acc, _S31)
    return acc * _P1


@jit
def _merge(acc, v):
    acc = acc ^ _round(_U0, v)
    return acc * _P1 + _P4


@jit
def _xxh64_one(data, start, stop, seed):
    """XXH64 of ``data[start:stop]`` (``data``: uint8 array or bytes) with ``seed`` (uint64)."""
    seed = np.uint64(seed)
    p = np.int64(start)
    stop = np.int64(stop)
    length = np.uint64(stop - p)
    if stop - p >= 32:
        v1 = seed + _P1 + _P2
        v2 = seed + _P2
        v3 = seed
        v4 = seed - _P1
        limit = stop - 32
        while p <= limit:
            v1 = _round(v1, _read64(data, p))
            v2 = _round(v2, _read64(data, p + 8))
            v3 = _round(v3, _read64(data, p + 16))
            v4 = _round(v4, _read64(data, p + 24))
            p += 32
        h = _rotl(v1, _U1) + _rotl(v2, _S7) + _rotl(v3, _S12) + _rotl(v4, _S18)
        h = _merge(h, v1)
        h = _merge(h, v2)
        h = _merge(h, v3)
        h = _merge(h, v4)
    else:
        h = seed + _P5
    h = h + length
    while p + 8 <= stop:
        h = h ^ _round(_U0, _read64(data, p))
        h = _rotl(h, _S27) * _P1 + _P4
        p += 8
    if p + 4 <= stop:
        h = h ^ (_read32(data, p) * _P1)
        h = _rotl(h, _S23) * _P2 + _P3
        p += 4
    while p < stop:
        h = h ^ (np.uint64(data[p]) * _P5)
        h = _rotl(h, _S11) * _P1
        p += 1
    h = h ^ (h >> _S33)
    h = h * _P2
    h = h ^ (h >> _S29)
    h = h * _P3
    return h ^ (h >> _S32)


@jit
def _xxh64_spans(data, starts, stops, seed):
    """XXH64 of ``data[starts[i]:stops[i]]`` for every ``i``; returns uint64[n]."""
    n = starts.shape[0]
    out = np.empty(n, dtype=np.uint64)
    seed = np.uint64(seed)
    for i in range(n):
        out[i] = _xxh64_one(data, starts[i], stops[i], seed)
    return out


@jit
def _xxh64_packed(data, offsets, seed):
    """XXH64 of every packed key: ``out[i] = XXH64(data[offsets[i]:offsets[i+1]], seed)``.

    ``data``: uint8[total], ``offsets``: int64[n + 1] non-decreasing within ``data``.
    Returns uint64[n].
    """
    return _xxh64_spans(data, offsets[:-1], offsets[1:], seed)


@jit
def _fmix64(x):
    """MurmurHash3's 64-bit finaliser ``fmix64`` (a bijection; note ``_fmix64(0) == 0``)."""
    x = np.uint64(x)
    x = x ^ (x >> _S33)
    x = x * _FM1
    x = x ^ (x >> _S33)
    x = x * _FM2
    return x ^ (x >> _S33)


@jit
def _splitmix64_mix(z):
    """The splitmix64 output function (Stafford's Mix13), a bijection on uint64."""
    z = np.uint64(z)
    z = (z ^ (z >> _S30)) * _SM1
    z = (z ^ (z >> _S27)) * _SM2
    return z ^ (z >> _S31)


@jit
def _mix64_seed_key(seed):
    """The 64-bit key a seed selects: the first splitmix64 output for state ``seed``."""
    return _splitmix64_mix(np.uint64(seed) + _GOLDEN)


@jit
def _mix64_with_key(x, key):
    """``_mix64_seeded`` with the seed's key already computed (hoist it out of loops)."""
    return _splitmix64_mix(np.uint64(x) ^ np.uint64(key))


@jit
def _mix64_seeded(x, seed):
    """The function ``mix64(x, seed)`` applies element-wise (both arguments uint64).

    ``splitmix64_mix(x ^ splitmix64_mix(seed + 0x9E3779B97F4A7C15))``.
    """
    return _splitmix64_mix(np.uint64(x) ^ _mix64_seed_key(seed))


@jit
def _mix64_array(x, seed):
    """Element-wise ``_mix64_seeded`` over a 1-D uint64 array; returns a new uint64 array."""
    key = _mix64_seed_key(seed)
    out = np.empty(x.shape[0], dtype=np.uint64)
    for i in range(x.shape[0]):
        out[i] = _splitmix64_mix(x[i] ^ key)
    return out
