"""Selection kernels: smooth WRR, alias method, power of two choices, least loaded."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from kernels._rng import make_state
from kernels._select_cores import (
    _alias_sample,
    _least_loaded,
    _p2c_choose,
    _p2c_pair,
    _swrr_next,
)
from kernels.select import (
    AliasTable,
    LeastLoaded,
    PowerOfTwoChoices,
    SmoothWeightedRoundRobin,
)
from tests.reference import select as ref

seeds = st.integers(0, 2**64 - 1)
int_weights = st.lists(st.integers(0, 40), min_size=1, max_size=12).filter(any)
float_weights = st.lists(
    st.one_of(st.just(0.0), st.floats(1e-6, 1e6, allow_nan=False)), min_size=1, max_size=40
).filter(any)


def bernstein_halfwidth(n_draws: int, p: float, delta: float) -> float:
    """``t`` with ``P(|X - n p| >= t) <= delta`` for ``X ~ Binomial(n, p)`` (Bernstein).

    ``P(|X - np| >= t) <= 2 exp(-t**2 / (2 (n p (1 - p) + t / 3)))``; solved for
    ``t``.  A rigorous bound (no normal approximation), so the stated
    false-failure probabilities below are true upper bounds.
    """
    log_term = math.log(2.0 / delta)
    var = n_draws * p * (1.0 - p)
    return log_term / 3.0 + math.sqrt((log_term / 3.0) ** 2 + 2.0 * var * log_term)


def frequencies_ok(counts: np.ndarray, probs: np.ndarray, delta: float) -> bool:
    """Every cell within its Bernstein bound; the union bound makes ``delta`` the total."""
    n_draws = int(counts.sum())
    per_cell = delta / len(probs)
    return all(
        abs(int(c) - n_draws * p) <= bernstein_halfwidth(n_draws, p, per_cell)
        for c, p in zip(counts, probs, strict=True)
    )


# ---------------------------------------------------------------------------------------------
# smooth weighted round-robin


@pytest.mark.parametrize(
    ("weights", "expected"),
    [
        ([5, 1, 1], "aabacaa"),  # nginx's own example
        ([4, 2, 1], "abacaba"),
        ([1, 2], "bab"),
        ([2, 1], "aba"),
        ([1, 1, 1], "abc"),
        ([0, 3, 0], "bbb"),
    ],
)
def test_swrr_exact_interleavings(weights, expected):
    names = "abcdefgh"
    wrr = SmoothWeightedRoundRobin(weights)
    assert "".join(names[wrr.next()] for _ in range(len(expected))) == expected
    # one period later the sequence repeats, from the batch entry point too
    assert "".join(names[i] for i in wrr.take(2 * len(expected))) == expected * 2


@given(int_weights, st.integers(0, 300))
def test_swrr_batch_matches_reference(weights, k):
    assert SmoothWeightedRoundRobin(weights).take(k).tolist() == ref.swrr_sequence(weights, k)


@given(int_weights)
def test_swrr_full_period_exact_shares_and_back_to_zero(weights):
    total = sum(weights)
    wrr = SmoothWeightedRoundRobin(weights)
    picks = wrr.take(total)
    assert np.bincount(picks, minlength=len(weights)).tolist() == weights
    assert wrr.current.tolist() == [0] * len(weights)


@given(int_weights, st.integers(1, 3))
def test_swrr_never_ahead_of_its_share(weights, periods):
    """After any t picks from the zero state, peer i has at most ceil(t * w_i / W) of them.

    (Proof: the winner's pre-pick counter is at least W / n > 0, so every
    counter stays above -W, and counter_i(t) = t * w_i - W * picks_i(t).)
    """
    total = sum(weights)
    picks = SmoothWeightedRoundRobin(weights).take(periods * total)
    seen = np.zeros(len(weights), dtype=np.int64)
    for t, p in enumerate(picks, start=1):
        seen[p] += 1
        assert seen[p] <= -(-t * weights[p] // total)


def test_swrr_maximal_gap_small_weight_sets():
    """Peer i waits fewer than 2 * W / w_i picks between turns (cyclically).

    Not a theorem we can cite: verified here exhaustively for up to 4 peers
    with weights 1..5 (and documented as such); the worst ratio seen is 1.8.
    """
    worst = 0.0
    for n in range(1, 5):
        for weights in itertools.product(range(1, 6), repeat=n):
            total = sum(weights)
            picks = SmoothWeightedRoundRobin(list(weights)).take(2 * total).tolist()
            for i, w in enumerate(weights):
                pos = [t for t, p in enumerate(picks) if p == i]
                gap = max(b - a for a, b in itertools.pairwise(pos))
                worst = max(worst, gap * w / total)
                assert gap < 2 * total / w, (weights, i, gap)
    assert worst > 1.5  # the bound is nearly tight, so the check has teeth


@given(int_weights, st.integers(0, 100))
def test_swrr_start_offset_rotates_the_sequence(weights, start):
    total = sum(weights)
    full = ref.swrr_sequence(weights, start + 2 * total)
    got = SmoothWeightedRoundRobin(weights, start=start).take(2 * total).tolist()
    assert got == full[start:]


def test_swrr_start_needs_no_buffer_and_wraps_by_period():
    big = SmoothWeightedRoundRobin([10**12, 1], start=300_000)  # skips without storing picks
    assert big.take(3).tolist() == [0, 0, 0]
    assert SmoothWeightedRoundRobin([4, 2, 1], start=7 * 1000 + 2).take(5).tolist() == (
        SmoothWeightedRoundRobin([4, 2, 1], start=2).take(5).tolist()
    )


_ops = st.lists(
    st.one_of(
        st.tuples(st.just("next"), st.integers(1, 70)),
        st.tuples(st.just("take"), st.integers(0, 20)),
        st.tuples(st.just("set"), int_weights),
        st.tuples(st.just("current"), st.just(0)),
    ),
    max_size=12,
)


@given(int_weights, _ops)
def test_swrr_interleaved_calls_match_reference(weights, ops):
    """Buffered next(), batch take(), set_weights() and state reads agree with the twin."""
    wrr = SmoothWeightedRoundRobin(weights)
    w, cur = list(weights), [0] * len(weights)
    for op, arg in ops:
        if op == "next":
            assert [wrr.next() for _ in range(arg)] == ref.swrr_sequence(w, arg, cur)
        elif op == "take":
            assert wrr.take(arg).tolist() == ref.swrr_sequence(w, arg, cur)
        elif op == "set":
            wrr.set_weights(arg)
            cur, w = ref.swrr_reweight(cur, arg), list(arg)
        else:
            assert wrr.current.tolist() == cur
    assert wrr.current.tolist() == cur


@given(int_weights, st.integers(0, 50), st.data())
def test_swrr_set_weights_keeps_state_sane(weights, prefix, data):
    new = data.draw(
        st.lists(st.integers(0, 40), min_size=len(weights), max_size=len(weights)).filter(any)
    )
    wrr = SmoothWeightedRoundRobin(weights)
    wrr.take(prefix)
    wrr.set_weights(new)
    cur = wrr.current
    assert cur.sum() == 0
    assert (cur[np.asarray(new) == 0] == 0).all()
    total = sum(new)
    periods = 20
    picks = wrr.take(periods * total)
    counts = np.bincount(picks, minlength=len(new))
    assert (counts[np.asarray(new) == 0] == 0).all()  # drained peers are never picked
    # picks_i = (t * w_i + c_i(0) - c_i(t)) / W; every counter stays within
    # (n - 1) * max(W, max |c(0)|) + max |c(0)| of zero (sum-zero, each above min(c(0), -W)).
    spread = max(total, int(np.abs(cur).max()))
    slack = (len(new) * spread + int(np.abs(cur).max())) / total
    assert np.all(np.abs(counts - periods * np.asarray(new)) <= slack)


def test_swrr_numba_core_in_place():
    current = np.zeros(3, dtype=np.int64)
    weights = np.array([5, 1, 1], dtype=np.int64)
    assert [_swrr_next(current, weights) for _ in range(7)] == [0, 0, 1, 0, 2, 0, 0]
    assert current.tolist() == [0, 0, 0]


@pytest.mark.parametrize(
    ("weights", "exc", "match"),
    [
        ([], ValueError, "weights must not be empty"),
        ([1, -1], ValueError, "weights must be non-negative"),
        ([0, 0], ValueError, "weights must not all be zero"),
        ([1.5, 2.0], TypeError, "weights must be integers"),
        ([1.0, float("nan")], TypeError, "weights must be integers"),
        ([[1, 2]], ValueError, "weights must be 1-D"),
        (["a", "b"], TypeError, "weights must hold real numbers"),
        ("ab", TypeError, "weights must be a sequence"),
        ([True, False], TypeError, "weights must hold real numbers"),
        ([2**61, 2**61], ValueError, "weights too large"),
    ],
)
def test_swrr_bad_weights(weights, exc, match):
    with pytest.raises(exc, match=match):
        SmoothWeightedRoundRobin(weights)
    wrr = SmoothWeightedRoundRobin([1, 1])
    with pytest.raises(exc, match=match):
        wrr.set_weights(weights)
    assert wrr.take(2).tolist() == [0, 1]  # a failed update leaves the balancer intact


def test_swrr_bad_counts():
    with pytest.raises(ValueError, match="k must be >= 0"):
        SmoothWeightedRoundRobin([1]).take(-1)
    with pytest.raises(TypeError, match="start must be an int"):
        SmoothWeightedRoundRobin([1], start=1.5)


def test_swrr_resize_and_reset():
    wrr = SmoothWeightedRoundRobin([5, 1, 1])
    wrr.next()
    wrr.set_weights([1, 2])  # a different peer count starts over
    assert wrr.current.tolist() == [0, 0]
    assert wrr.take(3).tolist() == [1, 0, 1]
    wrr.next()
    wrr.reset()
    assert wrr.take(3).tolist() == [1, 0, 1]
    assert list(itertools.islice(wrr, 3)) == [1, 0, 1]


# ---------------------------------------------------------------------------------------------
# alias method


@given(float_weights)
def test_alias_build_matches_reference(weights):
    table = AliasTable(weights, seed=0)
    prob, alias = ref.vose_build([float(w) for w in weights])
    assert table.prob.tolist() == prob
    assert table.alias.tolist() == alias


@given(float_weights)
def test_alias_table_encodes_the_distribution(weights):
    table = AliasTable(weights, seed=0)
    mass = np.array(ref.alias_mass(table.prob.tolist(), table.alias.tolist()))
    target = np.asarray(weights) / math.fsum(weights)
    assert np.allclose(mass, target, rtol=0, atol=1e-12 * len(weights) + 1e-15)
    zero = np.asarray(weights) == 0
    assert (table.prob[zero] == 0).all()
    assert (np.asarray(weights)[table.alias] > 0).all()  # no column ever yields a zero weight


@given(float_weights, seeds, st.integers(0, 200))
def test_alias_sampling_matches_reference(weights, seed, k):
    table = AliasTable(weights, seed=seed)
    prob, alias = table.prob.tolist(), table.alias.tolist()
    rng = ref.SplitMix64(seed)
    assert table.sample_many(k).tolist() == [ref.alias_sample(prob, alias, rng) for _ in range(k)]


@given(seeds, st.lists(st.integers(0, 150), max_size=8))
def test_alias_stream_independent_of_chunking(seed, chunks):
    """Any mix of sample() and sample_many(k) yields one stream per seed."""
    weights = [3.0, 0.0, 1.0, 0.5, 2.0]
    total = sum(chunks) + len(chunks)
    expected = AliasTable(weights, seed=seed).sample_many(total).tolist()
    table, got = AliasTable(weights, seed=seed), []
    for k in chunks:
        got.append(table.sample())
        got.extend(table.sample_many(k).tolist())
    assert got == expected


ALIAS_WEIGHTS = [5.0, 0.0, 1.0, 2.5, 0.25, 10.0, 0.0, 3.0, 0.01, 7.0]


def test_alias_frequencies_within_bernstein_bounds():
    """4M draws, every cell within a Bernstein bound; false-failure probability <= 1e-6.

    (For a correct sampler with a random seed; the seed is fixed, so this run
    is reproducible.)  The bounds are tight enough to catch a 1% relative bias
    on any cell with p >= 0.1: for p = 0.348 the bound is 5,492 draws and a 1%
    bias moves the count by 13,908.
    """
    table = AliasTable(ALIAS_WEIGHTS, seed=20240601)
    draws = table.sample_many(4_000_000)
    counts = np.bincount(draws, minlength=len(ALIAS_WEIGHTS))
    probs = np.array(ALIAS_WEIGHTS) / sum(ALIAS_WEIGHTS)
    assert counts[1] == 0 and counts[6] == 0
    nonzero = probs > 0
    assert frequencies_ok(counts[nonzero], probs[nonzero], delta=1e-6)


def test_frequency_check_rejects_a_biased_sampler():
    """The check above has power: a sampler 2% off on one weight fails it."""
    probs = np.array(ALIAS_WEIGHTS) / sum(ALIAS_WEIGHTS)
    skewed = probs.copy()
    skewed[3] *= 1.02
    skewed /= skewed.sum()
    counts = np.bincount(
        np.random.default_rng(5).choice(len(probs), size=4_000_000, p=skewed),
        minlength=len(probs),
    )
    nonzero = probs > 0
    assert not frequencies_ok(counts[nonzero], probs[nonzero], delta=1e-6)


def test_alias_reproducible_and_seed_dependent():
    a = AliasTable([1.0, 2.0, 3.0], seed=11).sample_many(1000)
    b = AliasTable([1.0, 2.0, 3.0], seed=11).sample_many(1000)
    c = AliasTable([1.0, 2.0, 3.0], seed=12).sample_many(1000)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_alias_numba_core():
    table = AliasTable([1.0, 0.0, 1.0], seed=0)
    state = make_state(9)
    draws = [_alias_sample(table.prob, table.alias, state) for _ in range(500)]
    assert set(draws) == {0, 2}


@pytest.mark.parametrize(
    ("weights", "exc", "match"),
    [
        ([], ValueError, "weights must not be empty"),
        ([1.0, -0.5], ValueError, "weights must be non-negative"),
        ([0.0, 0.0], ValueError, "weights must not all be zero"),
        ([1.0, float("nan")], ValueError, "weights must be finite"),
        ([1.0, float("inf")], ValueError, "weights must be finite"),
        ([1e308, 1e308], ValueError, "weights sum overflows"),
        ([5e-324, 0.0], ValueError, "weights are too small"),
        ([[1.0], [2.0]], ValueError, "weights must be 1-D"),
        ([1, [2]], TypeError, "weights must be a 1-D sequence"),
        (np.array(["x"]), TypeError, "weights must hold real numbers"),
    ],
)
def test_alias_bad_weights(weights, exc, match):
    with pytest.raises(exc, match=match):
        AliasTable(weights, seed=0)


def test_alias_bad_arguments():
    with pytest.raises(TypeError, match="seed must be an int"):
        AliasTable([1.0], seed=1.5)
    with pytest.raises(ValueError, match="k must be >= 0"):
        AliasTable([1.0], seed=1).sample_many(-3)
    assert AliasTable([2.0], seed=1).sample_many(5).tolist() == [0] * 5


# ---------------------------------------------------------------------------------------------
# power of two choices

loads_int = st.lists(st.integers(-(2**40), 2**40), min_size=1, max_size=30)
loads_small = st.lists(st.integers(0, 3), min_size=1, max_size=30)  # many ties
loads_float = st.lists(st.floats(-1e9, 1e9, allow_nan=False), min_size=1, max_size=30)
any_loads = st.one_of(
    loads_int.map(lambda x: np.array(x, dtype=np.int64)),
    loads_small.map(lambda x: np.array(x, dtype=np.int64)),
    loads_float.map(lambda x: np.array(x, dtype=np.float64)),
)


def positive_weights(n):
    return st.lists(st.floats(0.01, 100.0), min_size=n, max_size=n)


@given(any_loads, seeds, st.integers(1, 20), st.booleans(), st.data())
def test_p2c_matches_reference(loads, seed, calls, weighted, data):
    weights = data.draw(positive_weights(len(loads))) if weighted else None
    p2c = PowerOfTwoChoices(seed=seed, weights=weights)
    rng = ref.SplitMix64(seed)
    py_loads = loads.tolist()
    for _ in range(calls):
        assert p2c.choose(loads) == ref.p2c_choose(py_loads, rng, weights)


@given(st.integers(2, 50), seeds)
def test_p2c_pair_distinct(n, seed):
    state = make_state(seed)
    for _ in range(50):
        i, j = _p2c_pair(state, n)
        assert 0 <= i < n and 0 <= j < n and i != j


def test_p2c_pair_uniform_over_ordered_pairs():
    """240,000 pairs from 4 peers: each of the 12 ordered pairs within Bernstein bounds (1e-6)."""
    state = make_state(77)
    counts = np.zeros((4, 4), dtype=np.int64)
    for _ in range(240_000):
        i, j = _p2c_pair(state, 4)
        counts[i, j] += 1
    assert np.trace(counts) == 0
    off = counts[~np.eye(4, dtype=bool)]
    assert frequencies_ok(off, np.full(12, 1 / 12), delta=1e-6)


@given(any_loads, seeds)
def test_p2c_never_picks_the_unique_maximum(loads, seed):
    assume(len(loads) >= 2)
    top = loads.max()
    assume((loads == top).sum() == 1)
    p2c = PowerOfTwoChoices(seed=seed)
    for _ in range(20):
        assert loads[p2c.choose(loads)] != top


def test_p2c_two_peers_and_one_peer():
    p2c = PowerOfTwoChoices(seed=3)
    assert {p2c.choose(np.array([0, 1])) for _ in range(100)} == {0}
    assert {p2c.choose(np.array([5.0, 1.0])) for _ in range(100)} == {1}
    before = p2c.rng_state.copy()
    assert p2c.choose(np.array([42])) == 0
    assert np.array_equal(p2c.rng_state, before)  # n == 1 draws nothing


def test_p2c_weighted_compares_load_per_weight():
    p2c = PowerOfTwoChoices(seed=4, weights=[1.0, 4.0])
    # 3 / 1 = 3 > 8 / 4 = 2: the heavier-weighted peer wins despite more load
    assert {p2c.choose(np.array([3, 8])) for _ in range(50)} == {1}


def test_p2c_balance_beats_random_placement():
    """n balls into n bins (n = 100,000): max load ln ln n / ln 2 + O(1) vs ln n / ln ln n.

    Fixed seeds; with these, two choices give a max load of at most 4, uniform
    random placement (the alias table with equal weights) at least 7.
    """
    n = 100_000
    loads = np.zeros(n, dtype=np.int64)
    PowerOfTwoChoices(seed=1).assign(loads, n)
    random_loads = np.bincount(AliasTable(np.ones(n), seed=1).sample_many(n), minlength=n)
    assert loads.sum() == n
    assert loads.max() <= 4
    assert random_loads.max() >= 7


@given(
    st.one_of(
        loads_small.map(lambda x: np.array(x, dtype=np.int64)),
        loads_float.map(lambda x: np.array(x, dtype=np.float64)),
    ),
    seeds,
    st.integers(0, 60),
    st.booleans(),
    st.data(),
)
def test_p2c_assign_matches_reference(loads, seed, k, weighted, data):
    weights = data.draw(positive_weights(len(loads))) if weighted else None
    py_loads = loads.tolist()
    before = loads.copy()
    out = PowerOfTwoChoices(seed=seed, weights=weights).assign(loads, k)
    expected = ref.assign(ref.p2c_choose, py_loads, k, ref.SplitMix64(seed), 1, weights)
    assert out.tolist() == expected
    assert loads.tolist() == py_loads
    assert np.allclose(loads - before, np.bincount(out, minlength=len(loads)), rtol=0, atol=1e-6)


def test_p2c_numba_core():
    state = make_state(5)
    loads = np.array([9, 0, 9], dtype=np.int64)
    picks = {_p2c_choose(loads, state) for _ in range(200)}
    assert picks <= {0, 1, 2} and 1 in picks
    assert _p2c_choose(np.zeros(0, dtype=np.int64), state) == -1


# ---------------------------------------------------------------------------------------------
# least loaded


@given(any_loads, seeds, st.integers(1, 10), st.booleans(), st.data())
def test_least_loaded_matches_reference(loads, seed, calls, weighted, data):
    weights = data.draw(positive_weights(len(loads))) if weighted else None
    ll = LeastLoaded(seed=seed, weights=weights)
    rng = ref.SplitMix64(seed)
    py_loads = loads.tolist()
    for _ in range(calls):
        assert ll.choose(loads) == ref.least_loaded(py_loads, rng, weights)


@given(any_loads, seeds)
def test_least_loaded_returns_a_minimum(loads, seed):
    ll = LeastLoaded(seed=seed)
    for _ in range(5):
        assert loads[ll.choose(loads)] == loads.min()


def test_least_loaded_uniform_among_ties():
    """5 minima among 9 peers, 200,000 decisions: each minimum within Bernstein bounds (1e-6)."""
    loads = np.array([3, 1, 7, 1, 1, 2, 1, 9, 1], dtype=np.int64)
    ll = LeastLoaded(seed=2024)
    counts = np.bincount([ll.choose(loads) for _ in range(200_000)], minlength=9)
    ties = loads == loads.min()
    assert (counts[~ties] == 0).all()
    assert frequencies_ok(counts[ties], np.full(5, 0.2), delta=1e-6)


@given(st.integers(1, 30), st.integers(0, 200), seeds)
def test_least_loaded_assign_keeps_loads_level(n, k, seed):
    loads = np.zeros(n, dtype=np.int64)
    out = LeastLoaded(seed=seed).assign(loads, k)
    assert loads.sum() == k == out.shape[0]
    assert loads.max() - loads.min() <= 1


@given(loads_small.map(lambda x: np.array(x, dtype=np.int64)), seeds, st.integers(0, 40))
def test_least_loaded_assign_matches_reference(loads, seed, k):
    py_loads = loads.tolist()
    out = LeastLoaded(seed=seed).assign(loads, k, cost=2)
    assert out.tolist() == ref.assign(ref.least_loaded, py_loads, k, ref.SplitMix64(seed), 2)
    assert loads.tolist() == py_loads


def test_least_loaded_numba_core():
    state = make_state(1)
    assert _least_loaded(np.array([2.0, 0.5, 3.0]), state) == 1
    assert _least_loaded(np.array([2.0, np.nan]), state) == -2


# ---------------------------------------------------------------------------------------------
# shared: reproducibility and bad input


@pytest.mark.parametrize("cls", [PowerOfTwoChoices, LeastLoaded])
def test_same_seed_same_decisions(cls):
    loads = np.array([1, 1, 0, 0, 2, 0], dtype=np.int64)
    a = [cls(seed=99).choose(loads) for _ in range(3)]
    one, two = cls(seed=99), cls(seed=99)
    assert [one.choose(loads) for _ in range(50)] == [two.choose(loads) for _ in range(50)]
    assert a == [a[0]] * 3


@pytest.mark.parametrize("cls", [PowerOfTwoChoices, LeastLoaded])
def test_choose_converts_other_numeric_loads(cls):
    loads32 = np.array([5, 0, 5], dtype=np.int32)
    assert cls(seed=1).choose(loads32) in (0, 1, 2)
    assert cls(seed=1).choose(loads32) == cls(seed=1).choose(loads32.astype(np.int64))
    assert cls(seed=1).choose([0.0, 3.0, 1.0]) == cls(seed=1).choose(np.array([0.0, 3.0, 1.0]))


@pytest.mark.parametrize("cls", [PowerOfTwoChoices, LeastLoaded])
@pytest.mark.parametrize(
    ("loads", "exc", "match"),
    [
        (np.zeros((2, 2), dtype=np.int64), ValueError, "loads must be 1-D"),
        (np.zeros(0, dtype=np.int64), ValueError, "loads must not be empty"),
        (np.array([True, False]), TypeError, "loads must have an integer or float dtype"),
        (np.array(["a", "b"]), TypeError, "loads must have an integer or float dtype"),
        (np.array([np.nan, np.nan]), ValueError, "loads must not contain NaN"),
        ("12", TypeError, "loads must be a numpy array or a sequence"),
        (None, TypeError, "loads must be a numpy array or a sequence"),
    ],
)
def test_choose_bad_loads(cls, loads, exc, match):
    with pytest.raises(exc, match=match):
        cls(seed=0).choose(loads)


@pytest.mark.parametrize("cls", [PowerOfTwoChoices, LeastLoaded])
@pytest.mark.parametrize(
    ("loads", "kwargs", "exc", "match"),
    [
        ([0, 0], {}, TypeError, "loads must be a numpy int64 or float64 array"),
        (np.zeros(3, dtype=np.int32), {}, TypeError, "loads must be int64 or float64"),
        (np.zeros((1, 3)), {}, ValueError, "loads must be 1-D"),
        (np.zeros(0), {}, ValueError, "loads must not be empty"),
        (np.zeros(3, dtype=np.int64), {"cost": 0.5}, TypeError, "cost must be an integer"),
        (np.zeros(3), {"cost": float("inf")}, ValueError, "cost must be finite"),
        (np.zeros(3), {"cost": "1"}, TypeError, "cost must be a number"),
        (np.zeros(3, dtype=np.int64), {"cost": 2**63}, ValueError, "cost must fit in int64"),
        (np.zeros(3), {"k": -1}, ValueError, "k must be >= 0"),
        (np.array([0.0, np.nan, np.nan]), {}, ValueError, "loads must not contain NaN"),
    ],
)
def test_assign_bad_input(cls, loads, kwargs, exc, match):
    kwargs = {"k": 5, **kwargs}
    with pytest.raises(exc, match=match):
        cls(seed=0).assign(loads, **kwargs)


@pytest.mark.parametrize("cls", [PowerOfTwoChoices, LeastLoaded])
def test_weights_validated_and_matched(cls):
    # The same rule and message as node weights elsewhere (kernels._validate.check_weights).
    with pytest.raises(ValueError, match=r"weights\[1\] must be a finite number > 0, got 0\.0"):
        cls(seed=0, weights=[1.0, 0.0])
    with pytest.raises(ValueError, match=r"weights\[1\] must be a finite number > 0, got nan"):
        cls(seed=0, weights=[1.0, float("nan")])
    with pytest.raises(ValueError, match="weights must not be empty"):
        cls(seed=0, weights=[])
    with pytest.raises(TypeError, match=r"weights\[0\] must be a positive number, not bool"):
        cls(seed=0, weights=[True, 1.0])
    policy = cls(seed=0, weights=[1.0, 2.0])
    with pytest.raises(ValueError, match="loads has 3 entries but weights has 2"):
        policy.choose(np.zeros(3))
    frozen = np.zeros(2)
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="loads must be writeable"):
        policy.assign(frozen, 1)
    policy.set_weights(None)
    assert policy.weights is None
    assert policy.choose(np.zeros(3)) in (0, 1, 2)
