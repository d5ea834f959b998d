"""Penalty functions h for generalized low-rank regularizers R(S) = sum_i h(sigma_i(S)).

Each penalty gives its exact value and derivative on singular values (torch, differentiable),
its Taylor coefficients at 0 (EDLRR Theorem 2), its Laguerre coefficients (EDLRR Theorem 3,
computed here by Gauss-Laguerre quadrature with scipy) and the radius of convergence of its
Taylor series. The formulas follow the table of Hu, Nie, Wang & Li (2021), which the EDLRR paper
cites as its summary of relaxations; every penalty carries an overall weight ``lam``.

References
----------
Li et al., "Efficient Differentiable Approximation of Generalized Low-rank Regularization",
IJCAI 2025, eq. (2), Theorems 2 and 3.
Hu, Nie, Wang & Li, "Low rank regularization: A review", Neural Networks 136, 2021, Table 1.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import scipy.special
import torch

__all__ = [
    "Penalty",
    "penalty",
    "available_penalties",
    "SeriesDivergenceWarning",
]


class SeriesDivergenceWarning(UserWarning):
    """A truncated Taylor/Laguerre series is inaccurate (or divergent) at the singular values."""


@functools.lru_cache(maxsize=8)
def _laguerre_nodes(quad_points: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Laguerre nodes and weights of ``quad_points`` points (scipy.special.roots_laguerre), cached."""
    nodes, weights = scipy.special.roots_laguerre(quad_points)
    nodes.setflags(write=False)
    weights.setflags(write=False)
    return nodes, weights


def _log1p_series(order: int) -> np.ndarray:
    """Coefficients of log(1 + y) = sum_{p>=1} (-1)^{p+1} y^p / p."""
    c = np.zeros(order + 1)
    p = np.arange(1, order + 1)
    c[1:] = (-1.0) ** (p + 1) / p
    return c


def _geometric_series(order: int) -> np.ndarray:
    """Coefficients of y / (1 + y) = sum_{p>=1} (-1)^{p+1} y^p."""
    c = np.zeros(order + 1)
    p = np.arange(1, order + 1)
    c[1:] = (-1.0) ** (p + 1)
    return c


def _one_minus_exp_series(order: int) -> np.ndarray:
    """Coefficients of 1 - exp(-y) = sum_{p>=1} (-1)^{p+1} y^p / p!."""
    c = np.zeros(order + 1)
    p = np.arange(1, order + 1)
    c[1:] = (-1.0) ** (p + 1) / scipy.special.factorial(p)
    return c


@dataclass(frozen=True)
class Penalty:
    """A scalar penalty h applied to singular values.

    Use :func:`penalty` to build one by name. ``h(x)`` is evaluated with :meth:`__call__`,
    ``h'(x)`` with :meth:`derivative` (the right derivative at 0, i.e. the supergradient IRNN uses).

    Attributes
    ----------
    name : str
        Registry name, e.g. ``"gamma_nuclear"``.
    params : dict
        The penalty's parameters (``lam`` is the overall weight).
    formula : str
        Human-readable formula of h(x).
    """

    name: str
    params: dict
    formula: str
    _value: Callable = field(repr=False, compare=False)
    _deriv: Callable = field(repr=False, compare=False)
    _taylor: Callable | None = field(repr=False, compare=False)  # order -> coeffs of h(t*y) in y, t = inner scale
    _inner_scale: float = field(repr=False, compare=False, default=1.0)
    radius: float = math.inf
    """Radius of convergence of the Taylor series of h at 0 (in units of x); inf if entire,
    0 if h has no Taylor series at 0 (e.g. x^p for non-integer p)."""


    # -- exact evaluation -------------------------------------------------------------------
    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """h(x), elementwise, differentiable."""
        return self._value(x)

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        """h'(x) elementwise (right derivative at 0)."""
        return self._deriv(x)

    @property
    def value_at_zero(self) -> float:
        return float(self._value(torch.zeros((), dtype=torch.float64)))

    # -- series expansions ------------------------------------------------------------------
    def taylor_coefficients(self, order: int, scale: float = 1.0) -> np.ndarray:
        """Coefficients a_0..a_order with h(scale * y) ~= sum_p a_p y^p (EDLRR Theorem 2).

        ``a_p = h^(p)(0) scale^p / p!``. Raises ``ValueError`` if h has no Taylor series at 0.
        """
        order = _check_order(order)
        scale = _check_scale(scale)
        if self._taylor is None:
            raise ValueError(
                f"penalty {self.name!r} ({self.formula}) has no Taylor series at 0; "
                "use expansion='laguerre'"
            )
        base = self._taylor(order)  # coefficients in z = x / inner_scale
        ratio = scale / self._inner_scale
        return base * ratio ** np.arange(order + 1)

    def laguerre_coefficients(self, order: int, scale: float = 1.0, quad_points: int = 200) -> np.ndarray:
        """Coefficients c_0..c_order with h(scale * y) ~= sum_k c_k L_k(y) (EDLRR Theorem 3).

        ``c_k = int_0^inf L_k(y) e^{-y} h(scale * y) dy``, computed by Gauss-Laguerre quadrature
        (:func:`scipy.special.roots_laguerre`) with ``quad_points`` nodes.
        """
        order = _check_order(order)
        scale = _check_scale(scale)
        nodes, weights = _laguerre_nodes(int(quad_points))
        with torch.no_grad():
            hv = self._value(torch.as_tensor(scale * nodes, dtype=torch.float64)).numpy()
        k = np.arange(order + 1)[:, None]
        lk = scipy.special.eval_laguerre(k, nodes[None, :])
        return (lk * (weights * hv)[None, :]).sum(axis=1)

    def series_coefficients(self, expansion: str, order: int, scale: float = 1.0) -> np.ndarray:
        """Taylor (monomial) or Laguerre coefficients, see the two methods above."""
        if expansion == "taylor":
            return self.taylor_coefficients(order, scale)
        if expansion == "laguerre":
            return self.laguerre_coefficients(order, scale)
        raise ValueError(f"expansion must be 'taylor' or 'laguerre', got {expansion!r}")

    def series_value(self, x, expansion: str, order: int, scale: float = 1.0) -> np.ndarray:
        """The truncated series evaluated at x >= 0 (numpy, float64): the function the
        estimators actually sum over the singular values."""
        y = np.asarray(x, dtype=np.float64) / scale
        coef = self.series_coefficients(expansion, order, scale)
        if expansion == "taylor":
            return np.polynomial.polynomial.polyval(y, coef)
        return np.polynomial.laguerre.lagval(y, coef)

    def series_error(self, x, expansion: str, order: int, scale: float = 1.0) -> float:
        """max |h - series| over x, relative to max |h| over x (0 if h vanishes there)."""
        x = np.ascontiguousarray(x, dtype=np.float64)
        with torch.no_grad():
            exact = self(torch.as_tensor(x)).numpy()
        approx = self.series_value(x, expansion, order, scale)
        denom = np.max(np.abs(exact)) if x.size else 0.0
        err = np.max(np.abs(approx - exact)) if x.size else 0.0
        return float(err / denom) if denom > 0 else float(err)


def _check_order(order) -> int:
    if isinstance(order, bool) or not isinstance(order, (int, np.integer)) or order < 0:
        raise ValueError(f"order must be a non-negative integer, got {order!r}")
    return int(order)


def _check_scale(scale) -> float:
    scale = float(scale)
    if not math.isfinite(scale) or scale <= 0:
        raise ValueError(f"scale must be a positive finite number, got {scale!r}")
    return scale


def _positive(name: str, value) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a real number, got {value!r}") from None
    if not math.isfinite(v) or v <= 0:
        raise ValueError(f"{name} must be positive and finite, got {value!r}")
    return v


# -- the penalties ----------------------------------------------------------------------------

def _nuclear(lam=1.0):
    lam = _positive("lam", lam)
    return dict(
        formula="lam * x",
        value=lambda x: lam * x,
        deriv=lambda x: torch.full_like(x, lam),
        taylor=lambda d: lam * np.eye(1, d + 1, 1)[0] if d >= 1 else np.zeros(d + 1),
        radius=math.inf,
        params=dict(lam=lam),
    )


def _schatten(p=1.0, lam=1.0):
    p = _positive("p", p)
    lam = _positive("lam", lam)
    integer = float(p).is_integer()

    def taylor(d):
        c = np.zeros(d + 1)
        if int(p) <= d:
            c[int(p)] = lam
        return c

    def deriv(x):
        if p == 1:
            return torch.full_like(x, lam)
        return lam * p * x.clamp_min(0) ** (p - 1)

    return dict(
        formula="lam * x**p",
        value=lambda x: lam * x.clamp_min(0) ** p,
        deriv=deriv,
        taylor=taylor if integer else None,
        radius=math.inf if integer else 0.0,
        params=dict(p=p, lam=lam),
    )


def _gamma_nuclear(gamma=1.0, lam=1.0):
    """Kang, Peng & Cheng (ICDM 2015): h(x) = lam (1 + gamma) x / (gamma + x)."""
    g = _positive("gamma", gamma)
    lam = _positive("lam", lam)
    return dict(
        formula="lam * (1 + gamma) * x / (gamma + x)",
        value=lambda x: lam * (1 + g) * x / (g + x),
        deriv=lambda x: lam * (1 + g) * g / (g + x) ** 2,
        taylor=lambda d: lam * (1 + g) * _geometric_series(d),
        inner_scale=g,
        radius=g,
        params=dict(gamma=g, lam=lam),
    )


def _laplace(gamma=1.0, lam=1.0):
    """Trzasko & Manduca (TMI 2008): h(x) = lam (1 - exp(-x / gamma))."""
    g = _positive("gamma", gamma)
    lam = _positive("lam", lam)
    return dict(
        formula="lam * (1 - exp(-x / gamma))",
        value=lambda x: lam * (-torch.expm1(-x / g)),
        deriv=lambda x: lam / g * torch.exp(-x / g),
        taylor=lambda d: lam * _one_minus_exp_series(d),
        inner_scale=g,
        radius=math.inf,
        params=dict(gamma=g, lam=lam),
    )


def _lnn(lam=1.0):
    """Peng, Kang, Li & Cheng (KDD 2015), log-determinant: h(x) = lam log(1 + x)."""
    lam = _positive("lam", lam)
    return dict(
        formula="lam * log(1 + x)",
        value=lambda x: lam * torch.log1p(x),
        deriv=lambda x: lam / (1 + x),
        taylor=lambda d: lam * _log1p_series(d),
        radius=1.0,
        params=dict(lam=lam),
    )


def _logarithm(gamma=1.0, lam=1.0):
    """Friedman (2012): h(x) = lam log(gamma x + 1) / log(gamma + 1)."""
    g = _positive("gamma", gamma)
    lam = _positive("lam", lam)
    c = lam / math.log1p(g)
    return dict(
        formula="lam * log(gamma * x + 1) / log(gamma + 1)",
        value=lambda x: c * torch.log1p(g * x),
        deriv=lambda x: c * g / (1 + g * x),
        taylor=lambda d: c * _log1p_series(d),
        inner_scale=1.0 / g,
        radius=1.0 / g,
        params=dict(gamma=g, lam=lam),
    )


def _etp(gamma=1.0, lam=1.0):
    """Gao, Wang, Yu & Zhang (AAAI 2011): h(x) = lam (1 - exp(-gamma x)) / (1 - exp(-gamma)).

    (The EDLRR release writes exp(-x / gamma); set gamma to its reciprocal to match it.)
    """
    g = _positive("gamma", gamma)
    lam = _positive("lam", lam)
    c = lam / (-math.expm1(-g))
    return dict(
        formula="lam * (1 - exp(-gamma * x)) / (1 - exp(-gamma))",
        value=lambda x: c * (-torch.expm1(-g * x)),
        deriv=lambda x: c * g * torch.exp(-g * x),
        taylor=lambda d: c * _one_minus_exp_series(d),
        inner_scale=1.0 / g,
        radius=math.inf,
        params=dict(gamma=g, lam=lam),
    )


def _geman(gamma=1.0, lam=1.0):
    """Geman & Yang (TIP 1995): h(x) = lam x / (x + gamma)."""
    g = _positive("gamma", gamma)
    lam = _positive("lam", lam)
    return dict(
        formula="lam * x / (x + gamma)",
        value=lambda x: lam * x / (x + g),
        deriv=lambda x: lam * g / (x + g) ** 2,
        taylor=lambda d: lam * _geometric_series(d),
        inner_scale=g,
        radius=g,
        params=dict(gamma=g, lam=lam),
    )


_BUILDERS = {
    "nuclear": _nuclear,
    "schatten": _schatten,
    "gamma_nuclear": _gamma_nuclear,
    "laplace": _laplace,
    "lnn": _lnn,
    "logarithm": _logarithm,
    "etp": _etp,
    "geman": _geman,
}


def available_penalties() -> list[str]:
    """Names accepted by :func:`penalty`."""
    return sorted(_BUILDERS)


def penalty(name: str | Penalty, **params) -> Penalty:
    """Build a penalty h by name.

    ==================  ==============================================  =========================
    name                h(x)                                            Taylor radius at 0
    ==================  ==============================================  =========================
    ``nuclear``         lam x                                           inf
    ``schatten``        lam x^p  (p > 0)                                inf (integer p), else none
    ``gamma_nuclear``   lam (1+gamma) x / (gamma + x)   (Kang 2015)     gamma
    ``laplace``         lam (1 - exp(-x/gamma))         (Trzasko 2008)  inf
    ``lnn``             lam log(1 + x)                  (Peng 2015)     1
    ``logarithm``       lam log(gamma x + 1)/log(gamma + 1) (Friedman)  1/gamma
    ``etp``             lam (1-exp(-gamma x))/(1-exp(-gamma)) (Gao 2011) inf
    ``geman``           lam x / (x + gamma)             (Geman 1995)    gamma
    ==================  ==============================================  =========================

    Parameters
    ----------
    name : str or Penalty
        One of :func:`available_penalties`; a :class:`Penalty` is returned unchanged.
    **params
        ``gamma`` (default 1), ``p`` (schatten, default 1), ``lam`` (weight, default 1).
    """
    if isinstance(name, Penalty):
        if params:
            raise TypeError("parameters cannot be given together with a Penalty object")
        return name
    if not isinstance(name, str):
        raise TypeError(f"penalty name must be a string, got {type(name).__name__}")
    key = name.lower().replace("-", "_")
    if key not in _BUILDERS:
        raise ValueError(f"unknown penalty {name!r}; known penalties: {', '.join(available_penalties())}")
    try:
        spec = _BUILDERS[key](**params)
    except TypeError as exc:
        raise TypeError(f"penalty {key!r}: {exc}") from None
    return Penalty(
        name=key,
        params=spec["params"],
        formula=spec["formula"],
        _value=spec["value"],
        _deriv=spec["deriv"],
        _taylor=spec["taylor"],
        _inner_scale=spec.get("inner_scale", 1.0),
        radius=spec["radius"],
    )
