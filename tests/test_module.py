"""LowRankRegularizer (nn.Module) and the exact reference module."""
import pytest
import torch

import edlrr
from conftest import assert_rel_close, matrix_with_spectrum


def test_module_is_weighted_estimate_and_repeatable():
    S = matrix_with_spectrum(30, 20, torch.linspace(1, 0.1, 20))
    reg_a = edlrr.LowRankRegularizer("nuclear", weight=0.5, seed=3, probes=16)
    reg_b = edlrr.LowRankRegularizer("nuclear", weight=0.5, seed=3, probes=16)
    a1, a2 = reg_a(S), reg_a(S)
    assert not torch.equal(a1, a2)  # fresh probes on every call
    assert torch.equal(a1, reg_b(S)) and torch.equal(a2, reg_b(S))  # same seed, same run
    g = torch.Generator().manual_seed(3)
    torch.testing.assert_close(a1, 0.5 * edlrr.nuclear_norm(S, probes=16, generator=g))


def test_module_in_a_training_step():
    torch.manual_seed(0)
    W = torch.nn.Parameter(torch.randn(20, 15, dtype=torch.float64))
    reg = edlrr.LowRankRegularizer("laplace", weight=1.0, penalty_params=dict(gamma=1.0),
                                   expansion="laguerre", seed=0, probes=64)
    opt = torch.optim.SGD([W], lr=0.05)
    before = float(edlrr.exact.lrr(W.detach(), "laplace", gamma=1.0))
    for _ in range(20):
        opt.zero_grad()
        reg(W).backward()
        opt.step()
    assert float(edlrr.exact.lrr(W.detach(), "laplace", gamma=1.0)) < before


@pytest.mark.parametrize("penalty,params,expected", [
    ("nuclear", {}, "p=1.0"), ("schatten", {"p": 0.5}, "p=0.5"), ("schatten", {"p": 0.3}, "expansion=laguerre"),
    ("gamma_nuclear", {"gamma": 10.0}, "expansion=taylor"),
])
def test_module_picks_estimator(penalty, params, expected):
    kw = {"expansion": "laguerre"} if params.get("p") == 0.3 else {}
    reg = edlrr.LowRankRegularizer(penalty, penalty_params=params, seed=0, **kw)
    assert expected in repr(reg)
    S = matrix_with_spectrum(12, 10, torch.linspace(1, 0.2, 10))
    reg = edlrr.LowRankRegularizer(penalty, penalty_params=params, seed=0, probes=4096, **kw)
    if params.get("p") == 0.3:  # x^0.3 is not smooth at 0: the Laguerre series says it is inaccurate
        with pytest.warns(edlrr.SeriesDivergenceWarning, match="schatten"):
            value = reg(S)
    else:
        value = reg(S)
    assert_rel_close(value, edlrr.exact.lrr(S, penalty, **params), 0.03, penalty)


def test_module_validates_at_construction():
    with pytest.raises(ValueError, match="probes must be >= 1"):
        edlrr.LowRankRegularizer(probes=0)
    with pytest.raises(ValueError, match="unknown penalty"):
        edlrr.LowRankRegularizer("nope")
    with pytest.raises(ValueError, match="expansion must be"):
        edlrr.LowRankRegularizer(expansion="fourier")


def test_exact_module():
    S = torch.diag(torch.tensor([3.0, 2.0, 0.0], dtype=torch.float64))
    assert float(edlrr.exact.nuclear_norm(S)) == 5.0
    assert float(edlrr.exact.schatten(S, 2)) == 13.0
    assert int(edlrr.exact.rank(S)) == 2 and float(edlrr.exact.schatten(S, 0)) == 2.0
    # zero singular values contribute nothing even where h(0) != 0 would matter
    assert float(edlrr.exact.lrr(S, "laplace", gamma=1.0)) == pytest.approx(2 - torch.exp(torch.tensor(-3.0)).item() - torch.exp(torch.tensor(-2.0)).item())
    S.requires_grad_()
    (g,) = torch.autograd.grad(edlrr.exact.lrr(S, "gamma_nuclear", gamma=1.0), S)
    assert torch.isfinite(g).all()
