"""Singular value thresholding from the leading singular triplets only (partial SVD).

Both SVT and IRNN replace Y by U diag(max(sigma(Y) - t, 0)) V^T with thresholds t that do not
decrease along the (decreasing) singular values: a scalar tau (SVT) or the weights
w_i = lambda h'(sigma_i) of a concave h (IRNN). Only the triplets with sigma_i > t_i survive,
so it suffices to compute the leading k triplets for a k whose last singular value is already
thresholded to zero: every later one is smaller and meets a threshold at least as large.
Cai, Candes & Shen (2010, Section 5.1.1) compute them with PROPACK and grow k by ``increment``
until that holds; here the triplets come from a block subspace iteration (Halko, Martinsson &
Tropp 2011, Algorithm 4.4, with Rayleigh-Ritz and a residual test) warm-started from the previous
iterate's right singular vectors, which change little from one iteration to the next, with a
dense SVD once k exceeds a share of min(m, n). Torch only (any device, float32/float64).

References
----------
J.-F. Cai, E. J. Candes & Z. Shen, "A singular value thresholding algorithm for matrix
completion", SIAM J. Optim. 20(4), 2010, Section 5.1.1 (rank increments).
N. Halko, P.-G. Martinsson & J. A. Tropp, "Finding structure with randomness", SIAM Review
53(2), 2011, Algorithm 4.4 (randomized subspace iteration).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["ThresholdedSVD", "leading_svd", "threshold_svd", "check_svd_fields"]


def _orth(A: torch.Tensor) -> torch.Tensor:
    return torch.linalg.qr(A, mode="reduced").Q


def leading_svd(Y: torch.Tensor, k: int, *, start: torch.Tensor | None = None, max_iters: int = 30,
                tol: float | None = None, oversample: int = 10, generator: torch.Generator | None = None,
                thresholds: torch.Tensor | None = None):
    """The k leading singular triplets of the matrix ``Y`` (m, n) by block subspace iteration.

    Each iteration multiplies the current right Ritz vectors V (n, q), q = k + oversample, by Y,
    orthonormalises (Q), and takes the SVD of the small Q^T Y (Rayleigh-Ritz); it stops once every
    wanted triplet has a residual r_i = ||Y v_i - s_i u_i|| <= tol s_1 (Y^T u_i = s_i v_i holds
    exactly for Ritz vectors), or after ``max_iters`` iterations. With ``thresholds`` t (for a
    thresholded SVD) the wanted triplets are those with s_i > t_i, whose vectors enter the result,
    and the k-th must satisfy s_k + r_k <= t_k (it is thresholded to zero whatever its vectors).

    Parameters
    ----------
    Y : torch.Tensor
        (m, n), float32 or float64.
    k : int
        Triplets wanted, 1 <= k <= min(m, n).
    start : torch.Tensor, optional
        (n, r) start vectors (e.g. the previous right singular vectors); completed with Gaussian
        columns to q (drawn on CPU from ``generator``, then moved).
    max_iters : int
        Subspace iterations at most (30).
    tol : float, optional
        Residual tolerance relative to s_1 (default: the square root of the dtype's machine epsilon).
    oversample : int
        Extra columns of the subspace (10).
    thresholds : torch.Tensor, optional
        t_1..t_k, see above.

    Returns
    -------
    (U, s, Vh, iterations) : (m, k), (k,), (k, n), int
        Leading triplets, s decreasing. Cost O(2 m n q) per iteration; a good start (the previous
        iterate of SVT or IRNN) needs one or two.
    """
    m, n = Y.shape
    q = min(k + oversample, m, n)
    tol = torch.finfo(Y.dtype).eps ** 0.5 if tol is None else tol
    cols = []
    if start is not None and start.shape[-1] > 0:
        cols.append(start[:, :q].to(Y.dtype))
    have = sum(c.shape[-1] for c in cols)
    if have < q:
        cols.append(torch.randn(n, q - have, generator=generator, dtype=torch.float64).to(device=Y.device,
                                                                                         dtype=Y.dtype))
    V = _orth(torch.cat(cols, dim=1))
    U = s = Vh = None
    for it in range(max_iters + 1):
        Z = Y @ V
        if U is not None:
            resid = torch.linalg.vector_norm(Z[:, :k] - U[:, :k] * s[:k], dim=0)
            if thresholds is None:
                done = bool((resid <= tol * s[0]).all())
            else:
                wanted = s[:k] > thresholds[:k]
                done = bool((resid[wanted] <= tol * s[0]).all()) and (
                    bool(wanted[-1]) or float(s[k - 1] + resid[k - 1]) <= float(thresholds[k - 1]))
            if it == max_iters or done:
                return U[:, :k], s[:k], Vh[:k], it
        Q = _orth(Z)
        Ub, s, Vh = torch.linalg.svd(Q.mT @ Y, full_matrices=False)
        U = Q @ Ub
        V = Vh.mT
    return U[:, :k], s[:k], Vh[:k], max_iters


@dataclass
class ThresholdedSVD:
    """Result of :func:`threshold_svd`: X = U diag(s_new) Vh and the bookkeeping."""

    X: torch.Tensor
    s_new: torch.Tensor   # the thresholded singular values, length min(m, n) (zeros after rank)
    Vh: torch.Tensor      # right singular vectors of the kept triplets (rank, n)
    computed: int         # triplets computed (min(m, n) for a dense SVD)
    dense: bool
    iterations: int       # subspace iterations of all attempts (0 for a dense SVD)


def threshold_svd(Y: torch.Tensor, thresholds, *, guess: int, increment: int = 5, dense_share: float = 0.25,
                  start: torch.Tensor | None = None, max_iters: int = 30, tol: float | None = None,
                  oversample: int = 10, generator: torch.Generator | None = None) -> ThresholdedSVD:
    """U diag(max(sigma(Y) - t, 0)) V^T from the leading triplets of Y only.

    Parameters
    ----------
    Y : torch.Tensor
        (m, n).
    thresholds : float or torch.Tensor
        A scalar t, or t_i (length min(m, n)) non-decreasing in i (weighted SVT with
        non-decreasing weights, IRNN eq. (10)); ``inf`` allowed.
    guess : int
        First number of triplets to compute (e.g. the previous rank + 1, Cai et al.'s s_k).
    increment : int
        Added to k while the k-th computed singular value exceeds its threshold (5, Cai et al.).
    dense_share : float
        Use a dense SVD once k exceeds this share of min(m, n) (0.25; 1 never switches, 0 always dense).
    start, max_iters, tol, oversample, generator
        See :func:`leading_svd`.

    Returns
    -------
    ThresholdedSVD
        Exact up to the accuracy of the computed triplets: every triplet not computed has a
        singular value at most the last computed one and a threshold at least its threshold.
    """
    m, n = Y.shape
    r = min(m, n)
    t_full = torch.as_tensor(thresholds, dtype=Y.dtype, device=Y.device)
    t_full = t_full.expand(r) if t_full.ndim == 0 else t_full
    k = max(1, min(int(guess), r))
    iterations = 0
    while True:
        if k > dense_share * r:
            U, s, Vh = torch.linalg.svd(Y, full_matrices=False)
            dense = True
        else:
            U, s, Vh, its = leading_svd(Y, k, start=start, max_iters=max_iters, tol=tol, oversample=oversample,
                                        generator=generator, thresholds=t_full[:k])
            iterations += its
            dense = False
        kept = (s - t_full[:s.shape[0]]).clamp_min(0)
        if dense or s.shape[0] == r or kept[-1] == 0:
            break
        k = min(k + increment, r)
    rank = int((kept > 0).sum())
    X = (U[:, :rank] * kept[:rank]) @ Vh[:rank]
    s_new = torch.zeros(r, dtype=Y.dtype, device=Y.device)
    s_new[:rank] = kept[:rank]
    return ThresholdedSVD(X, s_new, Vh[:rank], s.shape[0], dense, iterations)


def check_svd_fields(solver) -> None:
    """Check the fields a solver passes to :func:`threshold_svd` (``svd``, ``subspace_iters``,
    ``subspace_tol``, ``increment``, ``dense_share``, ``seed``); one-line ``ValueError``/``TypeError``."""
    from .base import check_choice, check_int, check_positive

    check_choice(solver.svd, "svd", ("dense", "partial"))
    check_int(solver.subspace_iters, "subspace_iters")
    if solver.subspace_tol is not None:
        check_positive(solver.subspace_tol, "subspace_tol")
    check_int(solver.increment, "increment")
    if not 0 <= solver.dense_share <= 1:
        raise ValueError(f"dense_share must lie in [0, 1], got {solver.dense_share}")
    check_int(solver.seed, "seed", minimum=0)
