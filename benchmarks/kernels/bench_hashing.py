"""Benchmarks for ``kernels.hashing``: batch and single-key hashing against the usual peers.

Run: ``python -c "from benchmarks.kernels.bench_hashing import run;
from benchmarks._harness import print_table; print_table(run())"``
or ``python -m benchmarks.kernels --only hashing``.

Peers, measured in the same run on the same keys:

* ``xxhash.xxh64_intdigest`` (the C xxHash behind the PyPI package) in a Python loop;
* ``hashlib.md5`` in a Python loop (what uhashring does per key);
* a NumPy-vectorised splitmix64 for :func:`kernels.hashing.mix64`.

Python-loop peers run on a sample of the keys (``SAMPLE``) and are reported per key.
Keys look like ``"user:123456"`` (11-12 ASCII bytes), the shape of cache keys.
"""

from __future__ import annotations

import hashlib

import numpy as np

from benchmarks._harness import Row, best_time
from kernels.hashing import (
    hash_keys,
    ketama_hash,
    ketama_hash_keys,
    md5_digests,
    mix64,
    pack_keys,
    xxh64,
)

try:
    import xxhash
except ImportError:  # pragma: no cover - the bench extra installs it
    xxhash = None

__all__ = ["run"]

_M64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def _numpy_mix64(x: np.ndarray, seed: int) -> np.ndarray:
    """The same function as ``mix64`` written with NumPy array operations (the peer)."""
    m = (1 << 64) - 1
    z = (seed + 0x9E3779B97F4A7C15) & m
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & m
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & m
    key = np.uint64(z ^ (z >> 31))
    z = x ^ key
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _per_key(fn, n: int, repeat: int) -> float:
    return best_time(fn, repeat=repeat) * 1e9 / n


def _scalar_ns(fn, key, loops: int, repeat: int) -> float:
    def loop() -> None:
        for _ in range(loops):
            fn(key)

    return best_time(loop, repeat=repeat) * 1e9 / loops


def _row(case: str, impl: str, ns: float, base: tuple[str, float] | None, **kw) -> Row:
    if base is None:
        return Row(case, impl, ns, **kw)
    return Row(case, impl, ns, baseline=base[0], speedup=base[1] / ns, **kw)


def _py_mix64(v: int, seed: int = 0) -> int:
    """``mix64`` of one int in pure Python (the per-request peer)."""
    m = (1 << 64) - 1
    z = (seed + 0x9E3779B97F4A7C15) & m
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & m
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & m
    z = v ^ z ^ (z >> 31)
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & m
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & m
    return z ^ (z >> 31)


def _ketama_py(k: str) -> int:
    return int.from_bytes(hashlib.md5(k.encode()).digest()[:4], "little")


def run(quick: bool = False) -> list[Row]:
    """Measure and return the rows (see the module docstring for what is compared)."""
    n = 100_000 if quick else 1_000_000
    sample_n = 20_000 if quick else 200_000
    repeat = 3 if quick else 5
    loops = 20_000 if quick else 200_000
    keys = [f"user:{100000 + i}" for i in range(n)]
    sample = keys[:sample_n]
    rows: list[Row] = []

    def peer(case: str, impl: str, ns: float, **kw) -> tuple[str, float]:
        """Add a peer's row; return it as the baseline of the rows that follow."""
        rows.append(Row(case, impl, ns, **kw))
        return impl, ns

    def ours(case: str, impl: str, ns: float, base: tuple[str, float] | None, **kw) -> None:
        rows.append(_row(case, impl, ns, base, **kw))

    def batch(fn) -> float:  # ns per key over the whole batch
        return _per_key(fn, n, repeat)

    def sampled(fn) -> float:  # ns per key of a Python loop over the sample
        return _per_key(fn, sample_n, repeat)

    def scalar(fn, key) -> float:  # ns per call, one key at a time
        return _scalar_ns(fn, key, loops, repeat)

    on_sample = f"{sample_n:,}-key sample"

    # --- XXH64 of str keys: pack + hash vs the C xxhash package per key.
    case = f"xxh64 of {n:,} str keys"
    xp = None
    if xxhash is not None:
        xp = peer(
            case,
            "xxhash loop",
            sampled(lambda: [xxhash.xxh64_intdigest(k.encode()) for k in sample]),
            note=on_sample,
        )
    packed = pack_keys(keys)
    arr_u = np.array(keys)
    budget = {"target": "small part of the ring's 80-180 ns/key"}
    for impl, fn, base, note, kw in [
        ("hash_keys(list[str])", lambda: hash_keys(keys), xp, "pack + hash, 1 thread", budget),
        ("hash_keys(PackedKeys)", lambda: hash_keys(packed), xp, "hashing only", {}),
        ("pack_keys(list[str])", lambda: pack_keys(keys), None, "packing only", {}),
        ("hash_keys(ndarray 'U')", lambda: hash_keys(arr_u), xp, "UCS-4 -> UTF-8 in numba", {}),
    ]:
        ours(case, impl, batch(fn), base, note=note, **kw)

    # --- Ketama (MD5) key hashes: numba MD5 vs hashlib per key.
    case = f"ketama hash of {n:,} str keys"
    mp = peer(
        case, "hashlib.md5 loop", sampled(lambda: [_ketama_py(k) for k in sample]), note=on_sample
    )
    for impl, fn, note in [
        ("ketama_hash_keys", lambda: ketama_hash_keys(keys), "pack + 16-lane MD5"),
        ("ketama_hash_keys(Packed)", lambda: ketama_hash_keys(packed), "MD5 only"),
    ]:
        ours(case, impl, batch(fn), mp, note=note)
    case = f"md5 digests of {n:,} str keys"
    dp = peer(
        case,
        "hashlib.md5 loop",
        sampled(lambda: [hashlib.md5(k.encode()).digest() for k in sample]),
        note=on_sample,
    )
    ours(case, "md5_digests", batch(lambda: md5_digests(keys)), dp)

    # --- mix64 over uint64 arrays: numba vs the same function in NumPy.
    case = f"mix64 of {n:,} uint64"
    x = np.arange(n, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    with np.errstate(over="ignore"):
        np_peer = peer(case, "numpy splitmix64", batch(lambda: _numpy_mix64(x, 7)))
    ours(case, "mix64(ndarray)", batch(lambda: mix64(x, 7)), np_peer)

    # --- One key at a time from Python (per-request paths).
    key = "user:123456"
    if xxhash is not None:
        case = "xxh64, one str key"
        sp = peer(
            case,
            "xxhash.xxh64_intdigest",
            scalar(lambda k: xxhash.xxh64_intdigest(k.encode()), key),
            note="C extension",
        )
        ours(case, "xxh64(str)", scalar(xxh64, key), sp)
    case = "ketama hash, one str key"
    hp = peer(case, "hashlib.md5", scalar(_ketama_py, key))
    ours(case, "ketama_hash(str)", scalar(ketama_hash, key), hp)
    case = "mix64, one int"
    pp = peer(case, "pure-Python splitmix64", scalar(_py_mix64, 123456789))
    ours(case, "mix64(int)", scalar(mix64, 123456789), pp)
    return rows


if __name__ == "__main__":  # pragma: no cover
    from benchmarks._harness import print_table

    print_table(run(), title="hashing")
