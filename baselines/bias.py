"""Rating baselines without any low-rank structure: the global mean and the user + item bias model.

Every method of DLRL Table III should beat both; a low-rank method that does not has learnt
nothing the rating averages do not already hold.

References
----------
Y. Koren, "Factorization meets the neighborhood: a multifaceted collaborative filtering model",
KDD 2008, Section 2.1 (baseline estimates b_ui = mu + b_u + b_i, regularised, lambda_2 = 25 for
items and lambda_3 = 10 for users). Y. Koren, R. Bell & C. Volinsky, "Matrix factorization
techniques for recommender systems", IEEE Computer 42(8), 2009 (the same model, "biases").
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .base import CompletionSolver, SolveInfo, check_int, check_positive
from .registry import register

__all__ = ["GlobalMean", "UserItemBias", "bias_objective"]


@register
@dataclass
class GlobalMean(CompletionSolver):
    """Predict the mean of the observed entries everywhere: X_ij = mu = sum_Omega M_ij / |Omega|.

    No hyper-parameters. Cost O(m n). The floor every rating predictor must clear.
    """

    name = "global-mean"
    test_params = {}
    history_label = "mean of the observed entries"

    def _solve(self, M, omega, rng):
        mu = M[omega].mean()
        info = SolveInfo(iterations=1, history=[float(mu)], converged=True,
                         message=f"global mean {float(mu):.6g} of {int(omega.sum())} observed entries")
        return torch.full_like(M, float(mu)), info


def bias_objective(M: torch.Tensor, omega: torch.Tensor, mu: float, b_user: torch.Tensor, b_item: torch.Tensor,
                   lam_user: float, lam_item: float) -> float:
    """J = sum_Omega (M_ui - mu - b_u - b_i)^2 + lam_user sum_u b_u^2 + lam_item sum_i b_i^2 (Koren 2008, eq. 1)."""
    zero = torch.zeros((), dtype=M.dtype, device=M.device)
    r = torch.where(omega, M - mu - b_user[:, None] - b_item[None, :], zero)
    return float((r * r).sum() + lam_user * (b_user * b_user).sum() + lam_item * (b_item * b_item).sum())


@register
@dataclass
class UserItemBias(CompletionSolver):
    """Regularised user + item bias model X_ui = mu + b_u + b_i (rows are users, columns items).

    mu is the mean of the observed entries; the biases minimise the ridge objective
    :func:`bias_objective` with mu fixed,

        J(b) = sum_{(u,i) in Omega} (M_ui - mu - b_u - b_i)^2 + lam_user sum_u b_u^2 + lam_item sum_i b_i^2,

    by alternating exact minimisation over the two blocks (each block has a closed form), items
    first from b_u = 0, as Koren's estimates::

        b_i <- sum_{u in R(i)} (M_ui - mu - b_u) / (lam_item + |R(i)|)
        b_u <- sum_{i in R(u)} (M_ui - mu - b_i) / (lam_user + |R(u)|)

    The first pass is exactly Koren's (KDD 2008, Sec. 2.1) baseline; further passes decrease J
    monotonically (block coordinate descent on a strictly convex quadratic when both weights are
    positive) to its minimiser. A user or item without an observed entry gets bias 0.

    Parameters
    ----------
    lam_user, lam_item : float
        Ridge weights of the user and item biases (10 and 25, Koren's lambda_3 and lambda_2,
        chosen there on Netflix; >= 0).
    max_passes : int
        Alternating passes at most (50).
    tol : float
        Stop when no bias changed by more than ``tol`` in a pass (1e-8); sets ``converged``.

    Notes
    -----
    Cost O(|Omega|) per pass on sparse data; here O(m n) per pass on the dense masked matrix
    (elementwise, device-agnostic). ``history`` holds J after each pass; ``extra`` the final
    biases' means and mu.
    """

    name = "user-item-bias"
    test_params = {"max_passes": 20}
    history_label = "ridge objective J(b) of the bias model"

    lam_user: float = 10.0
    lam_item: float = 25.0
    max_passes: int = 50
    tol: float = 1e-8

    def _check_params(self) -> None:
        check_positive(self.lam_user, "lam_user", allow_zero=True)
        check_positive(self.lam_item, "lam_item", allow_zero=True)
        check_int(self.max_passes, "max_passes")
        check_positive(self.tol, "tol")

    def _solve(self, M, omega, rng):
        zero = torch.zeros((), dtype=M.dtype, device=M.device)
        mu = M[omega].mean()
        n_user = omega.sum(dim=1).to(M.dtype)   # |R(u)|
        n_item = omega.sum(dim=0).to(M.dtype)   # |R(i)|
        # an entity without ratings has a zero numerator; the max keeps 0 / 0 out when lam = 0
        den_user = (n_user + self.lam_user).clamp_min(1.0 if self.lam_user == 0 else 0.0)
        den_item = (n_item + self.lam_item).clamp_min(1.0 if self.lam_item == 0 else 0.0)
        centred = torch.where(omega, M - mu, zero)
        b_user = torch.zeros(M.shape[0], dtype=M.dtype, device=M.device)
        b_item = torch.zeros(M.shape[1], dtype=M.dtype, device=M.device)
        info = SolveInfo()
        for k in range(1, self.max_passes + 1):
            new_item = (centred - torch.where(omega, b_user[:, None], zero)).sum(dim=0) / den_item
            new_user = (centred - torch.where(omega, new_item[None, :], zero)).sum(dim=1) / den_user
            change = max(float((new_item - b_item).abs().max()), float((new_user - b_user).abs().max()))
            b_user, b_item = new_user, new_item
            info.iterations = k
            info.history.append(bias_objective(M, omega, float(mu), b_user, b_item, self.lam_user, self.lam_item))
            if change <= self.tol:
                info.converged = True
                info.message = f"largest bias change {change:.3g} <= tol {self.tol:g} after {k} passes"
                break
        else:
            info.message = f"max_passes={self.max_passes} reached (last largest bias change {change:.3g})"
        info.extra.update(mu=float(mu), mean_user_bias=float(b_user.mean()), mean_item_bias=float(b_item.mean()))
        return mu + b_user[:, None] + b_item[None, :], info
