"""tuner.search.stats: the t distribution, intervals, sample sizes and Welch comparisons."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tuner.errors import TunerError
from tuner.search import SearchError
from tuner.search.stats import (
    coefficient_of_variation,
    compare,
    confidence_interval,
    mean,
    repeats_needed,
    t_cdf,
    t_quantile,
)

# Published two-sided critical values (e.g. NIST/SEMATECH e-Handbook, table 1.3.6.7.2).
T_TABLE = [
    (0.975, 1, 12.706204736),
    (0.975, 2, 4.302652730),
    (0.975, 3, 3.182446305),
    (0.975, 5, 2.570581836),
    (0.975, 10, 2.228138852),
    (0.975, 30, 2.042272456),
    (0.975, 100, 1.983971519),
    (0.95, 4, 2.131846786),
    (0.995, 3, 5.840909310),
    (0.9, 7, 1.414923928),
    (0.975, math.inf, 1.959963985),
    (0.95, math.inf, 1.644853627),
]


@pytest.mark.parametrize(("p", "df", "expected"), T_TABLE)
def test_t_quantile_matches_published_values(p, df, expected):
    assert t_quantile(p, df) == pytest.approx(expected, abs=1e-8)
    assert t_quantile(1 - p, df) == pytest.approx(-expected, abs=1e-8)


@given(st.floats(0.001, 0.999), st.floats(0.5, 500))
def test_t_cdf_inverts_t_quantile(p, df):
    assert t_cdf(t_quantile(p, df), df) == pytest.approx(p, abs=1e-9)


@given(st.floats(-50, 50), st.floats(0.5, 300))
def test_t_cdf_is_symmetric_and_between_0_and_1(t, df):
    assert 0.0 <= t_cdf(t, df) <= 1.0
    assert t_cdf(t, df) + t_cdf(-t, df) == pytest.approx(1.0, abs=1e-12)


def test_t_quantile_shrinks_towards_the_normal_as_df_grows():
    values = [t_quantile(0.975, df) for df in (1, 2, 5, 10, 100, 10_000)]
    assert values == sorted(values, reverse=True)
    assert values[-1] == pytest.approx(1.959963985, abs=1e-3)


@pytest.mark.parametrize("p", [0.0, 1.0, -0.1, 1.5])
def test_t_quantile_rejects_probabilities_outside_0_1(p):
    with pytest.raises(SearchError, match="0 < p < 1"):
        t_quantile(p, 3)


def test_t_cdf_rejects_non_positive_df():
    with pytest.raises(SearchError, match="degrees of freedom"):
        t_cdf(1.0, 0)


# -- mean, CV, intervals -----------------------------------------------------------------------


def test_mean_and_cv_of_a_known_sample():
    data = [9.0, 10.0, 11.0]
    assert mean(data) == 10.0
    assert coefficient_of_variation(data) == pytest.approx(0.1)


@pytest.mark.parametrize(
    ("data", "match"),
    [([], "at least 1"), ([1.0, math.nan], "NaN"), ([[1.0, 2.0]], "flat")],
)
def test_mean_rejects_bad_samples(data, match):
    with pytest.raises(SearchError, match=match):
        mean(data)


def test_cv_needs_two_samples_and_a_positive_mean():
    with pytest.raises(SearchError, match="at least 2"):
        coefficient_of_variation([1.0])
    with pytest.raises(SearchError, match="positive mean"):
        coefficient_of_variation([-1.0, -2.0])


def test_search_errors_are_tuner_errors_and_value_errors():
    with pytest.raises(TunerError):
        mean([])
    with pytest.raises(ValueError):
        mean([])


def test_confidence_interval_of_a_known_sample():
    ci = confidence_interval([1.0, 2.0, 3.0, 4.0])
    half = 3.182446305 * np.std([1, 2, 3, 4], ddof=1) / 2.0
    assert ci.mean == 2.5
    assert ci.low == pytest.approx(2.5 - half)
    assert ci.high == pytest.approx(2.5 + half)
    assert ci.n == 4 and ci.level == 0.95
    assert ci.relative_half_width == pytest.approx(half / 2.5)


def test_one_sample_gives_an_unbounded_interval():
    ci = confidence_interval([5.0])
    assert ci.mean == 5.0 and math.isinf(ci.half_width)


def test_confidence_interval_rejects_a_bad_level():
    with pytest.raises(SearchError, match="confidence level"):
        confidence_interval([1.0, 2.0], level=1.0)


def test_95_percent_intervals_cover_the_true_mean_95_percent_of_the_time():
    rng = np.random.default_rng(12345)
    trials = 2500
    hits = 0
    for _ in range(trials):
        ci = confidence_interval(rng.normal(10.0, 2.0, size=5))
        hits += ci.low <= 10.0 <= ci.high
    assert abs(hits / trials - 0.95) < 0.015


# -- repeats needed ----------------------------------------------------------------------------


@given(st.floats(0.001, 0.3), st.floats(0.01, 0.3))
def test_repeats_needed_is_the_smallest_sufficient_count(cv, precision):
    n = repeats_needed(cv, precision, max_repeats=100)
    assert 2 <= n <= 100

    def width(k):
        return t_quantile(0.975, k - 1) * cv / math.sqrt(k)

    if n < 100:
        assert width(n) <= precision
    if n > 2:
        assert width(n - 1) > precision


def test_repeats_needed_examples_and_clamping():
    assert repeats_needed(0.0, 0.05) == 2
    assert repeats_needed(0.03, 0.05) == 4  # t(3)=3.18: 3.18*0.03/2 = 0.048
    assert repeats_needed(0.5, 0.01, max_repeats=6) == 6
    with pytest.raises(SearchError, match="cv"):
        repeats_needed(math.nan, 0.05)
    with pytest.raises(SearchError, match="rel_half_width"):
        repeats_needed(0.1, 0.0)
    with pytest.raises(SearchError, match="min_repeats"):
        repeats_needed(0.1, 0.05, min_repeats=1)


# -- Welch comparisons -------------------------------------------------------------------------


def test_welch_statistic_and_df_match_a_hand_computation():
    a, b = [10.0, 11.0, 12.0], [13.0, 15.0, 17.0, 19.0]
    va, vb = 1.0 / 3, (20.0 / 3) / 4
    t = (16.0 - 11.0) / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / 2 + vb**2 / 3)
    result = compare(a, b)
    assert result.t == pytest.approx(t)
    assert result.df == pytest.approx(df)
    assert result.p_value == pytest.approx(1 - t_cdf(t, df))
    assert result.difference == pytest.approx(5.0)
    assert result.relative_difference == pytest.approx(5.0 / 16.0)
    assert result.worse


def test_clearly_worse_and_clearly_better():
    low, high = [100.0, 101.0, 99.0, 100.5], [120.0, 119.0, 121.0, 120.5]
    assert compare(low, high).worse
    assert not compare(high, low).worse
    assert compare(high, low).p_value > 0.99


def test_margin_forgives_a_small_deficit():
    a, b = [98.0, 98.2, 97.8, 98.1], [100.0, 100.1, 99.9, 100.2]
    assert compare(a, b).worse
    assert not compare(a, b, margin=0.05).worse


def test_zero_variance_compares_means_exactly():
    assert compare([1.0, 1.0], [2.0, 2.0]).worse
    assert not compare([2.0, 2.0], [2.0, 2.0]).worse


def test_a_cv_floor_keeps_agreeing_repeats_from_deciding_a_small_difference():
    # Three repeats that happen to agree: on their own variance, 5% looks significant...
    a, b = [95.0, 95.1, 94.9], [100.0, 100.1, 99.9]
    assert compare(a, b).worse
    # ...but not when one repeat is known to vary by 10% (the pooled noise of the search).
    floored = compare(a, b, cv_floor=0.10)
    assert not floored.worse and floored.p_value > 0.2
    # A difference far beyond the floor still counts.
    assert compare([60.0, 60.1, 59.9], b, cv_floor=0.10).worse
    with pytest.raises(SearchError, match="cv_floor"):
        compare(a, b, cv_floor=-0.1)


@settings(max_examples=60, deadline=None)
@given(
    a=st.lists(st.floats(50, 150), min_size=2, max_size=8),
    b=st.lists(st.floats(50, 150), min_size=2, max_size=8),
    floor=st.floats(0.0, 0.5),
)
def test_a_cv_floor_only_makes_the_test_more_cautious(a, b, floor):
    if compare(a, b, cv_floor=floor).worse:
        assert compare(a, b).worse


def test_compare_needs_two_samples_each_and_valid_levels():
    with pytest.raises(SearchError, match="at least 2"):
        compare([1.0], [1.0, 2.0])
    with pytest.raises(SearchError, match="alpha"):
        compare([1.0, 2.0], [1.0, 2.0], alpha=0.0)
    with pytest.raises(SearchError, match="margin"):
        compare([1.0, 2.0], [1.0, 2.0], margin=1.0)


def test_false_positive_rate_is_about_alpha_under_the_null():
    rng = np.random.default_rng(7)
    trials = 3000
    rejections = sum(
        compare(rng.normal(100, 5, 4), rng.normal(100, 12, 6), alpha=0.05).worse
        for _ in range(trials)
    )
    assert 0.035 < rejections / trials < 0.065
