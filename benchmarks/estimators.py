"""Speed and peak memory of the estimators against the exact SVD references.

Every case estimates the nuclear norm (Proposition 4) of a seeded N(0, 1) float32 matrix
(``common.make_matrix``) unless the class says otherwise (EstimatorSize: float32 and float64, its
``dtype``); ``time_forward`` times the value, ``time_forward_backward``
the value and its gradient (``torch.autograd.grad``), ``peakmem_*`` the process's peak resident
memory over one such call. Methods (see ``common.VARIANTS``):

svdvals          plain ``torch.linalg.svdvals`` (forward+backward: of the sum), the floor
exact            ``edlrr.exact``: svdvals-autograd, the package's exact reference
paper            method "paper" (Ben-Israel-Cohen k1, Newton-Schulz k2, N Gaussian probes)
paper_noproj     the same without the projection P_S
released         method "released" (binomial series of k2 terms, Tikhonov inverse), N probes
released_preset  the release as shipped (N = 20,000, 5,000 terms), at 128x128 only
fast             method "auto": dense up to min(m, n) = 1024, above it the nuclear norm by the
                 deflated polar iteration, the rest by Lanczos quadrature (k = 64 deflated
                 directions, N sphere probes x 30 Lanczos steps); no k1, k2 (run at k1 = k2 = 10
                 only where they are swept)
fast_lanczos     method "krylov" (the Lanczos estimator at every size), N probes
fast_rational    "auto" with the nuclear norm by the Lanczos estimator, rational tail gradient
fast_polar       method "polar" (the deflated polar iteration at every size)

Cases outside the grid's budget raise NotImplementedError in ``setup`` (asv: skipped); see
``common.check_budget`` and benchmarks/README.md.
"""
from __future__ import annotations

import torch

from . import common
from .common import FULL, configure, estimator, make_matrix, seed_for, sync, timing_attrs

SQUARE = ["128x128", "256x256", "512x512", "1024x1024", "2048x2048"]
RECTANGULAR = ["256x128", "1024x512", "2048x1024"]  # 2:1, the estimators work on the short side
ALL_METHODS = list(common.VARIANTS)
ESTIMATORS = ["paper", "paper_noproj", "released"]
SWEPT = ESTIMATORS + ["fast"]  # the probes / iterations sweeps (not the full-grid cross product)
DTYPES = ["float32", "float64"]  # EstimatorSize's dtypes


class _EstimatorCase:
    """setup: the seeded matrix and the estimator; the timed methods call it only."""

    def _prepare(self, method, shape, probes=16, k1=10, k2=10, functional="nuclear", dtype="float32"):
        configure()
        common.check_budget(method, shape, probes, max(k1, k2))
        seed = seed_for(type(self).__name__, method, shape, probes, k1, k2, functional)
        self.f = estimator(method, functional, probes=probes, k1=k1, k2=k2, seed=seed)
        if method == "svdvals" and functional == "nuclear":
            self.f_forward = torch.linalg.svdvals  # the bare call, no reduction
        else:
            self.f_forward = self.f
        # the same matrix (cast) and probe seed in either dtype
        self.S = make_matrix(shape, seed=seed_for("matrix", shape), dtype=getattr(torch, dtype))
        self.S_grad = self.S.clone().requires_grad_(True)

    def _forward(self):
        self.f_forward(self.S)
        sync()

    def _forward_backward(self):
        (grad,) = torch.autograd.grad(self.f(self.S_grad), self.S_grad)
        sync()
        return grad


@timing_attrs
class EstimatorSize(_EstimatorCase):
    """Each method across sizes, at N = 16 probes and k1 = k2 = 10, in float32 and float64."""

    params = [ALL_METHODS, SQUARE + RECTANGULAR, DTYPES]
    param_names = ["method", "shape", "dtype"]

    def setup(self, method, shape, dtype):
        self._prepare(method, shape, dtype=dtype)

    def time_forward(self, method, shape, dtype):
        self._forward()

    def time_forward_backward(self, method, shape, dtype):
        self._forward_backward()

    def peakmem_forward(self, method, shape, dtype):
        self._forward()

    def peakmem_forward_backward(self, method, shape, dtype):
        self._forward_backward()


@timing_attrs
class EstimatorProbes(_EstimatorCase):
    """Cost of the number of probes N at 512x512, k1 = k2 = 10."""

    params = [SWEPT, [1, 16, 256]]
    param_names = ["method", "probes"]

    def setup(self, method, probes):
        self._prepare(method, "512x512", probes=probes)

    def time_forward(self, method, probes):
        self._forward()

    def time_forward_backward(self, method, probes):
        self._forward_backward()


@timing_attrs
class EstimatorIterations(_EstimatorCase):
    """Cost of k1 (pseudo-inverse iterations) and k2 (square-root iterations / series terms) at
    512x512, N = 16. Cases where the method ignores k1 (released: always one step after the
    Tikhonov inverse; paper_noproj: no projection) run only at k1 = 10; fast, which uses
    neither, only at k1 = k2 = 10 (a flat reference line)."""

    params = [SWEPT, [5, 10, 20], [5, 10, 20]]
    param_names = ["method", "k1", "k2"]

    def setup(self, method, k1, k2):
        if method in ("released", "paper_noproj") and k1 != 10:
            raise NotImplementedError(f"{method} does not use k1")
        if method == "fast" and (k1, k2) != (10, 10):
            raise NotImplementedError("fast uses neither k1 nor k2")
        self._prepare(method, "512x512", k1=k1, k2=k2)

    def time_forward(self, method, k1, k2):
        self._forward()

    def time_forward_backward(self, method, k1, k2):
        self._forward_backward()


@timing_attrs
class EstimatorFunctionals(_EstimatorCase):
    """The spectral sums of the package at 512x512 (N = 16, k1 = k2 = 10): nuclear norm
    (Prop. 4), sum sigma^3 (Theorem 1), rank (Prop. 3), gamma-nuclear by a Taylor series
    (Theorem 2, gamma = 500, order 10) and Laplace by a Laguerre series (Theorem 3,
    gamma = 10, order 30), against the same sums through svdvals. fast evaluates the two
    penalties at exact or Ritz singular values, not by their series."""

    params = [["svdvals", "exact", "paper", "released", "fast"],
              ["nuclear", "schatten3", "rank", "gamma_taylor", "laplace_laguerre"]]
    param_names = ["method", "functional"]

    def setup(self, method, functional):
        self._prepare(method, "512x512", functional=functional)
        self.f_forward = self.f

    def time_forward(self, method, functional):
        self._forward()

    def time_forward_backward(self, method, functional):
        self._forward_backward()


if FULL:
    @timing_attrs
    class EstimatorGrid(_EstimatorCase):
        """EDLRR_BENCH_GRID=full only: the whole design-card cross product
        method x shape x N x k (k1 = k2 = k)."""

        params = [ESTIMATORS, SQUARE + RECTANGULAR, [1, 16, 256], [5, 10, 20]]
        param_names = ["method", "shape", "probes", "k"]
        timeout = 600

        def setup(self, method, shape, probes, k):
            self._prepare(method, shape, probes=probes, k1=k, k2=k)

        def time_forward(self, method, shape, probes, k):
            self._forward()

        def time_forward_backward(self, method, shape, probes, k):
            self._forward_backward()

        def peakmem_forward_backward(self, method, shape, probes, k):
            self._forward_backward()
