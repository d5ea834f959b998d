"""Estimators against the exact SVD values (EDLRR Theorems 1-3, Propositions 3-4)."""
import dataclasses
import math
from unittest import mock

import pytest
import torch

import edlrr
from conftest import assert_rel_close, matrix_with_spectrum

# (m, n, singular values): low-rank, full-rank, rectangular both ways
# (The Hutchinson standard deviation is about sqrt(2 / (N r)) of the value for r comparable
# singular values: rank >= 20 keeps 2% at N = 4096 beyond four standard deviations.)
CASES = {
    "lowrank-tall": (80, 60, torch.linspace(1.0, 0.1, 20), 11),
    "lowrank-wide": (40, 90, torch.linspace(2.0, 0.5, 20), 12),
    "fullrank-square": (40, 40, torch.linspace(1.0, 0.05, 40), 13),
    "fullrank-wide": (25, 50, torch.logspace(0, -1, 25), 14),
}


@pytest.fixture(params=sorted(CASES))
def case(request):
    m, n, sigma, seed = CASES[request.param]
    return matrix_with_spectrum(m, n, sigma, seed=seed), sigma.double()


@pytest.mark.parametrize("p", [1, 2, 3, 0.5, 1.5])
def test_schatten_matches_svd(case, p):
    S, sigma = case
    est = edlrr.schatten(S, p, method="paper", options={"probes": 4096}, generator=1)
    assert_rel_close(est, (sigma**p).sum(), 0.02, f"schatten p={p}")


def test_nuclear_norm_matches_svd(case):
    S, sigma = case
    assert_rel_close(edlrr.nuclear_norm(S, method="paper", options={"probes": 4096}, generator=2), sigma.sum(), 0.02,
                     "nuclear")


def test_rank_within_half(case):
    S, sigma = case
    est = edlrr.rank(S, method="paper", options={"probes": 4096}, generator=3)
    assert abs(float(est) - sigma.numel()) < 0.5


@pytest.mark.parametrize("name,params", [
    ("nuclear", {}), ("gamma_nuclear", {"gamma": 2.0}), ("laplace", {"gamma": 0.5}),
    ("lnn", {}), ("logarithm", {"gamma": 0.5}), ("etp", {"gamma": 1.0}), ("geman", {"gamma": 2.0}),
    ("schatten", {"p": 2}),
])
@pytest.mark.parametrize("expansion", ["taylor", "laguerre"])
def test_lrr_matches_svd(case, name, params, expansion):
    S, sigma = case
    h = edlrr.penalty(name, **params)
    order = edlrr.estimators.DEFAULT_ORDER[expansion]
    span = edlrr.estimators.LAGUERRE_SPAN if expansion == "laguerre" else 1.0
    grid = torch.linspace(0, 1.05 * float(sigma.max()), 257)
    if h.series_error(grid, expansion, order, scale=float(sigma.max()) / span) > 1e-2:
        # outside the series' domain: the estimator must say so, not return garbage silently
        with pytest.warns(edlrr.SeriesDivergenceWarning):
            edlrr.lrr(S, h, method="paper", options={"expansion": expansion, "probes": 16}, generator=4)
        return
    est = edlrr.lrr(S, h, method="paper", options={"expansion": expansion, "probes": 4096}, generator=4)
    assert_rel_close(est, edlrr.exact.lrr(S, h), 0.02, f"{name} {expansion}")


def test_lrr_laguerre_handles_h0_nonzero_with_projection():
    # The truncated Laguerre series is not 0 at 0: the projection must remove the null space.
    S = matrix_with_spectrum(50, 50, torch.linspace(1, 0.2, 5))
    h = edlrr.penalty("laplace", gamma=0.3)
    opts = edlrr.Paper(expansion="laguerre", order=6, probes=4096, on_series_error="ignore")
    with_proj = edlrr.lrr(S, h, options=opts, generator=0)
    without = edlrr.lrr(S, h, options=dataclasses.replace(opts, project=False), generator=0)
    series0 = float(h.series_value(0.0, "laguerre", 6, scale=1.0 / 8))
    # the 45 zero singular values each add about series(0) without projection
    assert abs(float(without - with_proj) - 45 * series0) < 0.05 * 45 * abs(series0) + 0.05


def test_taylor_outside_radius_warns():
    S = matrix_with_spectrum(30, 30, torch.tensor([3.0, 2.0, 1.0]))
    with pytest.warns(edlrr.SeriesDivergenceWarning, match="converges only for x < 1"):
        edlrr.lrr(S, "gamma_nuclear", method="paper", options={"expansion": "taylor"}, generator=0)
    with pytest.raises(ValueError, match="taylor series of geman"):
        edlrr.lrr(S, edlrr.penalty("geman", gamma=1.0), method="paper", options={"on_series_error": "raise"},
                  generator=0)


def test_released_internals_close_on_moderate_matrix():
    S = matrix_with_spectrum(40, 40, torch.linspace(1.0, 0.3, 40))
    est = edlrr.nuclear_norm(S, method="released", options={"probes": 4096, "sqrt_terms": 400}, generator=5)
    # Tikhonov a = 0.1 biases the projection of sigma^2 ~ 0.1 and the series is truncated:
    # the release's estimate is biased low, but not wildly.
    exact = float(edlrr.exact.nuclear_norm(S))
    assert 0.8 * exact < float(est) < 1.02 * exact


def test_released_defaults_are_the_release():
    assert (edlrr.Released().probes, edlrr.Released().sqrt_terms, edlrr.Released().tikhonov) == (20000, 5000, 0.1)
    s = edlrr.resolve_settings("released")  # the engine's preset
    assert (s.internals, s.probes, s.sqrt_iters, s.tikhonov) == ("released", 20000, 5000, 0.1)
    assert edlrr.resolve_settings(internals="released").internals == "released"
    assert edlrr.resolve_settings("released", probes=10).probes == 10


@pytest.mark.parametrize("fn", [
    lambda S: edlrr.schatten(S, 1, method="paper", generator=0),
    lambda S: edlrr.schatten(S, 1.5, method="paper", generator=0),
    lambda S: edlrr.rank(S, method="paper", generator=0),
    lambda S: edlrr.lrr(S, "laplace", options=edlrr.Paper(expansion="laguerre"), generator=0),
    lambda S: edlrr.lrr(S, edlrr.penalty("gamma_nuclear", gamma=10.0), method="paper", generator=0),
])
def test_paper_internals_never_call_an_svd(fn):
    S = matrix_with_spectrum(20, 30, torch.linspace(1, 0.1, 10))
    boom = mock.Mock(side_effect=AssertionError("SVD called"))
    with mock.patch.object(torch.linalg, "svd", boom), mock.patch.object(torch.linalg, "svdvals", boom), \
            mock.patch.object(torch, "svd", boom), mock.patch.object(torch.linalg, "eigh", boom):
        fn(S.requires_grad_()).backward()
    boom.assert_not_called()


def test_same_seed_same_value_and_generator_advances():
    S = matrix_with_spectrum(20, 20, torch.linspace(1, 0.1, 20))
    paper = edlrr.Paper(probes=8)
    a = edlrr.nuclear_norm(S, options=paper, generator=123)
    b = edlrr.nuclear_norm(S, options=paper, generator=123)
    assert torch.equal(a, b)
    g = torch.Generator().manual_seed(7)
    c, d = edlrr.nuclear_norm(S, options=paper, generator=g), edlrr.nuclear_norm(S, options=paper, generator=g)
    assert not torch.equal(c, d)
    g.manual_seed(7)
    assert torch.equal(edlrr.nuclear_norm(S, options=paper, generator=g), c)


@pytest.mark.parametrize("fn", [
    lambda S, g: edlrr.schatten(S, 3, method="paper", options={"probes": 16}, generator=g),
    lambda S, g: edlrr.rank(S, method="paper", options={"probes": 16}, generator=g),
    lambda S, g: edlrr.lrr(S, "laplace", options=edlrr.Paper(expansion="laguerre", scale=0.5, probes=16), generator=g),
    lambda S, g: edlrr.nuclear_norm(S, method="released", options={"probes": 16, "sqrt_terms": 20}, generator=g),
])
def test_batched_equals_loop(fn):
    S = torch.stack([matrix_with_spectrum(12, 9, torch.rand(9, generator=torch.Generator().manual_seed(i)) + 0.1,
                                          seed=i) for i in range(6)]).reshape(2, 3, 12, 9)
    batched = fn(S, torch.Generator().manual_seed(0))
    g = torch.Generator().manual_seed(0)
    loop = torch.stack([fn(S[i, j], g) for i in range(2) for j in range(3)]).reshape(2, 3)
    assert batched.shape == (2, 3)
    torch.testing.assert_close(batched, loop, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_dtype_preserved(dtype):
    S = matrix_with_spectrum(10, 8, torch.linspace(1, 0.2, 8), dtype=dtype)
    for v in (edlrr.nuclear_norm(S, generator=0), edlrr.rank(S, generator=0), edlrr.lrr(S, "laplace", generator=0)):
        assert v.dtype == dtype and v.shape == ()


@pytest.mark.parametrize("fn", [
    lambda S: edlrr.schatten(S, 1, options=edlrr.Paper(probes=4, pinv_iters=4, sqrt_iters=4), generator=0),
    lambda S: edlrr.schatten(S, 2, options=edlrr.Paper(probes=4, pinv_iters=4), generator=0),
    lambda S: edlrr.schatten(S, 0.5, options=edlrr.Paper(probes=4, pinv_iters=3, sqrt_iters=4), generator=0),
    lambda S: edlrr.rank(S, options=edlrr.Paper(probes=4, pinv_iters=4), generator=0),
    lambda S: edlrr.lrr(S, "laplace", options=edlrr.Paper(expansion="taylor", order=4, scale=2.0, probes=4,
                                                          pinv_iters=3, sqrt_iters=4, on_series_error="ignore"),
                        generator=0),
    lambda S: edlrr.lrr(S, "gamma_nuclear", options=edlrr.Paper(expansion="laguerre", order=4, scale=1.0, probes=4,
                                                                pinv_iters=3, sqrt_iters=4, on_series_error="ignore"),
                        generator=0),
])
def test_gradcheck(fn):
    # (The released internals are left out: their scale k comes from a detached SVD, as in
    # the release, so finite differences see a k that autograd treats as a constant.)
    S = matrix_with_spectrum(5, 4, torch.tensor([1.5, 1.0, 0.6, 0.3]), seed=3).requires_grad_()
    assert torch.autograd.gradcheck(fn, (S,), eps=1e-6, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("rank_", [6, 20])
def test_gradient_approaches_exact_gradient(rank_):
    # d||S||_*/dS = U_r V_r^T (for rank-deficient S the minimal-norm subgradient, which is the
    # expectation of the estimator's gradient: the projection removes the null space).
    S = matrix_with_spectrum(30, 20, torch.linspace(2, 0.5, rank_), seed=2).requires_grad_()
    (g_est,) = torch.autograd.grad(edlrr.nuclear_norm(S, method="paper", options={"probes": 4096}, generator=0), S)
    U, sv, Vh = torch.linalg.svd(S.detach(), full_matrices=False)
    g_ex = U[:, :rank_] @ Vh[:rank_]
    cos = float((g_est * g_ex).sum() / (g_est.norm() * g_ex.norm()))
    assert cos > 0.99


@pytest.mark.parametrize("scale", [1e-6, 1e4])
def test_float32_extreme_scales_stay_finite(scale):
    g = torch.Generator().manual_seed(0)
    S = (torch.randn(30, 20, generator=g) * scale).requires_grad_()
    for fn in (lambda X: edlrr.nuclear_norm(X, generator=0), lambda X: edlrr.rank(X, generator=0),
               lambda X: edlrr.schatten(X, 3, generator=0),
               lambda X: edlrr.lrr(X, edlrr.penalty("laplace", gamma=scale), options=edlrr.Paper(expansion="laguerre"),
                                   generator=0)):
        v = fn(S)
        (grad,) = torch.autograd.grad(v, S)
        assert torch.isfinite(v) and torch.isfinite(grad).all()
    assert_rel_close(edlrr.nuclear_norm(S.detach(), method="paper", options={"probes": 2048}, generator=1),
                     edlrr.exact.nuclear_norm(S.detach().double()), 0.05, "float32 nuclear")


@pytest.mark.parametrize("fn", [edlrr.nuclear_norm, edlrr.rank, lambda S, **k: edlrr.schatten(S, 3, **k),
                                lambda S, **k: edlrr.lrr(S, "laplace", options=edlrr.Paper(expansion="laguerre"), **k)])
def test_zero_matrix_gives_zero_and_finite_gradient(fn):
    Z = torch.zeros(6, 4, dtype=torch.float64, requires_grad=True)
    v = fn(Z, generator=0)
    (grad,) = torch.autograd.grad(v, Z)
    assert float(v) == 0.0 and torch.isfinite(grad).all()


def test_repeated_singular_values_finite_gradient():
    S = matrix_with_spectrum(20, 20, torch.tensor([1.0] * 5 + [0.0] * 3)).requires_grad_()
    (grad,) = torch.autograd.grad(edlrr.lrr(S, "laplace", generator=0), S)
    assert torch.isfinite(grad).all()


@pytest.mark.parametrize("bad,err,match", [
    (torch.ones(3, 3, dtype=torch.int64), TypeError, "floating dtype"),
    (torch.ones(3), ValueError, "ndim >= 2"),
    (torch.ones(0, 3), ValueError, "zero-size"),
    (torch.tensor([[1.0, float("nan")], [0.0, 1.0]]), ValueError, "NaN or Inf"),
    (torch.tensor([[1.0, float("inf")], [0.0, 1.0]]), ValueError, "NaN or Inf"),
    ([[1.0, 2.0]], TypeError, "torch.Tensor"),
])
def test_bad_inputs(bad, err, match):
    for fn in (edlrr.nuclear_norm, edlrr.rank, lambda S: edlrr.lrr(S, "laplace"), edlrr.exact.nuclear_norm):
        with pytest.raises(err, match=match):
            fn(bad)


@pytest.mark.parametrize("kwargs,err,match", [
    (dict(method="paper", options={"probes": 0}), ValueError, "probes must be >= 1"),
    (dict(method="paper", options={"probes": 2.5}), TypeError, "probes must be an integer"),
    (dict(method="fastest"), ValueError, "unknown method"),
    (dict(method="paper", options={"probe_kind": "uniform"}), ValueError, "probe_kind"),
    (dict(method="paper", options={"bogus": 1}), ValueError, "unknown option"),
    (dict(method="paper", options=edlrr.Krylov()), ValueError, "given with method='paper'"),
    (dict(generator="seed"), TypeError, "generator must be"),
])
def test_bad_options(kwargs, err, match):
    with pytest.raises(err, match=match):
        edlrr.nuclear_norm(torch.eye(3, dtype=torch.float64), **kwargs)


def test_bad_power_and_rank_without_projection():
    S = torch.eye(4, dtype=torch.float64)
    with pytest.raises(ValueError, match="dyadic"):
        edlrr.schatten(S, 0.3, method="paper")
    with pytest.raises(ValueError, match="p must be"):
        edlrr.schatten(S, -1)
    with pytest.raises(ValueError, match="needs the projection"):
        edlrr.rank(S, method="paper", options={"project": False})
    with pytest.raises(ValueError, match="expansion must be one of"):
        edlrr.lrr(S, "laplace", method="paper", options={"expansion": "chebyshev"})


def test_rademacher_probes_are_unbiased():
    S = matrix_with_spectrum(30, 30, torch.linspace(1, 0.1, 30))
    est = edlrr.nuclear_norm(S, options=edlrr.Paper(probes=4096, probe_kind="rademacher"), generator=0)
    assert_rel_close(est, edlrr.exact.nuclear_norm(S), 0.01, "rademacher")


def test_side_choice_does_not_change_expectation():
    S = matrix_with_spectrum(40, 15, torch.linspace(1, 0.2, 10))
    left = edlrr.schatten(S, 1, options=edlrr.Paper(side="left", probes=4096), generator=0)
    right = edlrr.schatten(S, 1, options=edlrr.Paper(side="right", probes=4096), generator=0)
    assert_rel_close(left, right, 0.03, "left vs right Gram")
