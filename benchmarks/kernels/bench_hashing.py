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


def run(quick: bool = False) -> list[Row]:
    """Measure and return the rows (see the module docstring for what is compared)."""
    n = 100_000 if quick else 1_000_000
    sample_n = 20_000 if quick else 200_000
    repeat = 3 if quick else 5
    keys = [f"user:{100000 + i}" for i in range(n)]
    sample = keys[:sample_n]
    rows: list[Row] = []

    # --- XXH64 of str keys: pack + hash vs the C xxhash package per key.
    budget = "small part of the ring's 80-180 ns/key"
    if xxhash is not None:
        peer = (
            "xxhash loop",
            _per_key(
                lambda: [xxhash.xxh64_intdigest(k.encode()) for k in sample], sample_n, repeat
            ),
        )
        rows.append(
            Row(f"xxh64 of {n:,} str keys", peer[0], peer[1], note=f"{sample_n:,}-key sample")
        )
    else:
        peer = None
    packed = pack_keys(keys)
    rows.append(
        _row(
            f"xxh64 of {n:,} str keys",
            "hash_keys(list[str])",
            _per_key(lambda: hash_keys(keys), n, repeat),
            peer,
            target=budget,
            note="pack + hash, 1 thread",
        )
    )
    rows.append(
        _row(
            f"xxh64 of {n:,} str keys",
            "hash_keys(PackedKeys)",
            _per_key(lambda: hash_keys(packed), n, repeat),
            peer,
            note="hashing only",
        )
    )
    rows.append(
        _row(
            f"xxh64 of {n:,} str keys",
            "pack_keys(list[str])",
            _per_key(lambda: pack_keys(keys), n, repeat),
            None,
            note="packing only",
        )
    )
    arr_u = np.array(keys)
    rows.append(
        _row(
            f"xxh64 of {n:,} str keys",
            "hash_keys(ndarray 'U')",
            _per_key(lambda: hash_keys(arr_u), n, repeat),
            peer,
            note="UCS-4 -> UTF-8 in numba",
        )
    )

    # --- Ketama (MD5) key hashes: numba MD5 vs hashlib per key.
    md5_peer = (
        "hashlib.md5 loop",
        _per_key(
            lambda: [
                int.from_bytes(hashlib.md5(k.encode()).digest()[:4], "little") for k in sample
            ],
            sample_n,
            repeat,
        ),
    )
    rows.append(
        Row(
            f"ketama hash of {n:,} str keys",
            md5_peer[0],
            md5_peer[1],
            note=f"{sample_n:,}-key sample",
        )
    )
    rows.append(
        _row(
            f"ketama hash of {n:,} str keys",
            "ketama_hash_keys",
            _per_key(lambda: ketama_hash_keys(keys), n, repeat),
            md5_peer,
            note="pack + 16-lane MD5",
        )
    )
    rows.append(
        _row(
            f"ketama hash of {n:,} str keys",
            "ketama_hash_keys(Packed)",
            _per_key(lambda: ketama_hash_keys(packed), n, repeat),
            md5_peer,
            note="MD5 only",
        )
    )
    dig_peer = (
        "hashlib.md5 loop",
        _per_key(lambda: [hashlib.md5(k.encode()).digest() for k in sample], sample_n, repeat),
    )
    rows.append(
        Row(
            f"md5 digests of {n:,} str keys",
            dig_peer[0],
            dig_peer[1],
            note=f"{sample_n:,}-key sample",
        )
    )
    rows.append(
        _row(
            f"md5 digests of {n:,} str keys",
            "md5_digests",
            _per_key(lambda: md5_digests(keys), n, repeat),
            dig_peer,
        )
    )

    # --- mix64 over uint64 arrays: numba vs the same function in NumPy.
    x = np.arange(n, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    with np.errstate(over="ignore"):
        np_peer = ("numpy splitmix64", _per_key(lambda: _numpy_mix64(x, 7), n, repeat))
    rows.append(Row(f"mix64 of {n:,} uint64", np_peer[0], np_peer[1]))
    rows.append(
        _row(
            f"mix64 of {n:,} uint64",
            "mix64(ndarray)",
            _per_key(lambda: mix64(x, 7), n, repeat),
            np_peer,
        )
    )

    # --- One key at a time from Python (per-request paths).
    loops = 20_000 if quick else 200_000
    key = "user:123456"
    if xxhash is not None:
        sp = (
            "xxhash.xxh64_intdigest",
            _scalar_ns(lambda k: xxhash.xxh64_intdigest(k.encode()), key, loops, repeat),
        )
        rows.append(Row("xxh64, one str key", sp[0], sp[1], note="C extension"))
        rows.append(
            _row("xxh64, one str key", "xxh64(str)", _scalar_ns(xxh64, key, loops, repeat), sp)
        )
    hp = (
        "hashlib.md5",
        _scalar_ns(
            lambda k: int.from_bytes(hashlib.md5(k.encode()).digest()[:4], "little"),
            key,
            loops,
            repeat,
        ),
    )
    rows.append(Row("ketama hash, one str key", hp[0], hp[1]))
    rows.append(
        _row(
            "ketama hash, one str key",
            "ketama_hash(str)",
            _scalar_ns(ketama_hash, key, loops, repeat),
            hp,
        )
    )
    m = (1 << 64) - 1

    def py_mix(v: int, seed: int = 0) -> int:
        z = (seed + 0x9E3779B97F4A7C15) & m
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & m
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & m
        z = v ^ z ^ (z >> 31)
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & m
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & m
        return z ^ (z >> 31)

    pp = ("pure-Python splitmix64", _scalar_ns(py_mix, 123456789, loops, repeat))
    rows.append(Row("mix64, one int", pp[0], pp[1]))
    rows.append(
        _row("mix64, one int", "mix64(int)", _scalar_ns(mix64, 123456789, loops, repeat), pp)
    )
    return rows


if __name__ == "__main__":  # pragma: no cover
    from benchmarks._harness import print_table

    print_table(run(), title="hashing")
