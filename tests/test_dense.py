"""The dense path (method="dense", and "auto" up to ``dense_below``, edlrr.krylov.dense_spectral_sum):
eigenvalues of the float64 Gram matrix, checked against exact SVDs (values and gradients)."""
import pytest
import torch

import edlrr
from edlrr import krylov
from conftest import assert_rel_close, matrix_with_spectrum

pytestmark = pytest.mark.usefixtures("one_thread")

DENSE = {"method": "dense"}


def _exact_gradient(S, fn):
    X = S.detach().clone().requires_grad_()
    fn(X).backward()
    return X.grad


def _functions():
    """(name, estimator with options, exact reference) for every kind of h."""
    return [
        ("nuclear", lambda S, **o: edlrr.nuclear_norm(S, **o), edlrr.exact.nuclear_norm),
        ("schatten0.5", lambda S, **o: edlrr.schatten(S, 0.5, **o), lambda S: edlrr.exact.schatten(S, 0.5)),
        ("schatten3", lambda S, **o: edlrr.schatten(S, 3, **o), lambda S: edlrr.exact.schatten(S, 3)),
        ("gamma", lambda S, **o: edlrr.lrr(S, edlrr.penalty("gamma_nuclear", gamma=0.5), **o),
         lambda S: edlrr.exact.lrr(S, "gamma_nuclear", gamma=0.5)),
        ("laplace", lambda S, **o: edlrr.lrr(S, edlrr.penalty("laplace", gamma=0.5), **o),
         lambda S: edlrr.exact.lrr(S, "laplace", gamma=0.5)),
        ("logarithm", lambda S, **o: edlrr.lrr(S, "logarithm", **o), lambda S: edlrr.exact.lrr(S, "logarithm")),
    ]


@pytest.mark.parametrize("name,fn,exact", _functions(), ids=[f[0] for f in _functions()])
@pytest.mark.parametrize("shape", [(60, 90), (90, 60)])
def test_values_and_gradients_match_the_svd(name, fn, exact, shape):
    sigma = torch.linspace(3, 0.1, min(shape), dtype=torch.float64)
    S = matrix_with_spectrum(*shape, sigma, seed=1).requires_grad_()
    value = fn(S, **DENSE)
    value.backward()
    assert_rel_close(value.detach(), exact(S.detach()), 1e-11, name)
    g = _exact_gradient(S, exact)
    err = float((S.grad - g).norm() / g.norm())
    assert err <= 1e-8, f"{name}: relative gradient error {err:.3g}"


def test_batched_float32_matches_svdvals_in_float32():
    S = torch.randn(2, 3, 50, 70, generator=torch.Generator().manual_seed(2))
    X = S.clone().requires_grad_()
    value = edlrr.nuclear_norm(X, **DENSE)
    value.sum().backward()
    assert value.shape == (2, 3) and value.dtype == torch.float32 and X.grad.dtype == torch.float32
    truth = edlrr.exact.nuclear_norm(S.double())
    assert float(((value.detach().double() - truth) / truth).abs().max()) <= 1e-6
    g = _exact_gradient(S.double(), lambda Y: edlrr.exact.nuclear_norm(Y).sum())
    assert float((X.grad.double() - g).norm() / g.norm()) <= 1e-5


def test_rank_deficient_matrix_gets_its_rank_and_the_minimal_norm_subgradient():
    """Rank 7 of 80 x 100: rank exact; nuclear-norm gradient U_r V_r^T (zero directions add
    nothing), as the Lanczos path and unlike svdvals' arbitrary completion of U V^T."""
    sigma = torch.linspace(2, 1, 7, dtype=torch.float64)
    g = torch.Generator().manual_seed(3)
    U, _ = torch.linalg.qr(torch.randn(80, 7, generator=g, dtype=torch.float64))
    V, _ = torch.linalg.qr(torch.randn(100, 7, generator=g, dtype=torch.float64))
    S = ((U * sigma) @ V.T).requires_grad_()
    assert float(edlrr.rank(S.detach(), **DENSE)) == 7.0
    value = edlrr.nuclear_norm(S, **DENSE)
    value.backward()
    assert_rel_close(value.detach(), sigma.sum(), 1e-12, "nuclear norm")
    assert torch.allclose(S.grad, U @ V.T, atol=1e-7)


@pytest.mark.parametrize("case", ["zero", "repeated"])
def test_degenerate_spectra_give_finite_gradients(case):
    S = torch.zeros(30, 40, dtype=torch.float64) if case == "zero" else torch.eye(30, 40, dtype=torch.float64)
    for fn, _, _ in [f[1:] + (None,) for f in _functions()]:
        X = S.clone().requires_grad_()
        value = fn(X, **DENSE)
        value.backward()
        assert torch.isfinite(value) and torch.isfinite(X.grad).all()
    if case == "repeated":  # sigma_i = 1: gradient of the nuclear norm is U V^T = S itself
        X = S.clone().requires_grad_()
        edlrr.nuclear_norm(X, **DENSE).backward()
        assert torch.allclose(X.grad, S, atol=1e-10)


def test_auto_switches_at_dense_below():
    """method="auto" computes min(m, n) <= dense_below densely (error estimate 0), larger ones by
    the polar iteration (a positive error estimate)."""
    g = torch.Generator().manual_seed(4)
    limit = edlrr.Auto().dense_below
    small = torch.randn(limit, limit + 40, dtype=torch.float64, generator=g)
    value, stderr = edlrr.nuclear_norm(small, method="auto", generator=0, return_stderr=True)
    assert float(stderr) == 0.0
    assert_rel_close(value, edlrr.exact.nuclear_norm(small), 1e-12, f"dense at {limit}")
    large = torch.randn(limit + 1, limit + 40, dtype=torch.float64, generator=g)
    value, stderr = edlrr.nuclear_norm(large, method="auto", generator=0, return_stderr=True)
    assert float(stderr) > 0.0
    assert_rel_close(value, edlrr.exact.nuclear_norm(large), 1e-2, f"polar at {limit + 1}")


def test_dense_spectral_sum_rejects_the_larger_side():
    with pytest.raises(ValueError, match="m <= n"):
        krylov.dense_spectral_sum(torch.randn(5, 3), krylov.SpectralFunction(lambda s: s, torch.ones_like))


def test_float32_keeps_the_gradient_of_small_singular_values_but_not_their_rank():
    """sigma = 1 (x 50) and 5e-6 (x 50), stored in float32: below float32's rank tolerance
    (100 eps_32 = 1.2e-5) but resolved by the float64 Gram matrix. The nuclear norm keeps their
    gradient (U V^T over all 100 directions, as svdvals' autograd); the rank does not count them."""
    sigma = torch.cat([torch.ones(50), torch.full((50,), 5e-6)]).double()
    S = matrix_with_spectrum(100, 100, sigma, seed=5).float()
    X = S.clone().requires_grad_()
    edlrr.nuclear_norm(X, **DENSE).backward()
    g = _exact_gradient(S.double(), edlrr.exact.nuclear_norm)
    assert float((X.grad.double() - g).norm() / g.norm()) <= 1e-3
    assert float(edlrr.rank(S, **DENSE)) == 50.0
