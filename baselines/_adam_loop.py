"""The gradient loop shared by ``svd-autograd`` and ``edlrr`` (and the penalty plumbing).

The loop is the authors' image-completion demo (github.com/naiqili/EDLRR, ``Demo-image.ipynb``):
X is initialised to the observed matrix (zeros at the missing entries); each step evaluates

    loss = sum_{(i,j) in Omega} (X_ij - M_ij)^2 / |Omega|  +  lam * R(X)

backpropagates, multiplies the gradient by the missing-entry mask (so only missing entries
move: the observed ones stay equal to the data), and takes an Adam step; the learning rate
follows StepLR(step_size, gamma). A batch of channels (*, m, n) is optimised jointly: the loss is
the sum of the per-channel losses and Adam acts entrywise, so this equals one optimiser per
channel as in the demo.

References
----------
Li et al., "Efficient Differentiable Approximation of Generalized Low-rank Regularization",
IJCAI 2025, Section 4.1 (matrix completion, min ||P_Omega(X - S)||_F^2 + lambda R(X)).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch

from edlrr.penalties import Penalty, penalty as make_penalty

from .base import (CompletionSolver, DivergenceMonitor, SolveInfo, check_int, check_positive)

__all__ = ["AdamCompletion", "adam_completion", "adam_minimize", "build_penalty", "GAMMA_PENALTIES",
           "DEFAULT_GAMMA"]

GAMMA_PENALTIES = ("gamma_nuclear", "laplace", "logarithm", "etp", "geman")
DEFAULT_GAMMA = 500.0
"""The authors' ``f_gamma`` in both demos."""


def build_penalty(name: str, params: dict) -> Penalty:
    """``edlrr.penalty(name, **params)``, with gamma = 500 (the authors' value) when h takes a
    gamma and none is given."""
    params = dict(params)
    key = name.lower().replace("-", "_") if isinstance(name, str) else name
    if key in GAMMA_PENALTIES and "gamma" not in params:
        params["gamma"] = DEFAULT_GAMMA
    return make_penalty(name, **params)


def adam_minimize(X0: torch.Tensor, loss_fn: Callable[[torch.Tensor], torch.Tensor], *, lr: float, steps: int,
                  step_size: int, lr_decay: float, grad_mask: torch.Tensor | None = None,
                  tol: float | None = None, divergence_factor: float = 1e6,
                  budget_message: str | None = None) -> tuple[torch.Tensor, SolveInfo]:
    """Adam + StepLR on ``loss_fn(X)`` (a scalar) from X0, shared by the gradient solvers.

    ``grad_mask`` (bool, True = frozen entry) zeroes the gradient there before each step, as the
    authors do with the observed entries. ``history`` holds the loss at X_k before step k; the
    loop stops on a non-finite iterate or loss, on an exploding loss (``divergence_factor``),
    or, with ``tol``, when |L_k - L_{k-1}| <= tol |L_{k-1}| (``converged=True``). Returns the
    last finite iterate and the :class:`SolveInfo`.
    """
    X = X0.clone().requires_grad_(True)
    optimizer = torch.optim.Adam([X], lr=lr)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=step_size, gamma=lr_decay)
    zero = torch.zeros((), dtype=X0.dtype, device=X0.device)
    monitor = DivergenceMonitor(divergence_factor, "loss")
    info = SolveInfo()
    last_good = X0.clone()
    prev = None
    for k in range(steps):
        if not bool(torch.isfinite(X).all()):
            info.diverged = True
            info.message = f"non-finite iterate at step {k}"
            break
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(X)
        value = float(loss.detach())
        info.history.append(value)
        msg = monitor.check(value, k)
        if msg is not None:
            info.diverged = True
            info.message = msg
            break
        last_good = X.detach().clone()
        if prev is not None and tol is not None and abs(value - prev) <= tol * abs(prev):
            info.converged = True
            info.message = f"relative loss change <= tol {tol:g} at step {k}"
            break
        prev = value
        loss.backward()
        if grad_mask is not None:
            X.grad = torch.where(grad_mask, zero, X.grad)
        optimizer.step()
        scheduler.step()
        info.iterations = k + 1
    else:
        info.message = budget_message or (
            f"fixed budget of {steps} steps done (no convergence test)" if tol is None
            else f"steps={steps} reached before the relative loss change fell below {tol:g}")
        last_good = X.detach()
    return last_good, info


def adam_completion(M: torch.Tensor, omega: torch.Tensor, regularizer: Callable[[torch.Tensor], torch.Tensor],
                    *, lam: float, lr: float, steps: int, step_size: int, lr_decay: float,
                    mask_gradient: bool = True, tol: float | None = None,
                    divergence_factor: float = 1e6) -> tuple[torch.Tensor, SolveInfo]:
    """The loop described in the module docstring: :func:`adam_minimize` on the masked MSE
    (mean over the observed entries) + lam * ``regularizer(X)`` (shape (*,)), from X = M."""
    n_obs = omega.sum(dim=(-2, -1)).to(M.dtype)
    zero = torch.zeros((), dtype=M.dtype, device=M.device)

    def loss_fn(X):
        fit = (torch.where(omega, X - M, zero) ** 2).sum(dim=(-2, -1)) / n_obs
        return (fit + lam * regularizer(X)).sum()

    return adam_minimize(M, loss_fn, lr=lr, steps=steps, step_size=step_size, lr_decay=lr_decay,
                         grad_mask=omega if mask_gradient else None, tol=tol,
                         divergence_factor=divergence_factor)


@dataclass
class AdamCompletion(CompletionSolver):
    """Common fields of the Adam-based completion solvers (defaults: the authors' image demo).

    Parameters
    ----------
    penalty : str
        h of R(X) = sum_i h(sigma_i(X)); ``"nuclear"`` (default), ``"gamma_nuclear"``,
        ``"laplace"``, ... (:func:`edlrr.penalties.available_penalties`).
    penalty_params : dict
        Parameters of h; ``gamma`` defaults to 500 (the authors' ``f_gamma``), ``lam`` (h's own
        weight, the authors' ``f_lam``) to 1.
    lam : float
        Weight of R(X) in the loss (1e-3).
    lr : float
        Adam learning rate (0.1).
    steps : int
        Optimiser steps (500).
    step_size, lr_decay : int, float
        StepLR schedule (100, 0.8).
    mask_gradient : bool
        Multiply the gradient by the missing-entry mask (True, as the authors).
    tol : float or None
        Optional early stop on the relative loss change (None: fixed budget, as the authors).
    divergence_factor, raise_on_divergence
        See :mod:`.base`.
    """

    batched = True
    history_label = "loss = masked MSE + lam * R(X) (summed over channels)"

    penalty: str = "nuclear"
    penalty_params: dict = field(default_factory=dict)
    lam: float = 1e-3
    lr: float = 0.1
    steps: int = 500
    step_size: int = 100
    lr_decay: float = 0.8
    mask_gradient: bool = True
    tol: float | None = None
    divergence_factor: float = 1e6
    raise_on_divergence: bool = True

    def _check_params(self) -> None:
        build_penalty(self.penalty, self.penalty_params)
        check_positive(self.lam, "lam", allow_zero=True)
        check_positive(self.lr, "lr")
        check_int(self.steps, "steps")
        check_int(self.step_size, "step_size")
        check_positive(self.lr_decay, "lr_decay")
        if self.tol is not None:
            check_positive(self.tol, "tol")
        if not isinstance(self.mask_gradient, bool):
            raise TypeError(f"mask_gradient must be a bool, got {self.mask_gradient!r}")

    def _regularizer(self, M: torch.Tensor, rng) -> Callable[[torch.Tensor], torch.Tensor]:
        raise NotImplementedError

    def _solve(self, M, omega, rng):
        reg = self._regularizer(M, rng)
        return adam_completion(M, omega, reg, lam=self.lam, lr=self.lr, steps=self.steps,
                               step_size=self.step_size, lr_decay=self.lr_decay,
                               mask_gradient=self.mask_gradient, tol=self.tol,
                               divergence_factor=self.divergence_factor)
