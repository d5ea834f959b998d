"""Tests of edlrr_bench.datasets.synthetic: exact spectra, hard cases, DLRL protocol."""

import math

import pytest
import torch

from edlrr_bench.datasets import (
    SPECTRUM_KINDS,
    DLRLSyntheticConfig,
    SpectrumConfig,
    get_dataset,
    low_rank_matrix,
    make_dlrl_synthetic,
    make_spectrum,
    make_spectrum_matrix,
    random_orthonormal,
    rsre,
)
from edlrr_bench.datasets._common import make_generator


def assert_spectrum_close(computed, exact, rtol=1e-12):
    """Compare singular values with a tolerance scaled to sigma_1 (absolute floor for zeros)."""
    scale = max(float(exact.abs().max()), 1.0)
    err = (computed - exact).abs().max().item()
    assert err <= rtol * scale * max(exact.shape[-1], 1), (err, scale)


@pytest.mark.parametrize("kind", SPECTRUM_KINDS)
@pytest.mark.parametrize("m,n", [(30, 20), (20, 30), (16, 16)])
def test_exact_spectrum_matches_svdvals(kind, m, n):
    data = get_dataset("spectrum", m=m, n=n, spectrum=kind, seed=3)
    assert data.matrix.shape == (m, n)
    assert data.matrix.dtype == torch.float64
    s = data.singular_values
    assert s.shape == (min(m, n),)
    assert torch.all(s[:-1] >= s[1:]), "singular values must be non-increasing"
    assert_spectrum_close(torch.linalg.svdvals(data.matrix), s)
    # orthonormal factors reproduce the matrix
    k = min(m, n)
    torch.testing.assert_close(data.left.T @ data.left, torch.eye(k, dtype=torch.float64), atol=1e-12, rtol=0)
    torch.testing.assert_close(data.right.T @ data.right, torch.eye(k, dtype=torch.float64), atol=1e-12, rtol=0)


def test_spectrum_profiles_values():
    s = make_spectrum("power", 5, exponent=2.0, scale=3.0)
    torch.testing.assert_close(s, 3.0 * torch.tensor([1, 1 / 4, 1 / 9, 1 / 16, 1 / 25], dtype=torch.float64))
    s = make_spectrum("geometric", 4, ratio=0.5)
    torch.testing.assert_close(s, torch.tensor([1, 0.5, 0.25, 0.125], dtype=torch.float64))
    s = make_spectrum("flat", 5, rank=2)
    torch.testing.assert_close(s, torch.tensor([1, 1, 0, 0, 0], dtype=torch.float64))
    s = make_spectrum("repeated", 7, multiplicity=3)
    torch.testing.assert_close(s, torch.tensor([1, 1, 1, 0.5, 0.5, 0.5, 0.25], dtype=torch.float64))
    s = make_spectrum("ill_conditioned", 6, cond=1e6)
    assert math.isclose(float(s[0] / s[-1]), 1e6, rel_tol=1e-12)
    assert torch.equal(make_spectrum("zero", 4), torch.zeros(4, dtype=torch.float64))
    assert torch.equal(make_spectrum("rank1", 3, scale=2.0), torch.tensor([2.0, 0, 0], dtype=torch.float64))


def test_ill_conditioned_small_singular_value_is_accurate():
    data = get_dataset("spectrum", m=40, n=30, spectrum="ill_conditioned", cond=1e6, seed=1)
    s = data.singular_values
    assert math.isclose(float(s[0] / s[-1]), 1e6, rel_tol=1e-10)
    computed = torch.linalg.svdvals(data.matrix)
    # sigma_min = 1e-6: float64 SVD error ~ eps * sigma_1, so relative error << 1e-6
    assert abs(float(computed[-1] - s[-1])) / float(s[-1]) < 1e-7


def test_rank_zero_and_one_and_exact_rank():
    zero = get_dataset("spectrum", m=5, n=7, spectrum="zero")
    assert torch.count_nonzero(zero.matrix) == 0 and zero.rank == 0
    one = get_dataset("spectrum", m=9, n=4, spectrum="rank1", scale=2.5)
    assert one.rank == 1
    assert torch.linalg.matrix_rank(one.matrix).item() == 1
    assert math.isclose(float(torch.linalg.matrix_norm(one.matrix, ord=2)), 2.5, rel_tol=1e-12)
    r5 = get_dataset("spectrum", m=20, n=15, spectrum="power", rank=5)
    assert r5.rank == 5 and torch.linalg.matrix_rank(r5.matrix).item() == 5


def test_repeated_singular_values_are_repeated():
    data = get_dataset("spectrum", m=12, n=9, spectrum="repeated", multiplicity=3, seed=5)
    computed = torch.linalg.svdvals(data.matrix)
    torch.testing.assert_close(computed[:3], torch.ones(3, dtype=torch.float64), atol=1e-13, rtol=0)
    torch.testing.assert_close(computed[3:6], 0.5 * torch.ones(3, dtype=torch.float64), atol=1e-13, rtol=0)


def test_noise_recomputes_singular_values():
    data = get_dataset("spectrum", m=20, n=10, spectrum="flat", rank=3, noise=0.1, seed=2)
    assert not torch.equal(data.matrix, data.clean)
    assert_spectrum_close(torch.linalg.svdvals(data.matrix), data.singular_values)
    assert_spectrum_close(torch.linalg.svdvals(data.clean), data.clean_singular_values)
    assert data.singular_values[3] > 0  # noise fills the tail
    assert data.rank == 3


def test_batch_dtype_device():
    data = get_dataset("spectrum", m=6, n=5, batch=4, spectrum="power", dtype=torch.float32, device="cpu")
    assert data.matrix.shape == (4, 6, 5) and data.singular_values.shape == (4, 5)
    assert data.matrix.dtype == torch.float32
    assert not torch.equal(data.matrix[0], data.matrix[1])  # independent factors
    s64 = torch.linalg.svdvals(data.matrix.double())
    torch.testing.assert_close(s64, data.singular_values.double(), atol=1e-5, rtol=1e-5)
    f64 = get_dataset("spectrum", m=6, n=5, batch=4, spectrum="power")
    torch.testing.assert_close(f64.matrix.float(), data.matrix)  # same data, only cast


def test_determinism_by_seed():
    a = make_spectrum_matrix(SpectrumConfig.tiny(seed=7))
    b = make_spectrum_matrix(SpectrumConfig.tiny(seed=7))
    c = make_spectrum_matrix(SpectrumConfig.tiny(seed=8))
    assert torch.equal(a.matrix, b.matrix)
    assert not torch.equal(a.matrix, c.matrix)
    torch.testing.assert_close(a.singular_values, c.singular_values)  # same spectrum


def test_random_orthonormal_is_orthonormal_and_seeded():
    q = random_orthonormal(10, 4, generator=make_generator(1))
    torch.testing.assert_close(q.T @ q, torch.eye(4, dtype=torch.float64), atol=1e-13, rtol=0)
    assert torch.equal(q, random_orthonormal(10, 4, generator=make_generator(1)))


def test_low_rank_shortcut():
    d = low_rank_matrix(8, 6, 2, seed=1)
    assert torch.linalg.matrix_rank(d.matrix).item() == 2


@pytest.mark.parametrize(
    "params, err",
    [
        ({"m": 0}, ValueError),
        ({"n": -3}, ValueError),
        ({"m": 2.5}, TypeError),
        ({"rank": 10, "m": 5, "n": 8}, ValueError),
        ({"spectrum": "nope"}, ValueError),
        ({"noise": -1.0}, ValueError),
        ({"ratio": 0.0}, ValueError),
        ({"cond": 0.5}, ValueError),
        ({"spectrum": "rank1", "rank": 3}, ValueError),
        ({"seed": -1}, ValueError),
        ({"noise": float("nan")}, ValueError),
    ],
)
def test_spectrum_bad_inputs(params, err):
    with pytest.raises(err):
        SpectrumConfig(**params)


def test_dlrl_protocol_shapes_and_shares():
    p = make_dlrl_synthetic(DLRLSyntheticConfig(sigma=0.2, unobserved=0.4, seed=1))
    assert p.truth.shape == (100, 100) and p.mask.shape == (100, 100) and p.mask.dtype == torch.bool
    assert torch.linalg.matrix_rank(p.truth).item() == 20
    assert (~p.mask).sum().item() == 4000  # exactly n_r of the entries hidden
    assert torch.all(p.observed[~p.mask] == 0)
    torch.testing.assert_close(p.observed[p.mask], p.noisy[p.mask])
    noise = p.noisy - p.truth
    assert abs(float(noise.std()) - 0.2) < 0.01
    # RSRE of the noisy matrix ~ sigma * sqrt(mn) / ||X||_F
    expected = 0.2 * 100 / float(torch.linalg.vector_norm(p.truth))
    assert abs(rsre(p.noisy, p.truth) - expected) < 0.05 * expected


def test_dlrl_common_random_numbers_and_determinism():
    a = make_dlrl_synthetic(DLRLSyntheticConfig.tiny(sigma=0.1, seed=4))
    b = make_dlrl_synthetic(DLRLSyntheticConfig.tiny(sigma=0.5, seed=4))
    c = make_dlrl_synthetic(DLRLSyntheticConfig.tiny(sigma=0.1, seed=5))
    d = make_dlrl_synthetic(DLRLSyntheticConfig.tiny(sigma=0.1, seed=4))
    assert torch.equal(a.truth, b.truth) and torch.equal(a.mask, b.mask)  # sweep sigma, same X
    torch.testing.assert_close((b.noisy - b.truth), 5 * (a.noisy - a.truth))
    assert not torch.equal(a.truth, c.truth)
    assert torch.equal(a.observed, d.observed)


@pytest.mark.parametrize("params", [{"unobserved": 1.0}, {"unobserved": -0.1}, {"rank": 0}, {"sigma": -1},
                                    {"m": 10, "n": 10, "rank": 11}])
def test_dlrl_bad_inputs(params):
    with pytest.raises(ValueError):
        DLRLSyntheticConfig(**params)
