"""The deflated polar iteration for the nuclear norm (method="polar", edlrr.polar), against
the exact SVD: value, gradient U V^T, batches, dtypes, degenerate spectra and bad input."""
import numpy as np
import pytest
import torch

import edlrr
from edlrr import polar

POLAR = dict(method="polar")  # the polar iteration at every size (method="auto" computes up to dense_below densely)


def _orth(n, r, g):
    return torch.linalg.qr(torch.randn(n, r, generator=g, dtype=torch.float64)).Q


def spectrum_matrix(sigma, m, n, seed=0):
    g = torch.Generator().manual_seed(seed)
    r = len(sigma)
    return _orth(m, r, g) @ torch.diag(torch.as_tensor(sigma, dtype=torch.float64)) @ _orth(n, r, g).T


def gaussian(m, n, seed=0):
    return torch.randn(m, n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def lowrank_noise(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    L = _orth(n, 20, g) @ _orth(n, 20, g).T
    E = torch.randn(n, n, generator=g, dtype=torch.float64)
    return L + 1e-2 * E / torch.linalg.matrix_norm(E, 2)


def power_law(n, seed=0):
    return spectrum_matrix(1.0 / torch.arange(1, n + 1, dtype=torch.float64), n, n, seed)


def exact(S):
    X = S.detach().clone().requires_grad_(True)
    v = torch.linalg.svdvals(X).sum()
    v.backward()
    return float(v.detach()), X.grad


def minimal_norm_gradient(S, rtol=1e-10):
    """U_r V_r^T over the singular values above rtol sigma_1 (svdvals' autograd also counts
    the null directions of a rank-deficient matrix)."""
    U, s, Vh = torch.linalg.svd(S, full_matrices=False)
    r = int((s > rtol * s[0]).sum())
    return U[:, :r] @ Vh[:r]


def estimate(S, **fields):
    """Value, error estimate and gradient of method="polar" with the given edlrr.Polar fields."""
    X = S.detach().clone().requires_grad_(True)
    v, se = edlrr.nuclear_norm(X, generator=0, return_stderr=True, method="polar", options=edlrr.Polar(**fields))
    v.backward()
    return float(v.detach()), float(se), X.grad


def cosine(a, b):
    return float((a * b).sum() / (a.norm() * b.norm()))


# -- the polynomials --------------------------------------------------------------------------

def check_composition_maps_the_interval_near_one(coefs, dev, lower):
    """The composition, evaluated here term by term, is within dev of 1 on [lower, 1.05] (5%
    above the scale, for a low estimate; between the LP's grid points too) and increasing from
    0 below lower."""
    x = np.linspace(0, 1.05, 200001)
    y = x.copy()
    for c in coefs:
        y = sum(ci * y ** (2 * i + 1) for i, ci in enumerate(c))
    inside = x >= lower
    assert np.abs(y[inside] - 1).max() <= dev * 1.05 + 1e-9
    assert dev < 0.05
    below = y[~inside]
    assert np.all(np.diff(below) >= 0) and below.max() <= 1 + dev  # 0 -> 0, increasing below l


@pytest.mark.parametrize("lower,steps", [(0.01, 4), (0.003, 5), (0.1, 3)])
def test_quintic_composition_maps_the_interval_near_one(lower, steps):
    coefs, dev = polar.quintic_coefficients(lower, steps)
    assert all(len(c) == 3 for c in coefs)
    check_composition_maps_the_interval_near_one(coefs, dev, lower)


def test_the_designs_of_auto():
    # e = 0.041, 0.036, 0.020, 0.015, 0.006 at 9, 10, 11, 12, 15 products (DESIGNS)
    devs = [polar.odd_coefficients(lower, degrees)[1] for lower, degrees in polar.DESIGNS]
    assert np.allclose(devs, [0.041, 0.036, 0.020, 0.015, 0.006], atol=1e-3)
    assert [polar.design_products(d) for _, d in polar.DESIGNS] == [9, 10, 11, 12, 15]
    assert edlrr.Polar().steps == "auto" and edlrr.Auto().polar.steps == "auto"


@pytest.mark.parametrize("lower,degrees", polar.DESIGNS)
def test_auto_designs_map_their_interval_near_one(lower, degrees):
    coefs, dev = polar.odd_coefficients(lower, degrees)
    assert [2 * len(c) - 1 for c in coefs] == list(degrees)
    check_composition_maps_the_interval_near_one(coefs, dev, lower)


# -- against the exact SVD --------------------------------------------------------------------

@pytest.mark.parametrize("name,S", [("gaussian", gaussian(200, 260)), ("lowrank_noise", lowrank_noise(240)),
                                    ("power", power_law(240))])
@pytest.mark.parametrize("dtype", ["float64", "bfloat16"])
def test_value_and_gradient_match_the_svd(name, S, dtype):
    truth, grad = exact(S)
    v, se, g = estimate(S, dtype=dtype, sketch=32)
    assert abs(v - truth) / truth < 1e-2
    assert abs(v - truth) <= 1.96 * se  # the error estimate covers this case
    assert cosine(g, grad) >= 0.99
    assert torch.isfinite(g).all()


def test_better_gradient_than_the_lanczos_path():
    S = gaussian(256, 256, seed=3)
    _, grad = exact(S)
    _, _, g_polar = estimate(S, sketch=16)
    X = S.clone().requires_grad_(True)
    edlrr.nuclear_norm(X, method="krylov", options={"sketch": 16}, generator=0).backward()
    assert cosine(g_polar, grad) > 0.99 > cosine(X.grad, grad) + 0.05


def test_float32_input_within_twice_float64_error():
    S = power_law(256, seed=1)
    truth, grad = exact(S)
    v64, _, g64 = estimate(S, dtype="float32")
    v32, _, g32 = estimate(S.float(), dtype="float32")
    assert g32.dtype == torch.float32
    assert abs(v32 - truth) <= 2 * abs(v64 - truth) + 1e-5 * truth
    assert cosine(g32.double(), grad) >= cosine(g64, grad) - 1e-3


def test_rectangular_tall_is_transposed():
    S = gaussian(300, 180, seed=2)
    truth, grad = exact(S)
    v, _, g = estimate(S)
    assert g.shape == S.shape
    assert abs(v - truth) / truth < 1e-2 and cosine(g, grad) >= 0.99


def test_low_rank_within_the_sketch_is_exact():
    S = spectrum_matrix([5.0, 3.0, 2.0, 1.0, 0.5], 200, 240, seed=4)
    truth, _ = exact(S)
    v, se, g = estimate(S, sketch=16, dtype="float64")
    assert abs(v - truth) / truth < 1e-8
    assert torch.allclose(g, minimal_norm_gradient(S), atol=1e-8)
    assert se == 0.0


@pytest.mark.parametrize("dtype", ["bfloat16", "float32"])  # "auto" picks either, by the machine
def test_zero_and_repeated_singular_values_give_finite_results(dtype):
    Z = torch.zeros(150, 200, dtype=torch.float64)
    v, se, g = estimate(Z, dtype=dtype)
    assert v == 0.0 and torch.count_nonzero(g) == 0
    S = spectrum_matrix([1.0] * 120 + [0.0] * 30, 150, 200, seed=5)  # repeated ones and exact zeros
    truth, _ = exact(S)
    polar.product_counts.clear()
    v, se, g = estimate(S, sketch=8, dtype=dtype)
    assert torch.isfinite(g).all()
    # every singular value sits at one point of the composition, so the value is off by up to the
    # design's e_T, the bound's worst case: auto takes the 9-product design here (e_T = 0.041;
    # measured 3.8% in float32, 2.0% where bfloat16's rounding moves the point)
    assert dict(polar.product_counts) == {9: 1}
    assert abs(v - truth) / truth < 0.041 + 1e-3 and abs(v - truth) <= 1.96 * se
    assert cosine(g, minimal_norm_gradient(S)) >= 0.99


def test_a_gap_beyond_the_sketch_is_counted_in_the_error_estimate():
    # rank 20 + noise with a sketch of 16: four unit singular values stay in the tail and the
    # noise (1e-2 of them) falls below l sigma_t of the fixed design (l = 0.01), where the
    # composition is near 0
    S = lowrank_noise(240)
    truth, _ = exact(S)
    v, se, _ = estimate(S, sketch=16, steps=4, lower=0.01)
    assert v < truth and abs(v - truth) / truth > 1e-2  # the documented failure mode
    assert abs(v - truth) <= 1.96 * se
    # "auto" sees the noise in the quadrature and takes the five-step design (l = 0.003) ...
    polar.product_counts.clear()
    v, se, _ = estimate(S, sketch=16, extend=0)
    assert dict(polar.product_counts) == {15: 1}
    assert abs(v - truth) / truth < 1e-2 and abs(v - truth) <= 1.96 * se
    # ... or, by default, deflates the four with the top Ritz vectors (those above 0.1 sigma_t:
    # the top to fall by 0.03 / 0.003): the tail left is the noise, 9-11 products (by the threads)
    polar.product_counts.clear(), polar.extension_counts.clear()
    v, se, _ = estimate(S, sketch=16)
    assert dict(polar.extension_counts) == {4: 1} and max(polar.product_counts) <= 11  # (not 15)
    assert abs(v - truth) / truth < 1e-2 and abs(v - truth) <= 1.96 * se


# -- edlrr.Polar(steps="auto") ------------------------------------------------------------------

@pytest.mark.parametrize("x,expected", [
    (np.linspace(0.05, 1.0, 50), (0.03, (5, 5, 5))),  # a flat tail: the cheapest design reaches it
    (np.r_[np.full(10, 0.02), np.linspace(0.05, 1.0, 40)], (0.02, (3, 3, 5, 5))),  # 20% at 0.02 sigma_t
    (np.r_[np.full(10, 0.005), np.linspace(0.05, 1.0, 40)], (0.003, (5, 5, 5, 5, 5))),
    (np.r_[np.zeros(30), np.linspace(0.05, 1.0, 20)], (0.03, (5, 5, 5))),  # zeros need no steps
    (np.zeros(5), polar.DESIGNS[0]),
])
def test_choose_design_from_the_quadrature(x, expected):
    # Ritz values theta = x^2 (scale 1) with equal weights for two start vectors
    w = np.full((2, len(x)), 1.0 / len(x))
    assert polar.choose_design(x**2, w, 1.0) == expected


def test_predicted_deficit_matches_the_iteration():
    S = gaussian(400, 400, seed=12)
    Q = torch.linalg.qr(S[:, :16] @ torch.randn(16, 16, dtype=torch.float64)).Q  # any 16 columns
    g = torch.Generator().manual_seed(0)
    Y = polar._form_tail(S, Q, Q.mT @ S, torch.float64)
    theta, w = polar._tail_lanczos(Y @ Y.mT, Q, g, polar.LANCZOS_STEPS)
    scale2 = polar.SAFETY * theta[-1]
    x = np.sqrt(np.clip(theta, 0, None) / scale2)
    coefs, _ = polar.quintic_coefficients(0.03, 3)
    predicted = 1 - float((w.mean(0) * polar._compose(coefs, x) ** 2).sum())
    F, *_ = polar.polar_tail(S, Q, Q.mT @ S, steps=3, lower=0.03, dtype=torch.float64,
                             generator=torch.Generator().manual_seed(0))
    measured = 1 - float(F.square().sum()) / (400 - 16)
    assert abs(predicted - measured) < 0.015
    assert 0.005 < measured < 0.05  # a square Gaussian's tail: a few % below 0.03 sigma_t


@pytest.mark.parametrize("name,S,allowed", [("gaussian", gaussian(300, 300, seed=13), {9}),
                                            ("power", power_law(600, seed=14), {10, 11, 12})])
def test_auto_takes_the_products_the_tail_needs(name, S, allowed):
    # 1/i with a sketch of 8: the tail's singular values 9/i ... 9/600 sigma_t reach below
    # 0.02 sigma_t for a quarter of its directions: a design for l <= 0.02 (10-12 products); a
    # square Gaussian tail (3.7% below 0.03 sigma_t): three quintic steps
    truth, grad = exact(S)
    polar.product_counts.clear()
    v, se, g = estimate(S, sketch=8, extend=0)
    assert set(polar.product_counts) <= allowed and sum(polar.product_counts.values()) == 1
    assert abs(v - truth) / truth < 1e-2 and abs(v - truth) <= 1.96 * se
    assert cosine(g, grad) >= 0.99



@pytest.mark.parametrize("x,most,expected", [
    (np.linspace(0.05, 1.0, 50), 48, 0),  # flat: the cheapest design already
    (1.0 / np.arange(1, 201), 48, 9),  # 1/i down to 0.005: l = 0.003, the top to fall by 10: 1 ... 1/9
    (1.0 / np.arange(1, 201), 4, 4),  # at most extend
    (1.0 / np.arange(1, 201), 0, 0),  # extend=0
    (1.0 / np.arange(1, 61), 48, 0),  # 1/i down to 0.017: 10 products, one above the cheapest
    (np.r_[np.linspace(0.3, 1.0, 5), np.linspace(0.01, 0.1, 3)], 48, 4),  # at most half the nodes
    (np.r_[np.full(10, 0.005), np.linspace(0.9, 1.0, 40)], 48, 0),  # outliers below a flat bulk: the top stays
    (np.r_[np.full(40, 0.005), np.ones(4)], 48, 4),  # four large ones above a flat rest go alone
    (np.zeros(6), 2, 0),
])
def test_choose_extension(x, most, expected):
    w = np.full((2, len(x)), 1.0 / len(x))
    order = np.argsort(x)
    assert polar.choose_extension(x[order] ** 2, w, most) == expected


def test_extension_deflates_a_decaying_tail_with_fewer_products():
    # 1/i with a sketch of 8 takes 12 products (l = 0.01, above); the 12 top Ritz directions of
    # the tail's Lanczos run (those above a third of its top) leave singular values 1/21 ... 1/600
    # (l ~ 0.035): the cheapest design
    S = power_law(600, seed=14)
    truth, grad = exact(S)
    polar.product_counts.clear(), polar.extension_counts.clear()
    v, se, g = estimate(S, sketch=8)
    assert dict(polar.extension_counts) == {12: 1} and dict(polar.product_counts) == {9: 1}
    assert abs(v - truth) / truth < 3e-3 and abs(v - truth) <= 1.96 * se
    assert cosine(g, grad) >= 0.99
    # the head is orthonormal: 8 + 12 columns
    Q = edlrr.krylov.range_basis(S, edlrr.probes.sample_probes((), 600, 8, generator=torch.Generator().manual_seed(0),
                                                               dtype=S.dtype), 1)
    tail = polar.polar_tail(S, Q, Q.mT @ S, steps="auto", lower=0.01, dtype=torch.float64,
                            generator=torch.Generator().manual_seed(0), extend=48)
    assert tail.Q.shape == (600, 20) and tail.QtX.shape == (20, 600)
    assert torch.allclose(tail.Q.mT @ tail.Q, torch.eye(20, dtype=S.dtype), atol=1e-12)
    assert torch.allclose(tail.QtX, tail.Q.mT @ S, atol=1e-12)


def test_batch_with_heads_of_different_sizes():
    # one element extends its head (1/i), the other does not (Gaussian): zero columns pad the
    # smaller head, which add no value and no gradient
    S = torch.stack([power_law(600, seed=3), gaussian(600, 600, seed=4) / 50])
    X = S.clone().requires_grad_(True)
    polar.extension_counts.clear()
    v = edlrr.nuclear_norm(X, generator=0, method="polar", options={"sketch": 8})
    v.sum().backward()
    assert polar.extension_counts[0] == 1 and sum(polar.extension_counts.values()) == 2  # one extended
    for i in range(2):
        truth, grad = exact(S[i])
        assert abs(float(v[i].detach()) - truth) / truth < 1e-2
        assert cosine(X.grad[i], grad) >= 0.99


def test_batch_shape_and_first_element_as_a_single_call():
    S = torch.stack([gaussian(160, 200, seed=s) for s in range(3)]).reshape(3, 1, 160, 200)
    v = edlrr.nuclear_norm(S, generator=7, **POLAR)
    assert v.shape == (3, 1)
    single = edlrr.nuclear_norm(S[0, 0], generator=7, **POLAR)
    assert torch.allclose(v[0, 0], single, rtol=1e-6)
    truth = torch.linalg.svdvals(S).sum(-1)
    assert ((v - truth).abs() / truth).max() < 1e-2


def test_seeded_calls_are_reproducible():
    S = gaussian(160, 200, seed=6)
    a = edlrr.nuclear_norm(S, generator=3, **POLAR)
    b = edlrr.nuclear_norm(S, generator=3, **POLAR)
    assert torch.equal(a, b)


def test_divergence_is_caught_and_redone(monkeypatch):
    # a scale estimate far too low makes the iteration blow up; it is redone at a larger scale
    monkeypatch.setattr(polar, "SAFETY", 0.05)
    S = gaussian(160, 200, seed=8)
    truth, grad = exact(S)
    v, _, g = estimate(S, sketch=8, dtype="float64")
    assert abs(v - truth) / truth < 2e-2 and cosine(g, grad) >= 0.98


def test_auto_uses_the_polar_iteration_above_dense_below():
    big = (edlrr.Auto().dense_below + 1,) * 2
    assert edlrr.plan(big, "auto", function="nuclear_norm").algorithm == "polar"
    assert edlrr.plan(big, "auto", function="schatten").algorithm == "krylov"
    S = gaussian(40, 50, seed=9)
    # below dense_below "auto" is exact (its dense path)
    assert edlrr.plan(S, "auto", function="nuclear_norm").algorithm == "dense"
    assert abs(float(edlrr.nuclear_norm(S, method="auto")) - float(torch.linalg.svdvals(S).sum())) < 1e-10


def test_module_takes_the_same_path():
    S = gaussian(160, 200, seed=10)
    reg = edlrr.LowRankRegularizer("nuclear", method="auto", options={"dense_below": 0}, seed=4)
    direct = edlrr.nuclear_norm(S, generator=torch.Generator().manual_seed(4), **POLAR)
    assert torch.allclose(reg(S), direct)


def test_work_dtype_choice(monkeypatch):
    X = torch.zeros(2, 2)
    assert polar.work_dtype("float32", X) == torch.float32
    for amx, bf16, expected in [(False, False, torch.float32), (True, False, torch.bfloat16),
                                (False, True, torch.bfloat16), (True, True, torch.bfloat16)]:
        monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx, raising=False)
        monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: bf16, raising=False)
        assert polar.work_dtype("auto", X) == expected, (amx, bf16)
    monkeypatch.delattr(torch.cpu, "_is_amx_tile_supported")  # a torch without the checks: float32
    monkeypatch.delattr(torch.cpu, "_is_avx512_bf16_supported")
    assert polar.work_dtype("auto", X) == torch.float32
    with pytest.raises(ValueError, match="polar_dtype must be one of"):
        polar.work_dtype("float16", X)


# -- bad input ---------------------------------------------------------------------------------

def test_other_functionals_are_refused_with_a_clear_error():
    S = gaussian(20, 30)
    with pytest.raises(ValueError, match="nuclear norm only"):
        edlrr.schatten(S, 2, method="polar")
    with pytest.raises(ValueError, match="nuclear norm only"):
        edlrr.rank(S, method="polar")
    with pytest.raises(ValueError, match="nuclear norm only"):
        edlrr.lrr(S, "gamma_nuclear", method="polar")
    # "auto"'s other functionals keep the Lanczos estimator
    assert edlrr.plan(S, "auto", {"dense_below": 0}, function="schatten").algorithm == "krylov"
    assert torch.isfinite(edlrr.schatten(S, 2, method="auto", options={"dense_below": 0}))


@pytest.mark.parametrize("cls,bad", [(edlrr.Polar, dict(lower=0.0)), (edlrr.Polar, dict(lower=1.5)),
                                     (edlrr.Polar, dict(steps=0)), (edlrr.Polar, dict(steps="3")),
                                     (edlrr.Polar, dict(dtype="float16")), (edlrr.Auto, dict(nuclear="svd")),
                                     (edlrr.Polar, dict(extend=-1)), (edlrr.Polar, dict(extend=1.5))])
def test_bad_options_are_named(cls, bad):
    name = next(iter(bad))
    with pytest.raises((ValueError, TypeError), match=name):
        cls(**bad)


def test_harness_lanczos_variants_keep_the_lanczos_estimator_for_the_nuclear_norm():
    from edlrr_bench.experiments import fast

    big = (edlrr.Auto().dense_below + 1,) * 2
    for label, variant in fast.FAST_VARIANTS.items():
        algorithm = edlrr.plan(big, **fast.estimator(variant), function="nuclear_norm").algorithm
        assert algorithm == ("krylov" if fast.lanczos_nuclear(variant) else "polar"), label
    assert fast.lanczos_nuclear(fast.FAST_VARIANTS["fast-lanczos"])
    assert not fast.lanczos_nuclear(fast.FAST_VARIANTS["fast"])
    # "auto" without its dense path and with nuclear="krylov" is method "krylov", not the polar iteration
    S = gaussian(150, 200, seed=11)
    lanczos = edlrr.nuclear_norm(S, generator=1, method="krylov")
    auto = edlrr.nuclear_norm(S, generator=1, method="auto", options={"dense_below": 0, "nuclear": "krylov"})
    assert torch.equal(auto, lanczos)


def test_bad_extend_in_a_direct_call_is_named():
    S = gaussian(40, 50, seed=2)
    with pytest.raises(ValueError, match="polar_extend"):
        polar.nuclear_norm(S, sketch=4, power_iters=1, steps="auto", lower=0.01, extend=-3)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.bfloat16])
@pytest.mark.parametrize("m", [200, 600, 1100])  # one block (no split), 2 blocks, 4 uneven blocks
def test_symmetric_products_equal_the_full_ones(m, dtype):
    """gram / symmetric_square compute only the blocks on and above the diagonal: the result
    must equal Y Y^T and beta A + alpha A^2 to the dtype's rounding, and be symmetric (the blocks
    below the diagonal copied: equal to those above)."""
    g = torch.Generator().manual_seed(m)
    Y = (torch.randn(m, 300, generator=g, dtype=torch.float64) / 300**0.5).to(dtype)
    A = polar.gram(Y)
    ref = (Y.double() @ Y.double().mT)
    tol = {torch.float64: 1e-12, torch.float32: 1e-5, torch.bfloat16: 2e-2}[dtype]
    assert (A - A.mT).abs().max() <= tol * A.abs().max()
    e = polar._row_edges(m)
    assert torch.equal(A[e[1]:, :e[1]], A[:e[1], e[1]:].mT)
    assert (A.double() - ref).abs().max() <= tol * ref.abs().max()
    B = polar.symmetric_square(A, beta=0.7, alpha=-0.3)
    ref2 = 0.7 * A.double() - 0.3 * A.double() @ A.double()
    assert (B - B.mT).abs().max() <= tol * B.abs().max()
    assert torch.equal(B[e[1]:, :e[1]], B[:e[1], e[1]:].mT)
    assert (B.double() - ref2).abs().max() <= tol * ref2.abs().max()
    assert polar._row_edges(m)[-1] == m and len(polar._row_edges(m)) - 1 == min(8, max(1, m // 256))


def test_heap_is_trimmed_once_per_call_and_changes_nothing(monkeypatch):
    """TRIM_HEAP hands freed memory back after the forward (a measured resident-memory saving;
    here: that it happens once per call on CPU, can be switched off, and leaves the result as is)."""
    calls = []
    monkeypatch.setattr(polar, "_trim_heap", lambda device, f=polar._trim_heap: (calls.append(device), f(device)))
    S = gaussian(300, 340, seed=3)
    X = S.clone().requires_grad_(True)
    value = edlrr.nuclear_norm(X, generator=torch.Generator().manual_seed(1), **POLAR)
    value.backward()
    assert [d.type for d in calls] == ["cpu"]
    monkeypatch.setattr(polar, "TRIM_HEAP", False)
    Y = S.clone().requires_grad_(True)
    again = edlrr.nuclear_norm(Y, generator=torch.Generator().manual_seed(1), **POLAR)
    again.backward()
    assert torch.equal(value, again) and torch.equal(X.grad, Y.grad)


def test_tail_lanczos_is_the_block_gauss_quadrature_of_its_start_block():
    # float64: tr(V0^T A^p V0) = sum_ij w_ij theta_j^p exactly for p < 2 (steps + 1); the start
    # block V0 (orthonormal, orthogonal to Q) rebuilt from the same generator
    g = torch.Generator().manual_seed(4)
    Y = torch.randn(300, 400, generator=g, dtype=torch.float64) / 20
    Q = torch.linalg.qr(torch.randn(300, 8, generator=g, dtype=torch.float64)).Q
    Y = Y - Q @ (Q.mT @ Y)
    A = Y @ Y.mT
    theta, w, ritz = polar._tail_lanczos(A, Q, torch.Generator().manual_seed(5), 6, vectors=True)
    V0 = torch.randn(300, 4, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    V0 = torch.linalg.qr(V0 - Q @ (Q.mT @ V0)).Q
    assert theta.shape == (28,) and w.shape == (4, 28) and ritz.shape == (300, 28)
    for p in range(0, 14):
        exact = float((V0 * (torch.linalg.matrix_power(A, p) @ V0)).sum())
        assert abs(float((w * theta**p).sum()) - exact) <= 1e-9 * abs(exact)
    # Ritz pairs: orthonormal vectors orthogonal to Q that diagonalise A on their span
    torch.testing.assert_close(ritz.mT @ ritz, torch.eye(28, dtype=torch.float64), atol=1e-10, rtol=0)
    assert float((Q.mT @ ritz).abs().max()) < 1e-10
    torch.testing.assert_close(ritz.mT @ A @ ritz, torch.diag(torch.as_tensor(theta)), atol=1e-10, rtol=0)
    assert theta[-1] <= float(torch.linalg.eigvalsh(A)[-1]) * (1 + 1e-12)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_tail_lanczos_in_bfloat16_keeps_the_largest_eigenvalue(dtype):
    S = gaussian(500, 500, seed=14).to(dtype)
    A = (S @ S.mT).to(torch.bfloat16)
    theta, w = polar._tail_lanczos(A, S.new_zeros(500, 0), torch.Generator().manual_seed(0), polar.LANCZOS_STEPS)
    top = float(torch.linalg.eigvalsh(A.double())[-1])
    assert abs(theta[-1] - top) < 1e-3 * top
    np.testing.assert_allclose(w.sum(1), 1.0, rtol=1e-5)  # unit start vectors


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_float8_iterate_is_widened_to_the_same_numbers(dtype):
    F = (torch.randn(64, 96, generator=torch.Generator().manual_seed(6)) * 3).to(torch.float8_e4m3fn)
    out = torch.empty(64, 96, dtype=dtype)
    assert polar._widen(F, out) is not None
    assert torch.equal(out, F.to(dtype))
    bf = torch.randn(8, 5).bfloat16()
    assert torch.equal(polar._widen(bf, torch.empty(8, 5, dtype=dtype)), bf.to(dtype))
