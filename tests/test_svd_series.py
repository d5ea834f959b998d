"""SVD-autograd with the truncated series of h (the objective of EDLRR Table 1's T-/L- columns)."""
import pytest
import torch

import edlrr
from conftest import matrix_with_spectrum
from edlrr_bench.baselines import get_solver
from edlrr_bench.baselines.svd_autograd import series_penalty


@pytest.mark.parametrize("expansion", ["taylor", "laguerre"])
def test_series_penalty_is_the_paper_estimators_expectation(expansion):
    """The paper's estimator with exact internals and many probes averages to the series on the
    exact singular values (its bias is the series' truncation, its noise the probes')."""
    S = matrix_with_spectrum(30, 40, torch.linspace(4, 0.5, 30))
    h = edlrr.penalty("laplace", gamma=2.0)
    series = float(series_penalty(S, h, expansion))
    value, stderr = edlrr.lrr(S, h, options=edlrr.Paper(probes=20000, expansion=expansion), generator=0,
                              return_stderr=True)
    assert abs(float(value) - series) <= 4 * float(stderr)
    assert float(stderr) < 0.01 * series


def test_series_penalty_differs_from_h_where_taylor_diverges():
    """gamma-nuclear's Taylor series converges only below gamma: with sigma_1 = 4 > gamma = 1 the
    series objective is not h; the Laguerre series stays within 2% of it."""
    S = matrix_with_spectrum(30, 40, torch.linspace(4, 0.5, 30))
    h = edlrr.penalty("gamma_nuclear", gamma=1.0)
    exact = float(edlrr.exact.lrr(S, h))
    assert abs(float(series_penalty(S, h, "taylor")) / exact - 1) > 0.5
    assert float(series_penalty(S, h, "laguerre")) == pytest.approx(exact, rel=0.02)
    X = S.clone().requires_grad_()
    series_penalty(X, h, "laguerre").backward()
    assert torch.isfinite(X.grad).all()


def test_solver_takes_the_series_and_refuses_others():
    solver = get_solver("svd-autograd", penalty="laplace", series="laguerre")
    assert solver.series == "laguerre"
    with pytest.raises(ValueError, match="series must be None or one of"):
        get_solver("svd-autograd", penalty="laplace", series="chebyshev")
