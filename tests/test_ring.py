"""HashRing: native mode against the plain-Python twin, ring properties, API and bad input.

The ketama compatibility modes are checked against the real libraries in
``test_ring_compat.py``.
"""

from __future__ import annotations

import pickle
import random
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kernels._ring_build import _merge_points, _stable_sort_points
from kernels.hashing import pack_keys
from kernels.ring import HashRing
from tests.reference import ring as ref

MAX64 = (1 << 64) - 1

names_st = st.lists(
    st.text(alphabet="abcxyz:.-019é", min_size=1, max_size=8), min_size=1, max_size=10, unique=True
)


def _nodes(n: int, prefix: str = "10.0") -> list[str]:
    return [f"{prefix}.{i // 256}.{i % 256}:11211" for i in range(n)]


def _random_hashes(n: int, seed: int = 7) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 2**64, n, dtype=np.uint64)


def _probe_hashes(ring: HashRing, rnd: random.Random, extra: int = 50) -> list[int]:
    """Edges of the space, every point and its neighbours, and random values."""
    hs = {0, 1, MAX64, MAX64 - 1}
    for p in ring.points.tolist():
        hs.update({p, max(p - 1, 0), min(p + 1, MAX64)})
    hs.update(rnd.getrandbits(64) for _ in range(extra))
    return sorted(hs)


# ----------------------------------------------------------------------------- against the twin


@given(
    names=names_st,
    data=st.data(),
    vnodes=st.integers(1, 40),
    seed=st.integers(0, 2**32),
)
def test_native_matches_reference(names, data, vnodes, seed):
    weights = data.draw(
        st.lists(st.floats(0.01, 4.0, allow_nan=False), min_size=len(names), max_size=len(names))
    )
    ring = HashRing(names, weights, vnodes=vnodes)
    twin = ref.RefRing(names, weights, None, vnodes)
    assert ring.points.tolist() == twin.points
    assert ring.owners.tolist() == twin.owners
    hashes = _probe_hashes(ring, random.Random(seed))
    got = ring.lookup_hashes(np.array(hashes, dtype=np.uint64))
    assert got.tolist() == [twin.lookup_hash(h) for h in hashes]
    # Serial and parallel kernels agree.
    assert ring.lookup_hashes(hashes, parallel=True).tolist() == got.tolist()
    keys = [f"k{seed}-{i}" for i in range(30)] + ["", "é", "x" * 100]
    assert ring.lookup_names(keys) == [twin.get(k) for k in keys]
    assert [ring.get(k) for k in keys] == [twin.get(k) for k in keys]
    assert ring.hash_keys(keys).tolist() == [twin.hash(k) for k in keys]
    np.testing.assert_allclose(ring.distribution(), twin.distribution(), rtol=1e-12, atol=1e-15)


@given(names=names_st, seed=st.integers(0, 2**32))
def test_with_and_without_node_equal_a_fresh_build(names, seed):
    rnd = random.Random(seed)
    ring = HashRing(names, [rnd.choice([0.5, 1, 2]) for _ in names], vnodes=16)
    extra = f"new-{seed}"
    grown = ring.with_node(extra, 1.5)
    fresh = HashRing([*ring.nodes, extra], [*ring.weights, 1.5], vnodes=16)
    assert grown.points.tolist() == fresh.points.tolist()
    assert grown.owners.tolist() == fresh.owners.tolist()
    if len(names) > 1:
        gone = rnd.choice(names)
        shrunk = ring.without_node(gone)
        keep = [i for i, n in enumerate(ring.nodes) if n != gone]
        fresh = HashRing([ring.nodes[i] for i in keep], [ring.weights[i] for i in keep], vnodes=16)
        assert shrunk.points.tolist() == fresh.points.tolist()
        assert shrunk.owners.tolist() == fresh.owners.tolist()
    target = rnd.choice(names)
    rew = ring.with_weight(target, 3.25)
    weights = [3.25 if n == target else w for n, w in zip(ring.nodes, ring.weights, strict=True)]
    fresh = HashRing(ring.nodes, weights, vnodes=16)
    assert rew.points.tolist() == fresh.points.tolist()
    assert rew.owners.tolist() == fresh.owners.tolist()


# ----------------------------------------------------------------------------- ring properties


def test_balance_100_nodes_160_points():
    ring = HashRing(_nodes(100))
    share = ring.distribution()
    assert share.sum() == pytest.approx(1.0)
    peak_to_mean = share.max() * 100
    # FIELD-NOTES: about 1.18 for 160 points per node (std of a share ~ 1/sqrt(160)).
    assert 1.05 < peak_to_mean < 1.35
    assert share.min() * 100 > 0.7
    # More points, better balance.
    assert HashRing(_nodes(100), vnodes=1000).distribution().max() * 100 < peak_to_mean


def test_removing_a_node_moves_only_its_keys():
    ring = HashRing(_nodes(50))
    hashes = _random_hashes(200_000)
    before = np.array(ring.nodes, dtype=object)[ring.lookup_hashes(hashes)]
    victim = ring.nodes[17]
    smaller = ring.without_node(victim)
    after = np.array(smaller.nodes, dtype=object)[smaller.lookup_hashes(hashes)]
    moved = before != after
    assert np.all(before[moved] == victim)
    assert not np.any(after == victim)
    assert moved.sum() == (before == victim).sum()


def test_adding_a_node_moves_keys_only_to_it_about_one_over_n_plus_one():
    n = 50
    ring = HashRing(_nodes(n))
    hashes = _random_hashes(200_000, seed=3)
    before = ring.lookup_hashes(hashes)
    bigger = ring.with_node("10.9.9.9:11211")
    after = bigger.lookup_hashes(hashes)
    moved = before != after
    assert np.all(after[moved] == n)  # the new node is appended at index n
    frac = moved.mean()
    assert 0.6 / (n + 1) < frac < 1.4 / (n + 1)


def test_weight_change_moves_keys_only_to_or_from_that_node():
    ring = HashRing(_nodes(20), [1 + (i % 3) for i in range(20)])
    hashes = _random_hashes(100_000, seed=5)
    before = ring.lookup_hashes(hashes)
    for new_weight in (0.25, 4.0):
        changed = ring.with_weight(ring.nodes[4], new_weight)
        after = changed.lookup_hashes(hashes)
        moved = before != after
        assert moved.any()
        assert np.all((before[moved] == 4) | (after[moved] == 4))
        if new_weight > ring.weights[4]:
            assert np.all(after[moved] == 4)
        else:
            assert np.all(before[moved] == 4)


def test_rebuild_in_any_order_is_identical():
    names = _nodes(40)
    weights = [0.5 + (i % 4) for i in range(40)]
    ring = HashRing(names, weights)
    perm = list(range(40))
    random.Random(11).shuffle(perm)
    other = HashRing([names[i] for i in perm], [weights[i] for i in perm])
    assert np.array_equal(ring.points, other.points)
    a = [ring.nodes[o] for o in ring.owners.tolist()]
    b = [other.nodes[o] for o in other.owners.tolist()]
    assert a == b
    keys = [f"key{i}" for i in range(2000)]
    assert ring.lookup_names(keys) == other.lookup_names(keys)


def test_every_positive_weight_gets_a_point_and_counts_follow_weights():
    ring = HashRing(["tiny", "a", "b"], [1e-9, 1.0, 2.5], vnodes=100)
    assert ring.point_counts().tolist() == [1, 100, 250]
    # Half rounds up: 0.125 * 100 = 12.5 -> 13 points.
    assert HashRing(["x", "y"], [0.125, 1], vnodes=100).point_counts().tolist() == [13, 100]


def test_rings_are_immutable_snapshots():
    ring = HashRing(_nodes(5))
    points, owners = ring.points.copy(), ring.owners.copy()
    ring.with_node("extra")
    ring.with_weight(ring.nodes[0], 3)
    ring.without_node(ring.nodes[1])
    assert np.array_equal(ring.points, points)
    assert np.array_equal(ring.owners, owners)
    assert len(ring) == 5 and "extra" not in ring
    for arr in (ring.points, ring.owners):
        assert not arr.flags.writeable
        with pytest.raises(ValueError):
            arr[0] = 1


def test_ties_are_ordered_by_point_then_name():
    # Equal points cannot be provoked through hashes; check the tie-breaking merge directly.
    names = ["b", "c", "d"]  # owners 0, 1, 2; the new node "c2" gets index 3
    pts = np.array([5, 5, 9], dtype=np.uint64)
    owners = np.array([0, 2, 1], dtype=np.int64)  # (5, "b"), (5, "d"), (9, "c")
    new_first = np.array([other > "c2" for other in names])
    mp, mo = _merge_points(pts, owners, np.array([5, 9], dtype=np.uint64), 3, new_first)
    assert mp.tolist() == [5, 5, 5, 9, 9]
    # At 5: "b" < "c2" < "d"; at 9: "c" < "c2".
    assert mo.tolist() == [0, 3, 2, 1, 3]


@pytest.mark.parametrize("spread", ["uniform", "piled"])
def test_stable_sort_points_is_a_stable_sort(spread):
    rng = np.random.default_rng(1)
    if spread == "uniform":
        pts = rng.integers(0, 2**64, 5000, dtype=np.uint64)
        pts[::7] = pts[0]  # duplicates
    else:  # everything in a handful of values: the bucket sort must fall back
        pts = rng.integers(0, 4, 5000).astype(np.uint64)
    owners = np.arange(5000, dtype=np.int64)
    sp, so = _stable_sort_points(pts, owners, 64)
    order = np.argsort(pts, kind="stable")
    assert np.array_equal(sp, pts[order])
    assert np.array_equal(so, owners[order])


# ----------------------------------------------------------------------------- API


def test_get_lookup_and_hashes_agree():
    ring = HashRing(_nodes(30), [1 + i % 5 for i in range(30)])
    keys = [f"user:{i}" for i in range(3000)] + ["", "ключ", "x" * 70]
    idx = ring.lookup(keys)
    assert idx.dtype == np.int64
    assert [ring.get(k) for k in keys] == [ring.nodes[i] for i in idx]
    assert [ring.get_index(k) for k in keys[:50]] == idx[:50].tolist()
    assert np.array_equal(ring.lookup_hashes(ring.hash_keys(keys)), idx)
    assert [ring.hash(k) for k in keys[:50]] == ring.hash_keys(keys[:50]).tolist()
    # bytes, numpy 'U'/'S'/object arrays and PackedKeys give the same answers.
    assert np.array_equal(ring.lookup([k.encode() for k in keys]), idx)
    assert np.array_equal(ring.lookup(np.array(keys)), idx)
    assert np.array_equal(ring.lookup(np.array(keys, dtype=object)), idx)
    assert np.array_equal(ring.lookup(pack_keys(keys)), idx)
    ascii_keys = keys[:3000]
    assert np.array_equal(ring.lookup(np.array([k.encode() for k in ascii_keys])), idx[:3000])
    assert ring.get(b"user:1") == ring.get("user:1") == ring.get(bytearray(b"user:1"))
    assert np.array_equal(ring.lookup(keys, parallel=True), idx)
    assert ring.lookup([]).shape == (0,)
    assert ring.lookup_hashes([]).shape == (0,)


@pytest.mark.parametrize("compat", [None, "libketama", "uhashring"])
def test_awkward_key_lists_take_the_careful_path(compat):
    # NUL inside keys, mixed str/bytes, tuples: every batch path agrees with get().
    ring = HashRing(_nodes(12), compat=compat)
    for keys in (
        ["a\0b", "\0", "", "plain", "x\0"],
        ("t1", "t2", "t3"),
        ["str", b"bytes", bytearray(b"ba"), "é"],
        ["\0\0\0"],
    ):
        expect = [ring.get(k) for k in keys]
        assert ring.lookup_names(keys) == expect
        assert ring.lookup_hashes(ring.hash_keys(keys)).tolist() == [
            ring.index_of(e) for e in expect
        ]
        assert ring.hash_keys(keys).tolist() == [ring.hash(k) for k in keys]
    with pytest.raises(ValueError, match="UTF-8"):
        ring.lookup(["ok", "\ud800"])


def test_lookup_hashes_accepts_any_integer_dtype_and_shape():
    ring = HashRing(_nodes(8))
    h = _random_hashes(1000)
    expect = ring.lookup_hashes(h)
    for dtype in (np.uint8, np.uint16, np.uint32, np.int64, np.int32):
        small = (h >> np.uint64(40)).astype(dtype)
        assert np.array_equal(
            ring.lookup_hashes(small), ring.lookup_hashes(small.astype(np.uint64))
        )
    assert ring.lookup_hashes(h.reshape(10, 100)).shape == (10, 100)
    assert np.array_equal(ring.lookup_hashes(h.reshape(10, 100)).ravel(), expect)
    assert ring.lookup_hashes(h[::2]).tolist() == expect[::2].tolist()  # non-contiguous
    assert ring.lookup_hashes(h.tolist()).tolist() == expect.tolist()  # Python ints >= 2**63
    assert (
        ring.lookup_hashes([0, MAX64]).tolist()
        == ring.lookup_hashes(np.array([0, MAX64], dtype=np.uint64)).tolist()
    )


def test_properties_repr_and_membership():
    ring = HashRing({"a": 1, "b": 2, "c": 0.5}, vnodes=10)
    assert ring.nodes == ("a", "b", "c")
    assert ring.weights == (1.0, 2.0, 0.5)
    assert ring.compat is None and ring.vnodes == 10 and ring.space_bits == 64
    assert len(ring) == 3 and "b" in ring and "z" not in ring and list(ring) == ["a", "b", "c"]
    assert ring.point_counts().tolist() == [10, 20, 5]
    assert ring.points.dtype == np.uint64 and ring.owners.dtype == np.int64
    assert len(ring.points) == 35
    assert np.all(np.diff(ring.points.astype(object)) >= 0)
    assert ring.index_of("c") == 2
    assert repr(ring) == "<HashRing native: 3 nodes, 35 points, vnodes=10>"
    assert ring.with_node("d", 2).nodes == ("a", "b", "c", "d")
    assert ring.without_node("a").nodes == ("b", "c")
    assert ring.with_weight("c", 3).weights == (1.0, 2.0, 3.0)


def test_pickle_round_trip():
    ring = HashRing(_nodes(10), [1 + i for i in range(10)], vnodes=50)
    again = pickle.loads(pickle.dumps(ring))
    assert again.nodes == ring.nodes and again.weights == ring.weights
    assert np.array_equal(again.points, ring.points)
    assert np.array_equal(again.owners, ring.owners)


def test_single_node_ring_takes_every_key():
    ring = HashRing(["only"], vnodes=1)
    assert ring.lookup_hashes([0, 5, MAX64]).tolist() == [0, 0, 0]
    assert ring.distribution().tolist() == [1.0]


def test_readers_see_consistent_rings_while_another_thread_swaps_them():
    rings = [HashRing(_nodes(20))]
    hashes = _random_hashes(20_000)
    expected = {id(rings[0]): rings[0].lookup_hashes(hashes)}
    errors: list[str] = []
    stop = threading.Event()

    def writer():
        r = rings[0]
        for i in range(30):
            r = r.with_node(f"w{i}") if i % 2 == 0 else r.without_node(r.nodes[0])
            expected[id(r)] = r.lookup_hashes(hashes)
            rings[0] = r  # an atomic swap: readers hold whichever snapshot they took
        stop.set()

    def reader():
        while not stop.is_set():
            r = rings[0]
            got = r.lookup_hashes(hashes)
            if id(r) in expected and not np.array_equal(got, expected[id(r)]):
                errors.append("inconsistent")

    threads = [threading.Thread(target=reader) for _ in range(2)]
    threads.append(threading.Thread(target=writer))
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert len(rings[0]) == 20


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"nodes": []}, ValueError, "nodes must not be empty"),
        ({"nodes": ["a", "b", "a"]}, ValueError, "unique.*'a'"),
        ({"nodes": ["a", ""]}, ValueError, r"nodes\[1\]"),
        ({"nodes": ["a", 3]}, TypeError, r"nodes\[1\]"),
        ({"nodes": "abc"}, TypeError, "nodes"),
        ({"nodes": ["a", "b"], "weights": [1]}, ValueError, "weights has 1"),
        ({"nodes": ["a", "b"], "weights": [1, 0]}, ValueError, r"weights\[1\]"),
        ({"nodes": ["a", "b"], "weights": [1, -2]}, ValueError, r"weights\[1\]"),
        ({"nodes": ["a", "b"], "weights": [float("nan"), 1]}, ValueError, r"weights\[0\]"),
        ({"nodes": ["a", "b"], "weights": [float("inf"), 1]}, ValueError, r"weights\[0\]"),
        ({"nodes": ["a", "b"], "weights": [1, "2"]}, TypeError, r"weights\[1\]"),
        ({"nodes": ["a", "b"], "weights": [True, 1]}, TypeError, r"weights\[0\]"),
        ({"nodes": ["a"], "compat": "ketama"}, ValueError, "compat"),
        ({"nodes": ["a"], "vnodes": 0}, ValueError, "vnodes"),
        ({"nodes": ["a"], "vnodes": 2.5}, TypeError, "vnodes"),
        ({"nodes": {"a": 1}, "weights": [1]}, TypeError, "weights"),
    ],
)
def test_bad_construction(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        HashRing(**kwargs)


def test_bad_lookups():
    ring = HashRing(["a", "b"])
    with pytest.raises(TypeError, match="hashes"):
        ring.lookup_hashes(np.array([1.5, 2.0]))
    with pytest.raises(TypeError, match="hashes"):
        ring.lookup_hashes(np.array([True, False]))
    with pytest.raises(TypeError, match="hashes"):
        ring.lookup_hashes(["a"])
    with pytest.raises(TypeError, match="hashes"):
        ring.lookup_hashes(5)
    with pytest.raises(ValueError, match="non-negative"):
        ring.lookup_hashes(np.array([3, -1]))
    with pytest.raises(ValueError, match=r"hashes\[1\]"):
        ring.lookup_hashes([3, -1, 1 << 64])
    with pytest.raises(ValueError, match=r"hashes\[0\]"):
        ring.lookup_hashes([1 << 64])
    with pytest.raises(TypeError, match="lookup_hashes"):
        ring.lookup(np.arange(3))
    with pytest.raises(TypeError, match="keys"):
        ring.lookup([1, 2])
    with pytest.raises(TypeError, match="key"):
        ring.get(42)
    with pytest.raises(TypeError, match="key"):
        ring.get(None)


def test_bad_edits():
    ring = HashRing(["a", "b"])
    with pytest.raises(KeyError, match="'zz'"):
        ring.without_node("zz")
    with pytest.raises(KeyError, match="'zz'"):
        ring.with_weight("zz", 2)
    with pytest.raises(ValueError, match="already"):
        ring.with_node("a")
    with pytest.raises(ValueError, match="weight"):
        ring.with_node("c", 0)
    with pytest.raises(ValueError, match="weight"):
        ring.with_weight("a", -1)
    with pytest.raises(ValueError, match="last node"):
        ring.without_node("a").without_node("b")
    with pytest.raises(TypeError, match="name"):
        ring.with_node(7)


@settings(max_examples=20)
@given(n=st.integers(1, 200), vnodes=st.integers(1, 300))
def test_lookup_of_points_and_edges_matches_searchsorted(n, vnodes):
    # The bucket table across sizes (few points per bucket, many buckets per point).
    ring = HashRing(_nodes(n), vnodes=vnodes)
    pts, own = ring.points, ring.owners
    h = np.concatenate(
        [pts, pts - np.uint64(1), pts + np.uint64(1), np.array([0, MAX64], dtype=np.uint64)]
    )
    h = np.concatenate([h, _random_hashes(2000, seed=n)])
    expect = own[np.searchsorted(pts, h, side="left") % len(pts)]
    assert np.array_equal(ring.lookup_hashes(h), expect)


def _child_lookup(conn, ring_bytes, hashes):
    ring = pickle.loads(ring_bytes)
    conn.send(ring.lookup_hashes(hashes, parallel=True).tolist())
    conn.close()


@pytest.mark.timeout(120)
def test_parallel_lookup_in_a_child_forked_after_openmp_started():
    # GNU OpenMP is not fork-safe: numba terminates a forked child that starts a
    # parallel region after the parent did.  The ring must fall back to serial there.
    import multiprocessing

    ring = HashRing(_nodes(10))
    hashes = _random_hashes(5000)
    expect = ring.lookup_hashes(hashes, parallel=True).tolist()  # starts the thread pool
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_child_lookup, args=(child, pickle.dumps(ring), hashes))
    proc.start()
    try:
        assert parent.poll(60), "child sent nothing"
        assert parent.recv() == expect
    finally:
        proc.join(60)
    assert proc.exitcode == 0
