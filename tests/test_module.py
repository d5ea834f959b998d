"""LowRankRegularizer (nn.Module) and the exact reference module."""
import pytest
import torch

import edlrr
from conftest import assert_rel_close, matrix_with_spectrum


def test_module_is_weighted_estimate_and_repeatable():
    S = matrix_with_spectrum(30, 20, torch.linspace(1, 0.1, 20))
    reg_a = edlrr.LowRankRegularizer("nuclear", weight=0.5, seed=3, method="paper", options={"probes": 16})
    reg_b = edlrr.LowRankRegularizer("nuclear", weight=0.5, seed=3, method="paper", options={"probes": 16})
    a1, a2 = reg_a(S), reg_a(S)
    assert not torch.equal(a1, a2)  # fresh probes on every call
    assert torch.equal(a1, reg_b(S)) and torch.equal(a2, reg_b(S))  # same seed, same run
    g = torch.Generator().manual_seed(3)
    torch.testing.assert_close(a1, 0.5 * edlrr.nuclear_norm(S, method="paper", options={"probes": 16}, generator=g))


def test_module_in_a_training_step():
    torch.manual_seed(0)
    W = torch.nn.Parameter(torch.randn(20, 15, dtype=torch.float64))
    reg = edlrr.LowRankRegularizer("laplace", weight=1.0, penalty_params=dict(gamma=1.0),
                                   options=edlrr.Paper(expansion="laguerre", probes=64), seed=0)
    opt = torch.optim.SGD([W], lr=0.05)
    before = float(edlrr.exact.lrr(W.detach(), "laplace", gamma=1.0))
    for _ in range(20):
        opt.zero_grad()
        reg(W).backward()
        opt.step()
    assert float(edlrr.exact.lrr(W.detach(), "laplace", gamma=1.0)) < before


@pytest.mark.parametrize("penalty,params,method,options,power,rtol", [
    ("nuclear", {}, "paper", {"probes": 4096}, 1.0, 0.03),
    ("schatten", {"p": 0.5}, "paper", {"probes": 4096}, 0.5, 0.03),
    ("schatten", {"p": 0.3}, "paper", {"probes": 4096, "expansion": "laguerre"}, None, 0.03),
    ("gamma_nuclear", {"gamma": 10.0}, "paper", {"probes": 4096}, None, 0.03),
    ("schatten", {"p": 0.3}, "auto", None, 0.3, 1e-9),
    ("gamma_nuclear", {"gamma": 10.0}, "auto", None, None, 1e-9),
    ("schatten", {"p": 2.0}, "released", {"probes": 4096, "sqrt_terms": 200}, 2.0, 0.05),
])
def test_module_picks_estimator(penalty, params, method, options, power, rtol):
    """Schatten-p sums go through schatten() where the method reaches p directly; everything
    else through lrr(); the value is the exact one within the method's accuracy."""
    reg = edlrr.LowRankRegularizer(penalty, penalty_params=params, method=method, options=options, seed=0)
    assert reg.power == power and f"method={method!r}" in repr(reg)
    S = matrix_with_spectrum(12, 10, torch.linspace(1, 0.2, 10))
    if params.get("p") == 0.3 and method == "paper":  # x^0.3 is not smooth at 0: the series says so
        with pytest.warns(edlrr.SeriesDivergenceWarning, match="schatten"):
            value = reg(S)
    else:
        value = reg(S)
    assert_rel_close(value, edlrr.exact.lrr(S, penalty, **params), rtol, penalty)


def test_module_validates_weight_and_seed():
    for weight in (float("nan"), float("inf"), -1.0):
        with pytest.raises(ValueError, match="weight must be"):
            edlrr.LowRankRegularizer(weight=weight)
    with pytest.raises(TypeError, match="weight must be a number"):
        edlrr.LowRankRegularizer(weight="1")
    assert edlrr.LowRankRegularizer(weight=torch.tensor(0.5)).weight == 0.5
    for seed in (2**70, -1, 1.5, True):
        with pytest.raises(ValueError, match="seed must be"):
            edlrr.LowRankRegularizer(seed=seed)
    with pytest.raises(ValueError, match="not used by method 'paper'"):
        edlrr.LowRankRegularizer(method="paper", options={"sketch": 4})


def test_module_validates_at_construction():
    with pytest.raises(ValueError, match="probes must be >= 1"):
        edlrr.LowRankRegularizer(method="paper", options={"probes": 0})
    with pytest.raises(ValueError, match="unknown penalty"):
        edlrr.LowRankRegularizer("nope")
    with pytest.raises(ValueError, match="expansion must be"):
        edlrr.LowRankRegularizer(method="paper", options={"expansion": "fourier"})


def test_exact_module():
    S = torch.diag(torch.tensor([3.0, 2.0, 0.0], dtype=torch.float64))
    assert float(edlrr.exact.nuclear_norm(S)) == 5.0
    assert float(edlrr.exact.schatten(S, 2)) == 13.0
    assert int(edlrr.exact.rank(S)) == 2 and float(edlrr.exact.schatten(S, 0)) == 2.0
    # zero singular values contribute nothing even where h(0) != 0 would matter
    expected = 2 - torch.exp(torch.tensor(-3.0)).item() - torch.exp(torch.tensor(-2.0)).item()
    assert float(edlrr.exact.lrr(S, "laplace", gamma=1.0)) == pytest.approx(expected)
    S.requires_grad_()
    (g,) = torch.autograd.grad(edlrr.exact.lrr(S, "gamma_nuclear", gamma=1.0), S)
    assert torch.isfinite(g).all()
