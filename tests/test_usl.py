"""tuner.search.usl: the Universal Scalability Law fit recovers known parameters."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tuner.search import SearchError
from tuner.search.usl import fit_usl, usl_throughput

SIZES = np.repeat(np.arange(1, 17), 3)


def test_usl_formula():
    assert usl_throughput(1, 100.0, 0.3, 0.1) == pytest.approx(100.0)
    expected = 100.0 * 4 / (1 + 0.1 * 3 + 0.01 * 4 * 3)
    assert usl_throughput(4, 100.0, 0.1, 0.01) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("sigma", "kappa"), [(0.0, 0.0), (0.05, 0.002), (0.2, 0.02), (0.5, 0.0), (0.9, 0.05)]
)
def test_noise_free_data_is_recovered_exactly(sigma, kappa):
    x = usl_throughput(SIZES, 250.0, sigma, kappa)
    fit = fit_usl(SIZES, x)
    assert fit.sigma == pytest.approx(sigma, abs=1e-4)
    assert fit.kappa == pytest.approx(kappa, abs=1e-5)
    assert fit.lam == pytest.approx(250.0, rel=1e-4)
    assert fit.r2 == pytest.approx(1.0, abs=1e-8)
    assert fit.rms_relative_error < 1e-4


@settings(max_examples=40)
@given(
    sigma=st.floats(0.0, 0.5),
    kappa=st.floats(0.0, 0.05),
    lam=st.floats(10.0, 1e5),
    seed=st.integers(0, 2**32 - 1),
)
def test_noisy_data_recovers_sigma_kappa_and_predictions(sigma, kappa, lam, seed):
    rng = np.random.default_rng(seed)
    x = usl_throughput(SIZES, lam, sigma, kappa) * rng.lognormal(0.0, 0.01, SIZES.size)
    fit = fit_usl(SIZES, x)
    assert fit.sigma >= 0 and fit.kappa >= 0
    assert abs(fit.sigma - sigma) < 0.03
    assert abs(fit.kappa - kappa) < 0.4 * kappa + 0.002
    sizes = np.arange(1, 17)
    truth = usl_throughput(sizes, lam, sigma, kappa)
    assert np.max(np.abs(fit.predict(sizes) / truth - 1.0)) < 0.03


@given(st.floats(0.0, 0.9), st.floats(1e-4, 0.1))
def test_n_star_formula(sigma, kappa):
    fit = fit_usl(SIZES, usl_throughput(SIZES, 100.0, sigma, kappa))
    assert fit.n_star == pytest.approx(max(1.0, math.sqrt((1 - fit.sigma) / fit.kappa)))
    # The integer peak of the prediction sits next to N*, within the range.
    best = fit.best_size(1, 64)
    assert abs(best - min(fit.n_star, 64)) <= 1


def test_no_coherency_means_no_peak():
    fit = fit_usl(SIZES, usl_throughput(SIZES, 100.0, 0.1, 0.0))
    assert fit.kappa == 0.0
    assert math.isinf(fit.n_star)
    assert fit.best_size(1, 16) == 16
    assert "no peak" in fit.describe()


def test_equal_throughputs_fit_a_flat_line():
    fit = fit_usl([1, 2, 4, 8], [50.0, 50.0, 50.0, 50.0])
    assert fit.sigma == pytest.approx(1.0)
    assert fit.kappa == 0.0
    assert np.allclose(fit.predict([1, 3, 100]), 50.0)


def test_describe_names_the_parameters():
    text = fit_usl(SIZES, usl_throughput(SIZES, 100.0, 0.05, 0.002)).describe()
    assert "σ=0.050" in text and "N*=" in text and "R²=" in text


@pytest.mark.parametrize(
    ("n", "x", "match"),
    [
        ([1], [10.0], "at least 3 distinct"),
        ([2, 2, 2, 2], [1.0, 2.0, 3.0, 4.0], "at least 3 distinct"),
        ([1, 2], [10.0, 19.0], "at least 3 distinct"),
        ([1, 2, 4], [10.0, -1.0, 30.0], "must be positive"),
        ([1, 2, 4], [10.0, 0.0, 30.0], "must be positive"),
        ([0, 2, 4], [10.0, 20.0, 30.0], ">= 1"),
        ([1, 2, 4], [10.0, math.nan, 30.0], "NaN"),
        ([1, 2, 4], [10.0, 20.0], "equal length"),
        ([1, 2, "x"], [10.0, 20.0, 30.0], "numbers"),
    ],
)
def test_degenerate_inputs_raise_clear_errors(n, x, match):
    with pytest.raises(SearchError, match=match):
        fit_usl(n, x)


def test_best_size_rejects_an_empty_range():
    fit = fit_usl(SIZES, usl_throughput(SIZES, 100.0, 0.05, 0.002))
    with pytest.raises(SearchError, match="empty"):
        fit.best_size(5, 4)
