"""SVD-autograd: EDLRR's matrix-completion objective with the exact penalty through svdvals.

The clean reference for "what if you just backpropagate through the SVD": the same loss,
optimiser and schedule as the EDLRR solver (:mod:`._adam_loop`), with
R(X) = sum_i h(sigma_i(X)) computed exactly by :func:`edlrr.exact.lrr`
(:func:`torch.linalg.svdvals`, whose backward is one product U diag(h'(sigma)) V^T).

References
----------
Li et al., "Efficient Differentiable Approximation of Generalized Low-rank Regularization",
IJCAI 2025, eq. (2) (R(S) = sum_i h(sigma_i(S))) and Section 4.1 (matrix completion).
"""
from __future__ import annotations

from dataclasses import dataclass

from edlrr import exact

from ._adam_loop import AdamCompletion, build_penalty
from .registry import register

__all__ = ["SVDAutograd"]


@register
@dataclass
class SVDAutograd(AdamCompletion):
    """Adam on masked MSE + lam * sum_i h(sigma_i(X)) with the exact, svdvals-based penalty.

    Parameters are those of :class:`~._adam_loop.AdamCompletion` (the authors' image demo:
    nuclear penalty, lam 1e-3, Adam lr 0.1, StepLR(100, 0.8), 500 steps, gradient masked to the
    missing entries, X initialised to the observed matrix).

    Notes
    -----
    Deviations: none from the EDLRR loop; the only difference to ``edlrr`` is the exact penalty.
    The loss uses the mean over observed entries (the release), not the paper's sum
    ||P_Omega(X - S)||_F^2; with the gradient mask the fit term does not move X at all, so the
    run minimises R over the missing entries with the observed ones held at the data.
    """

    name = "svd-autograd"
    test_params = {"steps": 1500, "lr": 0.1, "step_size": 100, "lr_decay": 0.8}

    def _regularizer(self, M, rng):
        h = build_penalty(self.penalty, self.penalty_params)
        return lambda X: exact.lrr(X, h)
