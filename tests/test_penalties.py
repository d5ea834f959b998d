"""Penalties: exact values, derivatives, Taylor and Laguerre coefficients (Theorems 2-3)."""
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import edlrr
from edlrr.estimators import DEFAULT_ORDER, LAGUERRE_SPAN

PARAMS = {
    "nuclear": {}, "schatten": {"p": 3}, "gamma_nuclear": {"gamma": 2.0}, "laplace": {"gamma": 0.7},
    "lnn": {}, "logarithm": {"gamma": 0.5}, "etp": {"gamma": 1.5}, "geman": {"gamma": 2.0},
}


def test_registry_names():
    assert edlrr.available_penalties() == sorted(PARAMS)
    with pytest.raises(ValueError, match="known penalties: etp, gamma_nuclear"):
        edlrr.penalty("huber")
    with pytest.raises(ValueError, match="gamma must be positive"):
        edlrr.penalty("laplace", gamma=0)
    with pytest.raises(TypeError, match="unexpected keyword"):
        edlrr.penalty("lnn", gamma=2)


@pytest.mark.parametrize("name", sorted(PARAMS))
def test_derivative_matches_autograd(name):
    h = edlrr.penalty(name, **PARAMS[name])
    x = torch.linspace(0.01, 3, 50, dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(h(x).sum(), x)
    torch.testing.assert_close(h.derivative(x.detach()), g)
    assert h.value_at_zero == 0.0


@pytest.mark.parametrize("name", sorted(PARAMS))
@pytest.mark.parametrize("expansion", ["taylor", "laguerre"])
def test_series_within_1e3_inside_domain(name, expansion):
    """At the default order and the estimator's default scale, on exact singular values
    inside the series' domain (Taylor: up to 0.5 * radius or 1.0), the sum of the truncated
    series is within 1e-3 of sum h(sigma_i)."""
    h = edlrr.penalty(name, **PARAMS[name])
    top = min(1.0, 0.5 * h.radius)
    rng = np.random.default_rng(0)
    sigma = np.sort(rng.uniform(0.01, top, 40))[::-1].copy()
    sigma[0] = top
    order = DEFAULT_ORDER[expansion]
    scale = top / (LAGUERRE_SPAN if expansion == "laguerre" else 1.0)
    approx = h.series_value(sigma, expansion, order, scale).sum()
    exact = float(h(torch.as_tensor(sigma)).sum())
    assert abs(approx - exact) <= 1e-3 * abs(exact)


def test_taylor_coefficients_closed_forms():
    g = 3.0
    c = edlrr.penalty("gamma_nuclear", gamma=g).taylor_coefficients(4)
    np.testing.assert_allclose(c, [0, (1 + g) / g, -(1 + g) / g**2, (1 + g) / g**3, -(1 + g) / g**4])
    c = edlrr.penalty("laplace", gamma=2.0).taylor_coefficients(3, scale=4.0)  # h(4y) = 1 - exp(-2y)
    np.testing.assert_allclose(c, [0, 2, -2, 4 / 3])
    np.testing.assert_allclose(edlrr.penalty("lnn").taylor_coefficients(3), [0, 1, -0.5, 1 / 3])
    np.testing.assert_allclose(edlrr.penalty("schatten", p=2).taylor_coefficients(3), [0, 0, 1, 0])
    with pytest.raises(ValueError, match="no Taylor series"):
        edlrr.penalty("schatten", p=0.5).taylor_coefficients(3)


def test_laguerre_coefficients_known_case():
    # 1 - exp(-a y) = 1/(1) ... : int L_k e^{-y} e^{-a y} dy = a^k / (1 + a)^(k+1)
    a = 0.5
    h = edlrr.penalty("laplace", gamma=1.0)  # h(s y) with s = a
    c = h.laguerre_coefficients(6, scale=a)
    k = np.arange(7)
    expected = -(a**k) / (1 + a) ** (k + 1)
    expected[0] += 1.0
    np.testing.assert_allclose(c, expected, atol=1e-12)


@pytest.mark.parametrize("name,radius", [("gamma_nuclear", 2.0), ("geman", 2.0), ("lnn", 1.0),
                                         ("logarithm", 2.0), ("laplace", math.inf), ("etp", math.inf)])
def test_taylor_radius(name, radius):
    assert edlrr.penalty(name, **PARAMS[name]).radius == radius


def test_series_error_reports_divergence():
    h = edlrr.penalty("gamma_nuclear", gamma=1.0)
    assert h.series_error(np.linspace(0, 0.5, 20), "taylor", 10) < 1e-2
    assert h.series_error(np.linspace(0, 3.0, 20), "taylor", 10) > 1.0


@settings(max_examples=30, deadline=None)
@given(x=st.floats(0.0, 50.0), name=st.sampled_from(sorted(PARAMS)))
def test_penalties_nonnegative_increasing(x, name):
    h = edlrr.penalty(name, **PARAMS[name])
    t = torch.tensor([x, x + 0.1], dtype=torch.float64)
    v = h(t)
    assert float(v[0]) >= 0 and float(v[1]) >= float(v[0]) and float(h.derivative(t[:1])) >= 0
