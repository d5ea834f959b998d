"""edlrr: differentiable low-rank regularizers R(S) = sum_i h(sigma_i(S)).

EDLRR's SVD-free estimators (Li, Xie, Liu, Dai, Jiang & Xia, "Efficient Differentiable
Approximation of Generalized Low-rank Regularization", IJCAI 2025: Gaussian probes, an iterative
pseudo-inverse, a Newton-Schulz square root, Taylor/Laguerre series for general h), exact dense
and Krylov estimators, and the Theorem 4 quantities.

Public API
----------
nuclear_norm, schatten, rank, lrr   the estimators: ``method=`` one word, ``options=`` its options
Auto, Dense, Krylov, Matvec, Polar, Paper, Released   the options of each method (edlrr.options)
plan                               which algorithm a call runs, and why
LowRankRegularizer                 nn.Module: weight * R(S) as a loss term
penalty, available_penalties       the penalty functions h
exact                              the exact values through torch.linalg.svdvals
theory                             Theorem 4 quantities (bias, variance, probability bound)
linalg                             the building blocks (Propositions 1-2, the release's variants)
krylov, bidiagonal, polar          the Lanczos, Golub-Kahan and polar algorithms

The default ``method="auto"`` computes exactly (dense) while min(m, n) <= 1024 and by deflated
Lanczos quadrature or the deflated polar iteration above; ``method="paper"`` and
``method="released"`` are the paper's and its authors' recipes.
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
