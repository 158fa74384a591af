"""HashRing's ketama compatibility modes against the real libraries and the plain-Python twin.

Peers (both in the ``test`` extra): ``ketama`` (Python bindings around the C
libketama) and ``uhashring`` 2.5 (``hash_fn="ketama"``).

The ``ketama`` binding keeps its continuum in SysV shared memory keyed on the
conf file, and destroying *any* ``Ketama`` object detaches every continuum in
the process: so one object lives at a time (:func:`_ketama_peer`) and each
cluster has its own conf file in ``tmp_path``.  Its ``get_server`` hashes a
``str`` key over ``len(key)`` *characters* of the UTF-8 bytes, so only ASCII
str keys (and bytes) are compared with it.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
import uhashring
from hypothesis import given
from hypothesis import strategies as st
from ketama import Ketama

from kernels.ring import HashRing
from tests.reference import ring as ref

MAX32 = (1 << 32) - 1

NODES_61 = [f"10.0.0.{i}:11211" for i in range(61)]
NODES_3 = ["10.0.0.1:11211", "10.0.0.2:11211", "10.0.0.3:11211"]
WEIGHTS_3 = [100, 200, 300]
# Two addresses whose md5 points collide at 142023762 (found by search): a tie.
TIE_PAIR = ["10.1.7.67:11211", "10.1.7.79:11211"]
TIE_POINT = 142023762

LIBKETAMA_CLUSTERS = {
    "61-equal": (NODES_61, [1] * 61),
    "7-unequal": ([f"10.0.1.{i}:11211" for i in range(7)], [900, 300, 1500, 1, 77, 2048, 512]),
    "100-equal": ([f"10.2.{i // 256}.{i % 256}:11211" for i in range(100)], [1] * 100),
    "tie": (TIE_PAIR, [100, 100]),
}


def _keys(n: int, seed: int) -> list[str]:
    rnd = random.Random(seed)
    return [f"key:{rnd.getrandbits(48):x}" for _ in range(n)] + ["", "a", "x" * 80]


def _ketama_peer(
    tmp_path, tag: str, nodes: list[str], weights: list[int], keys: list
) -> tuple[list[tuple[int, str]], list[str]]:
    """Points and ``get_server`` answers from the C library, one Ketama object at a time."""
    conf = tmp_path / f"{tag}.conf"
    conf.write_text("".join(f"{n}\t{w}\n" for n, w in zip(nodes, weights, strict=True)))
    peer = Ketama(str(conf))
    try:
        points = peer.get_points()
        servers = [peer.get_server(k)[1] for k in keys]
    finally:
        del peer
    return points, servers


# ----------------------------------------------------------------------------- libketama


@pytest.mark.parametrize("cluster", sorted(LIBKETAMA_CLUSTERS))
def test_libketama_matches_the_c_library(tmp_path, cluster):
    nodes, weights = LIBKETAMA_CLUSTERS[cluster]
    keys = _keys(4000, seed=len(nodes))
    keys += [k.encode() for k in keys[:200]]
    peer_points, peer_servers = _ketama_peer(tmp_path, cluster, nodes, weights, keys)
    ring = HashRing(nodes, weights, compat="libketama")
    assert ring.points.tolist() == [p for p, _ in peer_points]
    names = [ring.nodes[o] for o in ring.owners.tolist()]
    peer_names = [a for _, a in peer_points]
    unique = np.r_[True, np.diff(ring.points) != 0] & np.r_[np.diff(ring.points) != 0, True]
    assert [n for n, u in zip(names, unique, strict=True) if u] == [
        n for n, u in zip(peer_names, unique, strict=True) if u
    ]
    # Ties: glibc's qsort is a merge sort (stable) here, as our order (servers as listed).
    assert names == peer_names
    assert ring.lookup_names(keys) == peer_servers
    assert [ring.get(k) for k in keys[:500]] == peer_servers[:500]


def test_libketama_61_equal_nodes_get_39_digests_each():
    ring = HashRing(NODES_61, compat="libketama")
    assert len(ring.points) == 9516 == 61 * 39 * 4
    assert set(ring.point_counts().tolist()) == {156}
    assert len(HashRing(NODES_61[:60], compat="libketama").points) == 60 * 160


def test_libketama_fixed_vectors():
    # From the C library (ketama 0.1.1) for 3 servers weighted 100/200/300.
    ring = HashRing(NODES_3, WEIGHTS_3, compat="libketama")
    assert len(ring.points) == 480
    assert ring.points[:4].tolist() == [7234733, 8741772, 12697329, 24500654]
    vectors = {  # key: (server, the continuum point get_server returned)
        "user:42": ("10.0.0.1:11211", 421689038),
        "foo": ("10.0.0.3:11211", 3679972854),
        "bar": ("10.0.0.1:11211", 421689038),
        "": ("10.0.0.2:11211", 3655867154),
        "session:abcdef": ("10.0.0.1:11211", 2004188753),
        "0": ("10.0.0.3:11211", 2226423957),
        "key-1000": ("10.0.0.3:11211", 866841113),
        "hello world": ("10.0.0.1:11211", 3146037227),
    }
    got = {}
    for key in vectors:
        i = int(np.searchsorted(ring.points, ring.hash(key), side="left")) % len(ring.points)
        got[key] = (ring.get(key), int(ring.points[i]))
    assert got == vectors
    # uhashring gives the same servers for this cluster (no ties, no count difference).
    uh = HashRing(NODES_3, WEIGHTS_3, compat="uhashring")
    assert {k: uh.get(k) for k in vectors} == {k: v[0] for k, v in vectors.items()}


# ----------------------------------------------------------------------------- uhashring


UHASHRING_CLUSTERS = {
    "61-equal": (NODES_61, None, None),
    "unequal": ([f"cache-{i}" for i in range(9)], [1, 2, 3, 5, 8, 13, 21, 34, 55], None),
    "vnodes-20": ([f"10.3.0.{i}:6379" for i in range(25)], None, 20),
    "single": (["alone"], None, None),
    "tie": (TIE_PAIR, None, None),
    "tie-reversed": (TIE_PAIR[::-1], None, None),
    "unicode": (["nœud-α", "nœud-β", "节点"], [1, 2, 3], 7),
}


def _uhashring_peer(nodes, weights, vnodes):
    spec = nodes if weights is None else dict(zip(nodes, weights, strict=True))
    kwargs = {"hash_fn": "ketama"}
    if vnodes is not None:
        kwargs["vnodes"] = vnodes
    return uhashring.HashRing(spec, **kwargs)


@pytest.mark.parametrize("cluster", sorted(UHASHRING_CLUSTERS))
def test_uhashring_matches_uhashring(cluster):
    nodes, weights, vnodes = UHASHRING_CLUSTERS[cluster]
    peer = _uhashring_peer(nodes, weights, vnodes)
    ring = HashRing(nodes, weights, compat="uhashring", vnodes=vnodes)
    # get_points lists every point, duplicates included, each with the dict's owner.
    assert [(int(p), ring.nodes[o]) for p, o in zip(ring.points, ring.owners, strict=True)] == (
        peer.get_points()
    )
    keys = [*_keys(4000, seed=len(nodes)), "ключ", "clé", "🔑"]
    expect = [peer.get_node(k) for k in keys]
    assert ring.lookup_names(keys) == expect
    assert [ring.get(k) for k in keys[:500]] == expect[:500]
    assert ring.hash_keys(keys[:100]).tolist() == [peer.get_key(k) for k in keys[:100]]


def test_uhashring_61_equal_nodes_keep_40_digests_each():
    ring = HashRing(NODES_61, compat="uhashring")
    assert len(ring.points) == 9760 == 61 * 160
    assert len(_uhashring_peer(NODES_61, None, None).get_points()) == 9760


def test_the_two_compat_modes_differ_where_the_libraries_do():
    # Vectors from the peers for 61 equal servers: libketama's 39 digests per server
    # against uhashring's 40.
    lk = HashRing(NODES_61, compat="libketama")
    uh = HashRing(NODES_61, compat="uhashring")
    vectors = {
        "user:51": ("10.0.0.56:11211", "10.0.0.3:11211"),
        "user:96": ("10.0.0.1:11211", "10.0.0.44:11211"),
        "user:98": ("10.0.0.10:11211", "10.0.0.54:11211"),
        "user:143": ("10.0.0.26:11211", "10.0.0.53:11211"),
    }
    assert {k: (lk.get(k), uh.get(k)) for k in vectors} == vectors


def test_tie_owners_per_mode():
    # libketama keeps both copies in listed order and a key stops at the first;
    # uhashring's dict gives the point to the node listed last.
    for order in (TIE_PAIR, TIE_PAIR[::-1]):
        lk = HashRing(order, [100, 100], compat="libketama")
        at = np.nonzero(lk.points == TIE_POINT)[0]
        assert [lk.nodes[o] for o in lk.owners[at]] == order
        assert lk.lookup_hashes([TIE_POINT]).tolist() == [lk.index_of(order[0])]
        uh = HashRing(order, compat="uhashring")
        at = np.nonzero(uh.points == TIE_POINT)[0]
        assert [uh.nodes[o] for o in uh.owners[at]] == [order[1], order[1]]
        assert uh.lookup_hashes([TIE_POINT - 1]).tolist() == [uh.index_of(order[1])]


def test_uhashring_strictly_greater_and_wrap():
    ring = HashRing(NODES_3, WEIGHTS_3, compat="uhashring")
    pts, own = ring.points, ring.owners
    p = int(pts[10])
    # A hash equal to a point belongs to the *next* point; just below it, to that point.
    assert ring.lookup_hashes([p]).tolist() == [int(own[11])]
    assert ring.lookup_hashes([p - 1]).tolist() == [int(own[10])]
    assert ring.lookup_hashes([MAX32, int(pts[-1])]).tolist() == [int(own[0])] * 2
    lk = HashRing(NODES_3, WEIGHTS_3, compat="libketama")
    assert lk.lookup_hashes([int(lk.points[10])]).tolist() == [int(lk.owners[10])]
    assert lk.lookup_hashes([MAX32, 0]).tolist() == [int(lk.owners[0])] * 2


# ----------------------------------------------------------------------------- against the twin

small_names = st.lists(
    st.text(alphabet="abc.:-07ü", min_size=1, max_size=6), min_size=1, max_size=6, unique=True
)


@given(
    compat=st.sampled_from(["libketama", "uhashring"]),
    names=small_names,
    data=st.data(),
    seed=st.integers(0, 2**32),
)
def test_ketama_modes_match_reference(compat, names, data, seed):
    weights = data.draw(st.lists(st.integers(1, 9), min_size=len(names), max_size=len(names)))
    vnodes = data.draw(st.integers(1, 12)) if compat == "uhashring" else None
    ring = HashRing(names, weights, compat=compat, vnodes=vnodes)
    twin = ref.RefRing(names, weights, compat, vnodes)
    assert ring.points.tolist() == twin.points
    assert ring.owners.tolist() == twin.owners
    rnd = random.Random(seed)
    hs = {0, 1, MAX32 - 1, MAX32}
    for p in twin.points:
        hs.update({p, max(p - 1, 0), min(p + 1, MAX32)})
    hs.update(rnd.getrandbits(32) for _ in range(50))
    hashes = sorted(hs)
    expect = [twin.lookup_hash(h) for h in hashes]
    assert ring.lookup_hashes(np.array(hashes, dtype=np.uint32)).tolist() == expect
    assert ring.lookup_hashes(hashes, parallel=True).tolist() == expect
    keys = [f"k{seed}-{i}" for i in range(20)]
    assert ring.lookup_names(keys) == [twin.get(k) for k in keys]
    np.testing.assert_allclose(ring.distribution(), twin.distribution(), rtol=1e-12, atol=1e-15)


@given(weights=st.lists(st.integers(1, 10**6), min_size=1, max_size=80))
def test_libketama_digest_counts_match_float32_reference(weights):
    names = [f"s{i}" for i in range(len(weights))]
    ring = HashRing(names, weights, compat="libketama")
    assert (ring.point_counts() // 4).tolist() == ref.libketama_digests(weights)


# ----------------------------------------------------------------------------- edits and bad input


def test_ketama_edits_rebuild_like_a_fresh_ring():
    for compat in ("libketama", "uhashring"):
        ring = HashRing(NODES_3, WEIGHTS_3, compat=compat)
        grown = ring.with_node("10.0.0.4:11211", 50)
        fresh = HashRing([*NODES_3, "10.0.0.4:11211"], [*WEIGHTS_3, 50], compat=compat)
        assert np.array_equal(grown.points, fresh.points)
        assert np.array_equal(grown.owners, fresh.owners)
        shrunk = ring.without_node(NODES_3[1])
        fresh = HashRing([NODES_3[0], NODES_3[2]], [100, 300], compat=compat)
        assert np.array_equal(shrunk.points, fresh.points)
        rew = ring.with_weight(NODES_3[0], 300)
        fresh = HashRing(NODES_3, [300, 200, 300], compat=compat)
        assert np.array_equal(rew.owners, fresh.owners)
        assert ring.weights == (100, 200, 300)


@pytest.mark.parametrize("compat", ["libketama", "uhashring"])
def test_ketama_bad_input(compat):
    with pytest.raises(ValueError, match=r"weights\[1\].*whole"):
        HashRing(["a", "b"], [1, 1.5], compat=compat)
    with pytest.raises(ValueError, match=r"weights\[0\]"):
        HashRing(["a", "b"], [0, 1], compat=compat)
    ring = HashRing(["a", "b"], [1, 2.0], compat=compat)
    assert ring.weights == (1, 2)
    with pytest.raises(ValueError, match="2\\*\\*32"):
        ring.lookup_hashes(np.array([1, 1 << 32], dtype=np.uint64))
    with pytest.raises(ValueError, match="2\\*\\*32"):
        ring.lookup_hashes([1 << 40])
    with pytest.raises(ValueError, match="non-negative"):
        ring.lookup_hashes(np.array([-1]))
    with pytest.raises(ValueError, match="weight"):
        ring.with_node("c", 0.5)


def test_libketama_vnodes_is_fixed():
    with pytest.raises(ValueError, match="vnodes"):
        HashRing(["a"], compat="libketama", vnodes=80)
    assert HashRing(["a"], compat="libketama", vnodes=40).vnodes == 40
