"""Theorem 4 quantities, and the estimator's measured bias and variance against them."""
import math

import numpy as np
import pytest
import torch

import edlrr
from edlrr import theory
from conftest import matrix_with_spectrum

SIGMA = torch.cat([torch.logspace(0, -3, 12, dtype=torch.float64), torch.zeros(4, dtype=torch.float64)])


def test_exact_limits():
    s = SIGMA
    for p in (1, 2, 3):
        assert theory.expected_estimate(s, p, None, None) == pytest.approx(float((s**p).sum()))
        assert theory.variance(s, p, 10) == pytest.approx(2 * float((s ** (2 * p)).sum()) / 10)
    assert theory.exact_value(s, 0) == 12
    assert theory.variance(s, 0, 4) == pytest.approx(2 * 12 / 4)


@pytest.mark.parametrize("p", [0, 1, 2, 3, 0.5])
def test_bias_shrinks_as_iterations_grow(p):
    k_small, k_big = (3, 3), (30, 30)
    b_small = abs(theory.bias(SIGMA, p, *k_small))
    b_big = abs(theory.bias(SIGMA, p, *k_big))
    assert b_big < b_small and b_big < 1e-3 * theory.exact_value(SIGMA, p)
    # monotone in k1 for p = 1 along a sweep (the projection filter only grows with k1)
    biases = [abs(theory.bias(SIGMA, 1, k1, 30)) for k1 in range(0, 25, 3)]
    assert all(a >= b - 1e-15 for a, b in zip(biases, biases[1:]))


def test_projection_changes_nothing_for_p_at_least_1_in_exact_arithmetic():
    for p in (1, 2, 3):
        assert theory.expected_estimate(SIGMA, p, None, None, project=False) == pytest.approx(
            theory.expected_estimate(SIGMA, p, None, None, project=True))


def test_measured_mean_matches_expected_estimate_with_few_iterations():
    # with k1 = 2, k2 = 3 the estimator is biased; its mean must match theory's E[X]
    sigma = torch.tensor([1.0, 0.6, 0.3, 0.1, 0.05], dtype=torch.float64)
    S = matrix_with_spectrum(15, 5, sigma, seed=4)
    paper = edlrr.Paper(probes=256, pinv_iters=2, sqrt_iters=3)
    reps = torch.stack([edlrr.nuclear_norm(S, options=paper, generator=i) for i in range(100)])
    mean, se = float(reps.mean()), float(reps.std() / math.sqrt(len(reps)))
    expected = theory.expected_estimate(sigma, 1, 2, 3)
    assert abs(mean - expected) < 4 * se
    assert abs(expected - float(sigma.sum())) > 10 * se  # the bias is real and resolved


@pytest.mark.parametrize("p", [0, 1, 2])
def test_variance_shrinks_like_one_over_n(p):
    sigma = torch.linspace(1, 0.2, 10, dtype=torch.float64)
    S = matrix_with_spectrum(20, 10, sigma, seed=5)
    ratios = []
    for N in (4, 64):
        paper = edlrr.Paper(probes=N)
        reps = torch.stack([edlrr.schatten(S, p, options=paper, generator=1000 * N + i) for i in range(300)])
        measured = float(reps.var())
        predicted = theory.variance(sigma, p, N, 30, 30)
        ratios.append(measured / predicted)
    # sample variance of 300 draws: within 30% of the truth with overwhelming probability
    for r in ratios:
        assert 0.7 < r < 1.3, ratios


def test_probability_bound_forms():
    sigma = torch.linspace(1, 0.1, 10, dtype=torch.float64)
    b_paper = theory.probability_bound(sigma, 1, 1000, 0.05, 5, 5, form="paper")
    b_cheb = theory.probability_bound(sigma, 1, 1000, 0.05, 5, 5, form="chebyshev")
    assert 0 <= b_cheb <= b_paper <= 1
    assert theory.probability_bound(sigma, 1, 10**9, 0.01) == pytest.approx(1.0, abs=1e-4)
    with pytest.raises(ValueError, match="eps must be positive"):
        theory.probability_bound(sigma, 1, 10, 0.0)


def test_rademacher_variance_formula():
    B = torch.diag(torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64))
    assert theory.hutchinson_variance(B, 5, "rademacher") == 0.0  # diagonal B: exact trace
    assert theory.hutchinson_variance(B, 5, "gaussian") == pytest.approx(2 * 14 / 5)


def test_series_bias_is_small_inside_domain():
    sigma = np.linspace(0.05, 1.0, 20)
    assert abs(theory.series_bias(sigma, "laplace", "taylor", 10, 1.0)) < 1e-6
    assert abs(theory.series_bias(sigma, edlrr.penalty("gamma_nuclear", gamma=0.5), "taylor", 10, 1.0)) > 1.0


def test_bad_sigma():
    with pytest.raises(ValueError, match="non-negative"):
        theory.variance([-1.0, 2.0], 1, 10)
