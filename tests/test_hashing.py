"""Tests for kernels.hashing: XXH64, MD5 (ketama), mix64 and key packing.

Published vectors pin the algorithms; hypothesis checks the numba kernels against
the ``xxhash`` package, ``hashlib`` and the plain-Python twins in
``tests/reference/hashing.py`` on random input.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import xxhash
from hypothesis import given, settings
from hypothesis import strategies as st

from kernels._config import jit
from kernels.hashing import (
    PackedKeys,
    _fmix64,
    _md5_digests_packed,
    _md5_u32_packed,
    _mix64_seed_key,
    _mix64_seeded,
    _mix64_with_key,
    _xxh64_one,
    _xxh64_packed,
    hash_keys,
    ketama_hash,
    ketama_hash_keys,
    md5_digests,
    mix64,
    pack_keys,
    xxh64,
)
from tests.reference import hashing as ref

U64 = st.integers(0, 2**64 - 1)
SEEDS = st.one_of(st.sampled_from([0, 1, 2**63, 2**63 + 1, 2**64 - 1]), U64)
KEY = st.one_of(st.text(max_size=40), st.binary(max_size=80))


def _sanity_buffer(n: int) -> bytes:
    """The buffer xxHash's own sanity checks hash (xxhsum: PRIME32 seed, PRIME64 step)."""
    out = bytearray()
    gen = 2654435761
    for _ in range(n):
        out.append(gen >> 56)
        gen = (gen * 11400714785074694797) & ref.M64
    return bytes(out)


# ----------------------------------------------------------------------------- XXH64

# Published XXH64 vectors: xxHash's sanity-check table (buffer prefix length, seed).
XXH64_SANITY = [
    (0, 0, 0xEF46DB3751D8E999),
    (0, 2654435761, 0xAC75FDA2929B17EF),
    (1, 0, 0xE934A84ADB052768),
    (1, 2654435761, 0x5014607643A9B4C3),
    (14, 0, 0x8282DCC4994E35C8),
    (14, 2654435761, 0xC3BD6BF63DEB6DF0),
    (222, 0, 0xB641AE8CB691C174),
    (222, 2654435761, 0x20CB8AB7AE10C14A),
]
XXH64_STRINGS = [
    (b"", 0xEF46DB3751D8E999),
    (b"a", 0xD24EC4F1A98C6E5B),
    (b"abc", 0x44BC2CF5AD770999),
    (b"The quick brown fox jumps over the lazy dog", 0x0B242D361FDA71BC),
]


@pytest.mark.parametrize(("length", "seed", "expected"), XXH64_SANITY)
def test_xxh64_published_sanity_vectors(length, seed, expected):
    buf = _sanity_buffer(222)[:length]
    assert xxh64(buf, seed) == expected
    assert ref.xxh64(buf, seed) == expected
    assert hash_keys([buf], seed=seed).tolist() == [expected]


@pytest.mark.parametrize(("data", "expected"), XXH64_STRINGS)
def test_xxh64_published_string_vectors(data, expected):
    assert xxh64(data) == expected
    assert xxh64(data.decode()) == expected


@given(data=st.binary(max_size=300), seed=SEEDS)
def test_xxh64_matches_xxhash_package_and_reference(data, seed):
    expected = xxhash.xxh64_intdigest(data, seed)
    assert xxh64(data, seed) == expected
    assert ref.xxh64(data, seed) == expected
    assert xxh64(bytearray(data), seed) == expected
    assert xxh64(memoryview(data), seed) == expected


@given(keys=st.lists(KEY, max_size=40), seed=SEEDS)
def test_hash_keys_equals_scalar_xxh64(keys, seed):
    out = hash_keys(keys, seed=seed)
    assert out.dtype == np.uint64
    assert out.shape == (len(keys),)
    expected = [xxhash.xxh64_intdigest(ref.key_bytes(k), seed) for k in keys]
    assert out.tolist() == expected
    assert [xxh64(k, seed) for k in keys] == expected


@given(keys=st.lists(st.text(max_size=30), min_size=1, max_size=40))
def test_hash_keys_all_input_forms_agree(keys):
    expected = [xxhash.xxh64_intdigest(k.encode("utf-8")) for k in keys]
    as_bytes = [k.encode("utf-8") for k in keys]
    assert hash_keys(keys).tolist() == expected
    assert hash_keys(tuple(keys)).tolist() == expected
    assert hash_keys(iter(keys)).tolist() == expected
    assert hash_keys(as_bytes).tolist() == expected
    assert hash_keys(np.array(keys, dtype=object)).tolist() == expected
    assert hash_keys(pack_keys(keys)).tolist() == expected
    # numpy 'U' / 'S' arrays drop trailing NULs (numpy's own semantics): compare with
    # the values numpy hands back.
    u = np.array(keys)
    assert hash_keys(u).tolist() == [xxhash.xxh64_intdigest(str(v).encode()) for v in u]
    s = np.array(as_bytes)
    assert hash_keys(s).tolist() == [xxhash.xxh64_intdigest(bytes(v)) for v in s]


def test_hash_keys_keys_containing_nul_and_mixed_types():
    keys = ["a\0b", "\0", "", "é\0ü", "x"]
    expected = [xxhash.xxh64_intdigest(k.encode()) for k in keys]
    assert hash_keys(keys).tolist() == expected
    assert hash_keys([k.encode() for k in keys]).tolist() == expected
    mixed = ["a\0b", b"\0", "", b"\xc3\xa9\0\xc3\xbc", bytearray(b"x")]
    assert hash_keys(mixed).tolist() == expected
    # memoryview with items wider than a byte: hashed as its raw bytes.
    mv = memoryview(np.array([1, 2], dtype=np.int32))
    assert hash_keys([mv, b"\0"]).tolist() == [
        xxhash.xxh64_intdigest(mv.tobytes()),
        xxhash.xxh64_intdigest(b"\0"),
    ]


def test_hash_keys_long_keys_cross_stripe_boundaries():
    keys = [bytes(range(256))[:n] for n in (31, 32, 33, 63, 64, 65, 256)]
    assert hash_keys(keys, seed=5).tolist() == [xxhash.xxh64_intdigest(k, 5) for k in keys]


def test_empty_batches():
    for empty in ([], (), np.array([], dtype="U3"), np.array([], dtype="S2"), iter([])):
        assert hash_keys(empty).shape == (0,)
        assert hash_keys(empty).dtype == np.uint64
    assert ketama_hash_keys([]).shape == (0,)
    assert ketama_hash_keys([]).dtype == np.uint32
    assert md5_digests([]).shape == (0, 16)
    pk = pack_keys([])
    assert pk.n_keys == 0
    assert pk.offsets.tolist() == [0]


# ----------------------------------------------------------------------------- MD5 / ketama

RFC1321 = [
    (b"", "d41d8cd98f00b204e9800998ecf8427e"),
    (b"a", "0cc175b9c0f1b6a831c399e269772661"),
    (b"abc", "900150983cd24fb0d6963f7d28e17f72"),
    (b"message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
    (b"abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"),
    (
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
        "d174ab98d277d9f5a5611c2c9f419d9f",
    ),
    (b"1234567890" * 8, "57edf4a22be3c955ac49da2e2107b67a"),
]


def test_md5_rfc1321_vectors():
    keys = [k for k, _ in RFC1321]
    digests = md5_digests(keys)
    assert [row.tobytes().hex() for row in digests] == [h for _, h in RFC1321]
    expected = [int.from_bytes(bytes.fromhex(h)[:4], "little") for _, h in RFC1321]
    assert ketama_hash_keys(keys).tolist() == expected
    assert [ketama_hash(k) for k in keys] == expected


@given(keys=st.lists(st.binary(max_size=300), max_size=40))
def test_md5_batch_matches_hashlib_on_random_bytes(keys):
    # Lengths 0..300 cover one, two and several blocks and every padding case;
    # batches of up to 40 keys of mixed lengths exercise the SIMD lanes refilling.
    digests = md5_digests(keys)
    assert digests.dtype == np.uint8
    assert digests.shape == (len(keys), 16)
    assert [row.tobytes() for row in digests] == [hashlib.md5(k).digest() for k in keys]
    assert ketama_hash_keys(keys).tolist() == [ref.ketama_hash(k) for k in keys]


@given(key=st.binary(max_size=300))
def test_ketama_hash_scalar_matches_hashlib(key):
    assert ketama_hash(key) == ref.ketama_hash(key)


@given(keys=st.lists(st.text(max_size=60), max_size=40))
def test_md5_of_unicode_text(keys):
    expected = [ref.md5_digest(k) for k in keys]
    assert [row.tobytes() for row in md5_digests(keys)] == expected
    assert [row.tobytes() for row in md5_digests(np.array(keys, dtype=object))] == expected
    assert ketama_hash_keys(keys).tolist() == [ref.ketama_hash(k) for k in keys]
    assert [ketama_hash(k) for k in keys] == [ref.ketama_hash(k) for k in keys]


def test_every_length_around_block_boundaries():
    keys = [bytes((i * 7 + j) & 0xFF for j in range(n)) for i, n in enumerate(range(0, 200))]
    assert [r.tobytes() for r in md5_digests(keys)] == [hashlib.md5(k).digest() for k in keys]


def test_ketama_points_style_keys():
    # What the ring builds: "<node>-<i>" strings, 4 little-endian uint32 per digest.
    keys = [f"10.0.0.{n}:11211-{i}" for n in range(3) for i in range(40)]
    digests = md5_digests(keys)
    points = digests.view("<u4")
    for k, row in zip(keys, points, strict=True):
        d = hashlib.md5(k.encode()).digest()
        assert row.tolist() == [int.from_bytes(d[4 * h : 4 * h + 4], "little") for h in range(4)]


# ----------------------------------------------------------------------------- mix64


def test_splitmix64_published_outputs():
    # The seed key is splitmix64's first output: 0xE220A8397B1DCDAF for state 0 and
    # 6457827717110365317 for state 1234567 (Vigna's splitmix64.c).
    assert int(_mix64_seed_key(np.uint64(0))) == 0xE220A8397B1DCDAF
    assert int(_mix64_seed_key(np.uint64(1234567))) == 6457827717110365317


@given(x=st.integers(-(2**70), 2**70), seed=st.integers(-(2**65), 2**65))
def test_mix64_scalar_matches_reference(x, seed):
    out = mix64(x, seed=seed)
    assert type(out) is int
    assert out == ref.mix64(x & ref.M64, seed & ref.M64)
    assert 0 <= out < 2**64


@given(
    values=st.lists(st.integers(-(2**63), 2**63 - 1), max_size=50),
    seed=SEEDS,
)
def test_mix64_array_matches_scalar_and_reference(values, seed):
    arr = np.array(values, dtype=np.int64)
    out = mix64(arr, seed)
    assert out.dtype == np.uint64
    assert out.shape == arr.shape
    assert out.tolist() == [ref.mix64(v & ref.M64, seed) for v in values]
    assert out.tolist() == [mix64(v, seed) for v in values]


@pytest.mark.parametrize(
    "dtype", [np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.uint64]
)
def test_mix64_any_integer_dtype_and_shape(dtype):
    info = np.iinfo(dtype)
    arr = np.array([[info.min, 0, 1], [2, info.max, 7]], dtype=dtype)
    out = mix64(arr, seed=9)
    assert out.shape == (2, 3)
    assert out.dtype == np.uint64
    expected = [[ref.mix64(int(v) & ref.M64, 9) for v in row] for row in arr.tolist()]
    assert out.tolist() == expected
    # Non-contiguous views are accepted too.
    assert mix64(arr[:, ::2], seed=9).tolist() == [row[::2] for row in expected]


def test_mix64_seeds_give_different_functions_and_bijection_on_sample():
    x = np.arange(100_000, dtype=np.uint64)
    a, b = mix64(x, 0), mix64(x, 1)
    assert np.unique(a).size == x.size  # bijective: no collisions
    assert np.count_nonzero(a == b) == 0
    # Avalanche, coarse: flipping input bit 0 flips about half of the 64 output bits.
    flips = np.unpackbits((mix64(x ^ np.uint64(1), 0) ^ a).view(np.uint8)).mean() * 64
    assert 30 < flips < 34


@given(x=U64, seed=U64)
def test_fmix64_and_cores_match_reference(x, seed):
    assert int(_fmix64(np.uint64(x))) == ref.fmix64(x)
    assert int(_mix64_seeded(np.uint64(x), np.uint64(seed))) == ref.mix64(x, seed)
    key = np.uint64(_mix64_seed_key(np.uint64(seed)))
    assert int(_mix64_with_key(np.uint64(x), key)) == ref.mix64(x, seed)


@jit
def _uses_cores(data, offsets, xs, seed):
    # Another kernel calling the private cores from inside numba.
    out = np.empty(offsets.shape[0] - 1, dtype=np.uint64)
    for i in range(out.shape[0]):
        out[i] = _xxh64_one(data, offsets[i], offsets[i + 1], seed) ^ _mix64_seeded(xs[i], seed)
    return out, _xxh64_packed(data, offsets, seed), _md5_u32_packed(data, offsets)


def test_private_cores_callable_from_other_kernels():
    keys = ["alpha", "", "gamma-ray", "δ"]
    pk = pack_keys(keys)
    xs = np.arange(4, dtype=np.uint64)
    mixed, xx, k = _uses_cores(pk.data, pk.offsets, xs, np.uint64(3))
    assert xx.tolist() == [xxh64(s, 3) for s in keys]
    assert mixed.tolist() == [xxh64(s, 3) ^ mix64(i, 3) for i, s in enumerate(keys)]
    assert k.tolist() == [ketama_hash(s) for s in keys]
    assert [r.tobytes() for r in _md5_digests_packed(pk.data, pk.offsets)] == [
        hashlib.md5(s.encode()).digest() for s in keys
    ]


# ----------------------------------------------------------------------------- packing


@given(keys=st.lists(KEY, max_size=40))
def test_pack_keys_matches_reference(keys):
    pk = pack_keys(keys)
    data, offsets = ref.pack(keys)
    assert isinstance(pk, PackedKeys)
    assert pk.data.dtype == np.uint8
    assert pk.offsets.dtype == np.int64
    assert pk.data.tobytes() == data
    assert pk.offsets.tolist() == offsets
    assert pk.n_keys == len(keys)
    assert [pk.key(i) for i in range(len(keys))] == [ref.key_bytes(k) for k in keys]


def test_pack_keys_numpy_arrays_and_utf8():
    u = np.array(["a", "", "é", "\U0001f600z", "日本"])
    pk = pack_keys(u)
    assert pk.data.tobytes() == "aé\U0001f600z日本".encode()
    assert pk.offsets.tolist() == [0, 1, 1, 3, 8, 14]
    # Big-endian and non-contiguous 'U' arrays are converted first.
    assert pack_keys(u.astype(">U4")).data.tobytes() == pk.data.tobytes()
    assert pack_keys(u[::2]).offsets.tolist() == [0, 1, 3, 9]
    s = np.array([b"ab", b"", b"c\0d"], dtype="S4")
    assert pack_keys(s).data.tobytes() == b"abc\0d"
    assert pack_keys(s).offsets.tolist() == [0, 2, 2, 5]


def test_packed_keys_roundtrip_and_validation():
    pk = pack_keys(["ab", "c"])
    again = pack_keys(pk)
    assert again.data.tobytes() == b"abc"
    assert again.offsets.tolist() == [0, 2, 3]
    custom = PackedKeys(np.frombuffer(b"xxabc", dtype=np.uint8), np.array([2, 4, 5], np.int32))
    assert hash_keys(custom).tolist() == [xxh64(b"ab"), xxh64(b"c")]
    with pytest.raises(ValueError, match=r"keys\.offsets"):
        hash_keys(PackedKeys(pk.data, np.array([0, 5])))
    with pytest.raises(ValueError, match=r"keys\.offsets"):
        hash_keys(PackedKeys(pk.data, np.array([0, 2, 1])))
    with pytest.raises(ValueError, match=r"keys\.offsets"):
        hash_keys(PackedKeys(pk.data, np.array([-1, 2])))
    with pytest.raises(ValueError, match=r"keys\.offsets"):
        hash_keys(PackedKeys(pk.data, np.array([], dtype=np.int64)))
    with pytest.raises(TypeError, match=r"keys\.data"):
        hash_keys(PackedKeys(pk.data.astype(np.int8), pk.offsets))
    with pytest.raises(TypeError, match=r"keys\.offsets"):
        hash_keys(PackedKeys(pk.data, pk.offsets.astype(float)))


# ----------------------------------------------------------------------------- errors


@pytest.mark.parametrize("fn", [hash_keys, ketama_hash_keys, md5_digests, pack_keys])
def test_batch_errors_name_the_argument(fn):
    with pytest.raises(TypeError, match=r"keys\[1\] is int.*mix64"):
        fn(["a", 5])
    with pytest.raises(TypeError, match=r"keys\[2\] is NoneType"):
        fn([b"a", "b", None])
    with pytest.raises(TypeError, match=r"keys\[0\] is float"):
        fn([1.5])
    with pytest.raises(TypeError, match="mix64"):
        fn(np.arange(3))
    with pytest.raises(TypeError, match="mix64"):
        fn(7)
    with pytest.raises(TypeError, match="keys"):
        fn(np.arange(3.0))
    with pytest.raises(TypeError, match="single str"):
        fn("abc")
    with pytest.raises(TypeError, match="keys"):
        fn(object())
    with pytest.raises(ValueError, match=r"keys\[1\].*UTF-8"):
        fn(["ok", "bad\ud800"])
    with pytest.raises(ValueError, match=r"keys\[1\].*UTF-8"):
        fn(["ok\0", "bad\udfff"])
    with pytest.raises(ValueError, match=r"keys\[2\].*UTF-8"):
        fn(np.array(["a", "b", "\ud800"]))
    with pytest.raises(ValueError, match="1-D"):
        fn(np.array([["a"]]))


def test_scalar_errors_name_the_argument():
    with pytest.raises(TypeError, match="data"):
        xxh64(5)
    with pytest.raises(TypeError, match="data"):
        xxh64(None)
    with pytest.raises(ValueError, match=r"data.*UTF-8"):
        xxh64("\ud800")
    with pytest.raises(TypeError, match="seed"):
        xxh64(b"a", seed=1.0)
    with pytest.raises(TypeError, match="key"):
        ketama_hash(3)
    with pytest.raises(ValueError, match=r"key.*UTF-8"):
        ketama_hash("\udc00")
    with pytest.raises(TypeError, match="seed"):
        hash_keys(["a"], seed="1")
    with pytest.raises(TypeError, match="x"):
        mix64(1.5)
    with pytest.raises(TypeError, match="x"):
        mix64("12")
    with pytest.raises(TypeError, match="x"):
        mix64(np.array([1.0]))
    with pytest.raises(TypeError, match="x"):
        mix64(np.array([True]))
    with pytest.raises(TypeError, match="seed"):
        mix64(1, seed=None)


@settings(max_examples=20)
@given(seed=SEEDS)
def test_scalar_seed_forms_agree(seed):
    assert xxh64(b"k", seed) == xxh64(b"k", np.uint64(seed)) == xxhash.xxh64_intdigest(b"k", seed)
    assert mix64(3, seed) == mix64(np.uint64(3), np.uint64(seed))
    assert xxh64(b"k", seed - 2**64) == xxh64(b"k", seed)
