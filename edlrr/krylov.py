"""Deflated stochastic Lanczos quadrature: a fast estimator of R(S) = sum_i h(sigma_i(S))
(``method="krylov"``, and ``"auto"``'s algorithm above its dense size; beyond the EDLRR paper).

With X = S (or S^T, so that A = X X^T is the smaller Gram matrix, m x m):

    R ~= sum_j h(theta_j)  +  (1/N) sum_i (m - k) e1^T f(T_i) e1,      f(lambda) = h(sqrt(lambda))

1. **Head** (randomized range finder, Halko, Martinsson & Tropp 2011, Alg. 4.4): Q = orth(A^q X Omega)
   with k columns, theta = svdvals(Q^T X), an SVD of a k x n matrix (Rayleigh-Ritz). An exactly
   rank-r matrix with k >= r is captured exactly.
2. **Tail** (deflated Hutchinson, as in Hutch++, Meyer, Musco, Musco & Woodruff 2021): tr f(P A P),
   P = I - Q Q^T, with probes uniform on the sphere of radius sqrt(m - k) in range(P) (XTrace's
   normalisation, Epperly, Tropp & Webber 2023: an identity-like tail costs no variance), and a
   control variate: the same probes estimate tr(P A P) = ||X||_F^2 - ||Q^T X||_F^2, known exactly.
3. **Quadrature** (stochastic Lanczos quadrature, Ubaru, Chen & Saad 2017): z^T f(P A P) z ~=
   ||z||^2 e1^T f(T) e1 with T the d x d Lanczos matrix (full reorthogonalisation); for
   sqrt-like h the Gauss and Gauss-Radau(0) rules (Golub & Meurant 2010) bracket the truth;
   the estimate extrapolates their mean from d' = 2d/3 to d nodes (Richardson, error ~ d^-2)
   and clamps it into that bracket. h is evaluated at Ritz values, so no series is needed and every penalty
   works, including those whose Taylor series diverges at the singular values.

Head and tail split tr f(A) by pinching (Q^T A P is dropped): exact when range(Q) is invariant
(low rank, fast decay), a small bias otherwise, measured by ``edlrr-bench fast``.

Gradient: the subspaces (Q and the Lanczos vectors) are random quantities computed without
gradient. The head is differentiated exactly through Q^T X. The tail's gradient is by default
("projected") the projection of the true one onto the tail X_t = P X itself, c X_t with
c = tr g(P A P) / ||X_t||_F^2, g(lambda) = h'(sigma) sigma estimated by the same quadrature:
where the tail carries much of the gradient (U V^T of a full-rank matrix) differentiating the
few-probe estimate ("stochastic": one product X^T V back and a custom backward of the small
eigenproblems, Daleckii-Krein divided differences, finite when Ritz values repeat) is unbiased
but mostly noise (cosine ~0.15 with the exact gradient at n = 1024, against ~0.85 projected).
``"rational"`` fits
h'(sigma) ~= sigma (alpha + sum_p beta_p / (1 + c_p sigma^2)) on the quadrature nodes (two poles)
and applies alpha X_t + sum_p beta_p (I + c_p A_t)^{-1} X_t with Cholesky solves of the tail's
Gram matrix (in float32): for the nuclear norm each pole is a step of the QDWH iteration for the
polar factor U V^T, and the cosine with the exact gradient reaches ~0.99 also where the tail
carries most of the gradient, at the cost of about 1 + 7/3 extra m x m x n products and two m x m
matrices. Otherwise the extra memory is O((m + n)(k + N d)) besides
the gradient itself: no m x n temporary is formed. Singular values at or below the rank tolerance
count as zeros: they add nothing and pass no gradient (the minimal-norm subgradient).

**Dense path** (``dense_below``): for small matrices the products above cost more than one
eigendecomposition of the m x m Gram matrix in float64 (``dense_spectral_sum``), which is also
faster than ``svdvals`` forward+backward in float64 (not in float32: the crossover table of
``edlrr-bench fast``), and exact but for singular values below sqrt(m eps_64) sigma_1
(~3e-7 sigma_1 at m = 300), which count as zeros.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch

from .probes import sample_probes

__all__ = ["SpectralFunction", "spectral_sum", "dense_spectral_sum", "quadrature_error", "pinching_error",
           "fit_rational_tail", "bracketed_quadrature", "gauss_quadrature", "radau_matrix", "range_basis",
           "lanczos_basis", "xt_times", "x_times"]


@dataclass(frozen=True)
class SpectralFunction:
    """h on singular values: ``value`` and ``derivative`` (elementwise torch functions).

    Singular values at or below the rank tolerance count as zeros and contribute nothing (so
    h(0) must be 0, or ``cut_zero`` set: the rank, and penalties with h(0) != 0, as
    :func:`edlrr.exact.lrr`)."""

    value: Callable[[torch.Tensor], torch.Tensor]
    derivative: Callable[[torch.Tensor], torch.Tensor]
    cut_zero: bool = False
    bernstein: bool = False
    """f(lambda) = h(sqrt(lambda)) is a Bernstein function (f >= 0 with a completely monotone
    derivative: sqrt, lambda^(p/2) for p <= 2, and h(sqrt) for every concave penalty of
    :func:`edlrr.penalty`): Gauss and Gauss-Radau quadrature then bracket the truth and their
    mean is used."""
    step: bool = False
    """h is 1 above the rank tolerance (the rank): f is a step at tol^2, and what a probe's
    quadrature knows of it is a mass, bracketed by the Chebyshev-Markov-Stieltjes inequalities
    (:func:`edlrr.bidiagonal.moment_bracket`)."""

    @property
    def keeps_small(self) -> bool:
        """h(0) = 0 and h'(0) finite (the nuclear norm, Schatten p >= 1, every penalty of
        :func:`edlrr.penalty` with h(0) = 0): a tolerance below that of the input's dtype is safe
        (the dense path's, see :func:`dense_spectral_sum`)."""
        if self.cut_zero:
            return False
        return bool(torch.isfinite(self.derivative(torch.zeros(1, dtype=torch.float64))).all())


def _lambda_function(h: SpectralFunction, tol: torch.Tensor):
    """f(lambda) = h(sqrt(lambda)) and f'(lambda) on eigenvalues of X X^T, with the zero cut.

    ``tol`` (broadcastable) is the rank tolerance on singular values. Below it a node counts as
    a zero singular value (numerical rank): f = 0 (h(0) = 0, or the cut of ``h.cut_zero``) and
    f' = 0 (the minimal-norm subgradient, finite for sqrt-type h).
    """

    def f(lam):
        sigma = lam.clamp_min(0).sqrt()
        return torch.where(sigma > tol, h.value(sigma), torch.zeros_like(sigma))

    def alive(lam):
        return lam.clamp_min(0).sqrt() > tol

    def fprime(lam):
        # clamp away from 0: f' of sqrt-type penalties is infinite there; the divided differences
        # that use it are multiplied by Ritz weights that vanish for such (spurious) nodes
        floor = torch.finfo(lam.dtype).eps * lam.abs().amax(-1, keepdim=True).clamp_min(torch.finfo(lam.dtype).tiny)
        sigma = torch.maximum(lam, floor).sqrt()
        d = h.derivative(sigma) / (2 * sigma)
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
        ctx.save_for_backward(theta, U)
        ctx.fns = f, fprime, alive
        return (U[..., 0, :].square() * f(theta)).sum(-1)

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
        uu = u[..., :, None] * u[..., None, :]
        M = torch.where(uu == 0, torch.zeros_like(F), F * uu)  # unweighted nodes, even where F = inf
        gT = U @ M @ U.mT
        return gT * grad[..., None, None], None, None, None


def gauss_quadrature(T: torch.Tensor, f, fprime, alive=None) -> torch.Tensor:
    """e1^T f(T) e1 (*,) for symmetric T (*, d, d), differentiable in T with a finite gradient
    for repeated eigenvalues. ``alive(theta)``: which eigenvalues are nonzero for the derivative
    (default: all)."""
    alive = (lambda t: torch.ones_like(t, dtype=torch.bool)) if alive is None else alive
    return _GaussQuadrature.apply(T, f, fprime, alive)


QUADRATURES = ("gauss", "gauss-radau", "extrapolated", "radau")


def bracketed_quadrature(T: torch.Tensor, f, fprime, alive=None, *, rule: str = "extrapolated",
                         bracket: bool = True):
    """Per-probe quadrature e1^T f(T) e1 (*,) and a bound on its error (*,) from T (*, d, d).

    ``rule``: ``"gauss"`` (the d-node Gauss rule); ``"radau"`` the Gauss-Radau(0) rule alone (the
    lower end of the bracket); ``"gauss-radau"`` the mean of the Gauss and
    Gauss-Radau(0) rules, which bracket the truth where ``bracket`` (h a Bernstein function:
    sqrt-like, Golub & Meurant 2010, Sec. 6.2); ``"extrapolated"``: Richardson extrapolation of
    that mean between d' = floor(2 d / 3) and d nodes, assuming an error ~ d^-2 (what the sqrt
    singularity of f(lambda) = h(sqrt(lambda)) at 0 gives), then clamped into the Gauss/Radau
    bracket, so that a rule already converged (the geometric rate of a well-separated spectrum,
    where the extrapolation overshoots) keeps the bracket's accuracy. T_{d'} is the leading
    block of T (the Lanczos matrix after d' steps): no products, two small eigenproblems more.
    Without a bracket (or d < 2; d' < 2 for the extrapolation) the rule falls back to Gauss (to the mean).

    The value's gradient is that of the Gauss rule (the rest is a detached shift: the Radau
    matrix depends on T_{d-1}^{-1}, whose derivative is ill-conditioned near 0). The bound is
    the distance from the value to the farther end of the bracket (0 without one).
    """
    if rule not in QUADRATURES:
        raise ValueError(f"rule must be one of {QUADRATURES}, got {rule!r}")
    gauss = gauss_quadrature(T, f, fprime, alive)
    d = T.shape[-1]
    if rule == "gauss" or not bracket or d < 2:
        return gauss, torch.zeros_like(gauss.detach())
    Td = T.detach()

    def mean_and_bracket(Tk):
        g = gauss_quadrature(Tk, f, fprime, alive)
        r = gauss_quadrature(radau_matrix(Tk), f, fprime, alive)
        return 0.5 * (g + r), torch.minimum(g, r), torch.maximum(g, r)

    with torch.no_grad():
        estimate, lo, hi = mean_and_bracket(Td)
        if rule == "radau":
            estimate = gauss_quadrature(radau_matrix(Td), f, fprime, alive)
        short = (2 * d) // 3
        if rule == "extrapolated" and short >= 2:
            coarse = mean_and_bracket(Td[..., :short, :short])[0]
            extrapolated = (d * d * estimate - short * short * coarse) / (d * d - short * short)
            estimate = torch.minimum(torch.maximum(extrapolated, lo), hi)
        bound = torch.maximum(estimate - lo, hi - estimate)
    return gauss + (estimate - gauss.detach()), bound


def radau_matrix(T: torch.Tensor) -> torch.Tensor:
    """The Jacobi matrix of the d-node Gauss-Radau rule with a node fixed at 0 (*, d, d).

    Golub & Meurant (2010), Sec. 6.2: the last diagonal entry of T becomes beta_{d-1}^2 times
    the last entry of T_{d-1}^{-1} e_{d-1}. For f with f^(2j) <= 0 and f^(2j+1) >= 0 (sqrt, x^p
    with p < 2, log(1 + x), ...) Gauss over- and Gauss-Radau at 0 underestimates: their mean has
    a much smaller error and half their gap bounds it.
    """
    d = T.shape[-1]
    Tm = T[..., : d - 1, : d - 1]
    beta = T[..., d - 1, d - 2]
    scale = Tm.diagonal(dim1=-2, dim2=-1).abs().amax(-1).clamp_min(torch.finfo(T.dtype).tiny)
    eye = torch.eye(d - 1, dtype=T.dtype, device=T.device)
    rhs = torch.zeros(T.shape[:-2] + (d - 1, 1), dtype=T.dtype, device=T.device)
    rhs[..., -1, 0] = 1.0
    # after a breakdown beta = 0 and the last entry is decoupled: no change (and no solve with a
    # singular T_{d-1}); elsewhere a relative shift keeps the solve finite
    coupled = beta.detach() != 0
    shift = (torch.finfo(T.dtype).eps * scale)[..., None, None] * eye
    Tm = torch.where(coupled[..., None, None], Tm + shift, eye.expand_as(Tm))
    delta = torch.linalg.solve(Tm, rhs)[..., -1, 0]
    new_last = torch.where(coupled, beta.square() * delta, T[..., d - 1, d - 1])
    last = torch.zeros(d, dtype=T.dtype, device=T.device)
    last[-1] = 1.0
    return T + torch.diag_embed((new_last - T[..., d - 1, d - 1])[..., None] * last)


class _GramEigen(torch.autograd.Function):
    """sum_i f(lambda_i) over the eigenvalues of A = X X^T (float64), and its gradient
    U diag(2 f'(lambda)) U^T X (two m x m x n products; nothing else is stored but U)."""

    @staticmethod
    def forward(ctx, X, h, rank_rtol):
        X64 = X.double()
        lam, U = torch.linalg.eigh(X64 @ X64.mT)  # ascending
        lam = lam.clamp_min(0)
        top = lam[..., -1:]
        # A's eigenvalues are known to about m eps_64 lambda_1: smaller ones are zeros; where h
        # needs it (rank, h(0) != 0, Schatten p < 1) so are those below the input's rank tolerance
        resolution = X.shape[-2] * torch.finfo(torch.float64).eps * top
        cut = resolution if h.keeps_small else torch.maximum(rank_rtol**2 * top, resolution)
        f, fprime, _ = _lambda_function(h, cut.sqrt())
        weights = torch.where(lam > cut, 2 * fprime(lam), torch.zeros_like(lam))
        ctx.save_for_backward(X64, U, weights)
        ctx.dtype = X.dtype
        return f(lam).sum(-1).to(X.dtype)

    @staticmethod
    def backward(ctx, grad):
        X64, U, weights = ctx.saved_tensors
        G = U @ (weights[..., None] * (U.mT @ X64))
        return (G * grad.double()[..., None, None]).to(ctx.dtype), None, None


def dense_spectral_sum(X: torch.Tensor, h: SpectralFunction, rank_rtol: float | None = None) -> torch.Tensor:
    """sum_i h(sigma_i(X)) (*,) from the eigendecomposition of the Gram matrix X X^T in float64
    (X is (*, m, n), m <= n), differentiable: the ``dense_below`` path of :func:`spectral_sum`.

    Singular values at or below sqrt(m eps_64) sigma_1 count as zeros (value 0, gradient 0): the
    Gram matrix does not resolve them. For the rank, penalties with h(0) != 0 and Schatten p < 1
    so do those at or below rank_rtol sigma_1 (the input's numerical rank); for the others (h(0) = 0,
    h'(0) finite: :attr:`SpectralFunction.keeps_small`) the float64 resolution is the only cut, so
    that the small singular values of a float32 matrix keep their gradient, as with ``svdvals``
    (a cut at float32's rank tolerance, 3.6e-5 sigma_1 at 300 x 300, cost PSNR in ``completion``).
    ``rank_rtol`` defaults to max(m, n) eps of X's dtype, as :func:`torch.linalg.matrix_rank`.
    """
    m, n = X.shape[-2:]
    if m > n:
        raise ValueError(f"dense_spectral_sum expects m <= n (the smaller Gram side), got {m} x {n}")
    rank_rtol = max(m, n) * torch.finfo(X.dtype).eps if rank_rtol is None else rank_rtol
    return _GramEigen.apply(X, h, rank_rtol)


def _orth(Y: torch.Tensor) -> torch.Tensor:
    return torch.linalg.qr(Y).Q


def xt_times(X: torch.Tensor, V: torch.Tensor) -> torch.Tensor:
    """X^T V (*, n, j) for X (*, m, n) and a thin block V (*, m, j), computed as (V^T X)^T.

    The same numbers, but MKL's kernel for a transposed m x n matrix times a thin block can be
    several times slower than the one for a thin block times the matrix (asv:
    ``ThinProducts``)."""
    return (V.mT @ X).mT


def x_times(X: torch.Tensor, V: torch.Tensor) -> torch.Tensor:
    """X V (*, m, j) for X (*, m, n) and a thin block V (*, n, j): in float64, or for j <= 8, as
    (V^T X^T)^T (a transposed view), otherwise as ``X @ V``.

    The same numbers up to rounding; which form is faster depends on the BLAS kernels, the dtype
    and j (asv: ``ThinProducts.time_x_times``)."""
    if X.dtype == torch.float64 or V.shape[-1] <= 8:
        return (V.mT.contiguous() @ X.mT).mT
    return X @ V


def _deflate(Q, V):
    return V if Q is None else V - Q @ (Q.mT @ V)


def range_basis(X: torch.Tensor, Omega: torch.Tensor, power_iters: int) -> torch.Tensor:
    """Q (*, m, k), orthonormal, spanning (X X^T)^q X Omega (Halko et al. 2011, Alg. 4.4); no grad."""
    with torch.no_grad():
        Y = x_times(X, Omega)
        for _ in range(power_iters):
            Y = x_times(X, xt_times(X, _orth(Y)))
        return _orth(Y)


class _Sketches(torch.autograd.Function):
    """The differentiable part of the estimate, for fixed subspaces Q (*, m, k) and V (*, m, j):

    Q^T X (*, k, n), X^T V (*, n, j) (already computed as ``XtV``: returned as is),
    ||X||_F^2 (*,) and a zero (*,) that carries the rational tail gradient: ``rational`` is
    None or a dict that the caller fills after the forward (the fit needs sigma_1 from Q^T X)
    with "beta" and "c", tensors (*, P); the zero's gradient is sum_p beta_p (I + c_p A_t)^{-1} X_t
    with X_t = P X, A_t = X_t X_t^T. The backward forms the one m x n gradient
    Q g_1 + V g_2^T + 2 g_3 X (+ g_4 sum_p beta_p (I + c_p A_t)^{-1} X_t) in place.
    """

    @staticmethod
    def forward(ctx, X, Q, V, XtV, rational):
        ctx.save_for_backward(X, Q, V)
        ctx.rational = rational
        QtX = Q.mT @ X
        fro2 = torch.linalg.vector_norm(X, dim=(-2, -1)).square()
        return QtX, XtV, fro2, fro2.new_zeros(fro2.shape)

    @staticmethod
    def backward(ctx, g_qtx, g_xtv, g_fro2, g_rational):
        X, Q, V = ctx.saved_tensors
        *batch, m, n = X.shape
        b = math.prod(batch)
        grad = (Q @ g_qtx).reshape(b, m, n)
        if V.shape[-1]:
            grad.baddbmm_(V.reshape(b, m, -1), g_xtv.reshape(b, n, -1).mT)
        grad.addcmul_(X.reshape(b, m, n), (2 * g_fro2).reshape(b, 1, 1))
        if ctx.rational is not None and g_rational is not None:
            beta, c = ctx.rational["beta"], ctx.rational["c"]
            _add_rational_tail(grad, X.reshape(b, m, n), Q.reshape(b, m, -1),
                               (g_rational[..., None] * beta).reshape(b, -1), c.reshape(b, -1))
        return grad.reshape(X.shape), None, None, None, None


RATIONAL_BLOCK = 1024
"""Columns of X_t formed at a time by the rational tail gradient (its memory beyond the m x m
matrices: m x RATIONAL_BLOCK)."""


def _add_rational_tail(grad, X, Q, weight, c):
    """grad += sum_p weight_p (I + c_p A_t)^{-1} X_t, A_t = X_t X_t^T, X_t = (I - Q Q^T) X (b, m, n);
    weight and c are (b, P).

    One Gram product, then per pole one Cholesky factorisation and solve (about 1 + 7/6 P
    m x m x n products). X_t is formed RATIONAL_BLOCK columns at a time; the extra memory is two
    m x m matrices (A_t and the factor). Computed in float32 for float64 input: the rational
    fit's own error (cosine ~0.99) is far larger than float32's rounding. A loop over the batch
    (LAPACK's unbatched solves are faster).
    """
    b, m, n = X.shape
    work = torch.float32 if X.dtype == torch.float64 else X.dtype
    blocks = range(0, n, RATIONAL_BLOCK)
    A = torch.empty(m, m, dtype=work, device=X.device)
    L = torch.empty_like(A)
    for i in range(b):
        Qw = Q[i].to(work)

        def tail(j):
            Xb = X[i, :, j:j + RATIONAL_BLOCK].to(work)
            return Xb - Qw @ (Qw.mT @ Xb)

        A.zero_()
        for j in blocks:
            Xb = tail(j)
            A.addmm_(Xb, Xb.mT)
        for p in range(c.shape[-1]):
            if float(weight[i, p]) == 0.0:
                continue
            torch.mul(A, float(c[i, p]), out=L).diagonal().add_(1.0)
            _, info = torch.linalg.cholesky_ex(L, out=(L, torch.empty((), dtype=torch.int32, device=X.device)))
            if int(info) != 0:  # not positive definite in float32: this pole is left out
                continue
            for j in blocks:
                grad[i, :, j:j + RATIONAL_BLOCK].add_(torch.cholesky_solve(tail(j), L).to(grad.dtype),
                                                      alpha=float(weight[i, p]))


def fit_rational_tail(theta, weights, h: SpectralFunction, alive, poles: int = 2, shifts=None):
    """Coefficients alpha (*,), beta (*, P) and c (*, P) of the tail gradient

        alpha X_t + sum_p beta_p (I + c_p A_t)^{-1} X_t  ~=  U_t diag(h'(sigma)) V_t^T.

    On the tail's singular values it is sigma (alpha + sum_p beta_p / (1 + c_p sigma^2)) against
    h'(sigma): a weighted least-squares fit over the quadrature nodes theta (*, N, d) (Ritz values
    of A_t) with their Gauss weights (the estimate of the tail's spectral measure), for every
    set of P shifts c from the grid ``shifts`` / max theta, keeping the one of least residual.
    For the nuclear norm the target is the polar factor of X_t, and one pole is a step of the
    QDWH iteration (Nakatsukasa, Bai & Gygi 2010). The measured cosines with the exact gradient
    are in the report (``edlrr-bench fast``, method ``fast-rational``).
    """
    shifts = torch.logspace(-1, 5, 25, dtype=theta.dtype, device=theta.device) if shifts is None else shifts
    live = alive(theta)
    lam = torch.where(live, theta.clamp_min(0), torch.zeros_like(theta)).flatten(-2)
    sigma = lam.sqrt()
    target = torch.where(live.flatten(-2), h.derivative(torch.where(live.flatten(-2), sigma, torch.ones_like(sigma))),
                         torch.zeros_like(sigma))
    w = torch.where(live, weights, torch.zeros_like(weights)).flatten(-2)  # (*, J)
    # scale-free: the fit runs on lambda / max(lambda) and target / max|target|
    top = lam.amax(-1, keepdim=True)
    top = torch.where(top > 0, top, 1.0)  # nothing alive: any scale (the coefficients are 0)
    tmax = target.abs().amax(-1, keepdim=True)
    tmax = torch.where(tmax > 0, tmax, 1.0)
    lam, sigma, target = lam / top, sigma / top.sqrt(), target / tmax
    sets = torch.combinations(shifts, poles) if poles > 1 else shifts[:, None]  # (K, P)
    # (*, K, J, 1 + P)
    B = torch.cat([sigma[..., None, :, None].expand(*lam.shape[:-1], sets.shape[0], lam.shape[-1], 1),
                   sigma[..., None, :, None] / (1 + sets[:, None, :] * lam[..., None, :, None])], -1)
    WB = B * w[..., None, :, None]
    G = B.mT @ WB
    ridge = 1e-12 * G.diagonal(dim1=-2, dim2=-1).sum(-1) + torch.finfo(B.dtype).tiny ** 0.5  # (nothing alive: coef 0)
    G = G + ridge[..., None, None] * torch.eye(1 + poles, dtype=B.dtype, device=B.device)
    coef = torch.linalg.solve(G, WB.mT @ target[..., None, :, None])[..., 0]  # (*, K, 1 + P)
    resid = (w[..., None, :] * ((B @ coef[..., None])[..., 0] - target[..., None, :]).square()).sum(-1)  # (*, K)
    best = resid.argmin(-1)
    coef = coef.gather(-2, best[..., None, None].expand(*best.shape, 1, 1 + poles))[..., 0, :]
    coef = coef * (tmax / top.sqrt())
    return coef[..., 0], coef[..., 1:], sets[best] / top


def lanczos_basis(X: torch.Tensor, V0: torch.Tensor, steps: int, Q: torch.Tensor | None = None,
                  rtol: float | None = None, floor=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Lanczos vectors of A = P X X^T P (P = I - Q Q^T; Q = None: P = I) from the unit
    columns of V0 (*, m, N), which must lie in range(P).

    Returns the orthonormal basis (*, m, N * d) (column block j holds the j-th vectors of all
    N probes) and X^T times it (*, n, N * d), both without gradient. Full reorthogonalisation
    against the vectors of the same probe and against Q. A probe whose Krylov space is exhausted
    (beta <= max(rtol * max |alpha|, floor)) stops there: its further vectors are zero and add a
    decoupled zero block that carries no quadrature weight. ``floor`` (broadcastable to (*, N)):
    the rounding level of A v, eps ||X||_F^2 by default.
    """
    eps = torch.finfo(V0.dtype).eps
    rtol = 1e3 * eps if rtol is None else rtol
    *batch, m, N = V0.shape
    n = X.shape[-1]
    with torch.no_grad():
        if floor is None:
            floor = eps * torch.linalg.vector_norm(X, dim=(-2, -1)).square()[..., None]
        floor = torch.as_tensor(floor, dtype=V0.dtype, device=V0.device)
        # preallocated outputs, filled block by block (no growing copies): block j = columns
        # j N ... (j + 1) N; the per-probe view (*, N, m, d) serves the reorthogonalisation
        basis = V0.new_zeros(*batch, m, steps, N)
        products = V0.new_zeros(*batch, n, steps, N)
        per_probe = basis.permute(*range(len(batch)), -1, -3, -2)  # (*, N, m, d), a view
        V, V_prev, b_prev = V0, None, None
        basis[..., 0, :] = V0
        amax = torch.zeros(*batch, N, dtype=V0.dtype, device=V0.device)
        for j in range(steps):
            products[..., j, :] = xt_times(X, V)
            if j == steps - 1:
                break
            W = _deflate(Q, x_times(X, products[..., j, :]))
            a = (V * W).sum(-2)
            amax = torch.maximum(amax, a.abs())
            W = W - a[..., None, :] * V
            if V_prev is not None:
                W = W - b_prev[..., None, :] * V_prev
            B = per_probe[..., : j + 1]  # (*, N, m, j + 1)
            Wp = W.mT[..., :, :, None]  # (*, N, m, 1)
            W = W - (B @ (B.mT @ Wp))[..., 0].mT
            W = _deflate(Q, W)
            b = W.norm(dim=-2)
            ok = b > torch.maximum(rtol * amax, floor)
            V_next = torch.where(ok[..., None, :], W / torch.where(ok, b, 1.0)[..., None, :], 0.0)
            basis[..., j + 1, :] = V_next
            V_prev, V, b_prev = V, V_next, torch.where(ok, b, 0.0)
        return basis.flatten(-2), products.flatten(-2)


def _draw(X: torch.Tensor, k: int, N: int, generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Sketch Omega (*, n, k) and probes G (*, m, N), drawn element by element of the batch
    (Omega then G), so that a batch gets the numbers of a loop with the same generator."""
    *batch, m, n = X.shape
    count = math.prod(batch)
    kw = dict(generator=generator, dtype=X.dtype, device=X.device)
    pairs = [(sample_probes((), n, k, **kw), sample_probes((), m, N, **kw)) for _ in range(count)]
    Omega = torch.stack([o for o, _ in pairs]).reshape(*batch, n, k)
    G = torch.stack([g for _, g in pairs]).reshape(*batch, m, N)
    return Omega, G


def _subspaces(X: torch.Tensor, sketch: int, power_iters: int, probes: int, lanczos_steps: int, generator):
    """The random subspaces of :func:`spectral_sum` (no gradient): the head basis Q (*, m, k),
    the unit tail probes V0 (*, m, N), their Lanczos basis and X^T times it (*, n, N d)."""
    Omega, G = _draw(X, sketch, probes, generator)
    fro2 = torch.linalg.vector_norm(X, dim=(-2, -1)).square()
    Q = range_basis(X, Omega, power_iters) if sketch > 0 else X.new_zeros(X.shape[:-2] + (X.shape[-2], 0))
    G = _deflate(Q, _deflate(Q, G))
    V0 = G / G.norm(dim=-2, keepdim=True).clamp_min(torch.finfo(X.dtype).tiny)
    basis, XtV = lanczos_basis(X, V0, lanczos_steps, Q, floor=torch.finfo(X.dtype).eps * fro2[..., None])
    return Q, V0, basis, XtV


def quadrature_error(X: torch.Tensor, h: SpectralFunction, *, sketch: int, power_iters: int, probes: int,
                     lanczos_steps: int, generator=None, quadrature: str = "extrapolated") -> torch.Tensor:
    """The error of the quadrature alone (the "expansion" of h), relative to sum_i h(sigma_i), (*,).

    For the probes v_i of :func:`spectral_sum` (same generator: the same draws), compares the
    quadrature sum_i e1^T f(T_i) e1 (the rule ``quadrature`` of :func:`bracketed_quadrature`)
    with the exact quadratic forms sum_i v_i^T f(P A P) v_i from a dense eigendecomposition: the
    probes' sampling error cancels, what is left is the function approximation. A diagnostic
    for moderate m (it forms P A P); X is (*, m, n), m <= n, float64 recommended.
    """
    m = X.shape[-2]
    X = X.detach()
    rank_rtol = max(X.shape[-2:]) * torch.finfo(X.dtype).eps
    Q, V0, _, XtV = _subspaces(X, sketch, power_iters, probes, lanczos_steps, generator)
    Y = XtV.unflatten(-1, (lanczos_steps, probes)).movedim(-1, -3)
    T = Y.mT @ Y
    sv = torch.linalg.svdvals(X)
    tol = rank_rtol * sv[..., :1]
    f, fprime, alive = _lambda_function(h, tol[..., None])  # on Ritz values (*, N, d)
    f_dense = _lambda_function(h, tol)[0]  # on eigenvalues (*, m)
    with torch.no_grad():
        quad = bracketed_quadrature(T, f, fprime, alive, rule=quadrature, bracket=h.bernstein)[0]
        PX = _deflate(Q, X)
        lam, W = torch.linalg.eigh(PX @ PX.mT)
        exact = ((W.mT @ V0).square() * f_dense(lam.clamp_min(0))[..., :, None]).sum(-2)
        live = sv > tol
        total = torch.where(live, h.value(sv), torch.zeros_like(sv)).sum(-1)
        return (m - Q.shape[-1]) * (quad - exact).mean(-1).abs() / total.abs()


def pinching_error(X: torch.Tensor, h: SpectralFunction, *, sketch: int, power_iters: int, probes: int,
                   lanczos_steps: int, generator=None) -> torch.Tensor:
    """The signed relative bias of the head/tail split alone, (*,): for the head basis Q that
    :func:`spectral_sum` draws with this generator, (sum h(sigma(Q^T X)) + tr f(P A P)) / sum h(sigma(X)) - 1
    with both parts exact (dense). Dropping Q^T A P raises the sum for concave h (positive) and
    lowers it for convex h; no probe or quadrature error enters. A diagnostic for moderate m
    (it forms P A P); X is (*, m, n), m <= n, float64 recommended."""
    X = X.detach()
    rank_rtol = max(X.shape[-2:]) * torch.finfo(X.dtype).eps
    Q = _subspaces(X, sketch, power_iters, probes, lanczos_steps, generator)[0]
    sv = torch.linalg.svdvals(X)
    tol = rank_rtol * sv[..., :1]
    f = _lambda_function(h, tol)[0]
    with torch.no_grad():
        head = f(torch.linalg.svdvals(Q.mT @ X).square()).sum(-1)
        PX = _deflate(Q, X)
        tail = f(torch.linalg.eigvalsh(PX @ PX.mT)).sum(-1)
        total = f(sv.square()).sum(-1)
        return (head + tail) / total - 1


TAIL_GRADIENTS = ("stochastic", "projected", "rational")


def gram_side(X: torch.Tensor, rank_rtol: float | None) -> tuple[int, int, float]:
    """(m, n, rank_rtol) of an estimator's input X (*, m, n), which must have m <= n (the smaller
    Gram side, X X^T); rank_rtol defaults to max(m, n) eps (:func:`torch.linalg.matrix_rank`)."""
    m, n = X.shape[-2:]
    if m > n:
        raise ValueError(f"spectral_sum expects m <= n (work on the smaller Gram side), got {m} x {n}")
    return m, n, max(m, n) * torch.finfo(X.dtype).eps if rank_rtol is None else rank_rtol


def spectral_sum(X: torch.Tensor, h: SpectralFunction, *, sketch: int, power_iters: int, probes: int,
                 lanczos_steps: int, generator=None, rank_rtol: float | None = None,
                 tail_gradient: str = "projected", dense_below: int = 0, quadrature: str = "extrapolated"):
    """Estimate sum_i h(sigma_i(X)) and an error estimate, both shape (*,). X is (*, m, n), m <= n.

    ``sketch`` (k) directions deflated by the range finder with ``power_iters`` (q), ``probes``
    (N) sphere probes on the rest with ``lanczos_steps`` (d) Lanczos steps each: 2 k (q + 1) +
    2 N d products by X or X^T. When k + N >= m the exact singular values are cheaper and are
    used (error 0). ``rank_rtol``: singular values below rank_rtol * sigma_1 count as zeros
    (default max(m, n) * eps, as :func:`torch.linalg.matrix_rank`).

    ``quadrature``: the rule per probe (:func:`bracketed_quadrature`): ``"extrapolated"``
    (default), ``"gauss-radau"`` (the plain mean of the two rules) or ``"gauss"``.

    The error estimate combines the standard error of the plain Hutchinson mean over the probes
    (an upper bound on that of the control-variate mean returned as the value) and the
    quadrature's error bound (the distance to the farther end of the Gauss/Gauss-Radau bracket
    for sqrt-like h); it does not see the pinching bias (``edlrr-bench fast`` measures its
    coverage).

    ``tail_gradient`` (the value is the same either way): ``"stochastic"`` differentiates the
    tail's estimate (unbiased, but a rank-(N d) matrix plus a multiple of the tail X_t = P X:
    with few probes its noise dominates where the tail carries much of the gradient, e.g. the
    nuclear norm of a full-rank matrix); ``"projected"`` takes the projection of the true tail
    gradient onto X_t, c X_t with c = sum_tail h'(sigma) sigma / ||X_t||_F^2 (the numerator
    estimated by the same quadrature): biased, low-variance, one m x n term. ``"rational"``:
    alpha X_t + sum_p beta_p (I + c_p A_t)^{-1} X_t (A_t = X_t X_t^T, two poles), fitted by
    :func:`fit_rational_tail` on the quadrature nodes, applied by :func:`_add_rational_tail`
    in the backward (about 3.3 extra m x m x n products, two m x m float32 matrices).

    ``dense_below``: when m <= dense_below the sum is computed by :func:`dense_spectral_sum`
    instead (error estimate 0): below a few hundred rows that is faster than the products.
    """
    if tail_gradient not in TAIL_GRADIENTS:
        raise ValueError(f"tail_gradient must be one of {TAIL_GRADIENTS}, got {tail_gradient!r}")
    if quadrature not in QUADRATURES:
        raise ValueError(f"quadrature must be one of {QUADRATURES}, got {quadrature!r}")
    m, n, rank_rtol = gram_side(X, rank_rtol)

    def exact_sum(sigma):
        """sum h(sigma) over the singular values (*, r) above the tolerance, and sigma_1."""
        top = sigma[..., 0].detach()
        live = sigma > rank_rtol * top[..., None]
        # at or below the tolerance: zeros (numerical rank) that add nothing and pass no gradient
        vals = h.value(torch.where(live, sigma, sigma.detach()))
        return torch.where(live, vals, torch.zeros_like(vals)).sum(-1) + 0.0 * sigma.sum(-1), top

    if m <= dense_below:
        value = dense_spectral_sum(X, h, rank_rtol)
        return value, torch.zeros_like(value.detach())
    if sketch + probes >= m:
        value, _ = exact_sum(torch.linalg.svdvals(X))
        return value, torch.zeros_like(value.detach())

    Q, V0, basis, XtV = _subspaces(X.detach(), sketch, power_iters, probes, lanczos_steps, generator)
    projected = tail_gradient in ("projected", "rational")
    rational = {} if tail_gradient == "rational" else None
    if projected:  # the tail's gradient is c X_t (+ the rational term): none flows through the Lanczos vectors
        QtX, _, fro2, zero = _Sketches.apply(X, Q, basis[..., :0], XtV[..., :0], rational)
        Y = XtV
    else:
        QtX, Y, fro2, zero = _Sketches.apply(X, Q, basis, XtV, None)  # differentiable, the subspaces fixed

    value, top = X.new_zeros(X.shape[:-2]), None
    if sketch > 0:
        value, top = exact_sum(torch.linalg.svdvals(QtX))
    Y = Y.unflatten(-1, (lanczos_steps, probes)).movedim(-1, -3)  # (*, N, n, d)
    T = Y.mT @ Y  # T_i = V_i^T A V_i: the Lanczos matrix of probe i
    if top is None:  # no head: sigma_1 from the largest Ritz value
        top = torch.linalg.eigvalsh(T.detach()).amax((-2, -1)).clamp_min(0).sqrt()
    tol = rank_rtol * top
    f, fprime, alive = _lambda_function(h, tol[..., None, None])
    dim = m - sketch
    # (*, N): the quadrature of each probe (its gradient that of the Gauss rule) and its error bound
    per_probe, bound = bracketed_quadrature(T, f, fprime, alive, rule=quadrature, bracket=h.bernstein)
    samples, quad_bound = dim * per_probe, dim * bound.mean(-1)
    # Control variate: the same probes estimate tr(P A P) = ||X||_F^2 - ||Q^T X||_F^2, which
    # is known exactly (no products); subtract the fitted multiple of their error. Skipped where
    # the tail is below the rank tolerance or the rounding of that difference (nothing to fit).
    linear = dim * T[..., 0, 0]
    known = fro2 - QtX.square().sum((-2, -1))
    # its value from sums accumulated in float64: a difference of two numbers near ||X||_F^2
    # (torch's float32 vector_norm alone was off by 2.5e-5 ||X||_F^2 at 1024 x 1024, a 6% error
    # of a small tail's trace, which the control variate turned into a 2.6% error of its sum)
    exact_known = _sum_squares64(X.detach()) - QtX.detach().square().sum((-2, -1), dtype=torch.float64)
    known = known + (exact_known.to(known.dtype) - known.detach())
    floor = torch.maximum(dim * tol ** 2, 1e3 * torch.finfo(X.dtype).eps * fro2.detach())
    fitted = known.detach() > floor

    def cv_mean(y):
        beta = torch.where(fitted, _regression_slope(y.detach(), linear.detach()), 0.0)
        return (y - beta[..., None] * (linear - known[..., None])).mean(-1)

    tail = cv_mean(samples)
    if projected:
        # <grad, X_t> = sum_tail h'(sigma) sigma = tr g(P A P), g(lambda) = 2 lambda f'(lambda)
        g_samples = dim * gauss_quadrature(T.detach(), lambda lam: 2 * lam * fprime(lam), fprime, alive)
        known_d = known.detach()
        c = torch.where(fitted, cv_mean(g_samples).detach() / torch.where(fitted, known_d, 1.0), 0.0)
        if rational is not None:
            theta, W = torch.linalg.eigh(T.detach())
            alpha, rational["beta"], rational["c"] = fit_rational_tail(theta, W[..., 0, :].square(), h, alive)
            alpha = torch.where(fitted, alpha, 0.0)
            rational["beta"] = torch.where(fitted[..., None], rational["beta"], 0.0)
            c = alpha
        tail = tail.detach() + 0.5 * c * (known - known_d)  # d known / dX = 2 X_t
        if rational is not None:
            tail = tail + zero  # its gradient: sum_p beta_p (I + c_p A_t)^{-1} X_t
    if probes > 1:
        stderr = (samples.detach().var(-1) / probes + quad_bound.square()).sqrt()
    else:
        stderr = torch.full_like(tail.detach(), math.nan)
    return value + tail, stderr


def _sum_squares64(X: torch.Tensor) -> torch.Tensor:
    """sum of X_ij^2 over the last two axes (*,), accumulated in float64, a few rows at a time
    (no m x n temporary beyond a block)."""
    rows = max(1, (1 << 18) // max(X.shape[-1], 1))
    total = X.new_zeros(X.shape[:-2], dtype=torch.float64)
    for i in range(0, X.shape[-2], rows):
        total = total + X[..., i:i + rows, :].square().sum((-2, -1), dtype=torch.float64)
    return total


def _regression_slope(y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Least-squares slope of y on x over the last axis (0 where x does not vary)."""
    xc = x - x.mean(-1, keepdim=True)
    yc = y - y.mean(-1, keepdim=True)
    var = (xc * xc).sum(-1)
    tiny = torch.finfo(x.dtype).eps * x.abs().amax(-1).square() * x.shape[-1]
    return torch.where(var > tiny, (xc * yc).sum(-1) / torch.where(var > tiny, var, 1.0), 0.0)
