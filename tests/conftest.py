"""Shared test helpers: matrices with chosen spectra (exact singular values known)."""
from __future__ import annotations

import pytest
import torch


def matrix_with_spectrum(m: int, n: int, sigma, *, seed: int = 0, dtype=torch.float64) -> torch.Tensor:
    """U diag(sigma) V^T with Haar-like orthonormal U (m x r), V (n x r) from a seeded QR."""
    sigma = torch.as_tensor(sigma, dtype=dtype)
    r = sigma.numel()
    g = torch.Generator().manual_seed(seed)
    U, _ = torch.linalg.qr(torch.randn(m, r, generator=g, dtype=dtype))
    V, _ = torch.linalg.qr(torch.randn(n, r, generator=g, dtype=dtype))
    return (U * sigma) @ V.T


@pytest.fixture
def spectrum_matrix():
    return matrix_with_spectrum


def assert_rel_close(actual, expected, rtol: float, what: str = "") -> None:
    """|actual - expected| <= rtol * |expected| (rtol is applied, never ignored)."""
    a, e = float(actual), float(expected)
    assert abs(a - e) <= rtol * abs(e), f"{what}: {a} vs {e} (rel. err {abs(a - e) / abs(e):.3g} > {rtol})"


@pytest.fixture(scope="module")
def one_thread():
    """Run a module's tests with one torch thread (faster small SVDs on a loaded 2-core box)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
