"""Tests of edlrr_bench.datasets.metrics against hand-checkable values."""

import math

import numpy as np
import pytest
import torch

from edlrr_bench.datasets import (
    f_measure,
    mse,
    precision_recall,
    psnr,
    psnr_from_mse,
    psnr_missing,
    rmse,
    rsre,
    ssim,
)


def test_psnr_of_known_mse():
    assert psnr_from_mse(0.01) == pytest.approx(20.0)
    assert psnr_from_mse(1e-4) == pytest.approx(40.0)
    assert psnr_from_mse(25.5**2, data_range=255) == pytest.approx(20.0)
    assert psnr_from_mse(0.0) == math.inf


def test_psnr_missing_two_normalisations():
    truth = torch.full((3, 10, 10), 0.5, dtype=torch.float64)
    mask = torch.ones(10, 10, dtype=torch.bool)
    mask[:4, :] = False  # 40% missing
    est = truth.clone()
    est[:, ~mask] += 0.1  # error 0.1 on every missing entry
    est[:, mask] += 0.3   # errors on observed pixels are not scored
    assert psnr_missing(est, truth, mask) == pytest.approx(20.0)
    # DLRL eq. (49): the same squared error divided by 3mn
    assert psnr_missing(est, truth, mask, normalize="all") == pytest.approx(20.0 + 10 * math.log10(1 / 0.4))
    # 8-bit scale gives the same number
    assert psnr_missing(est * 255, truth * 255, mask, data_range=255) == pytest.approx(20.0)
    assert psnr_missing(truth, truth, mask) == math.inf
    # numpy inputs, (H, W, C)-free: a 2-D matrix with a 2-D mask
    assert psnr_missing(est[0].numpy(), truth[0].numpy(), mask.numpy()) == pytest.approx(20.0)


def test_psnr_missing_errors():
    x = torch.zeros(3, 4, 4)
    with pytest.raises(ValueError, match="no missing"):
        psnr_missing(x, x, torch.ones(4, 4, dtype=torch.bool))
    with pytest.raises(TypeError):
        psnr_missing(x, x, torch.ones(4, 4))
    with pytest.raises(ValueError):
        psnr_missing(x, x, torch.zeros(5, 5, dtype=torch.bool))
    with pytest.raises(ValueError):
        psnr_missing(x, torch.zeros(3, 4, 5), torch.zeros(4, 4, dtype=torch.bool))
    with pytest.raises(ValueError):
        psnr_missing(x, x, torch.zeros(4, 4, dtype=torch.bool), normalize="some")


def test_whole_image_psnr_and_ssim():
    rng = np.random.default_rng(0)
    truth = rng.uniform(0.2, 0.8, (3, 32, 32))
    est = truth + 0.01
    assert psnr(est, truth) == pytest.approx(40.0)
    assert psnr(torch.from_numpy(truth), torch.from_numpy(truth)) == math.inf
    assert ssim(truth, truth) == pytest.approx(1.0)
    assert ssim(truth[0], truth[0]) == pytest.approx(1.0)
    noisy = truth + rng.normal(0, 0.1, truth.shape)
    assert ssim(noisy, truth) < 0.9
    with pytest.raises(ValueError):
        ssim(np.zeros((2, 3, 8, 8)), np.zeros((2, 3, 8, 8)))


def test_rsre_rmse_mse():
    x = torch.tensor([[3.0, 0.0], [0.0, 4.0]], dtype=torch.float64)  # ||X||_F = 5
    x_hat = x + torch.tensor([[1.0, 0.0], [0.0, 0.0]], dtype=torch.float64)
    assert rsre(x_hat, x) == pytest.approx(0.2)
    assert mse(x_hat, x) == pytest.approx(0.25)
    assert rmse(x_hat, x) == pytest.approx(0.5)
    m = torch.tensor([[True, False], [False, False]])
    assert rmse(x_hat, x, m) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        rsre(x, torch.zeros(2, 2))
    with pytest.raises(ValueError):
        rmse(x, x, torch.zeros(2, 2, dtype=torch.bool))


def test_f_measure():
    truth = torch.tensor([True, True, False, False])
    pred = torch.tensor([True, False, True, False])
    pr = precision_recall(pred, truth)
    assert pr["precision"] == 0.5 and pr["recall"] == 0.5 and pr["f1"] == 0.5
    assert f_measure(pred, truth) == 0.5
    assert f_measure(truth, truth) == 1.0
    assert f_measure(~truth, truth) == 0.0
    none = torch.zeros(4, dtype=torch.bool)
    assert f_measure(none, none) == 1.0
    # F2 weighs recall: P = 1/3, R = 1 -> 5 * (1/3) / (4/3 + 1) = 5/7
    assert f_measure(torch.tensor([True, True, True, False]), torch.tensor([True, False, False, False]),
                     beta=2.0) == pytest.approx(5 / 7)
    with pytest.raises(TypeError):
        f_measure(pred.float(), truth)
