"""Differentiable, SVD-free matrix building blocks of EDLRR, and the released code's variants.

All functions take batches (*, m, n), keep dtype and device, and are differentiable by autograd.

Paper (Li et al., IJCAI 2025, Section 3.2)
    :func:`pinv_ben_israel`   Proposition 1: S_{i+1} = 2 S_i - S_i S S_i, S_0 = alpha S^T.
    :func:`sqrt_newton_schulz` Proposition 2: coupled Newton-Schulz iteration for A^{1/2}.
    :func:`project`          P_S[G] = S S^dagger G with the iterative pseudo-inverse
                             (:func:`projector_ben_israel`: the same iteration on S S_k).

As released (github.com/naiqili/EDLRR, ``calrank.py``; described in ../shared/GUIDE.md)
    :func:`sqrt_binomial_series`  sqrt(k) (I - sum_j |binom(1/2, j)| (I - A/k)^j), with
        k = 1.1 lambda_max(A) from an SVD of A on every call (so not SVD-free).
    :func:`pinv_tikhonov`         (S^T S + a I)^{-1} S^T followed by one Ben-Israel-Cohen step.
"""
from __future__ import annotations

import torch

__all__ = [
    "frobenius_norm",
    "pinv_ben_israel",
    "project",
    "projector_ben_israel",
    "sqrt_newton_schulz",
    "sqrt_binomial_series",
    "pinv_tikhonov",
    "root_chain",
    "safe_alpha",
]


def _tiny(dtype) -> float:
    return torch.finfo(dtype).tiny


def frobenius_norm(A: torch.Tensor) -> torch.Tensor:
    """||A||_F over the last two dims, shape (*, 1, 1), differentiable (zero gradient at 0)."""
    sq = (A * A).sum(dim=(-2, -1), keepdim=True)
    # sqrt of a clamped square: finite gradient at A = 0 (sqrt'(0) would be inf)
    return sq.clamp_min(_tiny(A.dtype)).sqrt()


def safe_alpha(S: torch.Tensor) -> torch.Tensor:
    """alpha = 1 / ||S||_F^2, which satisfies 0 < alpha <= 1/sigma_1^2 < 2/sigma_1^2 (Prop. 1)
    without an SVD, since ||S||_F >= sigma_1."""
    return 1.0 / frobenius_norm(S) ** 2


def pinv_ben_israel(S: torch.Tensor, iters: int, alpha: torch.Tensor | float | None = None) -> torch.Tensor:
    """Iterative pseudo-inverse S_k (*, n, m) of S (*, m, n) (EDLRR Proposition 1).

    S_0 = alpha S^T, S_{i+1} = 2 S_i - S_i S S_i. On each singular value the product S S_k acts as
    1 - (1 - alpha sigma^2)^(2^k), so k iterations resolve singular values with
    alpha sigma^2 >~ 2^-k. ``alpha`` defaults to :func:`safe_alpha`.

    References
    ----------
    Ben-Israel & Cohen, SIAM J. Numer. Anal. 3(3), 1966.
    """
    if alpha is None:
        alpha = safe_alpha(S)
    X = alpha * S.mT
    for _ in range(iters):
        X = 2 * X - X @ (S @ X)
    return X


def projector_ben_israel(S: torch.Tensor, iters: int, guard: float | None = None,
                         return_iters: bool = False):
    """P_k = S S_k (*, m, m), the projector of Proposition 1 after k iterations, computed on the
    Gram side: P_0 = alpha S S^T, P_{i+1} = 2 P_i - P_i^2 (which is S S_{i+1} for
    S_{i+1} = 2 S_i - S_i S S_i). The same matrices as ``S @ pinv_ben_israel(S, k)`` in exact
    arithmetic, at O(m^3) per iteration instead of O(m n^2).

    Parameters
    ----------
    S : Tensor (*, m, n)
    iters : int
        k, the number of iterations.
    guard : float, optional
        Stop each batch element at its last iterate whose eigenvalues are all >= -guard. The map
        x -> 2x - x^2 doubles a deviation from its fixed point 0, so rounding in the null space of
        S grows like eps 2^k: in float32 it reaches 1e-3 after about 14 iterations and then
        diverges to -inf for a rank-deficient S (or converges to 1, counting a direction that is
        not there). An eigenvalue below 0 can only come from that rounding; the test is one
        Cholesky factorisation of P + guard I per iteration (no gradient flows through it).
    return_iters : bool
        Also return the number of iterations each batch element ran, a (*,) integer tensor.
    """
    A = S @ S.mT
    P = safe_alpha(S) * A
    if guard is None:
        for _ in range(iters):
            P = 2 * P - P @ P
        return (P, torch.full(S.shape[:-2], iters, device=S.device)) if return_iters else P
    stopped = _indefinite(P, guard)
    ran = torch.zeros(S.shape[:-2], dtype=torch.long, device=S.device)
    for _ in range(iters):
        P_new = 2 * P - P @ P
        stopped = stopped | _indefinite(P_new, guard)
        P = torch.where(stopped[..., None, None], P, P_new)
        ran = ran + (~stopped).long()
        if bool(stopped.all()):
            break
    return (P, ran) if return_iters else P


def _indefinite(M: torch.Tensor, guard: float) -> torch.Tensor:
    """(*,) bool: the symmetric part of M has an eigenvalue below -guard, or M is not finite."""
    with torch.no_grad():
        sym = 0.5 * (M + M.mT)
        eye = torch.eye(M.shape[-1], dtype=M.dtype, device=M.device)
        info = torch.linalg.cholesky_ex(sym + guard * eye).info
        return (info > 0) | ~torch.isfinite(sym).all(-1).all(-1)


def project(S: torch.Tensor, G: torch.Tensor, iters: int) -> torch.Tensor:
    """P_S[G] ~= S S_k G, the projection of the columns of G (*, m, N) onto span(S), with the
    k-iteration Ben-Israel-Cohen pseudo-inverse (via :func:`projector_ben_israel`)."""
    return projector_ben_israel(S, iters) @ G


def sqrt_newton_schulz(A: torch.Tensor, iters: int, rtol: float | None = None, guard: float | None = None,
                       return_iters: bool = False):
    """Square root of a symmetric PSD A (*, m, m) by the coupled Newton-Schulz iteration
    (EDLRR Proposition 2).

    Y_0 = A / ||A||_F, Z_0 = I, Y_{k+1} = Y_k (3I - Z_k Y_k) / 2, Z_{k+1} = (3I - Z_k Y_k) Z_k / 2,
    A^{1/2} ~= sqrt(||A||_F) Y_k. The Frobenius normalisation puts the spectrum in [0, 1], where
    the iteration converges for every PSD input (quadratically once an eigenvalue is resolved;
    an eigenvalue mu of Y_0 needs about log(1/mu) / log(2.25) iterations to be resolved).
    Cost: 3 products of m x m matrices per iteration.

    Parameters
    ----------
    A : Tensor (*, m, m), symmetric positive semi-definite
    iters : int
        k, the number of iterations.
    rtol : float, optional
        Stop once ||Y_{k+1} - Y_k||_F <= rtol ||Y_k||_F (checked on the whole batch; one host
        synchronisation per iteration).
    guard : float, optional
        Stop each batch element at its last iterate Y_k whose Z_k Y_k has all eigenvalues >= -guard.
        In exact arithmetic Z_k Y_k has its eigenvalues in [0, 1]; on a singular A rounding in
        its null space grows by 2.25 per iteration (in float32 it reaches 1e-3 after about 11
        iterations and diverges after about 20). Tested by one Cholesky factorisation per
        iteration, without gradient.
    return_iters : bool
        Also return the number of iterations each batch element ran, a (*,) integer tensor.
    """
    norm = frobenius_norm(A)
    Y = A / norm
    eye = torch.eye(A.shape[-1], dtype=A.dtype, device=A.device).expand_as(A)
    Z = eye
    ran = torch.zeros(A.shape[:-2], dtype=torch.long, device=A.device)
    stopped = torch.zeros(A.shape[:-2], dtype=torch.bool, device=A.device)
    Y_prev, Z_prev = Y, Z
    for _ in range(iters):
        W = Z @ Y
        if guard is not None:
            # a pair that fails the test goes back to the previous one and stays there (T = I)
            bad = _indefinite(W, guard) & ~stopped
            Y = torch.where(bad[..., None, None], Y_prev, Y)
            Z = torch.where(bad[..., None, None], Z_prev, Z)
            stopped = stopped | bad
            ran = ran - bad.long()
            if bool(stopped.all()):
                break
            T = torch.where(stopped[..., None, None], eye, 1.5 * eye - 0.5 * W)
        else:
            T = 1.5 * eye - 0.5 * W
        Y_prev, Z_prev = Y, Z
        Y_new, Z = Y @ T, T @ Z
        ran = ran + (~stopped).long()
        if rtol is not None:
            with torch.no_grad():
                done = bool(((Y_new - Y).norm() <= rtol * Y.norm()).item())
            Y = Y_new
            if done:
                break
        else:
            Y = Y_new
    if guard is not None:
        bad = _indefinite(Z @ Y, guard) & ~stopped
        Y = torch.where(bad[..., None, None], Y_prev, Y)
        ran = ran - bad.long()
    root = norm.sqrt() * Y
    return (root, ran) if return_iters else root


def sqrt_binomial_series(A: torch.Tensor, terms: int, k_factor: float = 1.1) -> torch.Tensor:
    """Square root of a PSD A as the authors' release computes it (not SVD-free).

    k = ``k_factor`` * lambda_max(A), taken from an SVD of (detached) A on every call; then
    A^{1/2} = sqrt(k) (I - sum_{j=1}^{terms} |binom(1/2, j)| R^j), R = I - A / k, with dense
    matrix powers. The series converges slowly for the small eigenvalues of A (where R ~ I):
    its error there is about sum_{j > terms} |binom(1/2, j)| ~ 1 / sqrt(pi * terms).
    """
    lam_max = torch.linalg.svdvals(A.detach())[..., :1].unsqueeze(-1)
    k = (k_factor * lam_max).clamp_min(_tiny(A.dtype))
    eye = torch.eye(A.shape[-1], dtype=A.dtype, device=A.device).expand_as(A)
    R = eye - A / k
    power = eye
    acc = torch.zeros_like(A)
    c = 1.0
    for j in range(1, terms + 1):
        power = power @ R
        c *= (1.5 - j) / j  # binom(1/2, j) up to sign
        acc = acc + abs(c) * power
    return k.sqrt() * (eye - acc)


def pinv_tikhonov(S: torch.Tensor, reg: float = 0.1, iters: int = 1) -> torch.Tensor:
    """Pseudo-inverse (*, n, m) as the release computes it: X_0 = (S^T S + reg I)^{-1} S^T
    with ``torch.inverse``, then Ben-Israel-Cohen steps X <- 2X - X S X.

    The release runs its loop ``num_inv`` times but always restarts from X_0 (the assignment
    sits outside the loop), so exactly one step is applied whatever ``num_inv`` is: the
    release's behaviour is ``iters=1``. ``reg`` is absolute (0.1 in the release), so the
    result depends on the scale of S.
    """
    n = S.shape[-1]
    eye = torch.eye(n, dtype=S.dtype, device=S.device)
    X = torch.inverse(S.mT @ S + reg * eye) @ S.mT
    for _ in range(iters):
        X = 2 * X - X @ S @ X
    return X


def root_chain(A: torch.Tensor, levels: int, iters: int) -> list[torch.Tensor]:
    """[A^{1/2}, A^{1/4}, ..., A^{1/2^levels}] by repeated Newton-Schulz square roots."""
    roots = []
    M = A
    for _ in range(levels):
        M = sqrt_newton_schulz(M, iters)
        roots.append(M)
    return roots
