"""Interface tests of the baselines: registry, records, input validation, divergence,
batches, dtypes, seeds, SVD-free paths, and the same results on CUDA when one is present."""
from __future__ import annotations

import dataclasses
import json
import math

import pytest
import torch

import edlrr_bench.baselines as bl
from edlrr_bench.baselines import (DivergenceError, available_solvers, get_solver, relative_error,
                                   solver_class)

ALL = ["dlrl", "edlrr", "edlrr-rpca", "global-mean", "irnn", "rpca-ialm", "svd-autograd", "svt", "user-item-bias"]
COMPLETION = ["dlrl", "edlrr", "global-mean", "irnn", "svd-autograd", "svt", "user-item-bias"]
RPCA = ["edlrr-rpca", "rpca-ialm"]

# very short runs: these tests check the interface, not accuracy
QUICK = {
    "svt": {"max_iter": 20},
    "irnn": {"max_iter": 5, "lam": 1.0},
    "svd-autograd": {"steps": 5},
    "edlrr": {"steps": 3, "options": {"probes": 8, "sqrt_iters": 8, "pinv_iters": 8}},
    # DLRL's first epochs shrink a prediction ~1e5 x too large; a run that stops there is flagged
    # as garbage (diverged), so the quick run needs 100 epochs and eta_init = 0.5 (see dlrl.py)
    "dlrl": {"blocks": 2, "d": 4, "max_epochs": 100, "eta_init": 0.5},
    "rpca-ialm": {"max_iter": 10},
    "edlrr-rpca": {"steps": 3, "options": {"probes": 8, "sqrt_iters": 8, "pinv_iters": 8}},
    "global-mean": {},
    "user-item-bias": {},
}


pytestmark = pytest.mark.usefixtures("one_thread")


def small(m=12, n=9, r=2, frac=0.6, seed=0, dtype=torch.float64, nonneg=True):
    g = torch.Generator().manual_seed(seed)
    draw = torch.rand if nonneg else torch.randn
    A = draw(m, r, generator=g, dtype=torch.float64) @ draw(r, n, generator=g, dtype=torch.float64)
    mask = torch.rand(m, n, generator=g) < frac
    return A.to(dtype), mask


# -------------------------------------------------------------------------------------------
# registry
# -------------------------------------------------------------------------------------------
def test_registry_lists_every_method():
    assert available_solvers() == ALL
    assert available_solvers("completion") == COMPLETION
    assert available_solvers("rpca") == RPCA
    with pytest.raises(ValueError):
        available_solvers("video")


def test_unknown_name_lists_known_ones():
    with pytest.raises(ValueError) as err:
        get_solver("nope")
    for name in ALL:
        assert name in str(err.value)


def test_unknown_parameter_lists_valid_ones():
    with pytest.raises(TypeError, match="valid parameters: tau, delta, tol"):
        get_solver("svt", tua=3.0)


def test_names_are_normalised():
    assert isinstance(get_solver("SVD_autograd"), bl.SVDAutograd)
    assert isinstance(get_solver("rpca_ialm"), bl.RPCAIALM)


@pytest.mark.parametrize("name", ALL)
def test_defaults_and_test_params(name):
    cls = solver_class(name)
    solver = get_solver(name)
    assert dataclasses.is_dataclass(solver) and solver.name == name
    assert solver.params() == dataclasses.asdict(solver)
    assert isinstance(cls.test_params, dict) and (cls.test_params or not dataclasses.fields(cls))  # none: no params
    get_solver(name, **cls.test_params)  # the tiny configuration is valid
    assert cls.__doc__ and "References" in (cls.__module__ and __import__(cls.__module__, fromlist=["x"]).__doc__)


def test_paper_defaults():
    assert get_solver("svt").tol == 1e-4
    s = get_solver("svd-autograd")
    assert (s.lam, s.lr, s.steps, s.step_size, s.lr_decay, s.mask_gradient) == (1e-3, 0.1, 500, 100, 0.8, True)
    e = get_solver("edlrr")
    assert (e.lam, e.lr, e.steps, e.step_size, e.lr_decay, e.mask_gradient) == (1e-3, 0.1, 500, 100, 0.8, True)
    d = get_solver("dlrl")
    assert (d.p, d.d, d.lr, d.spectral_norm, d.gram_power) == (1.0, 20, 0.01, "power", "newton-schulz")
    assert get_solver("rpca-ialm").tol == 1e-7
    assert get_solver("irnn").mu == 1.1


@pytest.mark.parametrize("name,bad", [
    ("svt", {"tol": -1.0}),
    ("svt", {"max_iter": 0}),
    ("irnn", {"mu": 0.9}),
    ("irnn", {"penalty": "nope"}),
    ("irnn", {"penalty_params": {"lam": 2.0}}),
    ("svd-autograd", {"lr": 0.0}),
    ("edlrr", {"expansion": "fourier"}),
    ("edlrr", {"options": {"probez": 3}}),
    ("edlrr", {"method": "fastest"}),
    ("edlrr", {"method": "krylov", "options": {"pinv_iters": 3}}),   # a field of another method
    ("edlrr", {"penalty": "laplace", "method": "auto", "expansion": "taylor"}),  # no series there
    ("edlrr", {"penalty": "laplace", "expansion": "taylor", "options": {"expansion": "laguerre"}}),
    ("edlrr", {"options": "paper"}),
    ("edlrr-rpca", {"method": "krylov"}),
    ("dlrl", {"p": 2.5}),
    ("dlrl", {"p": 0.3}),            # (2 - p)/2 not dyadic: Newton-Schulz roots cannot reach it
    ("dlrl", {"spectral_norm": "lanczos"}),
    ("dlrl", {"blocks": 1}),
    ("rpca-ialm", {"rho": 1.0}),
    ("edlrr-rpca", {"regularizer": "svd"}),
])
def test_bad_hyper_parameters_raise_at_construction(name, bad):
    with pytest.raises((ValueError, TypeError)):
        get_solver(name, **bad)


# -------------------------------------------------------------------------------------------
# input validation
# -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", COMPLETION)
def test_bad_completion_inputs_raise(name):
    solver = get_solver(name, **QUICK[name])
    A, mask = small()
    with pytest.raises(ValueError, match="does not match"):
        solver.complete(A, mask[:, :5])
    with pytest.raises(ValueError, match="no observed entry"):
        solver.complete(A, torch.zeros_like(mask))
    bad = A.clone()
    bad[mask.nonzero()[0].tolist()[0], mask.nonzero()[0].tolist()[1]] = float("nan")
    with pytest.raises(ValueError, match="NaN or Inf"):
        solver.complete(bad, mask)
    with pytest.raises(TypeError, match="float32 or float64"):
        solver.complete(A.to(torch.int64), mask)
    with pytest.raises(TypeError, match="float32 or float64"):
        solver.complete(A.to(torch.float16), mask)
    with pytest.raises(TypeError, match="torch.bool"):
        solver.complete(A, mask.double())
    with pytest.raises(TypeError):
        solver.complete(A.numpy(), mask)
    with pytest.raises(ValueError):
        solver.complete(A[0], mask[0])


@pytest.mark.parametrize("name", COMPLETION)
def test_unobserved_entries_are_ignored(name):
    solver = get_solver(name, **QUICK[name])
    A, mask = small()
    noisy = torch.where(mask, A, torch.full_like(A, float("nan")))
    r1 = solver.complete(noisy, mask)
    r2 = solver.complete(torch.where(mask, A, torch.full_like(A, 1e6)), mask)
    assert torch.isfinite(r1.X).all()
    assert torch.equal(r1.X, r2.X)


@pytest.mark.parametrize("name", RPCA)
def test_bad_rpca_inputs_raise(name):
    solver = get_solver(name, **QUICK[name])
    V, _ = small()
    with pytest.raises(ValueError):
        solver.decompose(V[None])
    bad = V.clone()
    bad[0, 0] = float("inf")
    with pytest.raises(ValueError, match="NaN or Inf"):
        solver.decompose(bad)
    with pytest.raises(TypeError):
        solver.decompose(V.to(torch.int32))


# -------------------------------------------------------------------------------------------
# records, dtypes, batches, seeds
# -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", COMPLETION)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_completion_record_and_dtype(name, dtype):
    A, mask = small(dtype=dtype)
    res = get_solver(name, **QUICK[name]).complete(A, mask)
    assert res.X.dtype == dtype and res.X.shape == A.shape and res.X.device == A.device
    assert not res.X.requires_grad
    rec = res.record
    assert rec.method == name and rec.dtype == str(dtype).replace("torch.", "")
    assert rec.iterations >= 1 and rec.wall_time_s > 0 and rec.message
    assert all(math.isfinite(v) for v in rec.history)
    assert not rec.diverged
    json.dumps(rec.to_dict())  # plain data for the results table


@pytest.mark.parametrize("name", RPCA)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_rpca_record_and_dtype(name, dtype):
    V, _ = small(dtype=dtype)
    res = get_solver(name, **QUICK[name]).decompose(V)
    assert res.low_rank.dtype == dtype and res.sparse.shape == V.shape
    if name == "edlrr-rpca":  # sparse = V - X by construction (IALM meets V = A + E only at convergence)
        assert torch.allclose(res.low_rank + res.sparse, V, atol=1e-5 if dtype == torch.float32 else 1e-12)
    json.dumps(res.record.to_dict())


@pytest.mark.parametrize("name", ["svt", "irnn", "dlrl"])
def test_batch_solved_channel_by_channel(name):
    A, mask = small()
    B, mask2 = small(seed=1)
    stacked, masks = torch.stack([A, B]), torch.stack([mask, mask2])
    solver = get_solver(name, **QUICK[name])
    res = solver.complete(stacked, masks)
    assert res.X.shape == (2, *A.shape)
    assert len(res.record.extra["channels"]) == 2
    assert torch.allclose(res.X[0], solver.complete(A, mask).X)
    if name != "dlrl":  # DLRL's initialisation continues the seeded stream across channels
        assert torch.allclose(res.X[1], solver.complete(B, mask2).X)


def test_adam_batch_equals_separate_runs():
    """One Adam over a batch of channels = one Adam per channel (Adam is entrywise)."""
    A, mask = small(nonneg=False)
    B, mask2 = small(seed=1, nonneg=False)
    solver = get_solver("svd-autograd", steps=30)
    res = solver.complete(torch.stack([A, B]), torch.stack([mask, mask2]))
    assert torch.allclose(res.X[0], solver.complete(A, mask).X, atol=1e-12)
    assert torch.allclose(res.X[1], solver.complete(B, mask2).X, atol=1e-12)


def test_mask_broadcasts_over_channels():
    A, mask = small()
    res = get_solver("svd-autograd", steps=5).complete(torch.stack([A, 2 * A]), mask)
    assert res.X.shape == (2, *A.shape)
    assert torch.equal(res.X[:, mask], torch.stack([A, 2 * A])[:, mask])


def test_seeds_make_stochastic_runs_reproducible():
    A, mask = small(nonneg=False)
    kw = QUICK["edlrr"]
    X1 = get_solver("edlrr", seed=3, **kw).complete(A, mask).X
    X2 = get_solver("edlrr", seed=3, **kw).complete(A, mask).X
    X3 = get_solver("edlrr", seed=4, **kw).complete(A, mask).X
    assert torch.equal(X1, X2) and not torch.equal(X1, X3)
    D1 = get_solver("dlrl", seed=1, **QUICK["dlrl"]).complete(A.abs(), mask).X
    D2 = get_solver("dlrl", seed=1, **QUICK["dlrl"]).complete(A.abs(), mask).X
    assert torch.equal(D1, D2)


@pytest.mark.parametrize("params", [
    {"penalty": "gamma_nuclear"},
    {"penalty": "laplace", "expansion": "laguerre"},
    {"penalty": "schatten", "penalty_params": {"p": 1.5}},
])
def test_edlrr_estimator_variants_run(params):
    A, mask = small(nonneg=False)
    res = get_solver("edlrr", **{**QUICK["edlrr"], **params}).complete(A, mask)
    assert torch.isfinite(res.X).all() and len(res.record.history) == 3


def test_edlrr_inaccurate_series_is_reported():
    """A Taylor series truncated where it is inaccurate at the singular values warns (core)."""
    from edlrr.penalties import SeriesDivergenceWarning

    A, mask = small(nonneg=False)
    params = {**QUICK["edlrr"], "penalty": "laplace", "penalty_params": {"gamma": 2.0}, "order": 12}
    with pytest.warns(SeriesDivergenceWarning):
        get_solver("edlrr", **params).complete(A, mask)
    with pytest.raises(ValueError, match="series"):
        get_solver("edlrr", on_series_error="raise", **params).complete(A, mask)


def test_edlrr_released_method_runs():
    A, mask = small(m=8, n=6, nonneg=False)
    res = get_solver("edlrr", method="released", steps=2,
                     options={"probes": 64, "sqrt_terms": 50}).complete(A, mask)
    assert torch.isfinite(res.X).all()


def test_edlrr_options_reach_the_core():
    """The solver's method, options and series parameters are the core's method= and options=:
    the series fields go into edlrr.Paper/Released, the other methods take the options as they
    are (an options instance or a dict)."""
    import edlrr
    from edlrr_bench.baselines.edlrr_solver import resolve_options

    opts = resolve_options("paper", {"probes": 8}, expansion="laguerre", order=12)
    assert opts == edlrr.Paper(probes=8, expansion="laguerre", order=12)
    assert resolve_options("released", edlrr.Released(probes=64, sqrt_terms=50), on_series_error="ignore") == \
        edlrr.Released(probes=64, sqrt_terms=50, on_series_error="ignore")
    assert resolve_options("krylov", {"probes": 4}, expansion="quadrature") == edlrr.Krylov(probes=4)
    assert resolve_options("fast") == edlrr.Auto()
    # the same value given in options and as the solver's parameter is no conflict
    assert resolve_options("paper", {"expansion": "laguerre"}, expansion="laguerre").expansion == "laguerre"
    A, mask = small(m=8, n=6, nonneg=False)
    for params in ({"method": "krylov", "options": edlrr.Krylov(sketch=2, probes=2, lanczos_steps=3)},
                   {"method": "auto", "penalty": "laplace"}, {"method": "matvec", "expansion": "quadrature"}):
        res = get_solver("edlrr", steps=2, **params).complete(A, mask)
        assert torch.isfinite(res.X).all()


# -------------------------------------------------------------------------------------------
# divergence
# -------------------------------------------------------------------------------------------
def test_divergence_raises_with_record():
    A, mask = small(m=30, n=20, nonneg=False)
    with pytest.raises(DivergenceError) as err:
        get_solver("svt", delta=20.0).complete(A, mask)
    rec = err.value.record
    assert rec.diverged and not rec.converged and "exploded" in rec.message
    assert torch.isfinite(err.value.result.X).all()
    assert isinstance(err.value, RuntimeError)


def test_divergence_recorded_without_raising():
    A, mask = small(m=30, n=20, nonneg=False)
    res = get_solver("svd-autograd", lr=1e8, steps=50, raise_on_divergence=False).complete(A, mask)
    assert res.record.diverged and "loss" in res.record.message
    assert res.record.iterations < 50
    assert torch.isfinite(res.X).all()


def test_dlrl_feedback_of_oversized_outputs_is_reported_as_divergence():
    A, mask = small(m=30, n=20)
    with pytest.raises(DivergenceError, match="dlrl diverged"):
        get_solver("dlrl", update_factors=True, max_epochs=20).complete(A, mask)


# -------------------------------------------------------------------------------------------
# SVD-free default of DLRL
# -------------------------------------------------------------------------------------------
def test_dlrl_default_path_calls_no_decomposition(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("a decomposition was called on DLRL's SVD-free path")

    for attr in ("svd", "svdvals", "pinv", "eigh", "eig", "eigvalsh"):
        monkeypatch.setattr(torch.linalg, attr, forbidden)
    monkeypatch.setattr(torch, "svd", forbidden)
    monkeypatch.setattr(torch, "pinverse", forbidden)
    real_norm = torch.linalg.matrix_norm

    def norm(A, ord="fro", *args, **kwargs):
        if ord not in ("fro",):
            raise AssertionError(f"matrix_norm(ord={ord!r}) needs an SVD")
        return real_norm(A, ord, *args, **kwargs)

    monkeypatch.setattr(torch.linalg, "matrix_norm", norm)
    A, mask = small(m=30, n=20)
    res = get_solver("dlrl", blocks=3, d=6, max_epochs=10, raise_on_divergence=False).complete(A, mask)
    assert torch.isfinite(res.X).all()
    with pytest.raises(AssertionError, match="decomposition|SVD"):
        get_solver("dlrl", blocks=3, d=6, max_epochs=2, spectral_norm="svd").complete(A, mask)


# -------------------------------------------------------------------------------------------
# device-agnostic: the same numbers on CUDA (skipped without a GPU)
# -------------------------------------------------------------------------------------------
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", ALL)
def test_cuda_matches_cpu(name):
    A, mask = small(m=30, n=20)
    solver = get_solver(name, **QUICK[name])
    if name in RPCA:
        cpu = solver.decompose(A).low_rank
        gpu = solver.decompose(A.cuda()).low_rank
    else:
        cpu = solver.complete(A, mask).X
        res = solver.complete(A.cuda(), mask.cuda())
        assert res.record.device.startswith("cuda")
        gpu = res.X
    assert gpu.device.type == "cuda"
    assert relative_error(gpu.cpu(), cpu) < 1e-6
