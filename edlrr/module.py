"""``LowRankRegularizer``: the estimator as a plug-and-play loss term (an ``nn.Module``)."""
from __future__ import annotations

import torch
from torch import nn

from .estimators import DEFAULT_ORDER, _dyadic, lrr, resolve_settings, schatten
from .penalties import Penalty, penalty as _penalty

__all__ = ["LowRankRegularizer"]


class LowRankRegularizer(nn.Module):
    """``weight * R(S)``, R(S) = sum_i h(sigma_i(S)), estimated without an SVD.

    The module holds the estimator's settings and its own :class:`torch.Generator`, so fresh
    probes are drawn on every call (an unbiased stochastic gradient) while a given ``seed``
    makes the whole run repeatable.

    Parameters
    ----------
    penalty : str or Penalty, default "nuclear"
        h, see :func:`edlrr.penalty`; ``penalty_params`` are passed to it.
    weight : float
        lambda in ``loss + lambda * R(S)``.
    expansion : {None, "taylor", "laguerre", "quadrature"}
        None uses the direct estimator :func:`edlrr.schatten` for ``nuclear`` and ``schatten``
        penalties with a reachable p, and a Taylor series otherwise; with ``preset="fast"``
        (``internals="krylov"``) every penalty uses Lanczos quadrature.
    order, scale : see :func:`edlrr.lrr`.
    seed : int, optional
        Seed of the module's generator (default: drawn from torch's global generator).
    preset, **options : see :func:`edlrr.schatten`.

    Examples
    --------
    >>> import torch, edlrr
    >>> reg = edlrr.LowRankRegularizer("nuclear", weight=1e-3, seed=0, probes=32)
    >>> S = torch.randn(20, 30, dtype=torch.float64, requires_grad=True)
    >>> loss = reg(S)
    >>> loss.backward()
    """

    def __init__(self, penalty: str | Penalty = "nuclear", weight: float = 1.0, *, expansion=None,
                 order=None, scale=None, seed: int | None = None, preset: str | None = None,
                 penalty_params: dict | None = None, **options):
        super().__init__()
        self.penalty = _penalty(penalty, **(penalty_params or {}))
        self.weight = float(weight)
        self.settings = resolve_settings(preset, **options)  # validates the options now
        self.options = options
        self.preset = preset
        if self.settings.internals == "krylov":  # preset="fast": Lanczos quadrature for every h
            if expansion not in (None, "quadrature"):
                raise ValueError(f"internals='krylov' uses expansion='quadrature', got {expansion!r}")
            self.power, self.expansion, self.order = None, "quadrature", None
            if self.penalty.name == "nuclear" and self.settings.nuclear_internals is not None:
                self.power, self.expansion = 1.0, None  # preset="fast": the nuclear norm by its polar iteration
        else:
            if expansion not in (None, "taylor", "laguerre"):
                raise ValueError(f"expansion must be None, 'taylor' or 'laguerre', got {expansion!r}")
            self.power = self._direct_power(self.penalty) if expansion is None else None
            self.expansion = expansion or ("taylor" if self.power is None else None)
            self.order = order if order is not None or self.expansion is None else DEFAULT_ORDER[self.expansion]
        self.scale = scale
        if seed is None:
            seed = int(torch.randint(0, 2**62, (1,)).item())
        self.seed = int(seed)
        self.generator = torch.Generator().manual_seed(self.seed)

    @staticmethod
    def _direct_power(h: Penalty):
        if h.name == "nuclear":
            return 1.0
        if h.name == "schatten":
            try:
                _dyadic(h.params["p"] / 2)
                return h.params["p"]
            except ValueError:
                return None
        return None

    def forward(self, S: torch.Tensor) -> torch.Tensor:
        kw = dict(preset=self.preset, generator=self.generator, **self.options)
        if self.power is not None:
            value = self.penalty.params["lam"] * schatten(S, self.power, **kw)
        else:
            value = lrr(S, self.penalty, expansion=self.expansion, order=self.order, scale=self.scale, **kw)
        return self.weight * value

    def extra_repr(self) -> str:
        how = f"p={self.power}" if self.power is not None else f"expansion={self.expansion}, order={self.order}"
        return f"penalty={self.penalty.name}{self.penalty.params}, weight={self.weight}, {how}, {self.settings}"
