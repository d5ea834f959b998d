"""EDLRR's matrix-completion solver: the authors' Adam loop with the stochastic estimator.

References
----------
Li, Xie, Liu, Dai, Jiang & Xia, "Efficient Differentiable Approximation of Generalized Low-rank
Regularization", IJCAI 2025: Section 4.1 (matrix completion), Proposition 4 (nuclear norm),
Theorem 1 (Schatten-p), Theorems 2-3 (Taylor / Laguerre series for general h); the authors'
``Demo-image.ipynb`` (github.com/naiqili/EDLRR) for the optimiser settings.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch

from ._adam_loop import AdamCompletion, build_penalty
from .base import check_choice, check_int
from .registry import register

__all__ = ["EDLRRSolver", "edlrr_regularizer", "resolve_options", "check_estimator"]

SERIES_METHODS = ("paper", "released")
"""The methods that expand a general h in a series (the fields ``expansion``, ``order``, ``scale``,
``on_series_error`` of :class:`edlrr.Paper` and :class:`edlrr.Released`)."""


def _direct(h) -> bool:
    """Whether h is computed as a Schatten sum (nuclear, Schatten-p), not through :func:`edlrr.lrr`."""
    return h.name in ("nuclear", "schatten")


def resolve_options(method: str = "paper", options=None, *, expansion: str | None = None,
                    order: int | None = None, scale: float | None = None,
                    on_series_error: str | None = None):
    """The options instance of ``method`` (:func:`edlrr.options.options_for`: ``options`` is None,
    a dict of the method's fields or an instance) with the series settings applied: for
    ``"paper"`` and ``"released"`` every one that is not None replaces the options' field (a
    field set to another value in ``options`` as well raises ``ValueError``); the other methods
    evaluate h at exact or Ritz singular values, so ``expansion`` must be None or
    ``"quadrature"`` there (``order``, ``scale`` and ``on_series_error`` are not used).
    ``ValueError`` for an unknown method or option."""
    from edlrr import options as options_mod  # imported lazily, as the estimators

    opts = options_mod.options_for(method, options)
    series = {k: v for k, v in dict(expansion=expansion, order=order, scale=scale,
                                     on_series_error=on_series_error).items() if v is not None}
    if opts.method not in SERIES_METHODS:
        if series.get("expansion", "quadrature") != "quadrature":
            raise ValueError(f"expansion={expansion!r} is a series of method 'paper' or 'released'; method "
                             f"{opts.method!r} evaluates h at singular values (expansion None or 'quadrature')")
        return opts
    default = type(opts)()
    for key, value in series.items():
        current = getattr(opts, key)
        if current != getattr(default, key) and current != value:
            raise ValueError(f"{key} is given twice: {value!r} as the solver's parameter and {current!r} in options")
    return dataclasses.replace(opts, **series)


def edlrr_regularizer(h, *, method: str = "paper", options=None, expansion: str | None = None,
                      order: int | None = None, scale: float | None = None,
                      on_series_error: str | None = None, generator=None):
    """A function X -> R(X) (shape (*,)) with the EDLRR estimator of the core package.

    nuclear -> :func:`edlrr.nuclear_norm` (Proposition 4); schatten -> :func:`edlrr.schatten`
    (Theorem 1); any other h -> :func:`edlrr.lrr`, with ``method="paper"``/``"released"`` by the
    series of ``expansion`` (Theorems 2-3; None: the options' expansion, Taylor by default), with
    the other methods at exact or Ritz singular values (:func:`resolve_options`).
    The weight of h (``h.params["lam"]``) multiplies the estimate. ``generator`` is shared by
    all calls, so every call draws fresh probes from one reproducible stream.
    """
    from edlrr import estimators  # imported lazily: the core may be mid-edit when this loads

    weight = float(h.params.get("lam", 1.0))
    if h.name == "nuclear":
        opts = resolve_options(method, options)

        def reg(X):
            return weight * estimators.nuclear_norm(X, method=opts.method, options=opts, generator=generator)
    elif h.name == "schatten":
        opts = resolve_options(method, options)
        p = float(h.params["p"])

        def reg(X):
            return weight * estimators.schatten(X, p, method=opts.method, options=opts, generator=generator)
    else:
        opts = resolve_options(method, options, expansion=expansion, order=order, scale=scale,
                               on_series_error=on_series_error)

        def reg(X):
            return estimators.lrr(X, h, method=opts.method, options=opts, generator=generator)
    return reg


@register
@dataclass
class EDLRRSolver(AdamCompletion):
    """EDLRR matrix completion: Adam on masked MSE + lam * R_hat(X), R_hat the SVD-free estimate.

    The loop, loss and defaults are those of :class:`~._adam_loop.AdamCompletion` (the authors'
    image demo: lam 1e-3, Adam lr 0.1, StepLR(100, 0.8), 500 steps, gradient masked to the
    missing entries, X initialised to the observed matrix, gamma = 500); shared with
    ``svd-autograd``, which differs only in computing R exactly.

    Parameters
    ----------
    penalty, penalty_params, lam, lr, steps, step_size, lr_decay, mask_gradient, tol
        See :class:`~._adam_loop.AdamCompletion`. ``"nuclear"`` uses Proposition 4,
        ``"schatten"`` Theorem 1, every other penalty the series of ``expansion``.
    method : str
        The core's estimator (``method=`` of :func:`edlrr.lrr`): ``"paper"`` (default: EDLRR's
        Propositions 1-2 and Theorems 1-3), ``"released"`` (the authors' code: 20,000 probes,
        5,000-term binomial series), ``"auto"`` (dense up to min(m, n) = 1024, then the deflated
        polar iteration for the nuclear norm and Lanczos quadrature for the rest; ``"fast"`` is
        the same word), ``"dense"``, ``"krylov"`` (:mod:`edlrr.krylov`), ``"matvec"``
        (:mod:`edlrr.bidiagonal`) or ``"polar"`` (:mod:`edlrr.polar`, the nuclear norm only).
    options : dict or options instance, optional
        The method's options (``options=`` of :func:`edlrr.lrr`): a dict of the fields of its
        class (:class:`edlrr.Paper`: ``probes``, ``pinv_iters``, ``sqrt_iters``, ``project``,
        ``probe_kind``, ``side``; :class:`edlrr.Released`: ``probes``, ``sqrt_terms``,
        ``tikhonov``, ...; :class:`edlrr.Krylov`: ``sketch``, ``power_iters``, ``probes``,
        ``lanczos_steps``, ``tail_gradient``, ``quadrature``; ...) or an instance of it.
    expansion : {"taylor", "laguerre", "quadrature"} or None
        Series for a general h with ``"paper"``/``"released"`` (the paper's "T-" and "L-"
        variants); None: the options' (Taylor by default). The other methods evaluate h at
        singular values: None or ``"quadrature"`` there.
    order, scale : int or None, float or None
        Series order and argument scale (None: the options', by default the core's choice).
    on_series_error : {"warn", "raise", "ignore"} or None
        What the core does when the truncated series is inaccurate at the singular values
        (None: the options', ``"warn"`` by default).
    seed : int
        Seed of the probe generator (one CPU generator per run; fresh probes at every step).

    Notes
    -----
    Deviations from the release: the estimator is the core package's (``method="paper"``:
    the paper's Propositions 1-2; ``method="released"`` reproduces the release's internals);
    probes are drawn from an explicit seeded generator.
    """

    name = "edlrr"
    test_params = {"steps": 1500, "lr": 0.1, "options": {"probes": 256}}

    method: str = "paper"
    options: Any = None
    expansion: str | None = None
    order: int | None = None
    scale: float | None = None
    on_series_error: str | None = None
    seed: int = 0

    def _check_params(self) -> None:
        super()._check_params()
        check_estimator(self)
        check_int(self.seed, "seed", minimum=0)

    def _regularizer(self, M: torch.Tensor, rng):
        h = build_penalty(self.penalty, self.penalty_params)
        return edlrr_regularizer(h, method=self.method, options=self.options, expansion=self.expansion,
                                 order=self.order, scale=self.scale, on_series_error=self.on_series_error,
                                 generator=rng)


def check_estimator(solver, methods: tuple[str, ...] | None = None) -> None:
    """Validate a solver's estimator fields (``method``, ``options``, ``expansion``, ``order``,
    ``scale``, ``on_series_error``, ``penalty``, ``penalty_params``); ``methods``: the accepted
    methods (default: every word of :data:`edlrr.METHODS`)."""
    from edlrr import options as options_mod

    check_choice(solver.method, "method", methods or options_mod.METHODS)
    if solver.expansion is not None:
        check_choice(solver.expansion, "expansion", ("taylor", "laguerre", "quadrature"))
    if solver.order is not None:
        check_int(solver.order, "order", minimum=0)
    if solver.on_series_error is not None:
        check_choice(solver.on_series_error, "on_series_error", ("warn", "raise", "ignore"))
    if solver.options is not None and not isinstance(solver.options, dict) and \
            not dataclasses.is_dataclass(solver.options):
        raise TypeError(f"options must be None, a dict or an options instance (edlrr.Paper, ...), "
                        f"got {type(solver.options).__name__}")
    h = build_penalty(solver.penalty, solver.penalty_params)
    series = {} if _direct(h) else dict(expansion=solver.expansion, order=solver.order, scale=solver.scale,
                                        on_series_error=solver.on_series_error)
    resolve_options(solver.method, solver.options, **series)  # validates the options
