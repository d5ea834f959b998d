"""Building blocks (Propositions 1-2 and the released variants) against dense references."""
import pytest
import torch

import edlrr
from edlrr import linalg, theory
from conftest import matrix_with_spectrum


def test_ben_israel_converges_to_pinv():
    S = matrix_with_spectrum(20, 12, torch.linspace(3, 0.5, 8))
    X = linalg.pinv_ben_israel(S, 30)
    torch.testing.assert_close(X, torch.linalg.pinv(S), atol=1e-8, rtol=0)


def test_ben_israel_spectrum_matches_theory():
    sigma = torch.tensor([2.0, 1.0, 0.3, 0.01, 0.0], dtype=torch.float64)
    S = matrix_with_spectrum(9, 7, sigma)
    for k1 in (0, 1, 3, 8):
        P = S @ linalg.pinv_ben_israel(S, k1)
        ev = torch.linalg.eigvalsh((P + P.T) / 2).flip(0)[:5]
        # theory's filter for k1 = 0 is alpha sigma^2 (S_0 = alpha S^T)
        torch.testing.assert_close(ev, theory.projection_filter(sigma, k1), atol=1e-10, rtol=1e-8)


def test_newton_schulz_converges_and_matches_scalar_iteration():
    lam = torch.tensor([4.0, 1.0, 0.25, 1e-4, 0.0], dtype=torch.float64)
    Q, _ = torch.linalg.qr(torch.randn(5, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(0)))
    A = Q @ torch.diag(lam) @ Q.T
    for k2 in (1, 5, 12):
        R = linalg.sqrt_newton_schulz(A, k2)
        ev = torch.linalg.eigvalsh((R + R.T) / 2).flip(0)
        torch.testing.assert_close(ev, theory.newton_schulz_root(lam, k2), atol=1e-10, rtol=1e-8)
    R = linalg.sqrt_newton_schulz(A, 30)
    torch.testing.assert_close(R @ R, A, atol=1e-9, rtol=0)


def test_newton_schulz_batched_and_zero():
    A = torch.zeros(3, 4, 4, dtype=torch.float32)
    A[1] = torch.eye(4) * 9
    R = linalg.sqrt_newton_schulz(A, 20)
    assert R.shape == A.shape and R.dtype == torch.float32
    torch.testing.assert_close(R[1], torch.eye(4) * 3, atol=1e-5, rtol=0)
    assert torch.count_nonzero(R[0]) == 0


def test_root_chain_gives_quarter_power():
    lam = torch.tensor([16.0, 1.0, 0.0625], dtype=torch.float64)
    A = torch.diag(lam)
    r1, r2 = linalg.root_chain(A, 2, 30)
    torch.testing.assert_close(torch.diagonal(r2), lam**0.25, atol=1e-10, rtol=0)


def test_binomial_series_sqrt_converges_slowly():
    A = torch.diag(torch.tensor([1.0, 0.5, 0.01], dtype=torch.float64))
    exact = A.sqrt()
    err_100 = (linalg.sqrt_binomial_series(A, 100) - exact).abs().max()
    err_2000 = (linalg.sqrt_binomial_series(A, 2000) - exact).abs().max()
    assert err_2000 < err_100 < 0.2 and err_2000 < 1e-2


def test_tikhonov_pinv_applies_a_single_step():
    S = matrix_with_spectrum(6, 6, torch.linspace(2, 0.2, 6))
    X0 = torch.inverse(S.T @ S + 0.1 * torch.eye(6, dtype=S.dtype)) @ S.T
    torch.testing.assert_close(linalg.pinv_tikhonov(S, 0.1, iters=1), 2 * X0 - X0 @ S @ X0)
    # more steps would converge further; the release's behaviour is one step
    err1 = (linalg.pinv_tikhonov(S, 0.1, 1) - torch.linalg.pinv(S)).norm()
    err5 = (linalg.pinv_tikhonov(S, 0.1, 5) - torch.linalg.pinv(S)).norm()
    assert err5 < err1


def test_safe_alpha_satisfies_proposition_1():
    S = torch.randn(30, 20, dtype=torch.float64)
    alpha = float(linalg.safe_alpha(S))
    assert 0 < alpha < 2 / float(torch.linalg.matrix_norm(S, 2)) ** 2


def test_newton_schulz_early_exit_matches_full_run():
    A = torch.diag(torch.tensor([4.0, 1.0, 0.25], dtype=torch.float64))
    full = linalg.sqrt_newton_schulz(A, 40)
    early = linalg.sqrt_newton_schulz(A, 40, rtol=1e-12)
    torch.testing.assert_close(early, full, atol=1e-10, rtol=0)
    torch.testing.assert_close(early, A.sqrt(), atol=1e-10, rtol=0)


def test_schatten_samples_average_to_the_estimate():
    S = torch.randn(12, 9, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    for p in (0, 1, 3):
        samples = edlrr.estimators.schatten_samples(S, p, method="paper", options={"probes": 32}, generator=5)
        assert samples.shape == (32,)
        torch.testing.assert_close(samples.mean(), edlrr.schatten(S, p, method="paper", options={"probes": 32},
                                                                   generator=5))


def test_projector_recurrence_equals_proposition_1():
    S = matrix_with_spectrum(9, 30, torch.tensor([2.0, 1.0, 0.1]))
    for k in (0, 3, 12):
        torch.testing.assert_close(linalg.projector_ben_israel(S, k), S @ linalg.pinv_ben_israel(S, k),
                                   atol=1e-12, rtol=0)
