"""Robust PCA by the inexact augmented Lagrange multiplier method (IALM).

References
----------
Z. Lin, M. Chen & Y. Ma, "The augmented Lagrange multiplier method for exact recovery of
corrupted low-rank matrices", UIUC Tech. Rep. UILU-ENG-09-2215, 2009 / arXiv:1009.5055, 2010:
problem (2) (min ||A||_* + lambda ||E||_1 s.t. D = A + E), Algorithm 5 (inexact ALM), Section 4
(lambda = 1/sqrt(max(m, n)), Y_0 = D / J(D), mu_0 = 1.25/||D||_2, stopping rule 1e-7).
E. J. Candes, X. Li, Y. Ma & J. Wright, "Robust principal component analysis?", J. ACM 58(3),
2011 (the choice lambda = 1/sqrt(max(m, n))).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .base import DivergenceMonitor, RPCASolver, SolveInfo, check_int, check_positive
from .registry import register
from .svt import shrink

__all__ = ["RPCAIALM"]


@register
@dataclass
class RPCAIALM(RPCASolver):
    """Robust PCA, D = A + E with A low rank and E sparse, by inexact ALM (Lin, Chen & Ma 2010).

    Algorithm 5::

        E_{k+1} = S_{lambda/mu_k}(D - A_k + Y_k / mu_k)           (entrywise soft threshold)
        A_{k+1} = D_{1/mu_k}(D - E_{k+1} + Y_k / mu_k)            (singular value threshold)
        Y_{k+1} = Y_k + mu_k (D - A_{k+1} - E_{k+1})
        mu_{k+1} = min(rho mu_k, mu_bar)

    with Y_0 = D / J(D), J(D) = max(||D||_2, ||D||_inf / lambda), A_0 = E_0 = 0, stopping when
    ||D - A_k - E_k||_F / ||D||_F < ``tol``.

    Parameters
    ----------
    lam : float or None
        Weight of ||E||_1; default 1 / sqrt(max(m, n)).
    mu0_factor : float
        mu_0 = mu0_factor / ||D||_2 (1.25).
    rho : float
        Growth of mu (1.6 as stated in the paper's Section 4; the authors' MATLAB code
        ``inexact_alm_rpca.m`` ships with 1.5).
    mu_bar_factor : float
        mu_bar = mu_bar_factor * mu_0 (1e7, the authors' code).
    tol : float
        Relative constraint violation at which to stop (1e-7).
    max_iter : int
        Iteration budget (1000, the authors' code).
    divergence_factor, raise_on_divergence
        See :mod:`.base`.

    Notes
    -----
    Deviations: a full thin SVD per iteration (:func:`torch.linalg.svd`) instead of PROPACK's
    partial SVD with the authors' rank prediction (same iterates, different cost). ``history``
    holds ||A_k||_* + lambda ||E_k||_1; ``extra["violation"]`` the relative constraint
    violation per iteration.
    """

    name = "rpca-ialm"
    test_params = {"max_iter": 500}

    lam: float | None = None
    mu0_factor: float = 1.25
    rho: float = 1.6
    mu_bar_factor: float = 1e7
    tol: float = 1e-7
    max_iter: int = 1000
    divergence_factor: float = 1e6
    raise_on_divergence: bool = True

    def _check_params(self) -> None:
        if self.lam is not None:
            check_positive(self.lam, "lam")
        check_positive(self.mu0_factor, "mu0_factor")
        if check_positive(self.rho, "rho") <= 1.0:
            raise ValueError(f"rho must exceed 1, got {self.rho}")
        check_positive(self.mu_bar_factor, "mu_bar_factor")
        check_positive(self.tol, "tol")
        check_int(self.max_iter, "max_iter")

    def _solve(self, D, rng):
        m, n = D.shape
        lam = self.lam if self.lam is not None else 1.0 / math.sqrt(max(m, n))
        info = SolveInfo(extra={"lam": lam, "violation": []})
        d_norm = float(torch.linalg.matrix_norm(D))
        if d_norm == 0.0:
            info.converged = True
            info.message = "V = 0: A = E = 0"
            return torch.zeros_like(D), torch.zeros_like(D), info
        norm_two = float(torch.linalg.matrix_norm(D, ord=2))
        norm_inf = float(D.abs().max()) / lam
        Y = D / max(norm_two, norm_inf)
        A = torch.zeros_like(D)
        E = torch.zeros_like(D)
        mu = self.mu0_factor / norm_two
        mu_bar = mu * self.mu_bar_factor
        monitor = DivergenceMonitor(self.divergence_factor, "relative constraint violation")
        monitor.reference = 1.0
        rank = 0
        for k in range(1, self.max_iter + 1):
            T = D - A + Y / mu
            E_new = torch.sign(T) * (T.abs() - lam / mu).clamp_min(0)
            A_new, s = shrink(D - E_new + Y / mu, 1.0 / mu)
            Z = D - A_new - E_new
            violation = float(torch.linalg.matrix_norm(Z)) / d_norm
            objective = float(s.sum()) + lam * float(E_new.abs().sum())
            info.iterations = k
            info.history.append(objective)
            info.extra["violation"].append(violation)
            msg = monitor.check(violation, k)
            if msg is not None or not math.isfinite(objective):
                info.diverged = True
                info.message = msg or f"objective became {objective} at iteration {k}"
                return A, E, info
            A, E = A_new, E_new
            rank = int((s > 0).sum())
            Y = Y + mu * Z
            mu = min(mu * self.rho, mu_bar)
            if violation < self.tol:
                info.converged = True
                info.message = f"relative violation {violation:.3g} < tol {self.tol:g} after {k} iterations"
                break
        else:
            info.message = f"max_iter={self.max_iter} reached (relative violation {violation:.3g})"
        info.extra["rank"] = rank
        return A, E, info
