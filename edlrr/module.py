"""``LowRankRegularizer``: a spectral regularizer as a loss term (an ``nn.Module``)."""
from __future__ import annotations

import warnings

import torch
from torch import nn

from . import options as options_mod
from .estimators import _LEGACY_SERIES, dyadic_fraction, as_number, lrr, resolve_settings, schatten
from .penalties import Penalty, penalty as _penalty

__all__ = ["LowRankRegularizer"]


class LowRankRegularizer(nn.Module):
    """``weight * R(S)``, R(S) = sum_i h(sigma_i(S)), as a loss term.

    The module holds the estimator's method and options and its own :class:`torch.Generator`,
    so a stochastic method draws fresh probes on every call (an unbiased stochastic gradient)
    while ``seed`` makes the whole run repeatable.

    Parameters
    ----------
    penalty : str or Penalty, default "nuclear"
        h, see :func:`edlrr.penalty`; ``penalty_params`` are passed to it.
    weight : float
        lambda in ``loss + lambda * R(S)``: a finite number >= 0 (or a one-element tensor).
    method, options : see :func:`edlrr.lrr`
        Default ``"auto"``: the recommended algorithm for each input's size. The nuclear norm
        and Schatten-p penalties go through :func:`edlrr.schatten` (for ``"paper"`` when p is
        reachable by square roots, for ``"released"`` when p is an integer), every other
        penalty through :func:`edlrr.lrr`.
    seed : int, optional
        Seed of the module's generator, 0 <= seed < 2**64 (default: drawn from torch's global
        generator).

    Examples
    --------
    >>> import torch, edlrr
    >>> reg = edlrr.LowRankRegularizer("nuclear", weight=1e-3, seed=0)
    >>> S = torch.randn(20, 30, requires_grad=True)
    >>> reg(S).backward()
    """

    def __init__(self, penalty: str | Penalty = "nuclear", weight: float = 1.0, *, method: str = "auto",
                 options=None, seed: int | None = None, penalty_params: dict | None = None, **legacy):
        super().__init__()
        self.penalty = _penalty(penalty, **(penalty_params or {}))
        self.weight = as_number(weight, "weight")
        if self.weight < 0:
            raise ValueError(f"weight must be >= 0, got {self.weight!r}")
        if legacy:
            warnings.warn("LowRankRegularizer's estimator keywords (preset=, expansion=, probes=, ...) are "
                          "deprecated: use method= and options=", DeprecationWarning, stacklevel=2)
            self.method, self.options = _from_legacy(legacy)
        else:
            self.method, self.options = method, options_mod.options_for(method, options)
        if seed is None:
            seed = int(torch.randint(0, 2**62, (1,)).item())
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**64:
            raise ValueError(f"seed must be an int with 0 <= seed < 2**64, got {seed!r}")
        self.seed = seed
        self.generator = torch.Generator().manual_seed(self.seed)
        self.power = self._direct_power(self.penalty, self.options.method)

    @staticmethod
    def _direct_power(h: Penalty, method: str):
        """p when h is lam * sum sigma^p and the method computes that sum directly, else None."""
        if h.name == "nuclear":
            return 1.0
        if h.name != "schatten":
            return None
        p = h.params["p"]
        if method == "paper":
            try:
                dyadic_fraction(p / 2)
            except ValueError:
                return None
        if method == "released" and not float(p).is_integer():
            return None
        return p

    def forward(self, S: torch.Tensor) -> torch.Tensor:
        kw = dict(method=self.method, options=self.options, generator=self.generator)
        if self.power is not None:
            value = self.penalty.params["lam"] * schatten(S, self.power, **kw)
        else:
            value = lrr(S, self.penalty, **kw)
        return self.weight * value

    def extra_repr(self) -> str:
        return (f"penalty={self.penalty.name}{self.penalty.params}, weight={self.weight}, "
                f"method={self.method!r}, options={self.options}")


def _from_legacy(legacy: dict):
    """(method, options) for the old keywords (preset=, Settings fields, series keywords)."""
    legacy = dict(legacy)
    preset = legacy.pop("preset", None)
    series = {k: legacy.pop(k) for k in _LEGACY_SERIES if k in legacy}
    if series.get("expansion") == "quadrature":
        series.pop("expansion")
    settings = resolve_settings(preset, **legacy)
    if settings.internals == "paper":
        opts = options_mod.Paper(probes=settings.probes, pinv_iters=settings.pinv_iters,
                                 sqrt_iters=settings.sqrt_iters, project=settings.project,
                                 probe_kind=settings.probe_kind, side=settings.side, **_series(series))
    elif settings.internals == "released":
        opts = options_mod.Released(probes=settings.probes, sqrt_terms=settings.sqrt_iters,
                                    tikhonov=settings.tikhonov, project=settings.project,
                                    probe_kind=settings.probe_kind, side=settings.side, **_series(series))
    elif settings.internals == "polar":
        opts = _polar_options(settings)
    elif settings.head == "lanczos":
        opts = options_mod.Matvec(probes=settings.probes, lanczos_steps=settings.lanczos_steps,
                                  quadrature=settings.quadrature)
    else:
        kry = options_mod.Krylov(sketch=settings.sketch, power_iters=settings.power_iters, probes=settings.probes,
                                 lanczos_steps=settings.lanczos_steps, tail_gradient=settings.tail_gradient,
                                 quadrature=settings.quadrature)
        nuclear = "polar" if settings.nuclear_internals == "polar" else "krylov"
        opts = options_mod.Auto(dense_below=settings.dense_below, nuclear=nuclear, krylov=kry,
                                polar=_polar_options(settings))
    return opts.method, opts


def _polar_options(settings):
    return options_mod.Polar(sketch=settings.sketch, power_iters=settings.power_iters, steps=settings.polar_steps,
                             lower=settings.polar_lower, dtype=settings.polar_dtype, extend=settings.polar_extend)


def _series(series: dict) -> dict:
    return {k: v for k, v in series.items() if v is not None or k in ("order", "scale")}


