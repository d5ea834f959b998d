"""Singular value thresholding (SVT) for matrix completion.

References
----------
J.-F. Cai, E. J. Candes & Z. Shen, "A singular value thresholding algorithm for matrix
completion", SIAM J. Optim. 20(4):1956-1982, 2010. Iteration (3.3)/(5.1), kicking (5.3),
stopping rule (5.5), parameters of Section 5.1.1.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ._partial_svd import check_svd_fields, threshold_svd
from .base import CompletionSolver, DivergenceMonitor, SolveInfo, check_int, check_positive
from .registry import register

__all__ = ["SVT", "shrink"]


def shrink(Y: torch.Tensor, tau) -> tuple[torch.Tensor, torch.Tensor]:
    """Singular value shrinkage D_tau(Y) = U diag(max(sigma - tau, 0)) V^T (Cai et al. eq. 2.2).

    ``tau`` is a scalar or a vector of thresholds matched to the singular values in decreasing
    order (weighted SVT). Returns the shrunk matrix and its singular values.
    """
    U, s, Vh = torch.linalg.svd(Y, full_matrices=False)
    s_new = (s - tau).clamp_min(0)
    return (U * s_new.unsqueeze(-2)) @ Vh, s_new


@register
@dataclass
class SVT(CompletionSolver):
    """Singular value thresholding (Cai, Candes & Shen 2010).

    Iterates (eq. 5.1)::

        X^k     = D_tau(Y^{k-1})
        Y^k     = Y^{k-1} + delta P_Omega(M - X^k)

    from the "kicked" start Y^0 = k0 delta P_Omega(M), k0 = ceil(tau / (delta ||P_Omega M||_2))
    (eq. 5.3), and stops when ||P_Omega(X^k - M)||_F / ||P_Omega M||_F <= ``tol`` (eq. 5.5).

    Parameters
    ----------
    tau : float, optional
        Threshold; default 5 sqrt(m n) (the paper's tau = 5 n for n x n matrices).
    delta : float, optional
        Step size; default 1.2 m n / |Omega| (the paper's delta = 1.2 / p, its heuristic for
        uniformly sampled entries). The iteration converges for every 0 < delta < 2 (Cai et al.,
        Theorem 4.2: it is a projected gradient ascent on the dual, whose gradient is
        1-Lipschitz); 1.2 / p exceeds that bound 1 / p-fold and can diverge when the sampling is
        far from uniform, as on rating data, where a few users rate most of the items.
    tol : float
        Relative residual on the observed entries at which to stop (paper: 1e-4).
    max_iter : int
        Iteration budget (500, as the authors' SVT code).
    svd : {"dense", "partial"}
        ``"dense"`` (default): a full thin SVD per iteration. ``"partial"``: the leading triplets
        only, k starting at the previous rank + 1 and growing by ``increment`` until the k-th
        singular value is at most tau, the paper's rule (Section 5.1.1: s_k = r_{k-1} + 1, l = 5),
        by a warm-started subspace iteration (:func:`._partial_svd.threshold_svd`) instead of
        PROPACK; equal to the dense iterate up to the accuracy of the computed triplets.
    subspace_iters, subspace_tol, increment, dense_share : int, float or None, int, float
        Options of ``svd="partial"`` (30, None: sqrt(machine epsilon), 5, 0.25), see
        :func:`._partial_svd.threshold_svd`.
    seed : int
        Seed of the Gaussian start columns of ``svd="partial"`` (0).
    divergence_factor : float
        Stop as diverged when the relative residual exceeds this value (it starts at <= 1).
    raise_on_divergence : bool
        Raise :class:`~.base.DivergenceError` on divergence (see :mod:`.base`).

    Notes
    -----
    Deviations from the paper: with ``svd="dense"`` every iteration computes a full (thin) SVD
    with :func:`torch.linalg.svd` instead of PROPACK's partial SVD with the rank-increment rule
    (s_k = r_{k-1} + 1, increments of l = 5); ``svd="partial"`` follows the rule with a subspace
    iteration. The iterates are the same up to the triplets' accuracy; only the cost differs.
    The record's ``history`` is the relative residual ||P_Omega(X^k - M)||_F / ||P_Omega M||_F.
    A batch (*, m, n) is solved matrix by matrix.
    """

    name = "svt"
    test_params = {"max_iter": 300, "tol": 1e-5}
    history_label = "relative residual on observed entries"

    tau: float | None = None
    delta: float | None = None
    tol: float = 1e-4
    max_iter: int = 500
    svd: str = "dense"
    subspace_iters: int = 30
    subspace_tol: float | None = None
    increment: int = 5
    dense_share: float = 0.25
    seed: int = 0
    divergence_factor: float = 1e6
    raise_on_divergence: bool = True

    def _check_params(self) -> None:
        if self.tau is not None:
            check_positive(self.tau, "tau")
        if self.delta is not None:
            check_positive(self.delta, "delta")
        check_positive(self.tol, "tol")
        check_int(self.max_iter, "max_iter")
        check_positive(self.divergence_factor, "divergence_factor")
        check_svd_fields(self)

    def _solve(self, M, omega, rng):
        m, n = M.shape
        n_obs = int(omega.sum())
        tau = self.tau if self.tau is not None else 5.0 * math.sqrt(m * n)
        delta = self.delta if self.delta is not None else 1.2 * m * n / n_obs
        norm_obs = torch.linalg.matrix_norm(M)  # M is zero off Omega
        zero = torch.zeros((), dtype=M.dtype, device=M.device)
        info = SolveInfo(extra={"tau": tau, "delta": delta})
        if float(norm_obs) == 0.0:
            info.converged = True
            info.message = "all observed entries are zero: X = 0"
            return torch.zeros_like(M), info
        spec = torch.linalg.matrix_norm(M, ord=2)
        k0 = math.ceil(tau / (delta * float(spec)))
        Y = k0 * delta * M
        X = torch.zeros_like(M)
        monitor = DivergenceMonitor(self.divergence_factor, "relative residual")
        monitor.reference = 1.0
        rank, start = 0, None
        for k in range(1, self.max_iter + 1):
            if self.svd == "partial":
                res = threshold_svd(Y, tau, guess=rank + 1, increment=self.increment, dense_share=self.dense_share,
                                    start=start, max_iters=self.subspace_iters, tol=self.subspace_tol,
                                    generator=rng)
                X_new, s, start = res.X, res.s_new, res.Vh.mT
                info.extra["subspace_iterations"] = info.extra.get("subspace_iterations", 0) + res.iterations
            else:
                X_new, s = shrink(Y, tau)
            rank = int((s > 0).sum())
            resid = torch.where(omega, M - X_new, zero)
            rel = float(torch.linalg.matrix_norm(resid) / norm_obs)
            info.iterations = k
            info.history.append(rel)
            msg = monitor.check(rel, k)
            if msg is not None or not bool(torch.isfinite(X_new).all()):
                info.diverged = True
                info.message = msg or f"non-finite iterate at iteration {k}"
                return X, info
            X = X_new
            if rel <= self.tol:
                info.converged = True
                info.message = f"relative residual {rel:.3g} <= tol {self.tol:g} after {k} iterations"
                break
            Y = Y + delta * resid
        else:
            info.message = f"max_iter={self.max_iter} reached (relative residual {rel:.3g})"
        info.extra["rank"] = int((s > 0).sum())
        info.extra["k0"] = k0
        return X, info
