"""Theorem 4 of the EDLRR paper, computed on exact singular values.

With ``internals="paper"`` every operator the estimator applies is a function of S S^T: after
k1 Ben-Israel-Cohen iterations the projection acts on an eigenvalue lambda = sigma^2 as
f_k1(lambda) = 1 - (1 - alpha lambda)^(2^k1) (alpha = 1 / ||S||_F^2), and the Newton-Schulz root
as a scalar iteration r_k2(lambda). The estimate for one Gaussian probe is therefore the
quadratic form g^T D g with D = diag(f(lambda) r(lambda)), whose mean and variance are exact:

    E[X] = sum_i f(lambda_i) r(lambda_i),     Var[X] = 2 sum_i (f(lambda_i) r(lambda_i))^2 / N.

With exact operators (k1, k2 -> inf) these are sum sigma^p and 2 ||S||_{2p}^{2p} / N (the
variance term of Theorem 4). The theorem's bound reads

    Pr(|X - T| / T <= eps) >= 1 - 2 C^2 ||S||_{2p}^{2p} / (N (T (eps + E))^2),

with T = sum sigma^p, C(k1, k2) -> 1 and E(k1, k2) -> 0. The paper's appendix is not part of
its text here, so we take C^2 = sum (f r)^2 / sum sigma^(2p) and E = |E[X] - T| / T (the
relative bias). Note the "+ E": Chebyshev's inequality only gives the bound with (eps - E)
when eps > E; :func:`probability_bound` offers both (``form="paper"`` / ``"chebyshev"``) so that
a measurement can be set against each.

References
----------
Li et al., IJCAI 2025, Theorem 4. Hutchinson, Commun. Stat. Simul. Comput. 19, 1990.
"""
from __future__ import annotations

import numpy as np
import torch

from .estimators import dyadic_fraction
from .penalties import Penalty, penalty as _penalty

__all__ = [
    "projection_filter",
    "newton_schulz_root",
    "operator_spectrum",
    "expected_estimate",
    "exact_value",
    "bias",
    "variance",
    "hutchinson_variance",
    "probability_bound",
    "series_bias",
]


def _sigma(sigma) -> torch.Tensor:
    if isinstance(sigma, torch.Tensor):
        s = sigma.detach().to(torch.float64).flatten()
    else:
        s = torch.as_tensor(np.ascontiguousarray(sigma, dtype=np.float64)).flatten()
    if s.numel() == 0 or bool((s < 0).any()) or not bool(torch.isfinite(s).all()):
        raise ValueError("sigma must be a non-empty vector of finite, non-negative singular values")
    return s


def projection_filter(sigma, k1: int) -> torch.Tensor:
    """f_k1(sigma^2) = 1 - (1 - alpha sigma^2)^(2^k1), alpha = 1/sum sigma^2 (Prop. 1);
    None for k1 means the exact projection (1 on nonzero singular values)."""
    s = _sigma(sigma)
    lam = s**2
    if k1 is None:
        return (lam > 0).to(lam.dtype)
    alpha = 1.0 / lam.sum() if lam.sum() > 0 else torch.tensor(0.0, dtype=lam.dtype)
    return 1 - (1 - alpha * lam) ** (2**k1)


def newton_schulz_root(eigenvalues, k2: int | None) -> torch.Tensor:
    """The eigenvalues of :func:`edlrr.linalg.sqrt_newton_schulz` applied to a PSD matrix with
    the given eigenvalues (the scalar version of Prop. 2, Frobenius-normalised)."""
    lam = torch.as_tensor(eigenvalues, dtype=torch.float64).flatten()
    if k2 is None:
        return lam.sqrt()
    norm = lam.norm()
    if norm == 0:
        return torch.zeros_like(lam)
    y, z = lam / norm, torch.ones_like(lam)
    for _ in range(k2):
        t = 1.5 - 0.5 * z * y
        y, z = y * t, t * z
    return norm.sqrt() * y


def operator_spectrum(sigma, p: float, k2: int | None) -> torch.Tensor:
    """Eigenvalues of the estimator's (S S^T)^{p/2} with k2 Newton-Schulz iterations (None:
    exact), on the nonzero and zero singular values alike."""
    s = _sigma(sigma)
    lam = s**2
    j, level = dyadic_fraction(p / 2)
    whole, frac = divmod(j, 2**level)
    out = lam**whole
    root = lam
    for lv in range(1, level + 1):
        root = newton_schulz_root(root, k2)
        if (frac >> (level - lv)) & 1:
            out = out * root
    return out


def expected_estimate(sigma, p: float, k1: int | None, k2: int | None, project: bool = True) -> float:
    """E[X] of the paper-internals estimator of sum sigma^p (p = 0: the rank, Prop. 3).

    ``sigma`` holds the singular values of the side the estimator works on (min(m, n) values
    with ``side="auto"``); zeros there matter only with ``project=False``.
    """
    s = _sigma(sigma)
    f = projection_filter(s, k1) if project else torch.ones_like(s)
    if p == 0:
        return float((f * f).sum())
    return float((f * operator_spectrum(s, p, k2)).sum())


def exact_value(sigma, p: float) -> float:
    """sum over nonzero sigma of sigma^p (p = 0: the rank)."""
    s = _sigma(sigma)
    s = s[s > 0]
    return float(s.numel()) if p == 0 else float((s**p).sum())


def bias(sigma, p: float, k1: int | None, k2: int | None, project: bool = True, relative: bool = False) -> float:
    """E[X] - sum sigma^p for the given k1, k2 (exactly, from the singular values)."""
    b = expected_estimate(sigma, p, k1, k2, project) - exact_value(sigma, p)
    if relative:
        t = exact_value(sigma, p)
        return b / t if t else float("nan")
    return b


def variance(sigma, p: float, probes: int, k1: int | None = None, k2: int | None = None,
             project: bool = True) -> float:
    """Var[X] with N Gaussian probes: 2 sum (f r)^2 / N; with k1 = k2 = None this is the
    theorem's 2 ||S||_{2p}^{2p} / N (p = 0: 2 rank / N)."""
    s = _sigma(sigma)
    f = projection_filter(s, k1) if project else torch.ones_like(s)
    d = f * f if p == 0 else f * operator_spectrum(s, p, k2)
    return float(2 * (d * d).sum() / probes)


def hutchinson_variance(B: torch.Tensor, probes: int, kind: str = "gaussian") -> float:
    """Variance of (1/N) sum g^T B g for a symmetric B: 2||B||_F^2 / N (Gaussian) or
    2 (||B||_F^2 - sum_i B_ii^2) / N (Rademacher)."""
    B = torch.as_tensor(B, dtype=torch.float64)
    fro2 = float((B * B).sum())
    if kind == "gaussian":
        return 2 * fro2 / probes
    if kind == "rademacher":
        return 2 * (fro2 - float((torch.diagonal(B) ** 2).sum())) / probes
    raise ValueError(f"kind must be 'gaussian' or 'rademacher', got {kind!r}")


def probability_bound(sigma, p: float, probes: int, eps: float, k1: int | None = None,
                      k2: int | None = None, form: str = "paper") -> float:
    """Lower bound on Pr(|X - T| / T <= eps) (Theorem 4), clipped to [0, 1].

    ``form="paper"``: 1 - 2 C^2 ||S||_{2p}^{2p} / (N (T (eps + E))^2), as printed.
    ``form="chebyshev"``: 1 - Var[X] / (T (eps - E))^2 for eps > E, else 0; this one is
    implied by Chebyshev's inequality.
    """
    if eps <= 0:
        raise ValueError(f"eps must be positive, got {eps}")
    T = exact_value(sigma, p)
    if T == 0:
        return float("nan")
    E = abs(bias(sigma, p, k1, k2, relative=True))
    var = variance(sigma, p, probes, k1, k2)  # = 2 C^2 ||S||_{2p}^{2p} / N
    if form == "paper":
        bound = 1 - var / (T * (eps + E)) ** 2
    elif form == "chebyshev":
        bound = 1 - var / (T * (eps - E)) ** 2 if eps > E else 0.0
    else:
        raise ValueError(f"form must be 'paper' or 'chebyshev', got {form!r}")
    return float(min(1.0, max(0.0, bound)))


def series_bias(sigma, penalty: str | Penalty, expansion: str, order: int, scale: float) -> float:
    """sum_i (series(sigma_i) - h(sigma_i)) over nonzero sigma: the truncation bias of
    :func:`edlrr.lrr` with exact operators."""
    h = _penalty(penalty)
    s = _sigma(sigma)
    s = s[s > 0]
    approx = h.series_value(s.numpy(), expansion, order, scale)
    with torch.no_grad():
        exact = h(s).numpy()
    return float(np.sum(approx - exact))
