"""The public estimators of R(S) = sum_i h(sigma_i(S)) and the engine that runs them.

* :func:`schatten`      sum_i sigma_i^p             (EDLRR Theorem 1)
* :func:`nuclear_norm`  sum_i sigma_i               (Proposition 4)
* :func:`rank`          rank(S)                     (Proposition 3)
* :func:`lrr`           sum_i h(sigma_i)            (Theorem 2: Taylor; Theorem 3: Laguerre)

Each takes ``method=`` and ``options=`` (:mod:`edlrr.options`: one options class per algorithm)
and resolves them to a :class:`Settings`, the internal description the algorithms run from.
Every call first checks S, computes float16/bfloat16 in float32, divides S by a power of two
(except for ``released``, whose regulariser is absolute), runs the algorithm and checks that the
result is representable in the output dtype.

The ``paper`` algorithm is a Monte-Carlo average over N probe vectors g of the quadratic form
< P_S[g], q((S S^T)^{1/2}) g >, P_S the projection onto the column space of S by the
Ben-Israel-Cohen iteration (Proposition 1) and (S S^T)^{1/2} by the coupled Newton-Schulz
iteration (Proposition 2). Where it chooses, it states it:

* ``side="auto"`` works with S^T when m > n, so that the Gram matrix is min(m, n) square. The
  nonzero spectrum is the same, so the expectation and, for Gaussian probes, the whole
  distribution of the estimate are unchanged (rotation invariance).
* S is divided by ||S||_F (differentiably) and the result multiplied back by ||S||_F^p;
  Propositions 1-2 are scale invariant, so this changes nothing in exact arithmetic.
* (S S^T)^{p/2} is applied to the probe block, never formed: even powers as products by S and
  S^T, the remaining dyadic fraction (p/2 mod 1 = j / 2^L) through a chain of Newton-Schulz
  roots. In :func:`lrr` the series sum_p a_p (S S^T)^{p/2} is applied by Horner's rule in the
  approximate root M (so M^p stands for (S S^T)^{p/2}, as in the release), and the Laguerre
  series by the three-term recurrence of L_k (equal to Theorem 3's double sum in exact
  arithmetic).
* Both iterations are tested at every step (:data:`GUARD`, :class:`edlrr.Paper`).
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, fields, replace

import logging

import numpy as np
import torch

from . import bidiagonal, krylov, linalg, polar
from . import options as options_mod
from .validation import check_choice, check_matrix, check_positive_int
from .penalties import Penalty, SeriesDivergenceWarning, penalty as _penalty
from .probes import PROBE_KINDS, as_generator, sample_probes

__all__ = ["Settings", "PRESETS", "resolve_settings", "schatten", "nuclear_norm", "rank", "lrr",
           "schatten_samples", "spectral_norm_estimate", "PrecisionWarning", "as_number"]

logger = logging.getLogger("edlrr")

INTERNALS = ("paper", "released", "krylov", "polar")
NUCLEAR_INTERNALS = (None, "paper", "released", "krylov", "polar")
SIDES = ("auto", "left", "right")
HEADS = ("sketch", "lanczos")


@dataclass(frozen=True)
class Settings:
    """The internal description an algorithm runs from, one field per design choice. The public
    form is :mod:`edlrr.options` (one class per algorithm); this bag serves the engine and the
    old keywords (``preset=``, ``probes=``, ...), which are deprecated.

    Attributes
    ----------
    probes : int
        Number of probe vectors N.
    pinv_iters : int
        k1, Ben-Israel-Cohen iterations for the pseudo-inverse (ignored by ``"released"``,
        which applies one step after a Tikhonov inverse, as the release does).
    sqrt_iters : int
        k2, Newton-Schulz iterations (``"paper"``) or binomial-series terms (``"released"``).
    project : bool
        Apply the projection P_S. For p >= 1 it changes nothing in exact arithmetic.
    internals : {"paper", "released", "krylov", "polar"}
        ``"krylov"``: deflated stochastic Lanczos quadrature (:mod:`edlrr.krylov`); it uses
        ``probes``, ``sketch``, ``power_iters`` and ``lanczos_steps`` and ignores the others.
        ``"polar"`` (the nuclear norm only): deflation by ``sketch`` directions and a polar
        iteration on the rest (:mod:`edlrr.polar`; ``polar_*`` fields, ``dense_below``).
    nuclear_internals : {None, "paper", "released", "krylov", "polar"}
        The internals of :func:`nuclear_norm` (and :func:`schatten` with p = 1) when it differs
        from ``internals``; None: the same. The ``"fast"`` preset sets ``"polar"``.
    probe_kind : {"gaussian", "rademacher"}
    tikhonov : float
        Absolute regulariser of the release's ``torch.inverse(S^T S + a I)`` (a = 0.1).
    side : {"auto", "left", "right"}
        Gram matrix S S^T (``"left"``, the paper), S^T S (``"right"``) or the smaller one.
    sketch : int
        ``"krylov"``: k, columns of the randomized range finder deflated exactly (0: none).
    power_iters : int
        ``"krylov"``: q, power iterations of the range finder.
    lanczos_steps : int
        ``"krylov"``: d, Lanczos steps (quadrature nodes) per probe.
    head : {"sketch", "lanczos"}
        ``"krylov"``: where the exactly counted directions come from. ``"sketch"`` (default):
        the range finder's ``sketch`` columns, then ``probes`` on the rest
        (:func:`edlrr.krylov.spectral_sum`). ``"lanczos"``: each probe's own ``lanczos_steps``
        Golub-Kahan steps (2 N d products; ``sketch`` and ``power_iters`` unused), whose
        converged Ritz pairs are counted exactly and the rest of whose quadrature estimates the
        tail (:func:`edlrr.bidiagonal.spectral_sum`); the most accurate per product on decaying
        spectra (the ``"matvec"`` preset, XTrace's spectra in ``edlrr-bench fast``). Its
        ``quadrature`` rules come from the bidiagonal matrix (same names) and its
        ``tail_gradient`` is ``"projected"``.
    tail_gradient : {"stochastic", "projected", "rational"}
        ``"krylov"``: the gradient of the part beyond the sketch; the value is the same.
        ``"projected"`` (default) is the true tail gradient projected on the tail X_t of S
        (biased, far less noisy); ``"stochastic"`` differentiates the estimate (unbiased, but
        noisy: nuclear-norm gradient cosine ~0.15 against ~0.85); ``"rational"`` adds two
        shifted solves with the tail's Gram matrix, fitted to h' on the quadrature nodes
        (closest to the exact gradient of the three; ~3 extra dense products and two
        min(m, n)^2 float32 matrices of memory; see :func:`edlrr.krylov.spectral_sum`; the
        cosines with the exact gradient are measured by ``edlrr-bench fast``).
    quadrature : {"extrapolated", "gauss-radau", "gauss", "radau"}
        ``"krylov"``: the rule per probe (:func:`edlrr.krylov.bracketed_quadrature`; with
        ``head="lanczos"`` the same rules from the bidiagonal matrix,
        :func:`edlrr.bidiagonal.spectral_sum`). ``"radau"``: the Gauss-Radau rule with a node at
        0 alone (the lower end of the bracket for sqrt-like h).
        ``"extrapolated"`` (default): the mean of the Gauss and Gauss-Radau rules extrapolated
        from 2d/3 to d nodes (Richardson, error ~ d^-2) and clamped into their bracket (no
        products more); ``"gauss-radau"``: their mean; the
        penalty part of ``edlrr-bench fast`` compares the two. For the rank (no bracket) all
        three are the Gauss rule.
    polar_steps : int or "auto"
        ``"polar"``: T, quintic steps of the polar iteration (3 T min(m, n)^2 max(m, n) products),
        designed for [polar_lower, 1.05]; ``"auto"`` (default): the cheapest of five designs,
        l = 0.03 ... 0.003 with 9 ... 15 products (cubic and quintic steps,
        :data:`edlrr.polar.DESIGNS`; e = 0.041 / 0.036 / 0.020 / 0.015 / 0.006 for l = 0.03 /
        0.02 / 0.015 / 0.01 / 0.003) for which at most 3% of the tail's directions are predicted
        to stay short of 1 (:func:`edlrr.polar.choose_design`, from the Lanczos run that gives the
        scale): 9 products on a square Gaussian tail, 10-12 on tails decaying past 0.03 sigma_t;
        ``polar_lower`` is not used.
    polar_extend : int
        ``"polar"`` with ``polar_steps="auto"``: at most this many more directions deflated
        before the iteration (the tail's top Ritz vectors above (l / 0.03)^2 of its top
        eigenvalue) where the tail's design takes two products or more above the cheapest and
        its top would fall by 20%
        (:func:`edlrr.polar.choose_extension`; 1/i at n = 4096: 12 products, 9 with 48 more
        directions); 0: never.
    polar_lower : float
        ``"polar"`` with an integer ``polar_steps``: l in (0, 1): singular values of the tail
        from l sigma_t up are mapped to within e_T of 1 (:func:`edlrr.polar.quintic_coefficients`;
        e_T = 0.015 for T = 4, l = 0.01).
    polar_dtype : {"auto", "bfloat16", "float32", "float64"}
        ``"polar"``: dtype of the iteration's products; ``"auto"``: bfloat16 on CUDA and on CPUs
        with AMX tiles or AVX512-BF16, float32 otherwise (:func:`edlrr.polar.work_dtype`).
    dense_below : int
        ``"krylov"`` and ``"polar"``: when min(m, n) <= dense_below the sum is computed from the eigenvalues of
        the smaller Gram matrix in float64 instead (:func:`edlrr.krylov.dense_spectral_sum`;
        exact but for singular values below ~sqrt(min(m, n) eps_64) sigma_1; 0: never).
    """

    probes: int = 64
    pinv_iters: int = 30
    sqrt_iters: int = 30
    project: bool = True
    internals: str = "paper"
    probe_kind: str = "gaussian"
    tikhonov: float = 0.1
    side: str = "auto"
    sketch: int = 64
    power_iters: int = 1
    lanczos_steps: int = 30
    head: str = "sketch"
    tail_gradient: str = "projected"
    quadrature: str = "extrapolated"
    dense_below: int = 0
    nuclear_internals: str | None = None
    polar_steps: int | str = "auto"
    polar_lower: float = 0.01
    polar_dtype: str = "auto"
    polar_extend: int = 48

    def __post_init__(self):
        check_positive_int(self.probes, "probes")
        check_positive_int(self.pinv_iters, "pinv_iters", minimum=0)
        check_positive_int(self.sqrt_iters, "sqrt_iters", minimum=0)
        if not isinstance(self.project, bool):
            raise TypeError(f"project must be a bool, got {self.project!r}")
        check_choice(self.internals, "internals", INTERNALS)
        check_choice(self.probe_kind, "probe_kind", PROBE_KINDS)
        check_choice(self.side, "side", SIDES)
        if not (isinstance(self.tikhonov, (int, float)) and self.tikhonov > 0):
            raise ValueError(f"tikhonov must be a positive number, got {self.tikhonov!r}")
        check_positive_int(self.sketch, "sketch", minimum=0)
        check_positive_int(self.power_iters, "power_iters", minimum=0)
        check_positive_int(self.lanczos_steps, "lanczos_steps")
        check_choice(self.tail_gradient, "tail_gradient", krylov.TAIL_GRADIENTS)
        check_choice(self.quadrature, "quadrature", krylov.QUADRATURES)
        check_choice(self.head, "head", HEADS)
        if self.head == "lanczos":
            if self.tail_gradient != "projected":
                raise ValueError(f"head='lanczos' has the projected tail gradient only: tail_gradient must be "
                                 f"'projected', got {self.tail_gradient!r}")
        check_positive_int(self.dense_below, "dense_below", minimum=0)
        check_choice(self.nuclear_internals, "nuclear_internals", NUCLEAR_INTERNALS)
        if self.polar_steps != "auto":
            if isinstance(self.polar_steps, str):
                raise ValueError(f"polar_steps must be a positive integer or 'auto', got {self.polar_steps!r}")
            check_positive_int(self.polar_steps, "polar_steps")
        if not (isinstance(self.polar_lower, (int, float)) and 0 < self.polar_lower < 1):
            raise ValueError(f"polar_lower must be a number in (0, 1), got {self.polar_lower!r}")
        check_choice(self.polar_dtype, "polar_dtype", polar.POLAR_DTYPES)
        check_positive_int(self.polar_extend, "polar_extend", minimum=0)
        if self.internals in ("krylov", "polar"):
            if self.probe_kind != "gaussian":
                raise ValueError(f"internals={self.internals!r} draws its own sphere probes: probe_kind must be "
                                 f"'gaussian', got {self.probe_kind!r}")
            if self.side != "auto":
                raise ValueError(f"internals={self.internals!r} always works on the smaller Gram side: side "
                                 f"must be 'auto', got {self.side!r}")


PRESETS = {
    # EDLRR's recipe: Propositions 1-2, Gaussian probes (edlrr.Paper's defaults).
    "paper": Settings(),
    # The authors' release: 20,000 Gaussian probes, a 5,000-term binomial series for the square
    # root scaled by an SVD, Tikhonov inverse a = 0.1 plus one step (edlrr.Released).
    "released": Settings(probes=20000, pinv_iters=1, sqrt_iters=5000, internals="released",
                         tikhonov=0.1, side="left"),
    # method="auto" (edlrr.Auto): dense up to min(m, n) = 1024, then deflated Lanczos quadrature
    # (edlrr.Krylov) and, for the nuclear norm, the deflated polar iteration (edlrr.Polar).
    "fast": Settings(probes=8, internals="krylov", sketch=64, power_iters=1, lanczos_steps=30, dense_below=1024,
                     nuclear_internals="polar", polar_steps="auto"),
    # method="matvec" (edlrr.Matvec): one run of 50 Golub-Kahan steps, 100 products by S or S^T.
    "matvec": Settings(probes=1, internals="krylov", head="lanczos", lanczos_steps=50, dense_below=0),
}
"""The old keywords' recipes (``preset=``), kept for one release; :mod:`edlrr.options` replaces them."""


def resolve_settings(preset: str | None = None, **overrides) -> Settings:
    """Settings of ``preset`` (default ``"paper"``, or ``"released"`` when
    ``internals="released"`` is given) with the explicit keyword arguments applied on top."""
    names = {f.name for f in fields(Settings)}
    unknown = set(overrides) - names
    if unknown:
        raise TypeError(f"unknown estimator option(s) {sorted(unknown)}; known: {sorted(names)}")
    if preset is None:
        preset = "released" if overrides.get("internals") == "released" else "paper"
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; known presets: {sorted(PRESETS)}")
    return replace(PRESETS[preset], **overrides)


def dyadic_fraction(x: float, max_level: int = 8) -> tuple[int, int]:
    """(j, L) with x = j / 2^L (x >= 0) and the smallest L <= max_level: the powers that repeated
    square roots reach; ``ValueError`` if there is none."""
    for level in range(max_level + 1):
        j = x * 2**level
        if abs(j - round(j)) < 1e-12:
            return int(round(j)), level
    raise ValueError(
        f"p/2 = {x} is not a dyadic fraction j/2^L with L <= {max_level}: repeated square roots "
        "reach only such powers; use lrr(S, penalty('schatten', p=...), expansion='laguerre')"
    )


class _ProbeProblem:
    """S, its normalisation, the probe block G and the operators the estimators apply to it."""

    def __init__(self, S: torch.Tensor, settings: Settings, generator, check_finite: bool = True):
        S = check_matrix(S, check_finite=check_finite)
        self.settings = settings
        m, n = S.shape[-2:]
        transpose = settings.side == "right" or (settings.side == "auto" and m > n)
        X = S.mT if transpose else S
        if settings.internals == "paper":
            self.scale = linalg.frobenius_norm(X)[..., 0, 0]  # (*,), differentiable
            X = X / self.scale[..., None, None]
        else:
            self.scale = torch.ones(X.shape[:-2], dtype=X.dtype, device=X.device)
        self.X = X
        self.m = X.shape[-2]
        self.G = sample_probes(X.shape[:-2], self.m, settings.probes, kind=settings.probe_kind,
                               generator=generator, dtype=X.dtype, device=X.device)
        self._PG = None
        self._roots: list[torch.Tensor] = []
        self.iterations: list[tuple[str, int, torch.Tensor]] = []  # (iteration, asked, ran per element)
        self._A = None

    # -- operators -------------------------------------------------------------------------
    @property
    def gram(self) -> torch.Tensor:
        if self._A is None:
            self._A = self.X @ self.X.mT
        return self._A

    def apply_gram(self, V: torch.Tensor) -> torch.Tensor:
        """(X X^T) V without forming X X^T."""
        return self.X @ krylov.xt_times(self.X, V)

    def root(self, level: int) -> torch.Tensor:
        """(X X^T)^{1/2^level} (level >= 1), by the configured square-root routine."""
        s = self.settings
        while len(self._roots) < level:
            base = self.gram if not self._roots else self._roots[-1]
            if s.internals == "paper":
                root, ran = linalg.sqrt_newton_schulz(base, s.sqrt_iters, guard=GUARD, return_iters=True)
                self._roots.append(root)
                self.iterations.append(("Newton-Schulz", s.sqrt_iters, ran))
            else:
                self._roots.append(linalg.sqrt_binomial_series(base, s.sqrt_iters))
        return self._roots[level - 1]

    @property
    def projected(self) -> torch.Tensor:
        """P_S[G] (or G itself when ``project=False``)."""
        if self._PG is None:
            s = self.settings
            if not s.project:
                self._PG = self.G
            elif s.internals == "paper":
                P, ran = linalg.projector_ben_israel(self.X, s.pinv_iters, guard=GUARD, return_iters=True)
                self._PG = P @ self.G
                self.iterations.append(("Ben-Israel-Cohen", s.pinv_iters, ran))
            else:
                pinv = linalg.pinv_tikhonov(self.X, s.tikhonov, iters=1)
                self._PG = self.X @ (pinv @ self.G)
        return self._PG

    def apply_power(self, p: float, V: torch.Tensor) -> torch.Tensor:
        """(X X^T)^{p/2} V."""
        if self.settings.internals == "released":
            if not float(p).is_integer():
                raise ValueError(f"internals='released' supports integer p only (Q^p), got p={p}")
            Q = self.root(1)
            for _ in range(int(p)):
                V = Q @ V
            return V
        j, level = dyadic_fraction(p / 2)
        whole, frac = divmod(j, 2**level)
        for _ in range(whole):
            V = self.apply_gram(V)
        # frac / 2^level = sum of 1/2^l over the binary digits of frac
        for lv in range(1, level + 1):
            if (frac >> (level - lv)) & 1:
                V = self.root(lv) @ V
        return V

    def report(self) -> None:
        """Issue a :class:`PrecisionWarning` for each iteration that stopped early (one host
        synchronisation)."""
        for name, asked, ran in self.iterations:
            least = int(ran.min())
            if least < asked:
                rate = 2.0 if name == "Ben-Israel-Cohen" else 2.25  # per iteration, on small eigenvalues
                warnings.warn(
                    f"method 'paper': the {name} iteration stopped at iteration {least} of {asked} in "
                    f"{self.X.dtype} (rounding in the null space of a rank-deficient S grew past {GUARD:g}); "
                    f"its last good iterate is used: singular values with sigma^2 below about "
                    f"{rate ** -least:.1e} ||S||_F^2 are not resolved"
                    + (". Use float64 or method='auto' for them." if self.X.dtype != torch.float64
                       else ". Use method='auto' for them."),
                    PrecisionWarning, stacklevel=4)

    @staticmethod
    def inner_samples(U: torch.Tensor, V: torch.Tensor) -> torch.Tensor:
        """<u_i, v_i> for every probe i, shape (*, N): the Monte-Carlo samples."""
        return (U * V).sum(dim=-2)


def _problem(S, generator, preset, check_finite, overrides) -> _ProbeProblem:
    return _ProbeProblem(S, resolve_settings(preset, **overrides), generator, check_finite)


def _finish(samples: torch.Tensor, return_stderr: bool):
    """Mean of the Monte-Carlo samples (*, N), and its standard error if asked."""
    value = samples.mean(-1)
    if not return_stderr:
        return value
    N = samples.shape[-1]
    stderr = samples.detach().std(-1) / math.sqrt(N) if N > 1 else torch.full_like(value, math.nan)
    return value, stderr


def _krylov(S, h: krylov.SpectralFunction, settings: Settings, generator, check_finite, return_stderr):
    """The ``internals="krylov"`` estimate of sum_i h(sigma_i(S)) (see :mod:`edlrr.krylov`)."""
    S = check_matrix(S, check_finite=check_finite)
    X = S.mT if S.shape[-2] > S.shape[-1] else S
    if settings.head == "lanczos" and X.shape[-2] > settings.dense_below:
        value, stderr = bidiagonal.spectral_sum(
            X, h, probes=settings.probes, lanczos_steps=settings.lanczos_steps,
            generator=as_generator(generator, S.device), rule=settings.quadrature)
        return (value, stderr) if return_stderr else value
    value, stderr = krylov.spectral_sum(
        X, h, sketch=settings.sketch, power_iters=settings.power_iters, probes=settings.probes,
        lanczos_steps=settings.lanczos_steps, generator=as_generator(generator, S.device),
        tail_gradient=settings.tail_gradient, dense_below=settings.dense_below, quadrature=settings.quadrature)
    return (value, stderr) if return_stderr else value


def _polar(S, settings: Settings, generator, check_finite, return_stderr):
    """The ``internals="polar"`` estimate of ||S||_* (see :mod:`edlrr.polar`); the dense path
    of :func:`edlrr.krylov.dense_spectral_sum` where min(m, n) <= ``dense_below``."""
    S = check_matrix(S, check_finite=check_finite)
    X = S.mT if S.shape[-2] > S.shape[-1] else S
    if X.shape[-2] <= settings.dense_below:
        value = krylov.dense_spectral_sum(X, power_function(1))
        stderr = torch.zeros_like(value.detach())
    else:
        value, stderr = polar.nuclear_norm(
            X, sketch=settings.sketch, power_iters=settings.power_iters, steps=settings.polar_steps,
            lower=settings.polar_lower, dtype=settings.polar_dtype, generator=as_generator(generator, S.device),
            extend=settings.polar_extend)
    return (value, stderr) if return_stderr else value


def _only_nuclear(settings: Settings, what: str):
    if settings.internals == "polar":
        raise ValueError(f"internals='polar' computes the nuclear norm only (schatten with p = 1), not {what}; "
                         "use internals='krylov' (preset='fast' does so for everything but the nuclear norm)")


def power_function(p: float) -> krylov.SpectralFunction:
    """sigma^p as a :class:`edlrr.krylov.SpectralFunction` (Bernstein after sqrt for p <= 2)."""
    if p == 1:
        return krylov.SpectralFunction(lambda s: s, torch.ones_like, bernstein=True)
    return krylov.SpectralFunction(lambda s: s ** p, lambda s: p * s ** (p - 1), bernstein=p <= 2)


def spectral_function(h: Penalty) -> krylov.SpectralFunction:
    """The penalty h as the :class:`edlrr.krylov.SpectralFunction` of ``internals="krylov"``."""
    # every penalty of edlrr.penalty is Bernstein after sqrt (Schatten only for p <= 2)
    bernstein = h.value_at_zero == 0.0 and not (h.name == "schatten" and h.params["p"] > 2)
    return krylov.SpectralFunction(h.__call__, h.derivative, cut_zero=h.value_at_zero != 0.0, bernstein=bernstein)


RANK_FUNCTION = krylov.SpectralFunction(torch.ones_like, torch.zeros_like, cut_zero=True, step=True)
"""The rank as a :class:`edlrr.krylov.SpectralFunction`: 1 above the rank tolerance."""



def spectral_norm_estimate(X: torch.Tensor, start: torch.Tensor, iters: int = 30) -> torch.Tensor:
    """Power-iteration estimate of sigma_1(X) (a lower bound), detached, shape (*,)."""
    with torch.no_grad():
        v = start
        for _ in range(iters):
            v = X @ (X.mT @ v)
            v = v / v.norm(dim=-2, keepdim=True).clamp_min(torch.finfo(v.dtype).tiny)
        return (X.mT @ v).norm(dim=-2)[..., 0]


DEFAULT_ORDER = {"taylor": 10, "laguerre": 30}
LAGUERRE_SPAN = 8.0
"""Default Laguerre scale maps the largest singular value to y = LAGUERRE_SPAN."""


class PrecisionWarning(UserWarning):
    """An iteration of the ``paper`` method stopped before its last step because the input's
    dtype could not carry it further (see :class:`edlrr.Paper`)."""


ACCEPTED_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
"""Input dtypes: float16 and bfloat16 are computed in float32 and returned in their own dtype."""

GUARD = 1e-3
"""The ``paper`` method's test: its iterates stop where an eigenvalue that the exact
iteration keeps in [0, 1] falls below -GUARD (:func:`edlrr.linalg.projector_ben_israel`)."""

_LEGACY_SERIES = ("expansion", "order", "scale", "series_rtol", "on_series_error")


def as_number(value, name: str) -> float:
    """``value`` (a Python or NumPy number or a 0-d/one-element tensor) as a finite float;
    ``TypeError``/``ValueError`` naming ``name`` otherwise."""
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise TypeError(f"{name} must be a number or a one-element tensor, got a tensor of shape "
                            f"{tuple(value.shape)}")
        value = value.detach().cpu().item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return value


def _check_dtype(S: torch.Tensor) -> None:
    if isinstance(S, torch.Tensor) and S.dtype not in ACCEPTED_DTYPES:
        raise TypeError(f"S must have a floating dtype: float32 or float64 (float16 and bfloat16 are computed "
                        f"in float32), got {S.dtype}")


def _power_of_two_scale(S: torch.Tensor, per_element: bool) -> torch.Tensor:
    """c (*,) or () : a power of two near max |S_ij| (1 for a zero matrix), detached. Dividing
    by it is exact in binary floating point and puts the largest entry in [0.7, 1.4]."""
    with torch.no_grad():
        top = S.abs().amax((-2, -1)) if per_element else S.abs().amax()
        top = top.to(torch.float64)
        exponent = torch.where(top > 0, torch.round(torch.log2(torch.where(top > 0, top, 1.0))), 0.0)
        return torch.exp2(exponent)


def _representable(value: torch.Tensor, dtype: torch.dtype, what: str) -> torch.Tensor:
    """``value`` cast to ``dtype``; ``OverflowError`` where that overflows or flushes a nonzero
    value to a subnormal or zero."""
    out = value.to(dtype)
    with torch.no_grad():
        v = value.detach()
        o = out.detach().to(v.dtype)
        tiny = torch.finfo(dtype).tiny
        bad = ~torch.isfinite(o) | ((v != 0) & (o.abs() < tiny))
        if bool(bad.any()):
            raise OverflowError(f"{what} = {float(v[bad].flatten()[0]):.4g} is not representable in {dtype} "
                                f"(range {tiny:.3g} .. {torch.finfo(dtype).max:.3g}); compute in float64")
    return out


def _scaled_function(h: krylov.SpectralFunction, c: float) -> krylov.SpectralFunction:
    """h(c s) as a function of s, with derivative c h'(c s)."""
    if c == 1.0:
        return h
    return krylov.SpectralFunction(lambda s: h.value(c * s), lambda s: c * h.derivative(c * s),
                                   cut_zero=h.cut_zero, bernstein=h.bernstein, step=h.step)


def _settings_of(opts) -> Settings:
    """The internal :class:`Settings` that runs an algorithm's options."""
    if isinstance(opts, options_mod.Paper):
        return Settings(probes=opts.probes, pinv_iters=opts.pinv_iters, sqrt_iters=opts.sqrt_iters,
                        project=opts.project, internals="paper", probe_kind=opts.probe_kind, side=opts.side)
    if isinstance(opts, options_mod.Released):
        return Settings(probes=opts.probes, pinv_iters=1, sqrt_iters=opts.sqrt_terms, project=opts.project,
                        internals="released", probe_kind=opts.probe_kind, tikhonov=opts.tikhonov, side=opts.side)
    if isinstance(opts, options_mod.Dense):
        return Settings(internals="krylov", dense_below=_EVERY_SIZE, nuclear_internals=None)
    if isinstance(opts, options_mod.Krylov):
        return Settings(probes=opts.probes, internals="krylov", sketch=opts.sketch, power_iters=opts.power_iters,
                        lanczos_steps=opts.lanczos_steps, tail_gradient=opts.tail_gradient,
                        quadrature=opts.quadrature, dense_below=0, nuclear_internals=None)
    if isinstance(opts, options_mod.Matvec):
        return Settings(probes=opts.probes, internals="krylov", head="lanczos", lanczos_steps=opts.lanczos_steps,
                        quadrature=opts.quadrature, dense_below=0, nuclear_internals=None)
    if isinstance(opts, options_mod.Polar):
        return Settings(internals="polar", sketch=opts.sketch, power_iters=opts.power_iters, polar_steps=opts.steps,
                        polar_lower=opts.lower, polar_dtype=opts.dtype, polar_extend=opts.extend, dense_below=0)
    raise TypeError(f"no algorithm for {opts!r}")


_EVERY_SIZE = 2**62


class _Call:
    """One public call resolved: the algorithm's settings, the series options and the plan."""

    def __init__(self, fn: str, S, method, options, legacy: dict, p: float | None = None, default: str = "auto"):
        self.fn = fn
        _check_dtype(S)
        shape = check_matrix(S, check_finite=False).shape
        function = "nuclear_norm" if fn == "schatten" and p == 1 else fn
        if legacy:
            self._from_legacy(method, options, legacy, function, shape, default)
        else:
            self.plan = options_mod.plan(shape, method, options, function=function)
            opts = self.plan.options
            self.settings = _settings_of(opts)
            self.series = ({k: getattr(opts, k) for k in _LEGACY_SERIES}
                           if opts.method in ("paper", "released") else {"expansion": "quadrature"})
        logger.debug("edlrr.%s: %s", fn, self.plan)

    def _from_legacy(self, method, options, legacy, function, shape, default):
        legacy = dict(legacy)
        preset = legacy.pop("preset", None)
        if method != default or options is not None:
            raise TypeError(f"the keywords {sorted(legacy) + (['preset'] if preset else [])} are the old form: "
                            "give either method= and options= or those keywords, not both")
        warnings.warn("estimator keywords (preset=, probes=, internals=, ...) are deprecated: use method= and "
                      "options= (edlrr.Paper, edlrr.Krylov, ...); see edlrr.options", DeprecationWarning,
                      stacklevel=4)
        series = {k: v for k, v in ((k, legacy.pop(k)) for k in _LEGACY_SERIES if k in legacy) if v is not None}
        if preset in ("auto", "fast") and not legacy:
            preset = "fast"
        settings = resolve_settings(preset, **legacy)
        if function == "nuclear_norm" and settings.nuclear_internals is not None:
            settings = replace(settings, internals=settings.nuclear_internals)
        if settings.internals in ("krylov", "polar") and min(shape[-2:]) <= settings.dense_below:
            algorithm = "dense"
        elif settings.internals == "krylov":
            algorithm = "matvec" if settings.head == "lanczos" else "krylov"
        else:
            algorithm = settings.internals
        self.plan = options_mod.Plan(preset or "paper", algorithm, settings, "old keywords")
        self.settings = settings
        if settings.internals in ("krylov", "polar"):
            if series.get("expansion", "quadrature") != "quadrature":
                raise ValueError(f"expansion={series['expansion']!r} does not go with internals="
                                 f"{settings.internals!r}: 'quadrature' is the expansion of the Lanczos methods")
            self.series = {"expansion": "quadrature"}
        else:
            expansion = series.get("expansion") or "taylor"
            if expansion == "quadrature":
                raise ValueError("expansion='quadrature' goes with internals='krylov' (preset='fast') only")
            check = options_mod.Paper(expansion=expansion, order=series.get("order"), scale=series.get("scale"),
                                      series_rtol=series.get("series_rtol", 1e-2),
                                      on_series_error=series.get("on_series_error", "warn"))
            self.series = {k: getattr(check, k) for k in _LEGACY_SERIES}

    @property
    def scalable(self) -> bool:
        """Whether the input is divided by a power of two first (every algorithm but the release's,
        whose absolute Tikhonov regulariser makes its value depend on the scale of S)."""
        return self.settings.internals != "released"


def _prepare(S, check_finite: bool):
    """(S in float32 or float64, the caller's dtype)."""
    _check_dtype(S)
    S = check_matrix(S, check_finite=check_finite)
    dtype = S.dtype
    if dtype in (torch.float16, torch.bfloat16):
        S = S.float()
    return S, dtype


def _run_power(call: _Call, S, p: float, generator, check_finite, return_stderr):
    """sum_i sigma_i^p (p > 0) or the rank (p = 0) of S by the call's algorithm: S is divided by
    a power of two c per batch element, the result multiplied by c^p."""
    S, dtype = _prepare(S, check_finite)
    c = _power_of_two_scale(S, per_element=True) if call.scalable else torch.ones(S.shape[:-2], dtype=torch.float64)
    Y = S / c.to(S.dtype)[..., None, None] if call.scalable else S
    settings = call.settings
    if p == 0:
        result = _rank_unscaled(Y, settings, generator, return_stderr)
    elif settings.internals == "polar":
        result = _polar(Y, settings, generator, False, True)
    elif settings.internals == "krylov":
        result = _krylov(Y, power_function(p), settings, generator, False, True)
    else:
        prob = _ProbeProblem(Y, settings, generator, False)
        samples = prob.inner_samples(prob.projected, prob.apply_power(p, prob.G))
        prob.report()
        result = _finish(samples * prob.scale[..., None] ** p, True)
    value, stderr = result if isinstance(result, tuple) else (result, None)
    factor = c ** p  # float64: c^p may not be representable in S's dtype although the value is
    what = "the rank" if p == 0 else ("the nuclear norm" if p == 1 else f"the Schatten-{p:g} sum")
    value = _representable(value.to(torch.float64) * factor, S.dtype, what)
    if not return_stderr:
        return _representable(value, dtype, what)
    stderr = (stderr.to(torch.float64) * factor).to(S.dtype) if stderr is not None else None
    return _representable(value, dtype, what), stderr.to(dtype)


def _rank_unscaled(Y, settings, generator, return_stderr):
    if settings.internals == "polar":
        _only_nuclear(settings, "the rank")
    if settings.internals == "krylov":
        return _krylov(Y, RANK_FUNCTION, settings, generator, False, True)
    prob = _ProbeProblem(Y, settings, generator, False)
    PG = prob.projected
    prob.report()
    return _finish(prob.inner_samples(PG, PG), True)


_COMMON_DOC = """
    Parameters
    ----------
    S : Tensor (*, m, n)
        float32 or float64 (float16 and bfloat16 are computed in float32 and returned in their
        dtype), on any device; NaN or Inf entries raise ``ValueError`` (``check_finite``).
    method : str
        ``"auto"`` (default: the recommended algorithm for the input's size, :func:`edlrr.plan`),
        ``"paper"`` or ``"released"`` (EDLRR's recipe and its authors' code), ``"dense"``,
        ``"krylov"``, ``"matvec"``, ``"polar"`` (the nuclear norm only); ``"fast"`` is ``"auto"``.
    options : options instance or dict, optional
        The method's options (an instance names its method), one class per method:

{options}
    generator : torch.Generator or int, optional
        Source of the random probes; an int seed (0 <= seed < 2**64) gives the same value on
        every call.
    return_stderr : bool
        Also return an error estimate of the value: ``(value, stderr)`` (0 for ``dense``).
    check_finite : bool
        Check S for NaN and Inf (one reduction).

    Every algorithm but ``released`` gives the same relative error for c S as for S (S is first
    divided by a power of two); a value that the output dtype cannot represent raises
    ``OverflowError``. Which algorithm ran is logged at DEBUG level on the ``"edlrr"`` logger.
"""


def _doc(text: str) -> str:
    opts = "\n".join("        " + line for line in options_mod.describe_options(width=88).splitlines())
    return text.replace("{common}", _COMMON_DOC.replace("{options}", opts))


def schatten(S: torch.Tensor, p, *, method: str = "auto", options=None, generator=None,
             return_stderr: bool = False, check_finite: bool = True, **legacy):
    p = as_number(p, "p")
    if p < 0:
        raise ValueError(f"p must be >= 0, got {p!r}")
    call = _Call("rank" if p == 0 else "schatten", S, method, options, legacy, p)
    if call.settings.internals in ("paper",) and p > 0:
        dyadic_fraction(p / 2)
    if call.settings.internals == "released" and p > 0 and not float(p).is_integer():
        raise ValueError(f"method 'released' supports integer p only (Q^p), got p={p}")
    if call.settings.internals == "polar" and p not in (0, 1):
        _only_nuclear(call.settings, f"the Schatten p = {p} sum")
    return _run_power(call, S, p, generator, check_finite, return_stderr)


schatten.__doc__ = _doc("""Estimate sum_i sigma_i(S)^p, shape (*,), differentiable (EDLRR Theorem 1, eq. 5).

    p = 1 is the nuclear norm, p = 0 the rank. With ``method="paper"`` p is a non-negative
    integer or a dyadic fraction reachable by repeated square roots (p/2 = j/2^L: 0.5, 1.5, ...),
    with ``"released"`` an integer; the other methods take every p > 0.
{common}
    References
    ----------
    Li et al., IJCAI 2025, Theorem 1, Proposition 4 and Algorithm 1.
    """)


def nuclear_norm(S: torch.Tensor, *, method: str = "auto", options=None, generator=None,
                 return_stderr: bool = False, check_finite: bool = True, **legacy):
    return schatten(S, 1, method=method, options=options, generator=generator, return_stderr=return_stderr,
                    check_finite=check_finite, **legacy)


nuclear_norm.__doc__ = _doc("""Estimate ||S||_* = sum_i sigma_i(S), shape (*,), differentiable (EDLRR
    Proposition 4); :func:`schatten` with p = 1.
{common}""")


def rank(S: torch.Tensor, *, method: str = "auto", options=None, generator=None,
         return_stderr: bool = False, check_finite: bool = True, **legacy):
    if legacy.get("project") is False or (isinstance(options, dict) and options.get("project") is False) or \
            getattr(options, "project", True) is False:
        raise ValueError("rank needs the projection: project=False would estimate the dimension")
    return schatten(S, 0, method=method, options=options, generator=generator, return_stderr=return_stderr,
                    check_finite=check_finite, **legacy)


rank.__doc__ = _doc("""Estimate rank(S), shape (*,) (EDLRR Proposition 3: E ||P_S[g]||^2).

    Differentiable, but piecewise constant: its gradient is not informative. A singular value
    counts when it exceeds max(m, n) eps sigma_1, as in :func:`torch.linalg.matrix_rank`
    (``dense``, ``krylov`` and ``matvec``; exact for ``dense``). ``paper``: singular values with
    sigma^2 / ||S||_F^2 below about 2^-k1 are not resolved and count as less than one.
    ``krylov`` is unreliable where the singular values decay through the tolerance past its
    sketch (the whole tail counts).
{common}""")


def lrr(S: torch.Tensor, penalty: str | Penalty, *, method: str = "auto", options=None, generator=None,
        return_stderr: bool = False, check_finite: bool = True, **legacy):
    h = _penalty(penalty)
    call = _Call("lrr", S, method, options, legacy)
    _only_nuclear(call.settings, "lrr (use penalty 'nuclear' with method='krylov')")
    S, dtype = _prepare(S, check_finite)
    what = f"the {h.name} penalty"
    if call.settings.internals == "krylov":
        c = float(_power_of_two_scale(S, per_element=False))
        Y = S / c
        result = _krylov(Y, _scaled_function(spectral_function(h), c), call.settings, generator, False, True)
    else:
        result = _series_lrr(S, h, call, generator)
    value, stderr = result
    value = _representable(value, dtype, what)
    return (value, stderr.to(dtype)) if return_stderr else value


lrr.__doc__ = _doc("""Estimate R(S) = sum_i h(sigma_i(S)), shape (*,), differentiable.

    ``dense``, ``krylov``, ``matvec`` (and ``auto``) evaluate h at exact singular values or Ritz
    values. ``paper`` and ``released`` expand h in a truncated series (their ``expansion``
    option; EDLRR Theorems 2 and 3):

    ``"taylor"``:   h(s y) ~= sum_{p<=order} a_p y^p,   a_p = h^(p)(0) s^p / p!
    ``"laguerre"``: h(s y) ~= sum_{k<=order} c_k L_k(y), c_k = int L_k e^{-y} h(s y)

    and R(S) ~= (1/N) sum_i < P_S[g_i], q((S S^T)^{1/2} / s) g_i >. The series is compared with
    h on [0, 1.05 sigma_1] (sigma_1 from a power iteration); past ``series_rtol`` of max h a
    :class:`~edlrr.SeriesDivergenceWarning` is issued (or ``ValueError`` raised): a Taylor
    series used beyond its radius of convergence.

    Parameters
    ----------
    penalty : str or Penalty
        h, see :func:`edlrr.penalty`.
{common}
    References
    ----------
    Li et al., IJCAI 2025, Theorems 2 and 3.
    """)


def _series_lrr(S, h: Penalty, call: _Call, generator):
    """The ``paper``/``released`` estimate of sum h(sigma_i(S)) by a truncated series, and its
    standard error. S is divided by a power of two c first (not for ``released``); the series
    is expanded in the original units."""
    settings, series = call.settings, call.series
    expansion, order = series["expansion"], series["order"]
    order = DEFAULT_ORDER[expansion] if order is None else order
    c = float(_power_of_two_scale(S, per_element=False)) if call.scalable else 1.0
    prob = _ProbeProblem(S / c, settings, generator, False)

    sigma1 = float((spectral_norm_estimate(prob.X, prob.G[..., :1]) * prob.scale.detach()).max()) * c
    if series["scale"] is None:
        s = sigma1 / (LAGUERRE_SPAN if expansion == "laguerre" else 1.0)
        s = s if s > 0 else 1.0
    else:
        s = float(series["scale"])
    coef = h.series_coefficients(expansion, order, s)
    if series["on_series_error"] != "ignore" and sigma1 > 0:
        grid = np.linspace(0.0, 1.05 * sigma1, 257)
        err = h.series_error(grid, expansion, order, s)
        if not err <= series["series_rtol"]:
            where = (f"its Taylor series at 0 converges only for x < {h.radius:g}"
                     if expansion == "taylor" and math.isfinite(h.radius) else "")
            msg = (f"the {expansion} series of {h.name}{h.params} truncated at order {order} "
                   f"has relative error {err:.3g} on [0, sigma_1 ~= {sigma1:.4g}] "
                   f"(tolerance {series['series_rtol']:g}){'; ' + where if where else ''}. "
                   + ("Use expansion='laguerre', a higher order or another scale." if expansion == "taylor"
                      else "Use a higher order, another scale, or a penalty parameter matched to "
                           "the singular values (e.g. a larger gamma)."))
            if series["on_series_error"] == "raise":
                raise ValueError(msg)
            warnings.warn(msg, SeriesDivergenceWarning, stacklevel=3)

    # B = (S S^T)^{1/2} / s: the root M of the normalised Gram matrix times ||S / c||_F c / s
    factor = (prob.scale * (c / s))[..., None, None]
    M = prob.root(1)

    def apply_B(V):
        return factor * (M @ V)

    G = prob.G
    coef_t = [float(a) for a in coef]
    if expansion == "taylor":
        W = coef_t[-1] * G
        for a in reversed(coef_t[:-1]):
            W = apply_B(W) + a * G
    else:
        prev, cur = G, G - apply_B(G)  # L_0, L_1
        W = coef_t[0] * prev + (coef_t[1] * cur if order >= 1 else 0)
        for k in range(1, order):
            prev, cur = cur, ((2 * k + 1) * cur - apply_B(cur) - k * prev) / (k + 1)
            W = W + coef_t[k + 1] * cur
    samples = prob.inner_samples(prob.projected, W)
    prob.report()
    return _finish(samples, True)


def schatten_samples(S: torch.Tensor, p: float, *, method: str = "paper", options=None, generator=None,
                     check_finite: bool = True, **legacy) -> torch.Tensor:
    """The per-probe samples (*, N) whose mean is :func:`schatten` (p = 0: :func:`rank`) for the
    probe methods ``"paper"`` and ``"released"``.

    The operators (projection, square roots) are computed once and applied to all N probes,
    so ``samples.reshape(*, R, N // R).mean(-1)`` gives R estimates with N // R probes each,
    distributed exactly as R separate calls: what a variance study needs. S is used at its own
    scale (no power-of-two division), as the paper's algorithm is.
    """
    p = as_number(p, "p")
    call = _Call("rank" if p == 0 else "schatten", S, method, options, legacy, p, default="paper")
    if call.settings.internals not in ("paper", "released"):
        raise ValueError("schatten_samples needs the probe samples of method 'paper' or 'released'; the "
                         "Lanczos methods give an error estimate with return_stderr=True")
    S, _ = _prepare(S, check_finite)
    prob = _ProbeProblem(S, call.settings, generator, False)
    if p == 0:
        PG = prob.projected
        out = prob.inner_samples(PG, PG)
    else:
        out = prob.inner_samples(prob.projected, prob.apply_power(p, prob.G)) * prob.scale[..., None] ** p
    prob.report()
    return out


# old private names, still imported by a few callers
_dyadic, _power_function, _RANK_FUNCTION = dyadic_fraction, power_function, RANK_FUNCTION
