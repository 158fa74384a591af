"""Weighted rendezvous hashing: the reference twin, weighted shares, disruption, top-k."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kernels.hashing import hash_keys, mix64
from kernels.rendezvous import Rendezvous, _lookup, _scores, _top_k
from tests.reference import rendezvous as ref

NAMES = st.lists(st.text(max_size=10), min_size=1, max_size=12, unique=True)
WEIGHT = st.floats(min_value=1e-3, max_value=1e3, allow_nan=False, allow_infinity=False)
U64 = st.integers(min_value=0, max_value=2**64 - 1)


def all_scores(r: Rendezvous, h: int) -> np.ndarray:
    """float64[n]: every node's score for key hash ``h`` (no pruning)."""
    return _scores(np.uint64(h), r._node_keys, r.weights)


@st.composite
def placements(draw):
    names = draw(NAMES)
    weights = draw(st.none() | st.lists(WEIGHT, min_size=len(names), max_size=len(names)))
    return names, weights


@given(placements(), st.lists(U64, max_size=40), st.booleans())
def test_lookup_matches_twin(args, hashes, parallel):
    names, weights = args
    r = Rendezvous(names, weights)
    got = r.lookup_hashes(np.array(hashes, dtype=np.uint64), parallel=parallel)
    assert got.dtype == np.int64
    assert got.tolist() == [ref.best(names, weights, h) for h in hashes]


@given(placements(), st.lists(st.text(max_size=16) | st.binary(max_size=16), max_size=20))
def test_str_keys_match_twin(args, keys):
    names, weights = args
    r = Rendezvous(names, weights)
    expected = [ref.best(names, weights, ref.key_hash(k)) for k in keys]
    assert r.lookup(keys).tolist() == expected
    assert [r.get(k) for k in keys] == [names[i] for i in expected]


@given(placements(), U64, st.data())
def test_top_k_matches_twin_and_is_prefix_consistent(args, h, data):
    names, weights = args
    r = Rendezvous(names, weights)
    ranking = ref.ranking(names, weights, h)
    n = len(names)
    full = r.top_k_hashes(np.array([h], dtype=np.uint64), n)[0].tolist()
    assert full == ranking
    k = data.draw(st.integers(1, n))
    assert r.top_k_hashes(np.array([h], dtype=np.uint64), k)[0].tolist() == ranking[:k]
    assert r.lookup_hashes(np.array([h], dtype=np.uint64)).tolist() == [ranking[0]]


@given(placements(), st.text(max_size=16))
def test_top_k_by_key(args, key):
    names, weights = args
    r = Rendezvous(names, weights)
    n = len(names)
    full = r.top_k(key, n)
    assert full == [names[i] for i in ref.ranking(names, weights, ref.key_hash(key))]
    for k in range(1, n + 1):
        assert r.top_k(key, k) == full[:k]
    assert full[0] == r.get(key)
    scores = r.scores(key)
    assert [names[i] for i in np.argsort(-scores, kind="stable")] == full


@given(
    st.lists(
        st.floats(min_value=1e-12, max_value=1e12) | st.floats(min_value=1e-200, max_value=1e200),
        min_size=2,
        max_size=40,
    ),
    st.integers(0, 2**32),
)
@settings(max_examples=30)
def test_pruning_exact_with_extreme_weights(weights, seed):
    # The pruned kernel must pick exactly what scoring every node picks.
    names = [f"n{i}" for i in range(len(weights))]
    r = Rendezvous(names, weights)
    hashes = mix64(np.arange(300, dtype=np.uint64), seed=seed)
    got = r.lookup_hashes(hashes)
    full = np.array([np.argmax(all_scores(r, int(h))) for h in hashes])
    assert np.array_equal(got, full)
    assert got[:50].tolist() == [ref.best(names, weights, int(h)) for h in hashes[:50]]


def test_top_k_is_stable_sort_of_scores():
    r = Rendezvous([f"n{i}" for i in range(50)])
    hashes = mix64(np.arange(200, dtype=np.uint64))
    top = r.top_k_hashes(hashes, 50)
    for h, row in zip(hashes, top, strict=True):
        assert row.tolist() == np.argsort(-all_scores(r, int(h)), kind="stable").tolist()


@given(st.lists(U64, min_size=1, max_size=20), st.integers(0, 2**64 - 1))
def test_exact_ties_go_to_lower_index(hashes, dup):
    # Distinct names never share a node key, so force ties at the kernel level:
    # repeated node keys with equal weights give exactly equal scores.
    node_keys = np.array([dup ^ 1, dup, dup, dup ^ 2, dup], dtype=np.uint64)
    weights = np.ones(5)
    hs = np.array(hashes, dtype=np.uint64)
    out = np.empty(len(hs), dtype=np.int64)
    _lookup(hs, node_keys, weights, out)
    assert set(out.tolist()) <= {0, 1, 3}
    top = np.empty((len(hs), 5), dtype=np.int64)
    _top_k(hs, node_keys, weights, weights * (1 + 1e-9), np.int64(5), top)
    for row, best in zip(top, out, strict=True):
        row = row.tolist()
        assert row[0] == best
        assert row.index(1) < row.index(2) < row.index(4)
        assert row[row.index(1) : row.index(1) + 3] == [1, 2, 4]


@pytest.mark.parametrize(
    "weights", [[1, 1, 1, 1], [1, 2, 3, 4], [0.5, 10, 0.25, 3, 7], [100, 1], [1e-6, 2e-6]]
)
def test_weighted_shares_proportional(weights):
    m = 400_000
    names = [f"node-{i}" for i in range(len(weights))]
    r = Rendezvous(names, weights)
    counts = np.bincount(
        r.lookup_hashes(mix64(np.arange(m, dtype=np.uint64))), minlength=len(weights)
    )
    p = np.array(weights, dtype=float) / sum(weights)
    sigma = np.sqrt(p * (1 - p) / m)
    assert np.all(np.abs(counts / m - p) < 6 * sigma)


def test_balance_many_nodes():
    n, m = 100, 500_000
    r = Rendezvous([f"10.0.{i}.1:6379" for i in range(n)])
    counts = np.bincount(r.lookup_hashes(mix64(np.arange(m, dtype=np.uint64), seed=1)), minlength=n)
    mean = m / n
    assert counts.max() / mean < 1 + 6 / np.sqrt(mean)
    assert counts.min() / mean > 1 - 6 / np.sqrt(mean)


@given(st.integers(2, 30), st.data())
@settings(max_examples=20)
def test_removing_a_node_moves_only_its_keys(n, data):
    names = [f"n{i}" for i in range(n)]
    weights = data.draw(st.lists(WEIGHT, min_size=n, max_size=n))
    r = Rendezvous(names, weights)
    victim = data.draw(st.sampled_from(names))
    smaller = r.without_node(victim)
    keys = mix64(np.arange(5000, dtype=np.uint64), seed=n)
    before = np.array(r.nodes)[r.lookup_hashes(keys)]
    after = np.array(smaller.nodes)[smaller.lookup_hashes(keys)]
    moved = before != after
    assert np.array_equal(moved, before == victim)
    # Each moved key goes to its runner-up.
    runner_up = np.array(r.nodes)[r.top_k_hashes(keys[moved], 2)[:, 1]]
    assert np.array_equal(after[moved], runner_up)


@given(st.integers(1, 30), WEIGHT)
@settings(max_examples=20)
def test_adding_a_node_moves_keys_only_to_it(n, w_new):
    names = [f"n{i}" for i in range(n)]
    r = Rendezvous(names)
    grown = r.with_node("newcomer", weight=w_new)
    keys = mix64(np.arange(5000, dtype=np.uint64), seed=n + 1)
    before = np.array(r.nodes)[r.lookup_hashes(keys)]
    after = np.array(grown.nodes)[grown.lookup_hashes(keys)]
    moved = before != after
    assert np.all(after[moved] == "newcomer")
    assert not np.any(after[~moved] == "newcomer")


def test_addition_moves_expected_fraction():
    n, m = 20, 200_000
    r = Rendezvous([f"n{i}" for i in range(n)])
    grown = r.with_node("extra")
    keys = mix64(np.arange(m, dtype=np.uint64), seed=11)
    moved = np.mean(r.lookup_hashes(keys) != grown.lookup_hashes(keys))
    p = 1 / (n + 1)
    assert abs(moved - p) < 6 * np.sqrt(p * (1 - p) / m)


def test_top_k_after_removal_only_closes_the_gap():
    names = [f"n{i}" for i in range(12)]
    r = Rendezvous(names, weights=range(1, 13))
    smaller = r.without_node("n5")
    for i in range(200):
        key = f"object-{i}"
        full = r.top_k(key, 12)
        assert smaller.top_k(key, 11) == [x for x in full if x != "n5"]


def test_order_of_nodes_does_not_change_placement():
    names = [f"n{i}" for i in range(15)]
    weights = [float(i + 1) for i in range(15)]
    a = Rendezvous(names, weights)
    perm = np.random.default_rng(0).permutation(15)
    b = Rendezvous([names[i] for i in perm], [weights[i] for i in perm])
    keys = [f"k{i}" for i in range(3000)]
    assert np.array_equal(np.array(a.nodes)[a.lookup(keys)], np.array(b.nodes)[b.lookup(keys)])


def test_parallel_and_serial_agree():
    r = Rendezvous([f"n{i}" for i in range(37)], weights=np.linspace(0.5, 3, 37))
    hashes = mix64(np.arange(100_003, dtype=np.uint64))
    a = r.lookup_hashes(hashes, parallel=True)
    assert np.array_equal(a, r.lookup_hashes(hashes, parallel=False))
    assert np.array_equal(a, r.lookup_hashes(hashes))
    assert np.array_equal(a, r.lookup_hashes(hashes, parallel=None))


def test_lookup_accepts_key_containers():
    r = Rendezvous(["x", "y", "z"])
    keys = [f"k{i}" for i in range(100)]
    expected = r.lookup_hashes(hash_keys(keys))
    assert np.array_equal(r.lookup(keys), expected)
    assert np.array_equal(r.lookup(np.array(keys)), expected)
    assert np.array_equal(r.lookup([k.encode() for k in keys]), expected)
    assert r.lookup([]).shape == (0,)


def test_immutability_and_views():
    r = Rendezvous(["a", "b"], [1, 2])
    with pytest.raises(ValueError):
        r.weights[0] = 3.0
    r2 = r.with_node("c")
    assert r.nodes == ("a", "b") and r2.nodes == ("a", "b", "c")
    assert r2.weights.tolist() == [1.0, 2.0, 1.0]
    assert r.without_node("a").nodes == ("b",)
    assert len(r) == 2 and "a" in r and "c" not in r and "Rendezvous" in repr(r)


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"nodes": []}, ValueError, "nodes"),
        ({"nodes": "ab"}, TypeError, "nodes"),
        ({"nodes": ["a", "a"]}, ValueError, "nodes"),
        ({"nodes": [b"a"]}, TypeError, "nodes"),
        ({"nodes": ["\ud800"]}, ValueError, "nodes"),
        ({"nodes": ["a", "b"], "weights": [1, 2, 3]}, ValueError, "weights"),
        ({"nodes": ["a", "b"], "weights": [1, 0]}, ValueError, "weights"),
        ({"nodes": ["a", "b"], "weights": [-1, 1]}, ValueError, "weights"),
        ({"nodes": ["a", "b"], "weights": [float("nan"), 1]}, ValueError, "weights"),
        ({"nodes": ["a", "b"], "weights": [float("inf"), 1]}, ValueError, "weights"),
        ({"nodes": ["a", "b"], "weights": [None, 1]}, TypeError, "weights"),
        ({"nodes": ["a", "b"], "weights": [1e-201, 1]}, ValueError, "weights"),
        ({"nodes": ["a", "b"], "weights": [1, 1e201]}, ValueError, "weights"),
    ],
)
def test_bad_construction(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        Rendezvous(**kwargs)


def test_bad_calls():
    r = Rendezvous(["a", "b", "c"])
    for k in (0, 4, -1):
        with pytest.raises(ValueError, match=r"\bk\b"):
            r.top_k("x", k)
    with pytest.raises(TypeError, match=r"\bk\b"):
        r.top_k("x", 1.0)
    with pytest.raises(TypeError, match="key"):
        r.get(12)
    with pytest.raises(ValueError, match="key"):
        r.top_k("\udc80", 1)
    with pytest.raises(TypeError, match="keys"):
        r.lookup([1, 2])
    with pytest.raises(TypeError, match="hashes"):
        r.lookup_hashes(np.array([0.5]))
    with pytest.raises(ValueError, match="hashes"):
        r.lookup_hashes(np.array([-3]))
    with pytest.raises(ValueError, match="name"):
        r.with_node("a")
    with pytest.raises(ValueError, match="name"):
        r.without_node("q")
    with pytest.raises(ValueError, match="weights"):
        r.with_node("d", weight=0)
    with pytest.raises(ValueError, match="nodes"):
        Rendezvous(["a"]).without_node("a")


def test_pickle_round_trip():
    r = Rendezvous(["a", "b", "c"], [1, 2, 3])
    u = pickle.loads(pickle.dumps(r))
    assert u.nodes == r.nodes and np.array_equal(u.weights, r.weights)
    assert not u.weights.flags.writeable
    keys = [f"k{i}" for i in range(500)]
    assert np.array_equal(u.lookup(keys), r.lookup(keys))
