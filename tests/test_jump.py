"""Jump consistent hash: published vectors, the reference twin, and the paper's properties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kernels.hashing import hash_keys, mix64
from kernels.jump import jump_hash, jump_hash_keys
from tests.reference import jump as ref

U64 = st.integers(min_value=0, max_value=2**64 - 1)
BUCKETS = st.integers(min_value=1, max_value=2**31 - 1)

# Published outputs of other implementations of the same algorithm.
# github.com/dgryski/go-jump, jump_test.go ("generated from the reference C++ code"):
# key -> buckets for n = 1, 2, ...
GO_JUMP_VECTORS = {
    0: [0] * 20,
    1: [0, 0, 0, 0, 0, 0, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 17, 17],
    0xDEADBEEF: [0, 1, 2, 3, 3, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 16, 16, 16],
    0x0DDC0FFEEBADF00D: [0, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 15, 15, 15, 15],
}
# README/test examples of the Go package lithammer/go-jump-consistent-hash and the
# Python package jump-consistent-hash: (key, n) -> bucket.
README_VECTORS = [
    ((256, 1024), 520),
    ((42, 57), 43),
    ((1, 1), 0),
    ((0xDEAD10CC, 1), 0),
    ((0xDEAD10CC, 666), 361),
]


@pytest.mark.parametrize("key", sorted(GO_JUMP_VECTORS))
def test_go_jump_vectors(key):
    expected = GO_JUMP_VECTORS[key]
    got = [jump_hash(key, n) for n in range(1, len(expected) + 1)]
    assert got == expected
    batch = jump_hash(np.full(len(expected), key, dtype=np.uint64), 1)
    assert batch.tolist() == [0] * len(expected)
    per_n = [
        int(jump_hash(np.array([key], dtype=np.uint64), n)[0]) for n in range(1, len(expected) + 1)
    ]
    assert per_n == expected


@pytest.mark.parametrize(("args", "expected"), README_VECTORS)
def test_readme_vectors(args, expected):
    assert jump_hash(*args) == expected
    assert ref.jump_hash(*args) == expected


def test_fixed_vectors_from_twin():
    # Computed once from tests/reference/jump.py (the paper's loop in plain Python);
    # covers keys with the top bit set and bucket counts up to 2**31 - 1.
    cases = {
        (2**64 - 1, 1000): ref.jump_hash(2**64 - 1, 1000),
        (2**63, 10**6): ref.jump_hash(2**63, 10**6),
        (12345678901234567890, 2**31 - 1): ref.jump_hash(12345678901234567890, 2**31 - 1),
    }
    assert cases == {
        (2**64 - 1, 1000): 313,
        (2**63, 10**6): 802256,
        (12345678901234567890, 2**31 - 1): 215486598,
    }
    for (key, n), bucket in cases.items():
        assert jump_hash(key, n) == bucket
        assert jump_hash(np.array([key], dtype=np.uint64), n).tolist() == [bucket]


@given(key=U64, n=BUCKETS)
def test_scalar_matches_twin(key, n):
    got = jump_hash(key, n)
    assert type(got) is int
    assert got == ref.jump_hash(key, n)
    assert 0 <= got < n


@given(keys=st.lists(U64, min_size=0, max_size=50), n=BUCKETS, parallel=st.booleans())
def test_batch_matches_twin(keys, n, parallel):
    arr = np.array(keys, dtype=np.uint64)
    got = jump_hash(arr, n, parallel=parallel)
    assert got.dtype == np.int64
    assert got.shape == arr.shape
    assert got.tolist() == [ref.jump_hash(k, n) for k in keys]


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.uint32, np.int64, np.uint64])
def test_any_integer_dtype_and_shape(dtype):
    info = np.iinfo(dtype)
    keys = np.array([[0, 1, 7], [int(info.max), 100, 3]], dtype=dtype)
    got = jump_hash(keys, 37)
    assert got.shape == (2, 3)
    assert got.tolist() == [[ref.jump_hash(int(k), 37) for k in row] for row in keys]
    # Non-contiguous input is accepted as well.
    assert jump_hash(keys[:, ::2], 37).tolist() == got[:, ::2].tolist()


def test_numpy_scalar_keys_and_buckets():
    assert jump_hash(np.uint64(2**64 - 1), np.int32(1000)) == ref.jump_hash(2**64 - 1, 1000)
    assert jump_hash(np.int8(5), 10) == ref.jump_hash(5, 10)


def test_parallel_and_serial_agree_on_large_batch():
    keys = mix64(np.arange(200_000, dtype=np.uint64))
    a = jump_hash(keys, 1000, parallel=True)
    b = jump_hash(keys, 1000, parallel=False)
    assert np.array_equal(a, b)
    assert np.array_equal(jump_hash(keys, 1000), a)
    assert np.array_equal(jump_hash(keys, 1000, parallel=None), a)


@given(n=st.integers(min_value=1, max_value=5000), seed=st.integers(0, 2**32))
def test_monotone_when_growing(n, seed):
    # Growing from n to n + 1 buckets: a key stays or moves to the new bucket n.
    keys = mix64(np.arange(2000, dtype=np.uint64), seed=seed)
    before = jump_hash(keys, n)
    after = jump_hash(keys, n + 1)
    moved = before != after
    assert np.all(after[moved] == n)


@pytest.mark.parametrize("n", [1, 10, 100, 1000])
def test_fraction_moved_is_one_over_n_plus_one(n):
    m = 200_000
    keys = mix64(np.arange(m, dtype=np.uint64), seed=n)
    moved = np.mean(jump_hash(keys, n) != jump_hash(keys, n + 1))
    p = 1 / (n + 1)
    sigma = np.sqrt(p * (1 - p) / m)
    assert abs(moved - p) < 6 * sigma


@pytest.mark.parametrize("n", [10, 100, 1000])
def test_balance_peak_to_mean(n):
    m = 1_000_000
    keys = mix64(np.arange(m, dtype=np.uint64), seed=7)
    counts = np.bincount(jump_hash(keys, n), minlength=n)
    mean = m / n
    peak = counts.max() / mean
    # Binomial counts: the peak of n buckets sits a few standard deviations above the mean.
    assert peak < 1 + 6 * np.sqrt(mean) / mean
    assert counts.min() > 0


def test_sequential_integer_keys_balance():
    # The LCG step alone spreads raw sequential ids acceptably.
    counts = np.bincount(jump_hash(np.arange(100_000, dtype=np.uint64), 10), minlength=10)
    assert counts.max() / counts.mean() < 1.05


def test_jump_hash_keys_is_hash_then_jump():
    keys = [f"user:{i}" for i in range(1000)] + ["", "é", "\x00"]
    got = jump_hash_keys(keys, 77)
    assert np.array_equal(got, jump_hash(hash_keys(keys), 77))
    assert np.array_equal(jump_hash_keys(keys, 77, seed=3), jump_hash(hash_keys(keys, seed=3), 77))
    assert got.dtype == np.int64 and got.shape == (len(keys),)


@pytest.mark.parametrize(
    ("key", "n", "exc", "match"),
    [
        (-1, 10, ValueError, "key"),
        (2**64, 10, ValueError, "key"),
        (1, 0, ValueError, r"\bn\b"),
        (1, -5, ValueError, r"\bn\b"),
        (1, 2**31, ValueError, r"\bn\b"),
        (1, 10.0, TypeError, r"\bn\b"),
        (1, True, TypeError, r"\bn\b"),
        (1.5, 10, TypeError, "key"),
        ("abc", 10, TypeError, "key"),
        (True, 10, TypeError, "key"),
        (None, 10, TypeError, "key"),
    ],
)
def test_bad_scalar_input(key, n, exc, match):
    with pytest.raises(exc, match=match):
        jump_hash(key, n)


@pytest.mark.parametrize(
    ("keys", "exc"),
    [
        (np.array([1, -1, 2], dtype=np.int64), ValueError),
        (np.array([1.0, 2.0]), TypeError),
        (np.array([True, False]), TypeError),
        (np.array(["1", "2"]), TypeError),
        (np.array([1, 2], dtype=object), TypeError),
    ],
)
def test_bad_array_input(keys, exc):
    with pytest.raises(exc, match="key"):
        jump_hash(keys, 10)


def test_bad_n_with_array_and_keys():
    with pytest.raises(ValueError, match=r"\bn\b"):
        jump_hash(np.arange(3, dtype=np.uint64), 0)
    with pytest.raises(ValueError, match=r"\bn\b"):
        jump_hash_keys(["a"], 0)


def test_empty_array():
    out = jump_hash(np.array([], dtype=np.uint64), 5)
    assert out.dtype == np.int64 and out.shape == (0,)


def _child_jump(keys, q):
    q.put(jump_hash(keys, 1000, parallel=True).tolist())


@pytest.mark.timeout(120)
def test_parallel_request_in_forked_child_runs_serially():
    # GNU OpenMP is not fork-safe: numba kills a child that starts a parallel
    # region after the parent started OpenMP threads.  The wrapper must fall back.
    import multiprocessing

    keys = mix64(np.arange(100_000, dtype=np.uint64))
    expected = jump_hash(keys, 1000, parallel=True)  # starts the thread pool here
    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_child_jump, args=(keys[:1000], q))
    p.start()
    got = q.get(timeout=60)
    p.join(timeout=60)
    assert p.exitcode == 0
    assert got == expected[:1000].tolist()
