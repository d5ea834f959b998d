"""edlrr.bidiagonal (method="matvec") against dense SVDs."""
import math

import pytest
import torch

import edlrr
from edlrr import bidiagonal
from edlrr.estimators import RANK_FUNCTION, power_function

from conftest import matrix_with_spectrum



def matvec(**fields):
    """method="matvec" with the given edlrr.Matvec fields (default: one probe, 50 steps)."""
    return {"method": "matvec", "options": edlrr.Matvec(**fields)}

IDX = torch.arange(1, 301, dtype=torch.float64)


def _exact(S, p):
    s = torch.linalg.svdvals(S)
    live = s > max(S.shape) * torch.finfo(S.dtype).eps * s[0]
    return float((s[live] ** p).sum()) if p else float(live.sum())


def _exact_grad(S, p):
    U, s, Vh = torch.linalg.svd(S, full_matrices=False)
    live = s > max(S.shape) * torch.finfo(S.dtype).eps * s[0]
    return (U * torch.where(live, p * torch.where(live, s, 1.0) ** (p - 1), 0.0)) @ Vh


def test_bidiagonalize_satisfies_the_golub_kahan_relations_with_orthonormal_bases():
    X = torch.randn(60, 80, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    U0 = torch.randn(60, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    U0 = U0 / U0.norm(dim=0)
    U, V, alpha, beta = bidiagonal.bidiagonalize(X, U0, 12)
    for i in range(3):
        B = bidiagonal._bidiagonal(alpha[i], beta[i], 13)
        torch.testing.assert_close(X @ V[i], U[i] @ B, atol=1e-12, rtol=0)
        torch.testing.assert_close(X.T @ U[i, :, :12], V[i] @ B[:12].T, atol=1e-12, rtol=0)
        torch.testing.assert_close(U[i].T @ U[i], torch.eye(13, dtype=X.dtype), atol=1e-12, rtol=0)
        torch.testing.assert_close(V[i].T @ V[i], torch.eye(12, dtype=X.dtype), atol=1e-12, rtol=0)
        torch.testing.assert_close(U[i, :, 0], U0[:, i])


def test_bidiagonalize_stops_at_an_invariant_subspace():
    """Rank 5: the run from a generic vector reaches u_6 in the null space of X^T, whose alpha is
    rounding: it stops there and the rest is zero."""
    X = matrix_with_spectrum(50, 70, torch.arange(5, 0, -1).double(), seed=2)
    U0 = torch.randn(50, 1, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    U, V, alpha, beta = bidiagonal.bidiagonalize(X, U0 / U0.norm(), 10)
    assert (alpha[0, :5] > 1e-3).all() and (beta[0, :5] > 1e-3).all()
    assert (alpha[0, 5:] == 0).all() and (beta[0, 5:] == 0).all()
    assert (V[0, :, 5:] == 0).all() and (U[0, :, 7:] == 0).all()


@pytest.mark.parametrize("p", [1.0, 0.5, 2.0, 0.0])
def test_exactly_low_rank_is_exact_with_its_gradient(p):
    """rank r < d: every direction converges, the tail is the null space: value and gradient exact."""
    sigma = torch.linspace(3, 1, 12, dtype=torch.float64)
    S0 = matrix_with_spectrum(150, 120, sigma, seed=4)
    S = S0.clone().requires_grad_(p > 0)
    v = edlrr.schatten(S, p, **matvec(lanczos_steps=20), generator=0)
    assert float(v) == pytest.approx(_exact(S0, p), rel=1e-10)
    if p > 0:
        v.backward()
        torch.testing.assert_close(S.grad, _exact_grad(S0, p), atol=1e-8, rtol=0)


@pytest.mark.parametrize("low", [1e-3, 1e-8])
@pytest.mark.parametrize("p", [1.0, 0.5])
def test_step_spectrum_is_exact(low, p):
    """Two singular values, each repeated more often than one direction's weight allows: the
    Krylov space is exhausted after two steps and the tail's two nodes with the control variate
    give the sum exactly (XTrace's step spectra)."""
    sigma = torch.where(IDX <= 30, 1.0, low).double()
    S = matrix_with_spectrum(300, 300, sigma, seed=5)
    for seed in range(3):
        v = edlrr.schatten(S, p, **matvec(), generator=seed)
        assert float(v) == pytest.approx(_exact(S, p), rel=1e-9)


def test_decaying_spectrum_within_a_few_tenths_of_a_percent_and_better_than_the_sketch_head():
    """sigma_i = 0.9^i (n = 300), 100 products each: the self-deflated run against the sketch head
    with the same budget (k = 30, q = 0, N = 2, d = 10), mean error over 5 seeds."""
    S = matrix_with_spectrum(300, 300, 0.9 ** (IDX - 1), seed=6)
    truth = _exact(S, 1)
    ours = [abs(float(edlrr.nuclear_norm(S, **matvec(), generator=s)) / truth - 1) for s in range(5)]
    head = edlrr.Krylov(sketch=30, power_iters=0, probes=2, lanczos_steps=10)
    sketch = [abs(float(edlrr.nuclear_norm(S, method="krylov", options=head, generator=s)) / truth - 1)
              for s in range(5)]
    assert sum(ours) / 5 < 5e-3, ours
    assert sum(ours) < sum(sketch) / 3, (ours, sketch)


def test_radau_rule_below_gauss_on_a_decaying_tail_and_equal_where_the_space_is_exhausted():
    """For sqrt-like h the Gauss-Radau(0) rule is the lower end of the bracket: on sigma_i = 0.9^i
    (Schatten-0.5) the Gauss rule overestimates by more; on a step spectrum (beta_d = 0) they agree."""
    h = power_function(0.5)
    S = matrix_with_spectrum(300, 300, 0.9 ** (IDX - 1), seed=7)
    truth = _exact(S, 0.5)
    kw = dict(probes=1, lanczos_steps=30, generator=0)
    radau = float(bidiagonal.spectral_sum(S, h, rule="radau", **kw)[0])
    gauss = float(bidiagonal.spectral_sum(S, h, rule="gauss", **kw)[0])
    mean = float(bidiagonal.spectral_sum(S, h, rule="gauss-radau", **kw)[0])
    assert gauss > truth and abs(radau - truth) < abs(gauss - truth)
    assert mean == pytest.approx(0.5 * (radau + gauss), rel=1e-12)
    step = matrix_with_spectrum(300, 300, torch.where(IDX <= 30, 1.0, 1e-3).double(), seed=8)
    a = float(bidiagonal.spectral_sum(step, h, rule="radau", **kw)[0])
    b = float(bidiagonal.spectral_sum(step, h, rule="gauss", **kw)[0])
    assert a == pytest.approx(b, rel=1e-12)


def test_probes_average_their_runs_and_give_a_standard_error():
    S = matrix_with_spectrum(200, 240, 1.0 / torch.arange(1, 201, dtype=torch.float64), seed=9)
    truth = _exact(S, 1)
    v1, e1 = edlrr.nuclear_norm(S, **matvec(), generator=0, return_stderr=True)
    assert math.isfinite(float(e1)) and float(e1) > 0  # one run: its own plug-in spread
    v, e = edlrr.nuclear_norm(S, **matvec(probes=4, lanczos_steps=25), generator=0, return_stderr=True)
    assert float(e) > 0 and abs(float(v) - truth) < 5 * float(e) + 1e-3 * truth


def test_batch_gives_the_numbers_of_a_loop_with_the_same_generator_in_float32_too():
    A = matrix_with_spectrum(120, 90, 0.8 ** torch.arange(90, dtype=torch.float64), seed=10)
    B = matrix_with_spectrum(120, 90, torch.linspace(2, 1, 90, dtype=torch.float64), seed=11)
    outs = {}
    for dtype in (torch.float64, torch.float32):
        batch = torch.stack([A, B]).to(dtype)
        g = torch.Generator().manual_seed(5)
        outs[dtype] = out = edlrr.nuclear_norm(batch, **matvec(lanczos_steps=20), generator=g)
        g = torch.Generator().manual_seed(5)
        loop = torch.stack([edlrr.nuclear_norm(X.to(dtype), **matvec(lanczos_steps=20), generator=g)
                            for X in (A, B)])
        torch.testing.assert_close(out, loop, rtol=1e-5 if dtype == torch.float32 else 1e-12, atol=0)
    assert outs[torch.float32].dtype == torch.float32
    # accuracy in both dtypes with the preset's 50 steps: float32 within 2e-4 (its products'
    # rounding), float64 within 1e-4, on the decaying spectrum (3 seeds)
    truth = _exact(A, 1)
    for dtype, bound in ((torch.float64, 1e-4), (torch.float32, 2e-4)):
        errs = [abs(float(edlrr.nuclear_norm(A.to(dtype), **matvec(), generator=s)) / truth - 1) for s in range(3)]
        assert max(errs) < bound, (dtype, errs)


def test_rank_of_an_exactly_low_rank_matrix_and_a_finite_gradient_at_zeros():
    spectrum = torch.where(IDX[:200] <= 20, 1.0 + (20 - IDX[:200]) / 20, 0.0).double()
    S0 = matrix_with_spectrum(200, 200, spectrum, seed=12)
    assert float(edlrr.rank(S0, **matvec(), generator=0)) == pytest.approx(20, abs=1e-9)
    S = S0.clone().requires_grad_()
    edlrr.schatten(S, 0.5, **matvec(), generator=0).backward()
    assert torch.isfinite(S.grad).all()


def test_the_same_seed_the_same_value_and_a_wide_matrix_on_its_smaller_side():
    S = matrix_with_spectrum(80, 200, 0.85 ** torch.arange(80, dtype=torch.float64), seed=13)
    a = edlrr.nuclear_norm(S, **matvec(), generator=3)
    b = edlrr.nuclear_norm(S.T, **matvec(), generator=3)
    assert float(a) == float(edlrr.nuclear_norm(S, **matvec(), generator=3))
    assert float(a) == pytest.approx(float(b), rel=1e-12)  # both work with the 80 x 80 Gram side
    assert float(a) == pytest.approx(_exact(S, 1), rel=1e-3)


def test_bad_options_name_the_problem():
    with pytest.raises(ValueError, match="quadrature must be one of"):
        edlrr.Matvec(quadrature="simpson")
    assert edlrr.Matvec().quadrature == "extrapolated"  # every rule applies
    with pytest.raises(ValueError, match="'tail_gradient' is not used by method 'matvec'"):
        edlrr.nuclear_norm(torch.eye(3, dtype=torch.float64), method="matvec", options={"tail_gradient": "rational"})
    with pytest.raises(ValueError, match="rule must be one of"):
        bidiagonal.spectral_sum(torch.eye(3, dtype=torch.float64), RANK_FUNCTION, probes=1, lanczos_steps=2,
                                rule="lobatto")
    with pytest.raises(ValueError, match="m <= n"):
        bidiagonal.spectral_sum(torch.ones(4, 3, dtype=torch.float64), RANK_FUNCTION, probes=1, lanczos_steps=2)


def test_the_matvec_method_counts_100_products():
    from edlrr_bench.experiments.fast import products
    assert products(edlrr.plan((1000, 1000), "matvec", function="schatten"), 1000) == 100
    assert products(edlrr.plan((1000, 1000), "matvec", function="nuclear_norm"), 1000) == 100
    assert products(edlrr.plan((1000, 1000), "matvec", {"probes": 2, "lanczos_steps": 25}), 1000) == 100


def test_schatten2_gradient_is_exactly_2S_head_plus_projected_tail():
    """f(lambda) = lambda is linear: the head's exact gradient on the converged directions plus
    c X_t on the rest, with c from the tail's quadrature and control variate (= 2 exactly), must
    add up to 2 S on a full-rank matrix whose head converges only in part."""
    S0 = matrix_with_spectrum(200, 260, 0.95 ** torch.arange(200, dtype=torch.float64), seed=14)
    S = S0.clone().requires_grad_()
    v = edlrr.schatten(S, 2, **matvec(lanczos_steps=30), generator=0)
    v.backward()
    assert float(v) == pytest.approx(float(S0.square().sum()), rel=1e-12)
    torch.testing.assert_close(S.grad, 2 * S0, atol=1e-10, rtol=0)


@pytest.mark.parametrize("sigma", [0.9 ** (IDX - 1), torch.linspace(3, 1, 300, dtype=torch.float64)],
                         ids=["slow-decay", "flat"])
def test_one_probe_error_estimate_covers_the_truth(sigma):
    """The 95% interval value +- 1.96 stderr of one run (its plug-in tail spread and the
    Gauss/Radau bracket) holds the truth in at least 45 of 50 seeds (the issue's 90%)."""
    S = matrix_with_spectrum(300, 300, sigma, seed=15)
    truth = _exact(S, 1)
    covered = 0
    for seed in range(50):
        v, se = edlrr.nuclear_norm(S, **matvec(), generator=seed, return_stderr=True)
        assert 0 < float(se) < 0.05 * truth
        covered += abs(float(v) - truth) <= 1.96 * float(se)
    assert covered >= 45, covered


def test_batched_gradient_over_several_runs_equals_the_loop():
    """(2, m, n) with 3 runs each: the gradient of the batch's sum equals the loop's gradients
    (same generator), through the head's one-product backward over the runs."""
    A = matrix_with_spectrum(90, 110, 0.8 ** torch.arange(90, dtype=torch.float64), seed=16)
    B = matrix_with_spectrum(90, 110, 1.0 / torch.arange(1, 91, dtype=torch.float64), seed=17)
    X = torch.stack([A, B]).requires_grad_()
    g = torch.Generator().manual_seed(9)
    edlrr.schatten(X, 0.5, **matvec(probes=3, lanczos_steps=15), generator=g).sum().backward()
    g = torch.Generator().manual_seed(9)
    for i, M in enumerate((A, B)):
        Y = M.clone().requires_grad_()
        edlrr.schatten(Y, 0.5, **matvec(probes=3, lanczos_steps=15), generator=g).backward()
        torch.testing.assert_close(X.grad[i], Y.grad, rtol=1e-10, atol=1e-12)


def test_a_decay_down_to_the_rank_tolerance_is_exact_once_the_steps_reach_it():
    """sigma_i = 0.6^(i-1), n = 300: 60 singular values above the tolerance (300 eps sigma_1), the
    last at 1.2 tol, far below 1e-8 sigma_1 and close together in absolute terms. With 80 steps
    every one is a converged Ritz pair with a residual far below its gap: all are counted
    exactly, none is left to the one-probe tail, and the run does not stop short of the last."""
    sigma = 0.6 ** torch.arange(300, dtype=torch.float64)
    S0 = matrix_with_spectrum(300, 300, sigma, seed=21)
    assert _exact(S0, 0) == 60
    opts = matvec(lanczos_steps=80)
    for seed in range(3):
        assert float(edlrr.rank(S0, **opts, generator=seed)) == 60
        for p in (0.5, 1.0):
            S = S0.clone().requires_grad_()
            value = edlrr.schatten(S, p, **opts, generator=seed)
            assert float(value) == pytest.approx(_exact(S0, p), rel=1e-9)
            value.backward()
            g = _exact_grad(S0, p)
            assert float((S.grad * g).sum() / (S.grad.norm() * g.norm())) > 0.999


def test_linear_h_is_exact_and_a_tail_below_rounding_is_not_amplified():
    """The tail's control variate: Schatten-2 (h(sigma) = sigma^2, linear in lambda) is exact
    through it however small the tail's nodes are (sigma_i = i^-2 after 100 steps: nodes near
    1e-8 sigma_1^2, which a degenerate-spread test relative to sigma_1^2 used to switch off),
    and where the known tail trace is below the rounding of ||X||_F^2 (0.9^i after 200 steps)
    the estimate is not that rounding times f'(lambda) of a tiny node."""
    S = matrix_with_spectrum(300, 300, IDX ** -2.0, seed=22)
    for seed in range(3):
        value = edlrr.schatten(S, 2.0, **matvec(lanczos_steps=100), generator=seed)
        assert float(value) == pytest.approx(_exact(S, 2), rel=1e-12)
    sigma = 0.9 ** torch.arange(500, dtype=torch.float64)
    S = matrix_with_spectrum(500, 500, sigma, seed=23)
    for seed in range(3):
        for p in (0.5, 1.0):
            value = edlrr.schatten(S, p, **matvec(lanczos_steps=200), generator=seed)
            assert float(value) == pytest.approx(_exact(S, p), rel=1e-4)


def test_a_singular_value_at_the_tolerance_is_counted_or_covered_by_the_error_estimate():
    """sigma_i = 0.7^(i-1), n = 300: sigma_86 = 1.03 tol, within rounding of the tolerance. The
    rank comes out exact once the steps reach it, and the interval +- 1.96 stderr holds the
    truth (a converged value that close to the tolerance adds its h to the error bound)."""
    S = matrix_with_spectrum(300, 300, 0.7 ** torch.arange(300, dtype=torch.float64), seed=24)
    truth = _exact(S, 0)
    assert truth in (85, 86, 87)
    for seed in range(4):
        value, stderr = edlrr.rank(S, **matvec(lanczos_steps=100), generator=seed, return_stderr=True)
        assert abs(float(value) - truth) <= 1.96 * float(stderr) + 1e-9
        assert float(value) == pytest.approx(truth, abs=1e-9)


# ---- moment_bracket: what the runs' moments determine -------------------------------------------

@pytest.mark.parametrize("p", [0.0, 0.5, 1.0])
def test_moment_bracket_is_the_exact_value_where_the_krylov_space_is_exhausted(p):
    """rank 12 < d: every run's measure is known whole (beta_d = 0), so the bracket closes on the truth."""
    S = matrix_with_spectrum(150, 120, torch.linspace(3, 1, 12, dtype=torch.float64), seed=4).T
    h = RANK_FUNCTION if p == 0 else power_function(p)
    lo, hi = bidiagonal.moment_bracket(S, h, probes=2, lanczos_steps=20, generator=0)
    truth = _exact(S, p)
    assert math.isclose(float(lo), truth, rel_tol=1e-10) and math.isclose(float(hi), truth, rel_tol=1e-10)


@pytest.mark.parametrize("p", [0.5, 1.0])
def test_moment_bracket_holds_the_estimate_of_the_same_runs(p):
    """The preset's value (its rule clamped into the Gauss/Radau bracket) lies in the interval, and
    the interval is not a point where 20 steps cannot resolve a 0.97^i decay."""
    S = matrix_with_spectrum(200, 200, 0.97 ** IDX[:200], seed=5)
    h = power_function(p)
    lo, hi = bidiagonal.moment_bracket(S, h, probes=1, lanczos_steps=20, generator=3)
    v = bidiagonal.spectral_sum(S, h, probes=1, lanczos_steps=20, generator=3)[0]
    assert float(lo) - 1e-12 <= float(v) <= float(hi) + 1e-12
    assert float(hi - lo) > 1e-3 * float(v)


@pytest.mark.parametrize("rtol, wide", [(None, True), (1e-3, True), (3e-2, False)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rank_bracket_holds_the_count_of_the_runs_exact_measure(rtol, wide, seed):
    """Chebyshev-Markov-Stieltjes: the tail dimension times the probe's exact mass above tol^2 (its
    weights (u^T u_i)^2 on the singular directions not converged) lies in the bracket, whether the
    rule with a node at tol^2 exists (gamma >= 0: the default tolerance and 3e-2 here) or not
    (1e-3 here: the Gauss rule's bracket); the bracket is wide where 20 steps do not
    resolve the decay down to tol (0.8^i: tol at i = 138 or 31) and closes to less than one
    direction where they do (i = 16)."""
    n = 200
    sigma = 0.8 ** IDX[:n]
    g = torch.Generator().manual_seed(10)
    U = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=torch.float64)).Q
    V = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=torch.float64)).Q
    S = (U * sigma) @ V.T
    d = 20
    runs = bidiagonal._runs(S, RANK_FUNCTION, 1, d, seed, rtol, None, 15.0)
    head, _, rules = bidiagonal._estimate(S, *runs[:4], d, *runs[4], bracket=True)
    lo, hi = (float(head[0] + x[0]) for x in rules["step"])
    c = int(round(float(head[0])))  # the converged pairs: the top c singular values on this decay
    s = torch.linalg.svdvals(S)
    tol = (n * torch.finfo(S.dtype).eps if rtol is None else rtol) * s[0]
    weights = (U.T @ runs[0][0, :, 0]).square()[c:]  # the probe's weights on the rest
    exact = c + (n - c) * float(weights[sigma[c:] > tol].sum() / weights.sum())
    assert lo - 1e-9 <= exact <= hi + 1e-9
    assert (hi - lo > 1.0) if wide else (hi - lo < 1.0)
    lo_m, hi_m = bidiagonal.moment_bracket(S, RANK_FUNCTION, probes=1, lanczos_steps=d, generator=seed,
                                           rank_rtol=rtol)
    assert math.isclose(float(lo_m), lo) and math.isclose(float(hi_m), hi)


def test_moment_bracket_refuses_h_without_a_bracket():
    S = matrix_with_spectrum(30, 30, IDX[:30] ** -1.0, seed=0)
    with pytest.raises(ValueError, match="Bernstein function or a step"):
        bidiagonal.moment_bracket(S, power_function(3.0), probes=1, lanczos_steps=5)
