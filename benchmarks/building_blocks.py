"""The building blocks of ``edlrr.linalg`` and ``edlrr.penalties``, timed and checked alone.

NewtonSchulzSqrt    ``linalg.sqrt_newton_schulz(A, k)`` (Proposition 2) on A = X X^T / n
BenIsraelPinv       ``linalg.pinv_ben_israel(S, k)`` (Proposition 1)
BinomialSeriesSqrt  ``linalg.sqrt_binomial_series(A, terms)``, the release's square root
TikhonovPinv        ``linalg.pinv_tikhonov(S)``, the release's pseudo-inverse
SeriesCoefficients  ``Penalty.taylor_coefficients`` / ``laguerre_coefficients`` (Theorems 2-3)
ThinProducts        X^T V and X V for a thin block V: ``krylov.xt_times`` / ``x_times`` against the plain products

Matrices are seeded float32 (X, S with N(0, 1) entries); accuracy is tracked against float64
eigen/singular value decompositions.
"""
from __future__ import annotations

import numpy as np
import torch

from .common import FULL, configure, make_matrix, parse_shape, seed_for, sync, timing_attrs

SIZES = [128, 256, 512, 1024]
if FULL:
    SIZES = SIZES + [2048]


def _linalg(name):
    import edlrr

    fn = getattr(getattr(edlrr, "linalg", None), name, None)
    if fn is None:
        raise NotImplementedError(f"edlrr.linalg has no {name}")
    return fn


def _gram(n: int, seed_name: str) -> torch.Tensor:
    """A = X X^T / n for an n x n Gaussian X: PSD, eigenvalues spread over [0, 4]."""
    X = make_matrix(f"{n}x{n}", seed=seed_for(seed_name, n), dtype=torch.float64)
    return ((X @ X.mT) / n).to(torch.float32)


def _psd_sqrt(A: torch.Tensor) -> torch.Tensor:
    w, V = torch.linalg.eigh(A.detach().to(torch.float64))
    return (V * w.clamp_min(0).sqrt()) @ V.mT


class _Timed:
    """Forward and forward+backward of ``self.call(self.x)``; the backward of the sum of the
    output weighted by a fixed random matrix W (a generic cotangent)."""

    def _arm(self, call, x, out_shape):
        self.call = call
        self.x = x
        self.x_grad = x.clone().requires_grad_(True)
        self.W = torch.randn(out_shape, generator=torch.Generator().manual_seed(0),
                             dtype=x.dtype).to(x.device)

    def _forward(self):
        self.call(self.x)
        sync()

    def _forward_backward(self):
        out = self.call(self.x_grad)
        torch.autograd.grad((out * self.W).sum(), self.x_grad)
        sync()


def _check_flops(flops: float, limit: float = 60e9) -> None:
    """Skip cases above ``limit`` flops per forward call (about 0.5 s on one core at
    ~130 GFLOP/s float32) unless EDLRR_BENCH_GRID=full."""
    if not FULL and flops > limit:
        raise NotImplementedError(f"{flops / 1e9:.0f} GFLOP per call: full grid only")


@timing_attrs
class NewtonSchulzSqrt(_Timed):
    params = [SIZES, [5, 10, 20]]
    param_names = ["n", "iters"]

    def setup(self, n, iters):
        configure()
        fn = _linalg("sqrt_newton_schulz")
        _check_flops(4.0 * n**3 * iters)
        A = _gram(n, "newton_schulz")
        self._arm(lambda a: fn(a, iters), A, A.shape)
        self.A = A

    def time_forward(self, n, iters):
        self._forward()

    def time_forward_backward(self, n, iters):
        self._forward_backward()

    def track_relative_error(self, n, iters):
        """||Y - A^{1/2}||_F / ||A^{1/2}||_F against a float64 eigendecomposition."""
        Y = self.call(self.A).to(torch.float64)
        ref = _psd_sqrt(self.A)
        return float(torch.linalg.norm(Y - ref) / torch.linalg.norm(ref))

    track_relative_error.unit = "relative error"


@timing_attrs
class BenIsraelPinv(_Timed):
    params = [[f"{n}x{n}" for n in SIZES] + ["256x128", "1024x512"], [5, 10, 20]]
    param_names = ["shape", "iters"]

    def setup(self, shape, iters):
        configure()
        fn = _linalg("pinv_ben_israel")
        m, n = parse_shape(shape)
        _check_flops(4.0 * m * n * min(m, n) * iters)
        S = make_matrix(shape, seed=seed_for("ben_israel", shape))
        self._arm(lambda s: fn(s, iters), S, S.mT.shape)
        self.S = S

    def time_forward(self, shape, iters):
        self._forward()

    def time_forward_backward(self, shape, iters):
        self._forward_backward()

    def track_projection_error(self, shape, iters):
        """||S X S - S||_F / ||S||_F (1 - share of S's energy the projection S X captures)."""
        X = self.call(self.S).to(torch.float64)
        S = self.S.to(torch.float64)
        return float(torch.linalg.norm(S @ X @ S - S) / torch.linalg.norm(S))

    track_projection_error.unit = "relative error"


@timing_attrs
class BinomialSeriesSqrt(_Timed):
    """The release's square root: an SVD of A for the scale, then ``terms`` dense products."""

    params = [SIZES, [10, 100, 1000, 5000]]
    param_names = ["n", "terms"]

    def setup(self, n, terms):
        configure()
        fn = _linalg("sqrt_binomial_series")
        _check_flops(2.0 * n**3 * terms)
        A = _gram(n, "binomial")
        self._arm(lambda a: fn(a, terms), A, A.shape)
        self.A = A

    def time_forward(self, n, terms):
        self._forward()

    def time_forward_backward(self, n, terms):
        self._forward_backward()

    def track_relative_error(self, n, terms):
        Y = self.call(self.A).to(torch.float64)
        ref = _psd_sqrt(self.A)
        return float(torch.linalg.norm(Y - ref) / torch.linalg.norm(ref))

    track_relative_error.unit = "relative error"


@timing_attrs
class TikhonovPinv(_Timed):
    """The release's pseudo-inverse (S^T S + 0.1 I)^{-1} S^T plus one Ben-Israel-Cohen step."""

    params = [[f"{n}x{n}" for n in SIZES] + ["256x128", "1024x512"]]
    param_names = ["shape"]

    def setup(self, shape):
        configure()
        fn = _linalg("pinv_tikhonov")
        S = make_matrix(shape, seed=seed_for("tikhonov", shape))
        self._arm(fn, S, S.mT.shape)
        self.S = S

    def time_forward(self, shape):
        self._forward()

    def time_forward_backward(self, shape):
        self._forward_backward()

    def track_projection_error(self, shape):
        X = self.call(self.S).to(torch.float64)
        S = self.S.to(torch.float64)
        return float(torch.linalg.norm(S @ X @ S - S) / torch.linalg.norm(S))

    track_projection_error.unit = "relative error"


# Penalty parameters chosen so that [0, 1] lies inside every Taylor radius of convergence
# (except lnn, whose radius is exactly 1): the series error then reflects the truncation.
PENALTIES = {
    "gamma_nuclear": dict(gamma=2.0),
    "laplace": dict(gamma=1.0),
    "lnn": dict(),
    "logarithm": dict(gamma=0.5),
    "etp": dict(gamma=1.0),
    "geman": dict(gamma=2.0),
}


@timing_attrs
class SeriesCoefficients:
    """Taylor coefficients at 0 and Laguerre coefficients (Gauss-Laguerre quadrature) of each
    penalty h, and the truncated series' error max |h - series| / max |h| on [0, 1] (the
    scales edlrr.lrr uses: s = x_max for Taylor, x_max / 8 for Laguerre)."""

    params = [list(PENALTIES), ["taylor", "laguerre"], [10, 30, 100]]
    param_names = ["penalty", "expansion", "order"]
    repeat = (5, 50, 0.25)  # sub-millisecond to 50 ms calls: several samples, little time

    def setup(self, penalty, expansion, order):
        configure()
        import edlrr

        if not hasattr(edlrr, "penalty"):
            raise NotImplementedError("edlrr has no penalty")
        try:
            self.h = edlrr.penalty(penalty, **PENALTIES[penalty])
        except (TypeError, ValueError) as exc:
            raise NotImplementedError(str(exc)) from None
        method = f"{expansion}_coefficients"
        if not hasattr(self.h, method):
            raise NotImplementedError(f"Penalty has no {method}")
        self.scale = 1.0 if expansion == "taylor" else 1.0 / 8.0
        self.coefficients = getattr(self.h, method)
        self.expansion, self.order = expansion, order

    def time_coefficients(self, penalty, expansion, order):
        self.coefficients(order, self.scale)

    def track_series_error(self, penalty, expansion, order):
        x = np.linspace(0.0, 1.0, 513)
        coef = np.asarray(self.coefficients(order, self.scale), dtype=np.float64)
        y = x / self.scale
        if self.expansion == "taylor":
            approx = np.polynomial.polynomial.polyval(y, coef)
        else:
            approx = np.polynomial.laguerre.lagval(y, coef)
        with torch.no_grad():
            exact = self.h(torch.as_tensor(x)).numpy()
        return float(np.max(np.abs(approx - exact)) / np.max(np.abs(exact)))

    track_series_error.unit = "relative error"


@timing_attrs
class ThinProducts:
    """X^T V and X V (X n x n float64, V n x j), the Lanczos estimator's products: X^T V as
    ``edlrr.krylov.xt_times`` computes it, (V^T X)^T, and as ``X.mT @ V`` (the same numbers, other
    BLAS kernels); X V as ``edlrr.krylov.x_times`` computes it ((V^T X^T)^T in float64) and as
    ``X @ V``."""

    params = [[1024, 2048], [8, 64]]
    param_names = ["n", "j"]

    def setup(self, n, j):
        configure()
        from edlrr import krylov

        if not hasattr(krylov, "xt_times"):
            raise NotImplementedError("edlrr.krylov has no xt_times")
        self.xt_times = krylov.xt_times
        self.x_times = getattr(krylov, "x_times", lambda X, V: X @ V)  # (before x_times: the plain product)
        self.X = make_matrix(f"{n}x{n}", seed=seed_for("thin_products", n), dtype=torch.float64)
        self.V = make_matrix(f"{n}x{j}", seed=seed_for("thin_products_block", n, j), dtype=torch.float64)

    def time_xt_times(self, n, j):
        self.xt_times(self.X, self.V)
        sync()

    def time_transposed_matmul(self, n, j):
        self.X.mT @ self.V
        sync()

    def time_x_times(self, n, j):
        self.x_times(self.X, self.V)
        sync()

    def time_matmul(self, n, j):
        self.X @ self.V
        sync()


class SymmetricProducts:
    """The polar iteration's symmetric products Y Y^T and a A + b A^2 (Y n x n, A = Y Y^T / n) as
    ``edlrr.polar.gram`` / ``symmetric_square`` compute them (the blocks on and above the
    diagonal, then copied) and as one full product; bfloat16 (the iteration's dtype where
    bfloat16 products are fast) and float32."""

    params = [[1024, 2048], ["bfloat16", "float32"]]
    param_names = ["n", "dtype"]

    def setup(self, n, dtype):
        configure()
        from edlrr import polar

        if not hasattr(polar, "symmetric_square"):
            raise NotImplementedError("edlrr.polar has no gram / symmetric_square")
        self.polar = polar
        Y = make_matrix(f"{n}x{n}", seed=seed_for("symmetric_products", n), dtype=torch.float64) / n**0.5
        self.Y = Y.to(getattr(torch, dtype))
        self.A = self.Y @ self.Y.mT

    def time_gram_blocks(self, n, dtype):
        self.polar.gram(self.Y)
        sync()

    def time_gram_full(self, n, dtype):
        self.Y @ self.Y.mT
        sync()

    def time_square_blocks(self, n, dtype):
        self.polar.symmetric_square(self.A, 0.5, 0.25)
        sync()

    def time_square_full(self, n, dtype):
        torch.addmm(self.A, self.A, self.A, beta=0.5, alpha=0.25)
        sync()
