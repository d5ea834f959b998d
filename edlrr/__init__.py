"""edlrr: differentiable, SVD-free low-rank regularizers.

R(S) = sum_i h(sigma_i(S)) estimated with Gaussian probes, an iterative pseudo-inverse and a
Newton-Schulz square root (Li, Xie, Liu, Dai, Jiang & Xia, "Efficient Differentiable
Approximation of Generalized Low-rank Regularization", IJCAI 2025).

Public API
----------
schatten, nuclear_norm, rank, lrr   stochastic estimators (Theorems 1-3, Propositions 3-4)
penalty, available_penalties       the penalty functions h
LowRankRegularizer                 nn.Module: weight * R(S) as a loss term
exact                              the exact values through torch.linalg.svdvals
theory                             Theorem 4 quantities (bias, variance, probability bound)
linalg                             the building blocks (Propositions 1-2, released variants)
krylov                             ours: deflated stochastic Lanczos quadrature (preset="fast")
bidiagonal                         ours: self-deflated Golub-Kahan quadrature (preset="matvec")
polar                              ours: deflated polar iteration, the preset's nuclear norm

Presets: ``"paper"`` (default), ``"released"`` (the authors' code), ``"fast"`` (ours: about
1% error at 5-10x the speed of an exact svdvals at n = 2048-4096; ``edlrr-bench fast``) and
``"matvec"`` (ours: 100 products by S or S^T, the most accurate per product on decaying spectra).
"""
from . import bidiagonal, exact, krylov, linalg, polar, theory
from .estimators import PRESETS, PrecisionWarning, Settings, lrr, nuclear_norm, rank, resolve_settings, schatten
from .options import METHODS, Auto, Dense, Krylov, Matvec, Paper, Plan, Polar, Released, plan
from .module import LowRankRegularizer
from .penalties import Penalty, SeriesDivergenceWarning, available_penalties, penalty

__version__ = "0.1.0"

__all__ = [
    "schatten", "nuclear_norm", "rank", "lrr", "penalty", "available_penalties", "Penalty",
    "SeriesDivergenceWarning", "PrecisionWarning", "LowRankRegularizer", "Settings", "PRESETS", "resolve_settings",
    "METHODS", "Auto", "Dense", "Krylov", "Matvec", "Paper", "Plan", "Polar", "Released", "plan",
    "exact", "theory", "linalg", "krylov", "bidiagonal", "polar", "__version__",
]
