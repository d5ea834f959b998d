"""Self-deflated Golub-Kahan quadrature: every product serves the head and the tail
(``method="matvec"``; beyond the EDLRR paper).

The sketch + probes estimator of :mod:`edlrr.krylov` spends 2 k (q + 1) products on a head basis
and 2 N d on probes that never see that basis again. Here N probes each run d steps of
Golub-Kahan-Lanczos bidiagonalization of X from a random unit vector u (2 N d products by X or
X^T), and the one Krylov space serves twice:

1. **Head**: the Ritz pairs of the bidiagonal matrix B (d x d, lower bidiagonal) that have
   converged (residual beta_d |e_d^T q_j| <= ``converged_rtol`` sigma_1, above the rank
   tolerance, isolated from the other Ritz values (by 1e-8 sigma_1, or by 100 times its
   residual plus 10 eps sigma_1: small singular values close together in absolute terms count
   too, as on a decay down to the tolerance) and not carrying more weight than one
   direction could: m (e_1^T p_j)^2 <= ``single_weight``) are eigenpairs of A = X X^T to working
   accuracy, independent of the probe: their h(sigma_j) is counted exactly (c of them) and
   their directions are deflated.
2. **Tail**: the rest of the probe's quadrature measure (nodes and weights of its Gauss or
   Gauss-Radau rule without the converged nodes) is a sphere-probe Hutchinson sample of the
   tail tr f(P A P), m - c dimensions, with a control variate inside the one probe: the
   weighted least-squares slope of f on lambda over the tail nodes times the error of the same
   rule on f(lambda) = lambda, whose tail trace ||X||_F^2 - sum_c sigma_j^2 is known (to a few
   eps ||X||_F^2: the slope is shrunk where the probe's own estimate of that trace is more
   certain than its rounding, :func:`_tail_estimate`). A tail of
   one or two distinct eigenvalues (step spectra, exactly low rank plus a null space) is then
   exact.
3. **Rules** (Golub & Meurant 2010, Sec. 6): Gauss from the square B_d; Gauss-Radau with a node
   fixed at 0 from the (d + 1) x d bidiagonal B with the last beta_d (its singular values and a
   zero node). Working with X (bidiagonalization) rather than A keeps singular values down to
   eps ||X|| resolved (not sqrt(eps) ||X||), and a Krylov space that is exhausted
   (beta_d = 0: an invariant subspace, e.g. step spectra) makes the Radau rule the Gauss one,
   exact. For decaying spectra the probe's mass below the last Ritz value goes to the zero node
   instead of lumping above it (the Gauss rule's overestimate for sqrt-like h). The default
   (``"extrapolated"``) extrapolates the mean of the two estimates from the first 2d/3 steps to d
   (Richardson, error ~ d^-2) and clamps it into their bracket, as the sketch path's rule
   (:func:`edlrr.krylov.bracketed_quadrature`); no products more.

A single-vector Krylov space sees an eigenvalue of multiplicity D once: a converged Ritz pair of
an eigenvalue repeated D <= ``single_weight`` times is taken for one direction (D - 1 missed);
heavier ones (more weight than one direction can carry) stay in the tail, where they are
estimated without bias. Gradient: the head exactly (through Q^T X, Q the converged Ritz
vectors); the tail's projected on X_t = P X (c X_t, c from the same quadrature of h'(sigma)
sigma), as ``tail_gradient="projected"`` of :mod:`edlrr.krylov`.

References
----------
Golub & Kahan (1965), bidiagonalization; Golub & Meurant (2010), *Matrices, Moments and
Quadrature with Applications*, Sec. 6.2-6.4 (Gauss-Radau); Ubaru, Chen & Saad (2017), stochastic
Lanczos quadrature; Epperly, Tropp & Webber (2023), XTrace's test spectra and sphere probes.
"""
from __future__ import annotations

import math

import torch

from .krylov import SpectralFunction, _lambda_function, _sum_squares64, gram_side, x_times, xt_times
from .probes import sample_probes

__all__ = ["bidiagonalize", "spectral_sum", "moment_bracket", "RULES"]

RULES = ("extrapolated", "radau", "gauss", "gauss-radau")


def bidiagonalize(X: torch.Tensor, U0: torch.Tensor, steps: int, rtol: float | None = None):
    """Golub-Kahan-Lanczos bidiagonalization of X (*, m, n) from the unit columns of U0 (*, m, N),
    each column its own run, with full reorthogonalisation (2 N ``steps`` products by X or X^T).

    Returns ``U`` (*, N, m, d + 1), ``V`` (*, N, n, d), ``alpha`` (*, N, d), ``beta`` (*, N, d)
    with X V_d = U_{d+1} B, B the (d + 1) x d lower bidiagonal matrix of alpha (diagonal) and
    beta (below), and X^T U_d = V_d B_d^T (B_d: its first d rows). A run whose alpha or beta
    falls to ``rtol`` times its largest alpha (default 1e3 eps; an invariant subspace) stops: its
    further entries and vectors are zero (:func:`spectral_sum` passes a tenth of its rank
    tolerance, at least 10 eps). No gradient.
    """
    eps = torch.finfo(U0.dtype).eps
    rtol = 1e3 * eps if rtol is None else rtol
    *batch, m, N = U0.shape
    n = X.shape[-1]
    with torch.no_grad():
        U = U0.new_zeros(*batch, N, m, steps + 1)
        V = U0.new_zeros(*batch, N, n, steps)
        alpha = U0.new_zeros(*batch, N, steps)
        beta = U0.new_zeros(*batch, N, steps)
        U[..., 0] = U0.mT
        live = torch.ones(*batch, N, dtype=torch.bool, device=U0.device)
        top = U0.new_zeros(*batch, N)

        def reorth(W, basis):  # W (*, N, k), basis (*, N, k, j): twice against the run's own vectors
            for _ in range(2):
                W = W - (basis @ (basis.mT @ W[..., None]))[..., 0]
            return W

        for j in range(steps):
            Wv = xt_times(X, U[..., j].mT).mT  # (*, N, n)
            if j > 0:
                Wv = Wv - beta[..., j - 1, None] * V[..., j - 1]
                Wv = reorth(Wv, V[..., :j])
            a = Wv.norm(dim=-1)
            top = torch.maximum(top, a)
            live = live & (a > rtol * top)
            a = torch.where(live, a, 0.0)
            V[..., j] = torch.where(live[..., None], Wv / torch.where(live, a, 1.0)[..., None], 0.0)
            alpha[..., j] = a
            Wu = x_times(X, V[..., j].mT).mT - a[..., None] * U[..., j]  # (*, N, m)
            Wu = reorth(Wu, U[..., : j + 1])
            b = Wu.norm(dim=-1)
            live = live & (b > rtol * top)
            b = torch.where(live, b, 0.0)
            U[..., j + 1] = torch.where(live[..., None], Wu / torch.where(live, b, 1.0)[..., None], 0.0)
            beta[..., j] = b
        return U, V, alpha, beta


def _bidiagonal(alpha: torch.Tensor, beta: torch.Tensor, rows: int) -> torch.Tensor:
    """The lower bidiagonal matrix (*, rows, d) of alpha (*, d) and beta (*, d); rows = d or d + 1."""
    d = alpha.shape[-1]
    B = alpha.new_zeros(alpha.shape[:-1] + (rows, d))
    idx = torch.arange(d, device=alpha.device)
    B[..., idx, idx] = alpha
    below = idx[: rows - 1] if rows == d + 1 else idx[: d - 1]
    B[..., below + 1, below] = beta[..., : len(below)]
    return B


def _tail_estimate(nodes, weights, f, dim, known, known_err=0.0, spread: bool = False):
    """(m - c) times the f-mean of the tail measure (nodes, weights: (*, r), weights >= 0), with
    the control variate of the same measure on lambda (slope fitted on the nodes) and the known
    tail trace; 0 where the tail carries no weight. With ``spread``, also the plug-in standard
    deviation of that one-probe estimate: for z uniform on the sphere of R^D,
    Var(D z^T F z) = 2 D^2 / (D + 2) Var_i(f_i), with the variance over the tail's eigenvalues
    taken from the probe's measure and f replaced by its residual after the control variate.

    ``known_err``: the rounding error of ``known`` (a difference of numbers of size ||X||_F^2).
    The control variate's coefficient is the slope shrunk by V / (V + known_err^2), V the
    plug-in variance of the probe's own estimate of the tail trace (the least-squares optimum
    when the known trace carries that error): a tail whose trace is below the rounding of
    ||X||_F^2 (a decay resolved down to ~1e-8 sigma_1) keeps the probe's plain estimate instead
    of amplifying the rounding by f'(lambda)."""
    total = weights.sum(-1, keepdim=True)
    empty = total[..., 0] <= 0
    p = weights / torch.where(total > 0, total, 1.0)
    fv = f(nodes)
    mf, ml = (p * fv).sum(-1), (p * nodes).sum(-1)
    dl = nodes - ml[..., None]
    var = (p * dl * dl).sum(-1)
    # degenerate spread: relative to the tail's own nodes (the converged ones carry no weight here)
    scale = torch.where(p > 0, nodes.abs(), torch.zeros_like(nodes)).amax(-1)
    tiny = torch.finfo(nodes.dtype).eps * scale.square()
    slope = torch.where(var > tiny, (p * dl * (fv - mf[..., None])).sum(-1) / torch.where(var > tiny, var, 1.0), 0.0)
    v_trace = 2 * dim * dim / (dim + 2) * var
    err2 = torch.as_tensor(known_err, dtype=var.dtype, device=var.device).square()
    beta = torch.where(v_trace > 0, slope * v_trace / torch.where(v_trace + err2 > 0, v_trace + err2, 1.0), 0.0)
    est = dim * mf + beta * (known - dim * ml)
    est = torch.where(empty, torch.zeros_like(est), est)
    if not spread:
        return est
    resid = fv - mf[..., None] - beta[..., None] * dl
    sd = (2 * dim * dim / (dim + 2) * (p * resid * resid).sum(-1) + (beta * beta) * err2).sqrt()
    return est, torch.where(empty, torch.zeros_like(sd), sd)


class _Head(torch.autograd.Function):
    """Q^T X (*, N, d, n) and ||X||_F^2 (*,) with values formed without products (from the
    bidiagonalization: Q^T X = diag(sigma_C) Q_C^T V^T), differentiable in X: the backward is
    sum_i Q_i g_i + 2 g_fro2 X."""

    @staticmethod
    def forward(ctx, X, Q, QtX, fro2):
        ctx.save_for_backward(X, Q)
        return QtX.clone(), fro2.clone()

    @staticmethod
    def backward(ctx, g_qtx, g_fro2):
        X, Q = ctx.saved_tensors
        *batch, N, m, k = Q.shape
        # sum over the runs as one product (m x N k times N k x n): no N-fold m x n temporary
        grad = Q.movedim(-3, -2).reshape(*batch, m, N * k) @ g_qtx.reshape(*batch, N * k, -1)
        return grad + 2 * g_fro2[..., None, None] * X, None, None, None


def _mass_above(a, b, s, P, w, conv, tol):
    """The Chebyshev-Markov-Stieltjes bracket (lo, hi), both (*, N), of the fraction of a run's
    tail measure (its quadrature measure less the converged nodes) that lies above tol^2: the
    bounds that hold for every measure with the run's first 2k moments (Karlin & Studden 1966,
    Ch. II-III; Golub & Meurant 2010, Sec. 6.3), here from the Gauss-Radau rule with a node
    prescribed at tol^2, whose weight there is the width of the bracket.

    ``a``, ``b`` (*, N, k): the bidiagonal's alpha and beta; ``s``, ``P``, ``w``: singular values,
    left singular vectors and Gauss weights of the square one; ``conv``: converged nodes; ``tol``
    (*, 1). The prescribed node's rule is the (k + 1) x (k + 1) bidiagonal with a last diagonal
    entry gamma^(1/2), gamma = tau (1 + (alpha_k beta_k)^2 sum_j P_kj^2 / (s_j^2 (s_j^2 - tau))),
    tau = tol^2 (the Radau modification of the Jacobi matrix B B^T, written without the
    cancellation of its usual form), singular values kept resolved down to eps sigma_1. Where
    gamma < 0 (only where tau lies above some Gauss node: that rule would have a node below 0,
    out of reach of a real bidiagonal) the Gauss rule's own bracket is used: with c nodes above
    tau, the mass above lies between the weights of the top c - 1 and of the top c + 1."""
    k = a.shape[-1]
    tau = tol * tol
    S2 = s * s
    den = S2 * (S2 - tau[..., None])
    term = torch.where(den != 0, P[..., -1, :].square() / torch.where(den != 0, den, 1.0), 0.0)
    gamma = tau * (1 + (a[..., -1] * b[..., -1]).square() * term.sum(-1))
    at = torch.cat([a, gamma.clamp_min(0).sqrt()[..., None]], -1)
    bt = torch.cat([b, torch.zeros_like(b[..., :1])], -1)
    Pt, st, _ = torch.linalg.svd(_bidiagonal(at, bt, k + 1))
    wt = Pt[..., 0, :].square()
    node = torch.nn.functional.one_hot((st - tol).abs().argmin(-1), k + 1).bool()
    nearest = (st[..., None, :] - s[..., :, None]).abs().argmin(-1)  # the converged nodes, dropped
    drop = nearest.new_zeros(st.shape).scatter_reduce_(-1, nearest, conv.long(), reduce="amax").bool() & ~node
    keep = ~drop
    total = (wt * keep).sum(-1)
    lo = (wt * (keep & ~node & (st > tol))).sum(-1)
    hi = lo + (wt * node).sum(-1)
    # the Gauss rule's bracket (s descending: the c nodes above tau come first)
    c = (s > tol).sum(-1, keepdim=True)
    idx = torch.arange(k, device=s.device)
    wg = torch.where(conv, 0.0, w)
    lo_g, hi_g = (wg * (idx < c - 1)).sum(-1), (wg * (idx <= c)).sum(-1)
    total_g = wg.sum(-1)
    ok = gamma >= 0
    lo, hi, total = torch.where(ok, lo, lo_g), torch.where(ok, hi, hi_g), torch.where(ok, total, total_g)
    safe = torch.where(total > 0, total, 1.0)
    return torch.where(total > 0, lo / safe, 0.0), torch.where(total > 0, (hi / safe).clamp_max(1.0), 0.0)


def _estimate(X, U, V, alpha, beta, k, h, m, rank_rtol, converged_rtol, single_weight, bracket=False):
    """The self-deflated estimate of each run from its first k steps: the head (differentiable),
    the known tail trace (differentiable), and for the Gauss and the Gauss-Radau rule the tail
    estimate and the projected gradient's constant c (no gradient). With ``bracket`` and a step
    h (the rank), also the tail's count bracket ``out["step"]`` (:func:`_mass_above` times the
    tail's dimension)."""
    work = X.dtype
    with torch.no_grad():
        # the small eigenproblems and the quadrature in float64 (k x k: no cost; float32 weights
        # and Ritz values would add their rounding to every node)
        a, b = alpha[..., :k].double(), beta[..., :k].double()
        P, s, Qh = torch.linalg.svd(_bidiagonal(a, b, k))
        w = P[..., 0, :].square()  # Gauss weights of the Ritz values s^2
        top = s[..., :1].amax(-2, keepdim=True)  # sigma_1 over the runs (*, 1, 1)
        tol = rank_rtol * top
        resid = b[..., -1:] * Qh[..., :, -1].abs()  # (*, N, k): beta_k |e_k^T q_j|
        gap = (s[..., :, None] - s[..., None, :]).abs()
        gap = gap + torch.eye(k, dtype=gap.dtype, device=X.device) * (2 * top[..., None] + 1)
        # isolated: apart from the other Ritz values by 1e-8 sigma_1, or by far more than its own
        # residual and rounding (then its vector is accurate, sin angle <= resid / gap, however
        # small sigma_j)
        nearest_gap = gap.amin(-1)
        isolated = (nearest_gap > 1e-8 * top) | (nearest_gap > 100 * resid + 10 * torch.finfo(work).eps * top)
        settled = (resid <= converged_rtol * top) & isolated & (m * w <= single_weight)
        conv = settled & (s > tol)
        # settled pairs within rounding (or their residual) of the tolerance, on either side:
        # whether the matrix's own singular value lies above it is not resolved, so h of each is
        # uncertain (the rank: one count; sigma_86 = 1.03 tol on 0.7^i at n = 300)
        margin = torch.maximum(resid, 100 * torch.finfo(work).eps * top)
        edge = settled & ((s - tol).abs() <= margin)
        mask = conv[..., :, None].to(work)
        Q = (U[..., :k] @ P.to(work)) * conv[..., None, :].to(work)  # converged left Ritz vectors (*, N, m, k)
        QtX = mask * (s[..., :, None].to(work) * Qh.to(work)) @ V[..., :k].mT  # = Q^T X (X^T U_k = V_k B_k^T)
        dim = m - conv.sum(-1).double()
        f, fprime, _ = _lambda_function(h, tol)
        g = lambda lam: 2 * lam * fprime(lam)  # h'(sigma) sigma as a function of lambda
        gauss = (s.square(), torch.where(conv, 0.0, w))
        Pr, sr, _ = torch.linalg.svd(_bidiagonal(a, b, k + 1), full_matrices=False)
        wr = Pr[..., 0, :].square()
        # drop the converged nodes from the Radau rule (it has them too, to working accuracy)
        nearest = (sr[..., None, :] - s[..., :, None]).abs().argmin(-1)  # (*, N, k) per Gauss node
        drop = torch.zeros_like(nearest).scatter_reduce_(-1, nearest, conv.long(), reduce="amax").bool()
        radau = (torch.cat([sr.square(), sr.new_zeros(sr.shape[:-1] + (1,))], -1),
                 torch.cat([torch.where(drop, 0.0, wr), (1 - wr.sum(-1, keepdim=True)).clamp_min(0)], -1))
        fro64 = _sum_squares64(X.detach())[..., None]
        known64 = fro64 - s.square().mul(conv).sum(-1)
        # its rounding: a few eps ||X||_F^2 (measured 1-6 eps on XTrace's spectra), the eps of
        # X's dtype (float32 Ritz values carry float32 rounding into the sum of squares)
        known_err = 8 * torch.finfo(work).eps * fro64
    QtX, fro2 = _Head.apply(X, Q, QtX, torch.linalg.vector_norm(X.detach(), dim=(-2, -1)).square())
    sv = torch.linalg.svdvals(QtX)  # (*, N, k): the converged sigma_j, zeros for the other rows
    live = sv > tol
    head = torch.where(live, h.value(torch.where(live, sv, sv.detach())), torch.zeros_like(sv)).sum(-1)
    head = head + 0.0 * sv.sum(-1)
    known = fro2[..., None] - QtX.square().sum((-2, -1))
    known = known + (known64.to(known.dtype) - known.detach())
    with torch.no_grad():
        out = {}
        for name, (nodes, weights) in (("gauss", gauss), ("radau", radau)):
            tail, sd = _tail_estimate(nodes, weights, f, dim, known64, known_err, spread=True)
            c = torch.where(known64 > 0, _tail_estimate(nodes, weights, g, dim, known64, known_err)
                            / torch.where(known64 > 0, known64, 1.0), 0.0)
            out[name] = (tail, c, sd)
        out["edge"] = torch.where(edge, h.value(torch.maximum(s, tol).to(work)).abs().double(), 0.0).sum(-1)
        if bracket and h.step:
            lo, hi = _mass_above(a, b, s, P, w, conv, tol[..., 0])
            out["step"] = (dim * lo, dim * hi)
    return head, known, out


def _runs(X, h, probes, steps, generator, rank_rtol, converged_rtol, single_weight):
    """The N runs' bidiagonalizations of X from unit sphere probes, and the arguments of
    :func:`_estimate` after its first six."""
    m, _, rank_rtol = gram_side(X, rank_rtol)
    if converged_rtol is None:
        converged_rtol = max(1e-8, 100 * torch.finfo(X.dtype).eps)
    batch = X.shape[:-2]
    kw = dict(generator=generator, dtype=X.dtype, device=X.device)
    G = torch.stack([sample_probes((), m, probes, **kw) for _ in range(math.prod(batch))]).reshape(*batch, m, probes)
    U0 = G / G.norm(dim=-2, keepdim=True).clamp_min(torch.finfo(X.dtype).tiny)
    # a run stops (an invariant subspace) where its alpha or beta falls below a tenth of the rank
    # tolerance, at least 10 eps: stopping at the tolerance lost the singular values just above it
    # (XTrace's fast decay: sigma_82 = 1.3 tol was never found, the rank came out 81)
    eps = torch.finfo(X.dtype).eps
    U, V, alpha, beta = bidiagonalize(X.detach(), U0, steps, rtol=max(0.1 * rank_rtol, 10 * eps))
    return U, V, alpha, beta, (h, m, rank_rtol, converged_rtol, single_weight)


def moment_bracket(X: torch.Tensor, h: SpectralFunction, *, probes: int, lanczos_steps: int, generator=None,
                   rank_rtol: float | None = None, converged_rtol: float | None = None,
                   single_weight: float = 15.0) -> tuple[torch.Tensor, torch.Tensor]:
    """What ``probes`` (N) runs of ``lanczos_steps`` (d) Golub-Kahan steps determine of
    sum_i h(sigma_i(X)): the interval (lo, hi), both (*,), the mean over the runs of the range
    of :func:`spectral_sum`'s per-run estimate (the same runs for the same ``generator``) over
    every tail measure that has the run's moments.

    The head (the converged Ritz pairs) is exact; each run's tail is a sample whose quadrature
    measure is known through its first 2d moments only. For h whose f(lambda) = h(sqrt(lambda))
    is a Bernstein function (``h.bernstein``: the nuclear norm, Schatten p <= 2, the concave
    penalties) the Gauss and the Gauss-Radau(0) rules are the two extremes (Golub & Meurant
    2010, Sec. 6.2), and the interval is spanned by the two tail estimates (each with its
    control variate). For the rank (``h.step``) it is the tail dimension times the
    Chebyshev-Markov-Stieltjes bracket of the mass above tol^2 (:func:`_mass_above`). No estimator
    that uses only these moments can be sure to be closer to the truth of the run's sample than
    half the width; the sample's own sampling error comes on top. A diagnostic: no gradient.
    """
    if not (h.bernstein or h.step):
        raise ValueError("moment_bracket needs h whose f(lambda) = h(sqrt(lambda)) is a Bernstein function or a step "
                         "(the rank); this h has no bracket of Gauss type")
    with torch.no_grad():
        U, V, alpha, beta, args = _runs(X.detach(), h, probes, lanczos_steps, generator, rank_rtol, converged_rtol,
                                        single_weight)
        head, _, rules = _estimate(X.detach(), U, V, alpha, beta, lanczos_steps, *args, bracket=True)
        head = head.double()
        if h.step:
            lo, hi = rules["step"]
        else:
            (tg, _, _), (tr, _, _) = rules["gauss"], rules["radau"]
            lo, hi = torch.minimum(tg, tr), torch.maximum(tg, tr)
        return (head + lo).mean(-1).to(X.dtype), (head + hi).mean(-1).to(X.dtype)


def spectral_sum(X: torch.Tensor, h: SpectralFunction, *, probes: int, lanczos_steps: int, generator=None,
                 rank_rtol: float | None = None, rule: str = "extrapolated", converged_rtol: float | None = None,
                 single_weight: float = 15.0):
    """Estimate sum_i h(sigma_i(X)) and a standard error, both (*,). X is (*, m, n), m <= n.

    ``probes`` (N) runs of ``lanczos_steps`` (d) Golub-Kahan steps: 2 N d products by X or X^T
    (the head's Q^T X comes from the bidiagonalization, no product more); the estimate is the
    mean over the runs, each self-deflated (module docstring).

    ``rule``: ``"extrapolated"`` (default: the mean of the Gauss and Gauss-Radau estimates
    extrapolated from d' = 2d/3 to d steps, error ~ d^-2, clamped into the bracket the two make
    at d, as :func:`edlrr.krylov.bracketed_quadrature`), ``"radau"`` (Gauss-Radau with a node at
    0, the Gauss rule where the Krylov space is exhausted), ``"gauss"``, or ``"gauss-radau"``
    (their mean); where h(sqrt(lambda)) is not a Bernstein function (``h.bernstein`` false: the
    rank, Schatten p > 2) the last two are the Gauss rule.

    ``converged_rtol``: a Ritz pair with residual at most this times sigma_1 counts exactly
    (default 1e-8, and 100 eps of a coarser dtype: 1.2e-5 in float32). ``single_weight``: the
    most weight m (e_1^T p_j)^2 a converged pair may carry to count as one direction (15: the
    1e-4 tail of a chi-square with one degree of freedom). ``rank_rtol``: singular values below
    rank_rtol sigma_1 are zeros (default max(m, n) eps).

    The standard error combines the spread of the mean over the runs (the runs' plug-in spreads
    of their tail samples, :func:`_tail_estimate`, or their sample variance where that is
    larger) with the quadrature's bound (the distance to the farther end of the Gauss/Radau
    bracket; for h without one, the rank, the distance between the two rules) plus h of the
    converged Ritz values within rounding (100 eps sigma_1) or their residual of the rank
    tolerance, on either side of it: which side the matrix's own value lies on is unresolved.
    """
    if rule not in RULES:
        raise ValueError(f"rule must be one of {RULES}, got {rule!r}")
    d, N = lanczos_steps, probes
    U, V, alpha, beta, args = _runs(X, h, probes, lanczos_steps, generator, rank_rtol, converged_rtol, single_weight)
    head, known, rules = _estimate(X, U, V, alpha, beta, d, *args)
    (tg, cg, sg), (tr, cr, sr) = rules["gauss"], rules["radau"]
    bracketed = h.bernstein
    if rule == "gauss" or (rule != "radau" and not bracketed):
        # without a bracket (h(sqrt) not a Bernstein function: the rank, Schatten p > 2) the mean and
        # its extrapolation fall back to the Gauss rule, as edlrr.krylov.bracketed_quadrature
        tail, c, sd = tg, cg, sg
    elif rule == "radau":
        tail, c, sd = tr, cr, sr
    else:
        tail, c, sd = 0.5 * (tg + tr), 0.5 * (cg + cr), 0.5 * (sg + sr)
        short = (2 * d) // 3
        if rule == "extrapolated" and short >= 2:
            with torch.no_grad():
                h2, _, r2 = _estimate(X.detach(), U, V, alpha, beta, short, *args)
                coarse = h2 + 0.5 * (r2["gauss"][0] + r2["radau"][0])
                fine = head.detach() + tail
                total = (d * d * fine - short * short * coarse) / (d * d - short * short)
                lo = head.detach() + torch.minimum(tg, tr)
                hi = head.detach() + torch.maximum(tg, tr)
                tail = torch.minimum(torch.maximum(total, lo), hi) - head.detach()
    samples = head + (tail + 0.5 * c * (known - known.detach())).to(head.dtype)  # d known / dX = 2 X_t: c X_t
    value = samples.mean(-1)
    # error estimate: the spread of the runs (their plug-in spreads, or their sample variance
    # where larger) and the quadrature's bound, the distance to the farther end of the
    # Gauss/Radau bracket where h has one; where it has none (the rank) the two rules still differ
    # by the mass they place at or above the tolerance, the uncertainty of the count
    with torch.no_grad():
        bound = torch.maximum((tail - tg).abs(), (tail - tr).abs()) + rules["edge"]
        # (a few runs' sample variance is itself noisy: never below their mean plug-in variance)
        spread = sd.square().mean(-1) / N
        if N > 1:
            spread = torch.maximum(spread, samples.detach().double().var(-1) / N)
        stderr = (spread + bound.mean(-1).square()).sqrt().to(value.dtype)
    return value, stderr
