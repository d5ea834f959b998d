"""Deflated stochastic Lanczos quadrature: a fast, SVD-free-in-the-large estimator of
R(S) = sum_i h(sigma_i(S)) (``internals="krylov"``, the ``"fast"`` preset; beyond the EDLRR paper).

With X = S / c (c = ||S||_F, a constant) and A = X X^T (the smaller Gram side), the estimate is

    R ~= sum_j h(c theta_j)  +  (1/N) sum_i (m - k) e1^T f(T_i) e1,       f(lambda) = h(c sqrt(lambda))

1. **Head** (randomized range finder, Halko, Martinsson & Tropp 2011, Alg. 4.4): Q = orth(A^q X Omega)
   with k columns (no gradient flows through Q), theta = svdvals(Q^T X): an exact SVD of a k x n
   matrix (Rayleigh-Ritz). An exactly rank-r matrix with k >= r is captured exactly.
2. **Tail** (deflated Hutchinson, as in Hutch++, Meyer, Musco, Musco & Woodruff 2021): tr f(P A P),
   P = I - Q Q^T, with probes z uniform on the sphere of radius sqrt(m - k) in range(P) (XTrace's
   normalisation, Epperly, Tropp & Webber 2023: an identity-like tail costs no variance).
3. **Quadrature** (stochastic Lanczos quadrature, Ubaru, Chen & Saad 2017): z^T f(PAP) z ~= ||z||^2
   e1^T f(T) e1 with T the d x d Lanczos matrix (full reorthogonalisation). h is evaluated exactly
   at the Ritz values, so no series is needed and any penalty works, including those whose Taylor
   series diverges at the singular values.

The gradient is the exact derivative of this estimate: autograd through the products and the
Lanczos recurrence, and a custom backward for e1^T f(T) e1 from Daleckii-Krein divided
differences, which stay finite when Ritz values repeat (breakdown, repeated or zero singular
values). The standard error over the N probes is returned with the value.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch

from .probes import sample_probes

__all__ = ["SpectralFunction", "spectral_sum", "gauss_quadrature"]


@dataclass(frozen=True)
class SpectralFunction:
    """h on singular values: ``value`` and ``derivative`` (elementwise torch functions), and
    ``cut_zero``: singular values at or below the rank tolerance contribute nothing (the rank,
    and penalties with h(0) != 0, as :func:`edlrr.exact.lrr`)."""

    value: Callable[[torch.Tensor], torch.Tensor]
    derivative: Callable[[torch.Tensor], torch.Tensor]
    cut_zero: bool = False


def _lambda_function(h: SpectralFunction, c: float, tol: torch.Tensor):
    """f(lambda) = h(c sqrt(lambda)) and f'(lambda) on eigenvalues of X X^T, with the zero cut.

    ``tol`` (broadcastable) is the rank tolerance in units of S's singular values. Below it a
    node counts as a zero singular value: f' = 0 there (the minimal-norm subgradient, finite
    for sqrt-type h), and f = 0 as well when ``h.cut_zero``.
    """

    def f(lam):
        sigma = c * lam.clamp_min(0).sqrt()
        if not h.cut_zero:
            return h.value(sigma)
        return torch.where(sigma > tol, h.value(sigma), torch.zeros_like(sigma))

    def alive(lam):
        return c * lam.clamp_min(0).sqrt() > tol

    def fprime(lam):
        # clamp away from 0: f' of sqrt-type penalties is infinite there; the divided differences
        # that use it are multiplied by Ritz weights that vanish for such (spurious) nodes
        floor = torch.finfo(lam.dtype).eps * lam.abs().amax(-1, keepdim=True).clamp_min(torch.finfo(lam.dtype).tiny)
        lam = torch.maximum(lam, floor)
        root = lam.sqrt()
        sigma = c * root
        d = h.derivative(sigma) * c / (2 * root)
        return torch.where(sigma > tol, d, torch.zeros_like(d))

    return f, fprime, alive


class _GaussQuadrature(torch.autograd.Function):
    """e1^T f(T) e1 for symmetric T (*, d, d); backward by Daleckii-Krein divided differences.

    Eigenvalues where ``alive`` is false are treated as exact zeros of a function whose
    derivative there is 0 (the minimal-norm subgradient at zero singular values).
    """

    @staticmethod
    def forward(ctx, T, f, fprime, alive):
        theta, U = torch.linalg.eigh(T)
        u = U[..., 0, :]
        ctx.save_for_backward(theta, U)
        ctx.fns = f, fprime, alive
        return (u * u * f(theta)).sum(-1)

    @staticmethod
    def backward(ctx, grad):
        theta, U = ctx.saved_tensors
        f, fprime, alive = ctx.fns
        live = alive(theta)
        theta = torch.where(live, theta, torch.zeros_like(theta))
        ft = f(theta)
        diff = theta[..., :, None] - theta[..., None, :]
        scale = theta.abs().amax(-1, keepdim=True)[..., None].clamp_min(torch.finfo(theta.dtype).tiny)
        close = diff.abs() <= 1e3 * torch.finfo(theta.dtype).eps * scale
        mid = 0.5 * (theta[..., :, None] + theta[..., None, :])
        slope = fprime(mid.flatten(-2)).reshape(mid.shape)
        safe = torch.where(close, torch.ones_like(diff), diff)
        F = torch.where(close, slope, (ft[..., :, None] - ft[..., None, :]) / safe)
        F = torch.where(live[..., :, None] | live[..., None, :], F, torch.zeros_like(F))
        u = U[..., 0, :]
        M = F * (u[..., :, None] * u[..., None, :])
        gT = U @ M @ U.mT
        return gT * grad[..., None, None], None, None, None


def gauss_quadrature(T: torch.Tensor, f, fprime, alive=None) -> torch.Tensor:
    """e1^T f(T) e1 (differentiable in T, finite gradient for repeated eigenvalues).

    ``alive(theta)``: which eigenvalues are nonzero for the derivative (default: all)."""
    alive = (lambda t: torch.ones_like(t, dtype=torch.bool)) if alive is None else alive
    return _GaussQuadrature.apply(T, f, fprime, alive)


def _orth(Y: torch.Tensor) -> torch.Tensor:
    return torch.linalg.qr(Y).Q


def range_basis(X: torch.Tensor, k: int, power_iters: int, generator) -> torch.Tensor:
    """Q (*, m, k), orthonormal, spanning (X X^T)^q X Omega (Halko et al. 2011, Alg. 4.4); no grad."""
    with torch.no_grad():
        n = X.shape[-1]
        Omega = sample_probes(X.shape[:-2], n, k, generator=generator, dtype=X.dtype, device=X.device)
        Y = X @ Omega
        for _ in range(power_iters):
            Y = X @ (X.mT @ _orth(Y))
        return _orth(Y)


def _deflate(Q, V):
    return V if Q is None else V - Q @ (Q.mT @ V)


class _CachedProduct(torch.autograd.Function):
    """X^T V for a fixed V whose product was already computed (``XtV``): returns it, and
    backpropagates grad_X = V grad^T as one product."""

    @staticmethod
    def forward(ctx, X, V, XtV):
        ctx.save_for_backward(V)
        return XtV

    @staticmethod
    def backward(ctx, grad):
        (V,) = ctx.saved_tensors
        return V @ grad.mT, None, None


def lanczos_basis(X: torch.Tensor, V0: torch.Tensor, steps: int, Q: torch.Tensor | None = None,
                  rtol: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Lanczos vectors of A = P X X^T P (P = I - Q Q^T) from the unit columns of V0 (*, m, N).

    Returns the orthonormal basis (*, m, N * d) (column block j holds the j-th vectors of all
    N probes) and X^T times it (*, n, N * d), both without gradient. Full reorthogonalisation
    against the vectors of the same probe and against Q. A probe whose Krylov space is exhausted
    (beta <= rtol * max |alpha|) stops there: its further vectors are zero and add a decoupled
    zero block that carries no quadrature weight.
    """
    eps = torch.finfo(V0.dtype).eps
    rtol = 1e3 * eps if rtol is None else rtol
    with torch.no_grad():
        basis, products = [V0], []
        V, V_prev, b_prev = V0, None, None
        amax = torch.zeros(V0.shape[:-2] + V0.shape[-1:], dtype=V0.dtype, device=V0.device)
        for _ in range(steps - 1):
            XtV = X.mT @ V
            products.append(XtV)
            W = _deflate(Q, X @ XtV)
            a = (V * W).sum(-2)
            amax = torch.maximum(amax, a.abs())
            W = W - a[..., None, :] * V
            if V_prev is not None:
                W = W - b_prev[..., None, :] * V_prev
            B = torch.stack(basis, dim=-1)  # (*, m, N, j + 1)
            W = W - torch.einsum("...mnj,...nj->...mn", B, torch.einsum("...mnj,...mn->...nj", B, W))
            W = _deflate(Q, W)
            b = W.norm(dim=-2)
            # X is scaled to ||X||_F = 1, so ||A|| <= 1 and eps is the roundoff level of P A P
            ok = b > torch.clamp_min(rtol * amax, eps)
            V_next = torch.where(ok[..., None, :], W / torch.where(ok, b, 1.0)[..., None, :], 0.0)
            basis.append(V_next)
            V_prev, V, b_prev = V, V_next, torch.where(ok, b, 0.0)
        products.append(X.mT @ V)
        return torch.cat(basis, dim=-1), torch.cat(products, dim=-1)


def spectral_sum(X: torch.Tensor, h: SpectralFunction, *, sketch: int, power_iters: int, probes: int,
                 lanczos_steps: int, generator=None, rank_rtol: float | None = None):
    """Estimate sum_i h(sigma_i(X)) and its standard error, both shape (*,). X is (*, m, n), m <= n.

    ``sketch`` (k) columns deflated exactly, ``probes`` (N) sphere probes on the rest with
    ``lanczos_steps`` (d) Lanczos steps each: k (2 q + 1) + 2 N d products by X or X^T. When
    k + N >= m the exact singular values are cheaper and are used (standard error 0).
    ``rank_rtol``: singular values below rank_rtol * sigma_1 count as zero where ``h.cut_zero``
    (default max(m, n) * eps, as :func:`torch.linalg.matrix_rank`).
    """
    m, n = X.shape[-2:]
    if m > n:
        raise ValueError(f"spectral_sum expects m <= n (work on the smaller Gram side), got {m} x {n}")
    eps = torch.finfo(X.dtype).eps
    rank_rtol = max(m, n) * eps if rank_rtol is None else rank_rtol
    c = float(torch.linalg.matrix_norm(X.detach(), "fro").amax())
    c = c if c > 0 and math.isfinite(c) else 1.0
    Xn = X / c
    zero = X.new_zeros(X.shape[:-2])

    def head_sum(theta):
        sigma = c * theta
        tol = rank_rtol * sigma[..., :1].detach()
        live = sigma > tol
        # singular values at or below tol are zeros: no gradient through them (h' may be infinite)
        vals = h.value(torch.where(live, sigma, sigma.detach()))
        if h.cut_zero:
            vals = torch.where(live, vals, torch.zeros_like(vals))
        return vals.sum(-1) + 0.0 * sigma.sum(-1), tol  # keeps the graph for a piecewise-constant h

    if sketch + probes >= m:
        value, _ = head_sum(torch.linalg.svdvals(Xn))
        return value, zero

    Q, value = None, zero
    tol = None
    if sketch > 0:
        Q = range_basis(Xn, sketch, power_iters, generator)
        value, tol = head_sum(torch.linalg.svdvals(Q.mT @ Xn))

    G = sample_probes(X.shape[:-2], m, probes, generator=generator, dtype=X.dtype, device=X.device)
    G = _deflate(Q, _deflate(Q, G))
    V0 = G / G.norm(dim=-2, keepdim=True)
    basis, XtV = lanczos_basis(Xn.detach(), V0.detach(), lanczos_steps, Q)  # (*, m | n, d N)
    # T_i = V_i^T X X^T V_i, differentiable in X through the one product X^T V (subspaces fixed)
    Y = _CachedProduct.apply(Xn, basis, XtV)
    Y = Y.unflatten(-1, (lanczos_steps, probes)).movedim(-1, -3)  # (*, N, n, d)
    T = Y.mT @ Y
    if tol is None:  # no head: sigma_1 from the largest Ritz value
        top = torch.linalg.eigvalsh(T.detach()).amax((-2, -1)).clamp_min(0).sqrt()
        tol = rank_rtol * c * top[..., None]
    f, fprime, alive = _lambda_function(h, c, tol[..., None])
    samples = (m - (0 if Q is None else Q.shape[-1])) * gauss_quadrature(T, f, fprime, alive)  # (*, N)
    tail = samples.mean(-1)
    stderr = samples.detach().std(-1) / math.sqrt(probes) if probes > 1 else torch.full_like(tail, math.nan)
    return value + tail, stderr
