"""Consistent hashing with bounded loads: caps, the plain-Python twin, the online balancer."""

from __future__ import annotations

import math
import random
import threading

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kernels.bounded import BoundedLoadBalancer, assign_bounded, bounded_capacities
from kernels.ring import HashRing
from tests.reference import ring as ref

MODES = [None, "libketama", "uhashring"]


def _ring_and_twin(compat, names, weights, vnodes):
    ring = HashRing(names, weights, compat=compat, vnodes=vnodes)
    return ring, ref.RefRing(names, weights, compat, vnodes)


@given(
    compat=st.sampled_from(MODES),
    n=st.integers(1, 8),
    data=st.data(),
    balance=st.floats(1.0, 3.0, allow_nan=False),
    m=st.integers(0, 300),
    seed=st.integers(0, 2**32),
)
def test_assign_bounded_matches_reference_and_respects_caps(compat, n, data, balance, m, seed):
    names = [f"node{i}" for i in range(n)]
    if compat is None:
        weights = data.draw(st.lists(st.sampled_from([0.5, 1.0, 2.0, 3.0]), min_size=n, max_size=n))
        vnodes = data.draw(st.integers(1, 20))
    else:
        weights = data.draw(st.lists(st.integers(1, 5), min_size=n, max_size=n))
        vnodes = data.draw(st.integers(1, 10)) if compat == "uhashring" else None
    ring, twin = _ring_and_twin(compat, names, weights, vnodes)
    bits = ring.space_bits
    rnd = random.Random(seed)
    # Hot keys on purpose: a few hashes repeat many times.
    pool = [rnd.getrandbits(bits) for _ in range(max(1, m // 10))] + [0, (1 << bits) - 1]
    hashes = [rnd.choice(pool) for _ in range(m)]
    got = assign_bounded(ring, np.array(hashes, dtype=np.uint64), balance)
    assert got.tolist() == ref.assign_bounded(twin, hashes, balance)
    caps = bounded_capacities(ring, m, balance)
    assert caps.tolist() == ref.capacities(twin, m, balance)
    loads = np.bincount(got, minlength=n)
    assert np.all(loads <= caps)
    assert loads.sum() == m


@given(
    compat=st.sampled_from(MODES),
    n=st.integers(1, 8),
    balance=st.floats(1.0, 2.0, allow_nan=False),
    m=st.integers(1, 200),
    seed=st.integers(0, 2**32),
)
def test_online_balancer_matches_reference(compat, n, balance, m, seed):
    names = [f"n{i}" for i in range(n)]
    weights = [1 + (i % 3) for i in range(n)]
    ring, twin = _ring_and_twin(compat, names, weights, None)
    rnd = random.Random(seed)
    hashes = [rnd.getrandbits(ring.space_bits) for _ in range(m)]
    lb = BoundedLoadBalancer(ring, balance)
    half = m // 2
    first = [lb.assign(h) for h in hashes[:half]]
    rest = lb.assign_many(np.array(hashes[half:], dtype=np.uint64)).tolist()
    assert first + rest == ref.assign_online(twin, hashes, balance)
    assert lb.in_flight == m
    assert lb.loads.tolist() == np.bincount(first + rest, minlength=n).tolist()


def test_equal_weights_cap_is_the_papers_bound():
    ring = HashRing([f"s{i}" for i in range(7)])
    for m, c in [(1000, 1.25), (999, 1.1), (7, 1.0), (10, 2.0), (1, 1.5)]:
        assert bounded_capacities(ring, m, c).tolist() == [math.ceil(c * m / 7)] * 7
        keys = [f"k{m}-{i}" for i in range(m)]
        loads = np.bincount(assign_bounded(ring, keys, c), minlength=7)
        assert loads.max() <= math.ceil(c * m / 7)


def test_weighted_caps_follow_weights():
    ring = HashRing(["a", "b", "c"], [1, 2, 5])
    caps = bounded_capacities(ring, 800, 1.25)
    assert caps.tolist() == [125, 250, 625]
    # All keys hashing to one place: they spill clockwise, filling nodes to their caps.
    owners = assign_bounded(ring, np.full(800, 12345, dtype=np.uint64), 1.0)
    assert np.bincount(owners, minlength=3).tolist() == [100, 200, 500]


def test_node_without_points_gets_no_capacity():
    ring = HashRing(["big", "tiny"], [10_000, 1], compat="libketama")
    assert ring.point_counts().tolist()[1] == 0
    caps = bounded_capacities(ring, 100, 1.25)
    assert caps.tolist() == [125, 0]
    assert set(assign_bounded(ring, [f"k{i}" for i in range(100)]).tolist()) == {0}


def test_bounded_keeps_most_keys_where_the_ring_puts_them():
    ring = HashRing([f"s{i}" for i in range(20)])
    keys = [f"user:{i}" for i in range(20_000)]
    plain = ring.lookup(keys)
    bounded = assign_bounded(ring, keys, 1.25)
    assert (plain == bounded).mean() > 0.9
    assert np.bincount(bounded).max() <= math.ceil(1.25 * 20_000 / 20)
    assert np.bincount(plain).max() > math.ceil(1.05 * 20_000 / 20)  # the ring alone is lumpier


def test_keys_and_hashes_inputs_agree():
    ring = HashRing([f"s{i}" for i in range(5)], compat="uhashring")
    keys = [f"k{i}" for i in range(500)]
    a = assign_bounded(ring, keys)
    assert np.array_equal(a, assign_bounded(ring, ring.hash_keys(keys)))
    assert np.array_equal(a, assign_bounded(ring, ring.hash_keys(keys).tolist()))
    assert np.array_equal(a, assign_bounded(ring, np.array(keys)))
    assert assign_bounded(ring, []).shape == (0,)


def test_online_release_and_dynamic_cap():
    ring = HashRing(["a", "b"])
    lb = BoundedLoadBalancer(ring, balance=1.0)
    first = lb.assign("user:1")
    second = lb.assign("user:1")  # cap ceil(1.0 * 2 / 2) = 1: the hot key spills over
    assert {first, second} == {0, 1}
    assert lb.capacities().tolist() == [2, 2]
    lb.release(first)
    assert lb.in_flight == 1 and lb.loads.tolist()[first] == 0
    assert lb.assign("user:1") == first  # room again at its own node
    lb.release(ring.nodes[second])  # by name
    assert lb.in_flight == 1
    with pytest.raises(ValueError, match="no request in flight"):
        lb.release(second)
    assert not lb.loads.flags.writeable
    assert "1 in flight" in repr(lb)


def test_online_with_ring_carries_loads_by_name():
    lb = BoundedLoadBalancer(HashRing(["a", "b", "c"]), 1.5)
    for i in range(30):
        lb.assign(f"k{i}")
    before = dict(zip(lb.ring.nodes, lb.loads.tolist(), strict=True))
    moved = lb.with_ring(lb.ring.without_node("b").with_node("d"))
    assert moved.ring.nodes == ("a", "c", "d")
    assert moved.loads.tolist() == [before["a"], before["c"], 0]
    assert moved.in_flight == before["a"] + before["c"]


def test_online_balancer_is_thread_safe():
    ring = HashRing([f"s{i}" for i in range(8)])
    lb = BoundedLoadBalancer(ring, 1.25)

    def work(t):
        for i in range(500):
            node = lb.assign(f"t{t}-{i}")
            if i % 2:
                lb.release(node)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert lb.in_flight == 4 * 250
    assert int(lb.loads.sum()) == 1000


@pytest.mark.parametrize("bad", [0.99, 0.0, -1.0, float("nan"), float("inf")])
def test_balance_below_one_is_rejected(bad):
    ring = HashRing(["a", "b"])
    with pytest.raises(ValueError, match="balance"):
        assign_bounded(ring, ["x"], bad)
    with pytest.raises(ValueError, match="balance"):
        BoundedLoadBalancer(ring, bad)


def test_bad_input():
    ring = HashRing(["a", "b"], compat="libketama")
    with pytest.raises(TypeError, match="balance"):
        assign_bounded(ring, ["x"], "1.5")
    with pytest.raises(TypeError, match="ring"):
        assign_bounded(["a", "b"], ["x"])
    with pytest.raises(ValueError, match="2\\*\\*32"):
        assign_bounded(ring, [1 << 33])
    with pytest.raises(ValueError, match="non-negative"):
        assign_bounded(ring, np.array([-5]))
    with pytest.raises(TypeError, match="keys_or_hashes"):
        assign_bounded(ring, "abc")
    with pytest.raises(ValueError, match="m must"):
        bounded_capacities(ring, -1)
    lb = BoundedLoadBalancer(ring)
    with pytest.raises(KeyError):
        lb.release("zz")
    with pytest.raises(IndexError):
        lb.release(5)
    with pytest.raises(TypeError):
        lb.release(1.0)
    with pytest.raises(ValueError, match="2\\*\\*32"):
        lb.assign(1 << 40)
