"""EDLRR's video model, min_X ||V - X||_1 + lambda R(X), by Adam with the core estimator.

References
----------
Li et al., "Efficient Differentiable Approximation of Generalized Low-rank Regularization",
IJCAI 2025, Section 4.2 (video fore-background separation, nuclear norm as R) and the authors'
``Demo-bgDetection.ipynb`` (github.com/naiqili/EDLRR) for the optimiser.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from edlrr import exact

from ._adam_loop import adam_minimize, build_penalty
from .base import (RPCASolver, check_choice, check_int,
                   check_positive)
from .edlrr_solver import check_estimator, edlrr_regularizer
from .registry import register

__all__ = ["EDLRRRPCA"]

METHODS = ("paper", "released")
"""The estimator methods of the video model (the paper's and its authors' code)."""

RELEASE_LR_8BIT = 200.0
"""The demo's Adam learning rate, for 8-bit pixel values in [0, 255]."""


@register
@dataclass
class EDLRRRPCA(RPCASolver):
    """min_X ||V - X||_1 + lam R(X) by Adam; low rank = X, sparse = V - X (EDLRR Section 4.2).

    Parameters
    ----------
    lam : float or None
        Weight of R. Default sqrt(max(m, n)): the same trade-off as robust PCA's
        ||A||_* + (1/sqrt(max(m, n))) ||E||_1 (Candes et al. 2011). The demo's loss,
        1e4 * mean|V - X| + ||X||_*, corresponds to lam = m n / 1e4 (208 on its 100 x 20800
        escalator matrix, where sqrt(max(m, n)) = 144).
    regularizer : {"estimator", "exact"}
        R by the EDLRR estimator (the paper) or exactly through ``torch.linalg.svdvals``.
    penalty, penalty_params
        h of R (``"nuclear"`` as in the paper; gamma defaults to 500 as in the demo).
    method, options, expansion, order, scale, on_series_error, seed
        Estimator settings, as for the ``edlrr`` completion solver; ``method`` is ``"paper"``
        (default) or ``"released"``.
    lr : float or None
        Adam learning rate; default 200 * max|V| / 255, the demo's lr = 200 for 8-bit pixels
        rescaled to the data's range.
    steps, step_size, lr_decay : int, int, float
        500 steps, StepLR(400, 0.5), as the demo.
    divergence_factor, raise_on_divergence
        See :mod:`.base`.

    Notes
    -----
    Deviations from the demo: the loss is written as the paper's ||V - X||_1 + lam R(X) (the
    demo's 1e4 * mean|V - X| + R(X) is a positive multiple of it for lam = m n / 1e4, and Adam is
    invariant to such a factor up to its epsilon); the default lam and lr are scale-free versions
    of the demo's values (see above). X starts at V, as in the demo. The L1 term is non-smooth,
    so Adam settles within about the final learning rate of the minimiser rather than
    converging; ``converged`` is False unless ``tol`` stops the run. ``history`` holds the loss.
    """

    name = "edlrr-rpca"
    test_params = {"regularizer": "exact", "steps": 1500, "step_size": 150, "lr_decay": 0.7}
    history_label = "loss = ||V - X||_1 + lam * R(X)"

    lam: float | None = None
    regularizer: str = "estimator"
    penalty: str = "nuclear"
    penalty_params: dict = field(default_factory=dict)
    method: str = "paper"
    options: Any = None
    expansion: str | None = None
    order: int | None = None
    scale: float | None = None
    on_series_error: str | None = None
    seed: int = 0
    lr: float | None = None
    steps: int = 500
    step_size: int = 400
    lr_decay: float = 0.5
    tol: float | None = None
    divergence_factor: float = 1e6
    raise_on_divergence: bool = True

    def _check_params(self) -> None:
        if self.lam is not None:
            check_positive(self.lam, "lam")
        check_choice(self.regularizer, "regularizer", ("estimator", "exact"))
        if self.expansion is not None:
            check_choice(self.expansion, "expansion", ("taylor", "laguerre"))
        check_estimator(self, METHODS)
        if self.lr is not None:
            check_positive(self.lr, "lr")
        check_int(self.steps, "steps")
        check_int(self.step_size, "step_size")
        check_positive(self.lr_decay, "lr_decay")
        check_int(self.seed, "seed", minimum=0)
        if self.tol is not None:
            check_positive(self.tol, "tol")

    def _solve(self, V, rng):
        m, n = V.shape
        lam = self.lam if self.lam is not None else math.sqrt(max(m, n))
        vmax = float(V.abs().max())
        lr = self.lr if self.lr is not None else RELEASE_LR_8BIT * (vmax if vmax > 0 else 1.0) / 255.0
        h = build_penalty(self.penalty, self.penalty_params)
        if self.regularizer == "exact":
            def reg(X):
                return exact.lrr(X, h)
        else:
            reg = edlrr_regularizer(h, method=self.method, options=self.options, expansion=self.expansion,
                                    order=self.order, scale=self.scale, on_series_error=self.on_series_error,
                                    generator=rng)
        last_good, info = adam_minimize(
            V, lambda X: (V - X).abs().sum() + lam * reg(X), lr=lr, steps=self.steps,
            step_size=self.step_size, lr_decay=self.lr_decay, tol=self.tol,
            divergence_factor=self.divergence_factor,
            budget_message=f"fixed budget of {self.steps} steps done")
        info.extra.update({"lam": lam, "lr": lr})
        return last_good, V - last_good, info
