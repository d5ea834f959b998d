"""Scores used by the papers, and a few of ours.

=====================  ==============================================  ===================
metric                 definition                                      used for
=====================  ==============================================  ===================
:func:`psnr_missing`   PSNR on the missing pixels only;                EDLRR Table 1
                       ``normalize="missing"`` (default): the mean     (release code),
                       squared error over the missing entries (EDLRR   DLRL Table II
                       release, ``metric_utils.MSE``);                 (``"all"``, eq. 49)
                       ``normalize="all"``: the same sum divided by
                       all ``3mn`` entries, DLRL eq. (49) as printed
:func:`psnr`           whole-image PSNR (``skimage.metrics``)          ours (extra column),
                                                                       video background
:func:`ssim`           whole-image SSIM (``skimage.metrics``)          ours (extra column)
:func:`rsre`           ``||X_hat - X||_F / ||X||_F``                   DLRL Fig. 3
:func:`rmse`           ``sqrt(mean((x - x_hat)^2))``                   DLRL Table III,
                                                                       eq. (48)
:func:`f_measure`      F1 of a predicted foreground mask               ours (video; EDLRR
                                                                       Fig. 2 has no score)
=====================  ==============================================  ===================

The two normalisations of :func:`psnr_missing` differ by ``10 log10(1 / share_missing)``
dB (e.g. +3.98 dB at 40% missing, +9.1 dB for the authors' text mask): a table must say
which one it uses. Images are in ``[0, 1]`` so the peak is ``data_range=1`` (eq. 49 writes
255 for 8-bit values: the same number). No metric clips the estimate; the caller decides.

Inputs may be torch tensors or NumPy arrays; every function returns a Python ``float``.

References
----------
.. [1] EDLRR: N. Li et al., "Efficient Differentiable Approximation of Generalized Low-rank
   Regularization", IJCAI 2025, Sec. 4.1, Table 1; release ``metric_utils.py``.
.. [2] DLRL: Z. Chen, J. Yao, G. Xiao and S. Wang, "Efficient and Differentiable Low-rank
   Matrix Completion with Back Propagation", IEEE TMM 2021, eqs. (48), (49), Sec. IV-D.
.. [3] Z. Wang, A. C. Bovik, H. R. Sheikh and E. P. Simoncelli, "Image quality assessment:
   from error visibility to structural similarity", IEEE TIP 13(4), 2004 (SSIM).
.. [4] C. J. van Rijsbergen, "Information Retrieval", 2nd ed., 1979 (F-measure).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ._common import check_choice, check_float

__all__ = [
    "background_psnr",
    "f_measure",
    "mse",
    "precision_recall",
    "psnr",
    "psnr_from_mse",
    "psnr_missing",
    "rmse",
    "rsre",
    "ssim",
]


def _t(x, name: str) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x.detach().to("cpu", torch.float64)
    arr = np.asarray(x)
    if arr.dtype == object:
        raise TypeError(f"{name} must be a tensor or a numeric array")
    return torch.from_numpy(arr.astype(np.float64))


def _pair(estimate, truth) -> tuple[torch.Tensor, torch.Tensor]:
    e, t = _t(estimate, "estimate"), _t(truth, "truth")
    if e.shape != t.shape:
        raise ValueError(f"estimate shape {tuple(e.shape)} != truth shape {tuple(t.shape)}")
    if e.numel() == 0:
        raise ValueError("empty inputs")
    return e, t


def _mask(mask, shape) -> torch.Tensor:
    m = mask.detach().cpu() if isinstance(mask, torch.Tensor) else torch.from_numpy(np.asarray(mask))
    if m.dtype != torch.bool:
        raise TypeError(f"mask must be boolean (True = observed), got {m.dtype}")
    try:
        return torch.broadcast_to(m, shape)
    except RuntimeError:
        raise ValueError(f"mask shape {tuple(m.shape)} does not broadcast to {tuple(shape)}") from None


def psnr_from_mse(mse_value: float, data_range: float = 1.0) -> float:
    """``10 log10(data_range^2 / mse)``; ``inf`` when ``mse == 0``."""
    data_range = check_float("data_range", data_range, 0.0, min_inclusive=False)
    mse_value = check_float("mse", mse_value, 0.0)
    return math.inf if mse_value == 0 else 10.0 * math.log10(data_range**2 / mse_value)


def mse(estimate, truth, mask=None) -> float:
    """Mean squared error, over the entries where ``mask`` is True (all if ``mask`` is None)."""
    e, t = _pair(estimate, truth)
    d = (e - t) ** 2
    if mask is not None:
        m = _mask(mask, d.shape)
        if not bool(m.any()):
            raise ValueError("mask selects no entry")
        d = d[m]
    return float(d.mean())


def rmse(estimate, truth, mask=None) -> float:
    """Root mean squared error, ``sqrt(mse)`` (DLRL eq. 48 with ``mask`` = test entries).

    (The DLRL release prints the mean squared error under the name "RMSE"; this is the root.)
    """
    return math.sqrt(mse(estimate, truth, mask))


def rsre(estimate, truth) -> float:
    """Relative square root error ``||X_hat - X||_F / ||X||_F`` (DLRL Sec. IV-D, Fig. 3)."""
    e, t = _pair(estimate, truth)
    denom = float(torch.linalg.vector_norm(t))
    if denom == 0:
        raise ValueError("RSRE is undefined for a zero truth")
    return float(torch.linalg.vector_norm(e - t)) / denom


def psnr_missing(estimate, truth, mask, *, data_range: float = 1.0, normalize: str = "missing") -> float:
    """PSNR on the missing pixels.

    Parameters
    ----------
    estimate, truth : tensor or array
        ``(*, H, W)``, e.g. ``(3, H, W)`` images in ``[0, 1]``.
    mask : bool tensor or array
        ``True`` = observed, broadcastable to ``truth`` (an ``(H, W)`` mask is shared by
        the channels). Only the entries where it is False are scored.
    data_range : float
        Peak value (1 for images in [0, 1]; 255 for 8-bit values).
    normalize : {"missing", "all"}
        ``"missing"``: ``MSE = sum_missing (x_hat - x)^2 / #missing entries`` (EDLRR
        release ``metric_utils.MSE``, behind EDLRR Table 1). ``"all"``: the same sum divided
        by every entry, ``3mn`` for an image: DLRL eq. (49) as printed.

    Returns
    -------
    float
        ``10 log10(data_range^2 / MSE)`` (``inf`` for a perfect completion).

    Examples
    --------
    >>> import torch
    >>> x = torch.zeros(3, 2, 2); m = torch.tensor([[True, False], [True, True]])
    >>> y = x.clone(); y[:, 0, 1] = 0.1               # error 0.1 on the missing pixel
    >>> round(psnr_missing(y, x, m), 6)               # MSE = 0.01
    20.0
    >>> round(psnr_missing(y, x, m, normalize="all"), 6)  # MSE = 0.03 / 12
    26.0206
    """
    check_choice("normalize", normalize, ("missing", "all"))
    e, t = _pair(estimate, truth)
    missing = ~_mask(mask, t.shape)
    n_missing = int(missing.sum())
    if n_missing == 0:
        raise ValueError("no missing entry: PSNR on the missing pixels is undefined")
    sq = float(((e - t) ** 2)[missing].sum())
    denom = n_missing if normalize == "missing" else t.numel()
    return psnr_from_mse(sq / denom, data_range)


def psnr(estimate, truth, *, data_range: float = 1.0) -> float:
    """Whole-image PSNR with ``skimage.metrics.peak_signal_noise_ratio`` (``inf`` if equal)."""
    from skimage.metrics import peak_signal_noise_ratio

    e, t = _pair(estimate, truth)
    data_range = check_float("data_range", data_range, 0.0, min_inclusive=False)
    if torch.equal(e, t):
        return math.inf
    return float(peak_signal_noise_ratio(t.numpy(), e.numpy(), data_range=data_range))


def background_psnr(estimate, truth, *, data_range: float = 1.0) -> float:
    """PSNR of an estimated video background against the true one, over all frames (ours).

    ``estimate`` / ``truth``: ``(t, H, W)`` frames or ``(ab, t)`` matrices (same layout).
    """
    return psnr(estimate, truth, data_range=data_range)


def ssim(estimate, truth, *, data_range: float = 1.0) -> float:
    """Whole-image SSIM with ``skimage.metrics.structural_similarity`` (Wang et al. 2004).

    ``(H, W)`` inputs are one channel; ``(C, H, W)`` inputs have their channels on axis 0
    (SSIM averaged over channels). Default skimage window (7 x 7, uniform).
    """
    from skimage.metrics import structural_similarity

    e, t = _pair(estimate, truth)
    data_range = check_float("data_range", data_range, 0.0, min_inclusive=False)
    if t.ndim == 2:
        return float(structural_similarity(t.numpy(), e.numpy(), data_range=data_range))
    if t.ndim == 3:
        return float(structural_similarity(t.numpy(), e.numpy(), data_range=data_range, channel_axis=0))
    raise ValueError(f"ssim expects (H, W) or (C, H, W) inputs, got shape {tuple(t.shape)}")


def precision_recall(predicted, truth) -> dict[str, float]:
    """Precision, recall and F1 of a predicted bool mask against the true one.

    Returns a dict with ``precision``, ``recall``, ``f1``, ``tp``, ``fp``, ``fn``.
    Conventions (ours): with no true and no predicted positive all three scores are 1;
    otherwise an empty ratio (0 / 0) is 0.
    """
    p = predicted.detach().cpu() if isinstance(predicted, torch.Tensor) else torch.from_numpy(np.asarray(predicted))
    g = truth.detach().cpu() if isinstance(truth, torch.Tensor) else torch.from_numpy(np.asarray(truth))
    if p.dtype != torch.bool or g.dtype != torch.bool:
        raise TypeError("predicted and truth must be boolean masks")
    if p.shape != g.shape:
        raise ValueError(f"predicted shape {tuple(p.shape)} != truth shape {tuple(g.shape)}")
    tp, fp, fn = int((p & g).sum()), int((p & ~g).sum()), int((~p & g).sum())
    if tp + fp + fn == 0:
        return {"precision": 1.0, "recall": 1.0, "f1": 1.0, "tp": 0, "fp": 0, "fn": 0}
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * tp / (2 * tp + fp + fn)
    return {"precision": precision, "recall": recall, "f1": f1, "tp": tp, "fp": fp, "fn": fn}


def f_measure(predicted, truth, *, beta: float = 1.0) -> float:
    """F-measure ``(1 + b^2) P R / (b^2 P + R)`` of a predicted foreground mask (van Rijsbergen).

    Used (by our choice) to score fore/background separation on synthetic video, whose
    true foreground masks are known. Both empty -> 1.0; no true positive otherwise -> 0.0.
    """
    beta = check_float("beta", beta, 0.0, min_inclusive=False)
    pr = precision_recall(predicted, truth)
    if pr["tp"] + pr["fp"] + pr["fn"] == 0:
        return 1.0
    tp, fp, fn = pr["tp"], pr["fp"], pr["fn"]
    b2 = beta * beta
    return (1 + b2) * tp / ((1 + b2) * tp + b2 * fn + fp)
