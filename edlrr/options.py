"""The estimators' algorithms and their options: one frozen dataclass per algorithm.

A public function (:func:`edlrr.nuclear_norm`, :func:`edlrr.schatten`, :func:`edlrr.rank`,
:func:`edlrr.lrr`, :class:`edlrr.LowRankRegularizer`) takes ``method=`` (one word of
:data:`METHODS`) and ``options=`` (an instance of that method's class, or a dict of its fields).
``method="auto"`` (the default) chooses the algorithm from the input's size and the function
(:func:`plan`, which returns the record of what runs, also logged at DEBUG level on the
``"edlrr"`` logger).

=============  ==========================================================================
method         algorithm
=============  ==========================================================================
``auto``       :class:`Auto`: ``dense`` up to ``dense_below``, then ``polar`` for the nuclear norm
               and ``krylov`` for everything else (``"fast"`` is the same word)
``dense``      :class:`Dense`: eigenvalues of the smaller Gram matrix in float64; exact
``krylov``     :class:`Krylov`: deflated stochastic Lanczos quadrature (:mod:`edlrr.krylov`)
``matvec``     :class:`Matvec`: self-deflated Golub-Kahan quadrature (:mod:`edlrr.bidiagonal`)
``polar``      :class:`Polar`: deflated polar iteration, the nuclear norm only (:mod:`edlrr.polar`)
``paper``      :class:`Paper`: EDLRR's Propositions 1-2 and Theorems 1-3 (Li et al., IJCAI 2025)
``released``   :class:`Released`: the authors' released code's recipe
=============  ==========================================================================
"""
from __future__ import annotations

import dataclasses
import difflib
import logging
import math
import textwrap
from dataclasses import dataclass, field, fields
from typing import Any, NamedTuple

from . import krylov, polar
from .validation import check_choice, check_positive_int
from .probes import PROBE_KINDS

__all__ = ["Auto", "Dense", "Krylov", "Matvec", "Polar", "Paper", "Released", "METHODS", "Plan", "plan",
           "options_for", "describe_options"]

logger = logging.getLogger("edlrr")

SIDES = ("auto", "left", "right")
EXPANSIONS = ("taylor", "laguerre")
SERIES_ERRORS = ("warn", "raise", "ignore")
NUCLEAR_ALGORITHMS = ("polar", "krylov")


def _check_series(opts) -> None:
    check_choice(opts.expansion, "expansion", EXPANSIONS)
    if opts.order is not None:
        check_positive_int(opts.order, "order", minimum=0)
    if opts.scale is not None and not (_is_number(opts.scale) and math.isfinite(opts.scale) and opts.scale > 0):
        raise ValueError(f"scale must be a positive finite number or None, got {opts.scale!r}")
    if not (_is_number(opts.series_rtol) and opts.series_rtol > 0):
        raise ValueError(f"series_rtol must be a positive number, got {opts.series_rtol!r}")
    check_choice(opts.on_series_error, "on_series_error", SERIES_ERRORS)


def _check_probe_fields(opts) -> None:
    """The fields the probe methods (``paper``, ``released``) share."""
    check_positive_int(opts.probes, "probes")
    if not isinstance(opts.project, bool):
        raise TypeError(f"project must be a bool, got {opts.project!r}")
    check_choice(opts.probe_kind, "probe_kind", PROBE_KINDS)
    check_choice(opts.side, "side", SIDES)
    _check_series(opts)


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


@dataclass(frozen=True)
class Paper:
    """EDLRR's estimator (Li et al., IJCAI 2025): N Gaussian probes, the projection P_S by k1
    Ben-Israel-Cohen iterations (Proposition 1), (S S^T)^{1/2} by k2 coupled Newton-Schulz
    iterations (Proposition 2); general h by a truncated Taylor (Theorem 2) or Laguerre
    (Theorem 3) series. Cost: (k1 + 3 k2) products of min(m, n)-square matrices and N probes.

    In float32 the two iterations amplify rounding in the null space of a rank-deficient S
    (by 2 and 2.25 per iteration), which past about 14 and 11 iterations would give NaN or
    count directions that are not there. Each iteration is tested (a Cholesky factorisation of
    the iterate, without gradient): a batch element whose iterate leaves the range the exact
    iteration keeps stops at its last good iterate, and the call issues a
    :class:`~edlrr.PrecisionWarning` naming the iterations run. Stopping (rather than raising)
    keeps a training loop running with the most accurate value the dtype allows; float64 or
    ``method="auto"`` resolve smaller singular values.

    Attributes
    ----------
    probes : int
        N, Gaussian (or Rademacher) probe vectors.
    pinv_iters : int
        k1, Ben-Israel-Cohen iterations; resolves singular values with sigma^2 >~ 2^-k1 ||S||_F^2.
    sqrt_iters : int
        k2, Newton-Schulz iterations.
    project : bool
        Apply P_S (for p >= 1 it changes nothing in exact arithmetic).
    probe_kind : {"gaussian", "rademacher"}
    side : {"auto", "left", "right"}
        Gram matrix S S^T ("left", the paper), S^T S ("right") or the smaller one.
    expansion : {"taylor", "laguerre"}
        :func:`edlrr.lrr`'s series for h (Theorem 2 or 3).
    order : int, optional
        Truncation order (default 10 for Taylor, 30 for Laguerre).
    scale : float, optional
        The series' argument scale s (default: sigma_1 from a power iteration, sigma_1 / 8 for
        Laguerre).
    series_rtol : float
        Tolerance of the series' error on [0, 1.05 sigma_1] relative to max h.
    on_series_error : {"warn", "raise", "ignore"}
        What happens past ``series_rtol`` (a :class:`~edlrr.SeriesDivergenceWarning`).
    """

    probes: int = 64
    pinv_iters: int = 30
    sqrt_iters: int = 30
    project: bool = True
    probe_kind: str = "gaussian"
    side: str = "auto"
    expansion: str = "taylor"
    order: int | None = None
    scale: float | None = None
    series_rtol: float = 1e-2
    on_series_error: str = "warn"

    method = "paper"

    def __post_init__(self):
        check_positive_int(self.pinv_iters, "pinv_iters", minimum=0)
        check_positive_int(self.sqrt_iters, "sqrt_iters", minimum=0)
        _check_probe_fields(self)


@dataclass(frozen=True)
class Released:
    """The recipe of the authors' released code: N = 20,000 Gaussian probes, the square root
    as a ``sqrt_terms``-term binomial series of I - A/k with k = 1.1 lambda_max(A) from an SVD
    on every call, the pseudo-inverse (S^T S + a I)^{-1} S^T plus one Ben-Israel-Cohen step.

    The regulariser a is absolute, as in the release, so the value depends on the scale of S
    where a is not small against sigma^2 (the release's behaviour; not scale-equivariant).

    Attributes
    ----------
    probes : int
    sqrt_terms : int
        Terms of the binomial series (5,000 in the release).
    tikhonov : float
        a, the absolute regulariser of the inverse (0.1 in the release).
    project, probe_kind, side, expansion, order, scale, series_rtol, on_series_error
        As :class:`Paper`.
    """

    probes: int = 20000
    sqrt_terms: int = 5000
    tikhonov: float = 0.1
    project: bool = True
    probe_kind: str = "gaussian"
    side: str = "left"
    expansion: str = "taylor"
    order: int | None = None
    scale: float | None = None
    series_rtol: float = 1e-2
    on_series_error: str = "warn"

    method = "released"

    def __post_init__(self):
        check_positive_int(self.sqrt_terms, "sqrt_terms", minimum=0)
        if not (_is_number(self.tikhonov) and math.isfinite(self.tikhonov) and self.tikhonov > 0):
            raise ValueError(f"tikhonov must be a positive number, got {self.tikhonov!r}")
        _check_probe_fields(self)


@dataclass(frozen=True)
class Dense:
    """Exact: the eigenvalues of the smaller Gram matrix in float64
    (:func:`edlrr.krylov.dense_spectral_sum`), h at their square roots; singular values below
    ~sqrt(min(m, n) eps_64) sigma_1 count as zeros. Gradient U diag(h'(sigma) / sigma) U^T S.
    Cost: one min(m, n)^2 max(m, n) product and one symmetric eigendecomposition. No options."""

    method = "dense"


@dataclass(frozen=True)
class Krylov:
    """Deflated stochastic Lanczos quadrature (:func:`edlrr.krylov.spectral_sum`): a randomized
    range finder deflates ``sketch`` directions exactly, ``probes`` sphere probes with
    ``lanczos_steps`` Lanczos steps estimate the rest; h is evaluated at Ritz values, so every
    penalty and every p > 0 works. Cost: 2 k (q + 1) + 2 N d products by S or S^T. Exact when
    k + N >= min(m, n).

    Attributes
    ----------
    sketch : int
        k, directions deflated exactly (0: none).
    power_iters : int
        q, power iterations of the range finder.
    probes : int
        N, sphere probes on the rest.
    lanczos_steps : int
        d, Lanczos steps (quadrature nodes) per probe.
    tail_gradient : {"projected", "stochastic", "rational"}
        The gradient beyond the deflated directions: the exact one's projection on the rest of S
        (default), the estimate's own (unbiased, noisy), or a two-pole rational fit of h' (closer
        to the exact gradient; about three more dense products).
    quadrature : {"extrapolated", "gauss-radau", "gauss", "radau"}
        The rule per probe (:func:`edlrr.krylov.bracketed_quadrature`).
    """

    sketch: int = 64
    power_iters: int = 1
    probes: int = 8
    lanczos_steps: int = 30
    tail_gradient: str = "projected"
    quadrature: str = "extrapolated"

    method = "krylov"

    def __post_init__(self):
        check_positive_int(self.sketch, "sketch", minimum=0)
        check_positive_int(self.power_iters, "power_iters", minimum=0)
        check_positive_int(self.probes, "probes")
        check_positive_int(self.lanczos_steps, "lanczos_steps")
        check_choice(self.tail_gradient, "tail_gradient", krylov.TAIL_GRADIENTS)
        check_choice(self.quadrature, "quadrature", krylov.QUADRATURES)


@dataclass(frozen=True)
class Matvec:
    """Self-deflated Golub-Kahan quadrature (:func:`edlrr.bidiagonal.spectral_sum`): each of
    ``probes`` runs of ``lanczos_steps`` bidiagonalization steps counts its converged Ritz pairs
    exactly and estimates the rest by its quadrature. Cost: 2 N d products by S or S^T (100 with
    the defaults), the fewest for a given accuracy on decaying spectra.

    Attributes
    ----------
    probes : int
        N, independent runs.
    lanczos_steps : int
        d, Golub-Kahan steps per run.
    quadrature : {"extrapolated", "gauss-radau", "gauss", "radau"}
    """

    probes: int = 1
    lanczos_steps: int = 50
    quadrature: str = "extrapolated"

    method = "matvec"

    def __post_init__(self):
        check_positive_int(self.probes, "probes")
        check_positive_int(self.lanczos_steps, "lanczos_steps")
        check_choice(self.quadrature, "quadrature", krylov.QUADRATURES)


@dataclass(frozen=True)
class Polar:
    """The nuclear norm by a deflated polar iteration (:func:`edlrr.polar.nuclear_norm`): the
    ``sketch`` deflated directions exactly, then odd cubic and quintic minimax steps towards the
    polar factor F of the rest X_t (Amsel et al. 2025, "Polar Express"); value
    ||Q^T S||_* + <F, X_t>, gradient the deflated U V^T plus (I - Q Q^T) F. Cost: 9-15 products
    of min(m, n)-square by min(m, n) x max(m, n) matrices.

    Attributes
    ----------
    sketch : int
        k, directions deflated exactly.
    power_iters : int
        q, power iterations of the range finder.
    steps : int or "auto"
        ``"auto"``: the cheapest design of :data:`edlrr.polar.DESIGNS` for which at most 3% of
        the rest's directions are predicted to stay short of 1; an integer T: T quintic steps
        designed for [``lower``, 1.05].
    lower : float
        l in (0, 1), with an integer ``steps``.
    dtype : {"auto", "bfloat16", "float32", "float64"}
        dtype of the iteration's products (``"auto"``: bfloat16 where it is fast).
    extend : int
        With ``steps="auto"``: at most this many more directions deflated where that saves two
        products or more (:func:`edlrr.polar.choose_extension`); 0: never.
    """

    sketch: int = 64
    power_iters: int = 1
    steps: int | str = "auto"
    lower: float = 0.01
    dtype: str = "auto"
    extend: int = 48

    method = "polar"

    def __post_init__(self):
        check_positive_int(self.sketch, "sketch", minimum=0)
        check_positive_int(self.power_iters, "power_iters", minimum=0)
        if self.steps != "auto":
            if isinstance(self.steps, str):
                raise ValueError(f"steps must be a positive integer or 'auto', got {self.steps!r}")
            check_positive_int(self.steps, "steps")
        if not (_is_number(self.lower) and 0 < self.lower < 1):
            raise ValueError(f"lower must be a number in (0, 1), got {self.lower!r}")
        check_choice(self.dtype, "dtype", polar.POLAR_DTYPES)
        check_positive_int(self.extend, "extend", minimum=0)


@dataclass(frozen=True)
class Auto:
    """The recommended estimator for the input: ``dense`` (exact) while min(m, n) <=
    ``dense_below``; above it the nuclear norm by ``polar`` (or ``krylov``, ``nuclear="krylov"``)
    and every other function by ``krylov``, with the options ``krylov`` and ``polar``.

    Attributes
    ----------
    dense_below : int
        The largest min(m, n) computed densely (0: never).
    nuclear : {"polar", "krylov"}
        The algorithm of the nuclear norm above ``dense_below``.
    krylov : Krylov
    polar : Polar
    """

    dense_below: int = 1024
    nuclear: str = "polar"
    krylov: Krylov = field(default_factory=Krylov)
    polar: Polar = field(default_factory=Polar)

    method = "auto"

    def __post_init__(self):
        check_positive_int(self.dense_below, "dense_below", minimum=0)
        check_choice(self.nuclear, "nuclear", NUCLEAR_ALGORITHMS)
        if isinstance(self.krylov, dict):
            object.__setattr__(self, "krylov", _build(Krylov, self.krylov, "krylov"))
        if isinstance(self.polar, dict):
            object.__setattr__(self, "polar", _build(Polar, self.polar, "polar"))
        if not isinstance(self.krylov, Krylov):
            raise TypeError(f"krylov must be a Krylov options instance or a dict, got {self.krylov!r}")
        if not isinstance(self.polar, Polar):
            raise TypeError(f"polar must be a Polar options instance or a dict, got {self.polar!r}")


ALGORITHMS = {cls.method: cls for cls in (Auto, Dense, Krylov, Matvec, Polar, Paper, Released)}
ALIASES = {"fast": "auto"}
METHODS = tuple(ALGORITHMS) + tuple(ALIASES)
"""The words ``method=`` accepts (``"fast"`` is ``"auto"``)."""


def _owners(name: str) -> list[str]:
    return [m for m, cls in ALGORITHMS.items() if name in {f.name for f in fields(cls)}]


def _build(cls, values: dict, method: str):
    known = [f.name for f in fields(cls)]
    for key in values:
        if key not in known:
            owners = _owners(key)
            if owners:
                raise ValueError(f"option {key!r} is not used by method {method!r}; it is an option of "
                                 f"{', '.join(repr(o) for o in owners)}")
            near = difflib.get_close_matches(key, sorted({f.name for c in ALGORITHMS.values() for f in fields(c)}), 1)
            hint = f"; did you mean {near[0]!r}?" if near else ""
            raise ValueError(f"unknown option {key!r} for method {method!r}{hint} "
                             f"(its options: {', '.join(known) or 'none'})")
    return cls(**values)


def options_for(method: str = "auto", options=None):
    """The options instance for ``method`` and ``options`` (None, a dict of fields, or an
    instance of a method's class; an instance names its method, so ``method`` may be left at
    ``"auto"``). Raises ``ValueError`` for an unknown method, a field the method does not use
    (naming the methods that do) or an instance of another method's class."""
    if not isinstance(method, str) or (method not in ALGORITHMS and method not in ALIASES):
        near = difflib.get_close_matches(str(method), METHODS, 1)
        hint = f"; did you mean {near[0]!r}?" if near else ""
        raise ValueError(f"unknown method {method!r}{hint} (methods: {', '.join(METHODS)})")
    method = ALIASES.get(method, method)
    cls = ALGORITHMS[method]
    if options is None:
        return cls()
    if isinstance(options, dict):
        return _build(cls, dict(options), method)
    if dataclasses.is_dataclass(options) and type(options) in ALGORITHMS.values():
        if method != "auto" and options.method != method:
            raise ValueError(f"options of method {options.method!r} ({type(options).__name__}) given with "
                             f"method={method!r}")
        return options
    classes = ", ".join(c.__name__ for c in ALGORITHMS.values())
    raise TypeError(f"options must be None, a dict or an options instance ({classes}), got {type(options).__name__}")


class Plan(NamedTuple):
    """What a call runs: the ``method`` word asked for, the ``algorithm`` that runs (never
    ``"auto"``), its options and why it was chosen."""

    method: str
    algorithm: str
    options: Any
    reason: str


FUNCTIONS = ("nuclear_norm", "schatten", "rank", "lrr")


def plan(shape, method: str = "auto", options=None, *, function: str = "schatten") -> Plan:
    """The algorithm a call with ``method`` and ``options`` runs on a matrix of ``shape``
    (a tensor or its shape ``(*, m, n)``) for ``function`` (one of ``"nuclear_norm"``,
    ``"schatten"``, ``"rank"``, ``"lrr"``; :func:`edlrr.schatten` with p = 1 is the nuclear norm).
    """
    check_choice(function, "function", FUNCTIONS)
    shape = tuple(getattr(shape, "shape", shape))
    if len(shape) < 2:
        raise ValueError(f"shape must be (*, m, n), got {shape}")
    opts = options_for(method, options)
    asked = ALIASES.get(method, method) if isinstance(method, str) else method
    if asked == "auto" and opts.method != "auto":
        asked = opts.method
    small = min(shape[-2:])
    if opts.method == "polar" and function != "nuclear_norm":
        raise ValueError(f"method 'polar' computes the nuclear norm only, not {function}; "
                         "use method='auto' or 'krylov'")
    if opts.method != "auto":
        return Plan(asked, opts.method, opts, "named by the call")
    if small <= opts.dense_below:
        return Plan(asked, "dense", Dense(), f"min(m, n) = {small} <= dense_below = {opts.dense_below}")
    if function == "nuclear_norm" and opts.nuclear == "polar":
        return Plan(asked, "polar", opts.polar,
                    f"nuclear norm with min(m, n) = {small} > dense_below = {opts.dense_below}")
    return Plan(asked, "krylov", opts.krylov, f"min(m, n) = {small} > dense_below = {opts.dense_below}")


def describe_options(width: int | None = None) -> str:
    """Every method's options with their defaults, one entry per method (for docstrings and
    docs); lines wrapped at ``width`` characters when given."""
    lines = []
    for m, cls in ALGORITHMS.items():
        fs = ", ".join(f"{f.name}={_show(_default(f))}" for f in fields(cls)) or "no options"
        lines.append(f"``{m}`` (:class:`edlrr.{cls.__name__}`): {fs}")
    lines.append("``fast``: the same as ``auto``")
    if width is None:
        return "\n".join(lines)
    return "\n".join(textwrap.fill(line, width, subsequent_indent="    ", break_on_hyphens=False)
                     for line in lines)


def _show(value) -> str:
    if dataclasses.is_dataclass(value):
        return f"{type(value).__name__}()"
    return repr(value)


def _default(f):
    if f.default is not dataclasses.MISSING:
        return f.default
    return f.default_factory()  # type: ignore[misc]

