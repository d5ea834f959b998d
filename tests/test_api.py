"""The public estimator API: the default call, options per algorithm, every path at every scale
and dtype, against the exact SVD."""
from __future__ import annotations

import logging
import math
import warnings

import pytest
import torch

import edlrr
from conftest import matrix_with_spectrum
from edlrr import linalg

# every algorithm with options that exercise its approximate path on small matrices (not the
# shortcuts that make it exact, such as sketch + probes >= min(m, n))
PATHS = {
    "dense": None,
    "krylov": edlrr.Krylov(sketch=16, probes=4),
    "matvec": edlrr.Matvec(),
    "polar": edlrr.Polar(sketch=16),
    "paper": edlrr.Paper(probes=16),
}
FUNCTIONS = {  # name: (p, call)
    "nuclear": (1, lambda X, **k: edlrr.nuclear_norm(X, **k)),
    "schatten0.5": (0.5, lambda X, **k: edlrr.schatten(X, 0.5, **k)),
    "schatten2": (2, lambda X, **k: edlrr.schatten(X, 2, **k)),
    "rank": (0, lambda X, **k: edlrr.rank(X, **k)),
}
CASES = [(path, fn) for path in PATHS for fn in FUNCTIONS if not (path == "polar" and fn != "nuclear")]
DECAY = 5 * 0.93 ** torch.arange(120, dtype=torch.float64)


def _low_rank(dtype=torch.float32):
    """130 x 95 of rank 7, singular values 3 ... 0.6."""
    return matrix_with_spectrum(130, 95, torch.linspace(3, 0.6, 7), seed=1, dtype=torch.float64).to(dtype)


def _cosine(a, b):
    a, b = a.double().flatten(), b.double().flatten()
    return float(a @ b / (a.norm() * b.norm()))


def _exact_grad(S, p):
    """d/dS sum sigma^p = U diag(p sigma^(p-1)) V^T over the nonzero singular values."""
    U, s, Vh = torch.linalg.svd(S.double(), full_matrices=False)
    live = s > 1e-10 * s[0]
    w = torch.where(live, p * s.clamp_min(1e-300) ** (p - 1), torch.zeros_like(s))
    return (U * w) @ Vh


def _assert_nuclear_subgradient(G, S, r, tol, cross=None):
    """G is a subgradient of ||.||_* at the rank-r matrix S (to ``tol``, in root-mean-square per
    direction): U_r^T G V_r = I, no cross terms, and the part on the complement of both ranges
    has spectral norm <= 1."""
    U, _, Vh = torch.linalg.svd(S.double(), full_matrices=True)
    G = G.double()
    Ur, Uc, Vr, Vc = U[:, :r], U[:, r:], Vh[:r].mT, Vh[r:].mT
    rms = math.sqrt(r)
    assert float(torch.linalg.matrix_norm(Ur.mT @ G @ Vr - torch.eye(r, dtype=G.dtype))) <= tol * rms
    cross = tol if cross is None else cross
    assert float(torch.linalg.matrix_norm(Ur.mT @ G @ Vc)) <= cross * rms
    assert float(torch.linalg.matrix_norm(Uc.mT @ G @ Vr)) <= cross * rms
    if min(Uc.shape[-1], Vc.shape[-1]) > 0:
        assert float(torch.linalg.matrix_norm(Uc.mT @ G @ Vc, 2)) <= 1 + tol


# -- the default call ---------------------------------------------------------------------------


def test_default_call_float32_low_rank_is_exact():
    X = _low_rank().requires_grad_()
    value = edlrr.nuclear_norm(X)
    value.backward()
    assert value.dtype == torch.float32
    assert float(value) == pytest.approx(12.6, rel=1e-5)
    _assert_nuclear_subgradient(X.grad, X.detach(), 7, 1e-4)
    record = edlrr.plan(X, function="nuclear_norm")
    assert (record.method, record.algorithm) == ("auto", "dense") and "95 <= dense_below" in record.reason


def test_auto_plan_by_size_and_function(caplog):
    big = (3, 1100, 1200)
    assert edlrr.plan(big, function="nuclear_norm").algorithm == "polar"
    assert edlrr.plan(big, function="schatten").algorithm == "krylov"
    assert edlrr.plan(big, function="rank").algorithm == "krylov"
    assert edlrr.plan(big, options={"nuclear": "krylov"}, function="nuclear_norm").algorithm == "krylov"
    assert edlrr.plan(big, options={"dense_below": 2000}, function="lrr").algorithm == "dense"
    assert edlrr.plan(big, options=edlrr.Matvec()).algorithm == "matvec"
    with caplog.at_level(logging.DEBUG, logger="edlrr"):
        edlrr.rank(_low_rank())
    assert any("algorithm='dense'" in r.getMessage() for r in caplog.records)


def test_paper_float32_low_rank_stops_at_last_good_iterate():
    """Without the test of its iterations the paper's recipe returns NaN here (the rounding in
    the null space of S doubles per Ben-Israel-Cohen and grows 2.25x per Newton-Schulz step).
    Its gradient is a Monte-Carlo one: averaged over 16 seeds (4096 probes), its part on the
    range of S is within 0.1 of U V^T per direction; the cross terms carry the probes' noise
    (0.29 per direction, the same in float64)."""
    X = _low_rank().requires_grad_()
    with pytest.warns(edlrr.PrecisionWarning, match=r"stopped at iteration 1\d of 30"):
        value, stderr = edlrr.nuclear_norm(X, method="paper", options={"probes": 256}, generator=0,
                                           return_stderr=True)
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(X.grad).all()
    assert abs(float(value) - 12.6) <= 4 * float(stderr)
    assert 0 < float(stderr) < 1.0
    grad = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", edlrr.PrecisionWarning)
        for seed in range(16):
            X = _low_rank().requires_grad_()
            edlrr.nuclear_norm(X, method="paper", options={"probes": 256}, generator=seed).backward()
            grad = grad + X.grad / 16
    _assert_nuclear_subgradient(grad, X.detach(), 7, 0.1, cross=0.45)


def test_paper_guard_keeps_float64_results():
    """Full rank in float64: nothing stops early, the guarded iterations equal the plain ones."""
    S = matrix_with_spectrum(40, 50, torch.linspace(2, 0.5, 40), seed=3)
    A = S @ S.mT
    plain = linalg.sqrt_newton_schulz(A, 30)
    guarded, ran = linalg.sqrt_newton_schulz(A, 30, guard=1e-3, return_iters=True)
    assert int(ran) == 30 and torch.equal(plain, guarded)
    P, ran = linalg.projector_ben_israel(S, 30, guard=1e-3, return_iters=True)
    assert int(ran) == 30 and torch.equal(P, linalg.projector_ben_israel(S, 30))


@pytest.mark.parametrize("which", ["pinv", "sqrt"])
def test_guarded_iterations_stay_in_range_float32(which):
    """On a rank-deficient float32 matrix the guarded iterate keeps its eigenvalues where the
    exact iteration keeps them, per batch element; the unguarded one leaves that range."""
    X = torch.stack([_low_rank().mT, matrix_with_spectrum(95, 130, torch.linspace(2, 1, 95), dtype=torch.float32)])
    if which == "pinv":
        M, ran = linalg.projector_ben_israel(X, 30, guard=1e-3, return_iters=True)
        bad = linalg.projector_ben_israel(X[:1], 30)
        lo, hi = -2e-3, 1 + 2e-3
    else:
        A = X @ X.mT
        M, ran = linalg.sqrt_newton_schulz(A, 30, guard=1e-3, return_iters=True)
        M = M / linalg.frobenius_norm(A).sqrt()
        bad = linalg.sqrt_newton_schulz(A[:1], 30)
        lo, hi = -2e-3, 1.01
    assert 8 <= int(ran[0]) < 30 and int(ran[1]) == 30  # the full-rank element runs every iteration
    ev = torch.linalg.eigvalsh(0.5 * (M + M.mT).double())
    assert float(ev.min()) >= lo and float(ev.max()) <= hi
    assert not bool(torch.isfinite(bad).all()) or float(torch.linalg.eigvalsh(bad.double()).min()) < -1


# -- options per algorithm ----------------------------------------------------------------------


def test_options_errors_name_the_problem():
    S = torch.randn(20, 30)
    with pytest.raises(ValueError, match="'tail_gradient' is not used by method 'paper'; it is an option of 'krylov'"):
        edlrr.nuclear_norm(S, method="paper", options={"tail_gradient": "rational"})
    with pytest.raises(ValueError, match="'probes' is not used by method 'auto'; it is an option of 'krylov', "
                                         "'matvec', 'paper', 'released'"):
        edlrr.nuclear_norm(S, options={"probes": 3})
    with pytest.raises(ValueError, match="unknown option 'probs'.*did you mean 'probes'"):
        edlrr.nuclear_norm(S, method="paper", options={"probs": 3})
    with pytest.raises(ValueError, match="unknown method 'papr'; did you mean 'paper'"):
        edlrr.nuclear_norm(S, method="papr")
    with pytest.raises(ValueError, match="options of method 'krylov'"):
        edlrr.nuclear_norm(S, method="paper", options=edlrr.Krylov())
    with pytest.raises(ValueError, match="nuclear norm only"):
        edlrr.schatten(S, 2, method="polar")
    with pytest.raises(TypeError, match="options must be None, a dict"):
        edlrr.rank(S, options=[1])
    with pytest.raises(ValueError, match="probes must be >= 1"):
        edlrr.Paper(probes=0)


def test_options_instance_names_its_method_and_dicts_nest():
    S = matrix_with_spectrum(30, 40, torch.linspace(1, 0.1, 30))
    a = edlrr.nuclear_norm(S, options=edlrr.Paper(probes=8), generator=0)
    b = edlrr.nuclear_norm(S, method="paper", options={"probes": 8}, generator=0)
    assert torch.equal(a, b)
    auto = edlrr.options.options_for("fast", {"dense_below": 0, "krylov": {"probes": 2}})
    assert auto == edlrr.Auto(dense_below=0, krylov=edlrr.Krylov(probes=2))


def test_every_docstring_lists_every_option():
    for fn in (edlrr.nuclear_norm, edlrr.schatten, edlrr.rank, edlrr.lrr):
        for cls in (edlrr.Auto, edlrr.Dense, edlrr.Krylov, edlrr.Matvec, edlrr.Polar, edlrr.Paper, edlrr.Released):
            assert f":class:`edlrr.{cls.__name__}`" in fn.__doc__
            for f in cls.__dataclass_fields__:
                assert f"{f}=" in fn.__doc__, (fn.__name__, cls.__name__, f)


def test_public_functions_keep_a_handful_of_keywords():
    import inspect

    for fn in (edlrr.nuclear_norm, edlrr.schatten, edlrr.rank, edlrr.lrr):
        kw = [p.name for p in inspect.signature(fn).parameters.values() if p.kind == p.KEYWORD_ONLY]
        assert kw == ["method", "options", "generator", "return_stderr", "check_finite"]


@pytest.mark.parametrize("old,new", [
    (dict(preset="paper", probes=8), dict(method="paper", options={"probes": 8})),
    (dict(probes=8, pinv_iters=10), dict(method="paper", options={"probes": 8, "pinv_iters": 10})),
    (dict(preset="fast"), dict(method="auto")),
    (dict(preset="fast", dense_below=0, nuclear_internals=None, sketch=8),
     dict(method="krylov", options={"sketch": 8})),
    (dict(preset="matvec"), dict(method="matvec")),
    (dict(preset="released", probes=64, sqrt_iters=50), dict(method="released", options={"probes": 64,
                                                                                          "sqrt_terms": 50})),
])
def test_old_keywords_warn_and_give_the_same_value(old, new):
    S = matrix_with_spectrum(40, 60, torch.linspace(1, 0.1, 40))
    with pytest.warns(DeprecationWarning, match="method= and options="):
        a = edlrr.nuclear_norm(S, generator=0, **old)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        b = edlrr.nuclear_norm(S, generator=0, **new)
    assert torch.equal(a, b)
    with pytest.raises(TypeError, match="not both"):
        edlrr.nuclear_norm(S, method="paper", probes=8)
    with pytest.warns(DeprecationWarning):  # an old keyword given as None is absent
        assert torch.isfinite(edlrr.lrr(S, "laplace", preset="fast", expansion=None, order=None))


def test_numbers_as_tensors_and_seeds_validated():
    S = matrix_with_spectrum(20, 30, torch.linspace(1, 0.1, 20))
    assert torch.equal(edlrr.schatten(S, torch.tensor(1.0)), edlrr.nuclear_norm(S))
    assert torch.equal(edlrr.schatten(S, torch.tensor(0.5, dtype=torch.float64)), edlrr.schatten(S, 0.5))
    with pytest.raises(ValueError, match="p must be finite"):
        edlrr.schatten(S, float("nan"))
    with pytest.raises(TypeError, match="p must be a number or a one-element tensor"):
        edlrr.schatten(S, torch.ones(2))
    for seed in (2**70, -1):
        with pytest.raises(ValueError, match="0 <= seed < 2\\*\\*64"):
            edlrr.nuclear_norm(S, method="paper", generator=seed)


# -- every path, every scale and dtype ----------------------------------------------------------


@pytest.mark.parametrize("path,fn", CASES)
@pytest.mark.parametrize("dtype,scales", [(torch.float64, (1e-30, 1e30)), (torch.float32, (1e-15, 1e15))])
def test_scale_equivariance(path, fn, dtype, scales):
    """sum sigma(c S)^p = c^p sum sigma(S)^p, the rank unchanged, the gradient's direction kept,
    with the same seed: the relative difference is the dtype's rounding, not the method's error."""
    p, call = FUNCTIONS[fn]
    S = matrix_with_spectrum(120, 160, DECAY, seed=2, dtype=dtype)
    kw = dict(method=path, options=PATHS[path], generator=0)
    X = S.clone().requires_grad_()
    base = call(X, **kw)
    base.backward()
    tol = 1e-9 if dtype == torch.float64 else 2e-4
    for c in scales:
        Xc = (c * S).requires_grad_()
        value = call(Xc, **kw)
        assert torch.isfinite(value)
        rel = float(value.double() / c**p / base.double()) - 1
        assert abs(rel) <= (tol if path in ("dense", "matvec", "paper") else 1e-3), (c, rel)
        if fn != "rank":
            value.backward()
            assert torch.isfinite(Xc.grad).all()
            if path in ("dense", "matvec") or dtype == torch.float64 and path == "paper":
                assert _cosine(Xc.grad, X.grad) > 0.999, c
            else:  # a discrete choice (a design, a stopped iteration) may flip with the rounding of c S
                exact = _exact_grad(S, p)
                assert _cosine(Xc.grad, exact) >= _cosine(X.grad, exact) - 0.02, c


@pytest.mark.parametrize("path,options", [("dense", None), ("krylov", {"sketch": 16, "probes": 4}),
                                          ("matvec", None), ("paper", {"probes": 16, "expansion": "laguerre"})])
def test_scale_equivariance_of_penalties(path, options):
    """Laplace's h(x; gamma) = 1 - exp(-x / gamma): sum h(sigma(c S); c gamma) = sum h(sigma(S); gamma)."""
    S = matrix_with_spectrum(120, 160, DECAY, seed=2)
    kw = dict(method=path, options=options, generator=0)
    base = edlrr.lrr(S, edlrr.penalty("laplace", gamma=0.5), **kw)
    for c in (1e-30, 1e30):
        value = edlrr.lrr(c * S, edlrr.penalty("laplace", gamma=0.5 * c), **kw)
        assert float(value / base) == pytest.approx(1, abs=1e-6), c


def test_released_is_equivariant_with_its_regulariser_scaled():
    """The release's Tikhonov regulariser a is absolute: (c S, a c^2) gives c (S, a)."""
    S = matrix_with_spectrum(40, 60, torch.linspace(1, 0.1, 40))
    base = edlrr.nuclear_norm(S, options=edlrr.Released(probes=64, sqrt_terms=100), generator=0)
    for c in (1e-20, 1e20):
        value = edlrr.nuclear_norm(c * S, options=edlrr.Released(probes=64, sqrt_terms=100, tikhonov=0.1 * c**2),
                                   generator=0)
        assert float(value / c / base) == pytest.approx(1, rel=1e-8)


def test_unrepresentable_values_raise():
    S = matrix_with_spectrum(30, 40, torch.linspace(2, 1, 30), dtype=torch.float32)
    with pytest.raises(OverflowError, match="Schatten-3 sum .* not representable in torch.float32"):
        edlrr.schatten(1e15 * S, 3)
    with pytest.raises(OverflowError, match="not representable in torch.float32"):
        edlrr.schatten(1e-15 * S, 3)
    assert float(edlrr.schatten((1e15 * S).double(), 3)) == pytest.approx(1e45 * float(edlrr.schatten(S, 3)),
                                                                            rel=1e-5)
    with pytest.raises(OverflowError, match="float16"):
        edlrr.schatten((100 * S).half(), 2)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("path", ["dense", "krylov", "matvec", "polar", "paper"])
def test_low_precision_inputs_computed_in_float32(dtype, path):
    S = matrix_with_spectrum(100, 120, torch.linspace(1, 0.5, 100), seed=4).to(dtype)
    kw = dict(method=path, options=PATHS[path], generator=0)
    X = S.clone().requires_grad_()
    value = edlrr.nuclear_norm(X, **kw)
    value.backward()
    assert value.dtype == dtype and X.grad.dtype == dtype and torch.isfinite(X.grad.float()).all()
    assert float(value) == pytest.approx(float(edlrr.nuclear_norm(S.float(), **kw)), rel=1e-2)
    if path != "polar":
        rank, stderr = edlrr.rank(S, **kw, return_stderr=True)
        assert abs(float(rank) - 100) <= (4 * float(stderr) if path == "paper" else 0)


def test_other_dtypes_refused():
    for S in (torch.ones(3, 3, dtype=torch.int32), torch.ones(3, 3, dtype=torch.complex64)):
        with pytest.raises(TypeError, match="float32 or float64 \\(float16 and bfloat16"):
            edlrr.nuclear_norm(S)


@pytest.mark.parametrize("path", list(PATHS))
def test_float32_batched_against_exact(path):
    """A (2, 3) batch of float32 matrices: each element's value within the method's error of the
    exact one (exact paths to float32 rounding, the others within 4 of their standard errors or
    their stated accuracy) and its gradient close to the exact one."""
    spectra = [torch.linspace(2, 0.1, 90), 3 * 0.9 ** torch.arange(90.0), torch.linspace(1, 0.5, 20)]
    S = torch.stack([torch.stack([matrix_with_spectrum(90, 110, s, seed=i + 3 * j) for i, s in enumerate(spectra)])
                     for j in range(2)]).float()
    X = S.clone().requires_grad_()
    options = edlrr.Paper(probes=256) if path == "paper" else PATHS[path]
    value, stderr = edlrr.nuclear_norm(X, method=path, options=options, generator=0, return_stderr=True)
    value.sum().backward()
    assert value.shape == (2, 3) and value.dtype == torch.float32
    exact = torch.linalg.svdvals(S.double()).sum(-1)
    err = (value.double() - exact).abs()
    if path == "dense":
        assert bool((err <= 1e-5 * exact).all()), err / exact
    elif path == "polar":
        assert bool((err <= 3e-2 * exact).all()), err / exact
    else:
        assert bool((err <= 4 * stderr.double() + 1e-5 * exact).all()), (err, stderr)
    for idx in [(0, 0), (1, 0)]:  # full rank, slow decay (fast decay: the nuclear norm's gradient is hard)
        cos = _cosine(X.grad[idx], _exact_grad(S[idx], 1))
        assert cos > {"dense": 0.9999, "polar": 0.99, "paper": 0.7}.get(path, 0.85), (idx, cos)
    # rank 20: U_r^T G V_r = I per direction within the method's accuracy (krylov's 16 deflated
    # directions leave 4 to its projected tail gradient; the paper's probes add noise to the cross terms)
    diag, cross = {"dense": (1e-4, 1e-4), "matvec": (0.05, 0.05), "krylov": (0.15, 0.15), "polar": (0.1, 0.25),
                   "paper": (0.3, 1.5)}[path]
    _assert_nuclear_subgradient(X.grad[1, 2], S[1, 2], 20, diag, cross=cross)


@pytest.mark.parametrize("path", ["paper", "auto"])
@pytest.mark.parametrize("spectrum", ["zero", "rank1", "equal"])
def test_degenerate_spectra_value_and_gradient(path, spectrum):
    """Zero, rank one and all-equal spectra through the public API on the paper and auto paths
    (the Lanczos and polar paths: tests/test_planted_bugs.py)."""
    n = 60
    S = {"zero": torch.zeros(n, n + 10, dtype=torch.float64),
         "rank1": matrix_with_spectrum(n, n + 10, [2.0]),
         "equal": matrix_with_spectrum(n, n + 10, torch.ones(n))}[spectrum]
    truth = float(torch.linalg.svdvals(S).sum())
    X = S.clone().requires_grad_()
    options = {"probes": 4096} if path == "paper" else None
    value, stderr = edlrr.nuclear_norm(X, method=path, options=options, generator=0, return_stderr=True)
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(X.grad).all()
    assert abs(float(value) - truth) <= 4 * float(stderr) + 1e-9 * max(truth, 1)
    if spectrum == "zero":
        assert float(value) == 0 and float(X.grad.abs().max()) == 0
    else:
        r = 1 if spectrum == "rank1" else n
        paper = path == "paper"
        _assert_nuclear_subgradient(X.grad, S, r, 0.2 if paper else 1e-8, cross=0.4 if paper else None)
    if path == "auto":
        assert float(edlrr.rank(S)) == {"zero": 0, "rank1": 1, "equal": n}[spectrum]
        assert math.isclose(float(value), truth, rel_tol=1e-12, abs_tol=1e-12)
