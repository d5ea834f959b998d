"""The fast estimator against the exact nuclear norm, in float64 and float32, on spectra of three kinds.

``fast`` is ``edlrr.nuclear_norm(S, method="auto")`` (``common.VARIANTS["fast"]``), with a
fixed probe seed per case. It computes min(m, n) <= dense_below = 1024 densely (float64 Gram
eigenvalues); above, the nuclear norm goes by the deflated polar iteration (``edlrr.polar``:
k = 64 deflated directions after q = 1 power iteration, quintic and cubic steps in bfloat16 on the
rest, 9 to 15 products as the rest needs, ``edlrr.Polar(steps="auto")``). ``fast_lanczos``
(``method="krylov"``) is the deflated stochastic Lanczos quadrature at every size (``edlrr.krylov``:
N = 8 sphere probes x d = 30 Lanczos steps beyond the 64 directions), ``fast_rational`` "auto" with
the nuclear norm by it with ``tail_gradient="rational"`` (the same value, a gradient closer to U V^T), ``fast_polar``
(``method="polar"``) the polar iteration at every size. ``svdvals`` is the exact reference:
``torch.linalg.svdvals(S).sum()``, whose autograd gradient is U V^T. Square n x n matrices,
n in {384, 512, 1024, 2048}, seeded (``common.make_matrix``, i.e. ``datasets.synthetic.test_matrix``;
the same matrix in both classes and on every commit), in float64 and (FastVsExact's ``dtype``)
its float32 copy:

gaussian       i.i.d. N(0, 1) entries: full rank, Marchenko-Pastur singular values
lowrank_noise  rank 50 with singular values 1, plus a Gaussian matrix of spectral norm 1e-2
power          sigma_i = 1 / i, i = 1 ... n (orthogonal factors from QR of Gaussians)

FastVsExact           time_forward_backward: seconds for the value and its gradient
                      (``torch.autograd.grad``) by each method in each dtype (svdvals in the
                      same dtype beside it); peakmem_forward_backward: peak
                      resident memory of the process over that call (the high-water mark is
                      reset just before it, so the matrix generator in ``setup`` does not count;
                      it still includes torch, ~220 MB, the matrix and its copy, and the code
                      that a first call loads; see ``common.reset_peak_memory``).
FastVsExactAccuracy   fast against svdvals on the same float64 matrix, one fixed probe seed:
                      track_value_relerr   |fast - exact| / exact, nuclear norm
                      track_grad_cosine    cosine between the fast gradient and U V^T
                      track_grad_cosine_rational  the same with tail_gradient="rational"
                      track_stderr_relative  the standard error the estimator reports
                                           (``return_stderr=True``) / exact, to be read
                                           against track_value_relerr
                      track_polar_products  n x n x n products of the preset's polar
                                           iteration (0: another path, the dense one up to 1024)

Commits whose edlrr has neither method "auto" nor preset "fast" skip the fast cases (and the
whole accuracy class).
The svdvals cases need nothing from edlrr and run on every commit. Cost per commit on one
thread (estimated from --quick runs, float64 alone; float32 adds less than as much again): about
4 minutes for FastVsExact (svdvals forward+backward
takes 4-6 s at 2048, fast 0.5 s, and building a 2048 ``lowrank_noise`` or ``power`` matrix
2-3 s, once per process) and under a minute for FastVsExactAccuracy (one ``setup_cache`` for
all twelve cases).
"""
from __future__ import annotations

import functools
import math

import torch

from . import common
from .common import (configure, estimator, make_matrix, reset_peak_memory, seed_for, sync,
                     timing_attrs)

SPECTRA = ["gaussian", "lowrank_noise", "power"]
SIZES = [384, 512, 1024, 2048]
DTYPES = ["float64", "float32"]
PROBES = 8  # the preset's N


@functools.lru_cache(maxsize=1)
def _matrix(spectrum: str, n: int) -> torch.Tensor:
    """The case's float64 matrix, built once per process: asv re-runs ``setup`` before every
    timed call, and the 2048 generators take seconds. Never modified (calls get a clone)."""
    shape = f"{n}x{n}"
    return make_matrix(shape, spectrum=spectrum, dtype=torch.float64,
                       seed=seed_for("matrix", shape, spectrum))


def _probe_seed(spectrum: str, n: int) -> int:
    return seed_for("FastVsExact", spectrum, n)


@timing_attrs
class FastVsExact:
    """Nuclear norm and its gradient, exact (svdvals) or fast, across spectra, sizes and dtypes
    (the float32 case: the float64 matrix cast, the same probe seed)."""

    params = [SPECTRA, SIZES, ["svdvals", "fast", "fast_lanczos", "fast_rational", "fast_polar"], DTYPES]
    param_names = ["spectrum", "n", "method", "dtype"]

    def setup(self, spectrum, n, method, dtype):
        configure()
        # raises NotImplementedError (skipped) where this edlrr has no preset "fast"
        self.f = estimator(method, "nuclear", probes=PROBES, seed=_probe_seed(spectrum, n))
        self.S_grad = _matrix(spectrum, n).to(getattr(torch, dtype)).clone().requires_grad_(True)

    def _forward_backward(self):
        (grad,) = torch.autograd.grad(self.f(self.S_grad), self.S_grad)
        sync()
        return grad

    def time_forward_backward(self, spectrum, n, method, dtype):
        self._forward_backward()

    def peakmem_forward_backward(self, spectrum, n, method, dtype):
        reset_peak_memory()
        self._forward_backward()


class FastVsExactAccuracy:
    """Errors of the fast nuclear norm and gradient against svdvals (one probe seed per case,
    the same as FastVsExact's), computed for all cases at once in ``setup_cache``."""

    params = [SPECTRA, SIZES]
    param_names = ["spectrum", "n"]
    timeout = 600  # setup_cache: twelve svdvals forward+backward, three of them at 2048

    def setup_cache(self):
        try:
            configure()
            import edlrr

            options = common.variant_options("fast", PROBES, 10, 10)
            common._supported(options)
        except NotImplementedError:  # no preset "fast" (older commit), or no device: skip all
            return {}
        table = {}
        for spectrum in SPECTRA:
            for n in SIZES:
                S = _matrix(spectrum, n)
                X = S.clone().requires_grad_(True)
                exact = torch.linalg.svdvals(X).sum()
                (exact_grad,) = torch.autograd.grad(exact, X)
                X = S.clone().requires_grad_(True)
                counts = getattr(getattr(edlrr, "polar", None), "product_counts", None)
                if counts is not None:
                    counts.clear()
                value, stderr = edlrr.nuclear_norm(X, generator=_probe_seed(spectrum, n),
                                                   return_stderr=True, **options)
                (grad,) = torch.autograd.grad(value, X)
                # n x n x n products of the polar iteration (0: another path; NaN: not recorded here)
                polar_products = math.nan if counts is None else float(sum(k * c for k, c in counts.items()))
                exact, value, stderr = float(exact.detach()), float(value.detach()), float(stderr)
                cosine = (grad * exact_grad).sum() / (grad.norm() * exact_grad.norm())
                table[(spectrum, n)] = dict(
                    value=abs(value - exact) / exact,
                    cosine=float(cosine),
                    stderr=stderr / exact if math.isfinite(stderr) else math.nan,
                    cosine_rational=_rational_cosine(S, exact_grad, _probe_seed(spectrum, n)),
                    polar_products=polar_products,
                )
        return table

    def setup(self, cache, spectrum, n):
        configure()
        if cache.get((spectrum, n)) is None:
            raise NotImplementedError("this edlrr has no preset 'fast'")
        self.result = cache[(spectrum, n)]

    def track_value_relerr(self, cache, spectrum, n):
        return self.result["value"]

    track_value_relerr.unit = "relative error"

    def track_grad_cosine(self, cache, spectrum, n):
        return self.result["cosine"]

    track_grad_cosine.unit = "cosine"

    def track_stderr_relative(self, cache, spectrum, n):
        return self.result["stderr"]

    track_stderr_relative.unit = "relative error"

    def track_grad_cosine_rational(self, cache, spectrum, n):
        """The same cosine with ``tail_gradient="rational"`` (NaN where this edlrr lacks it)."""
        return self.result["cosine_rational"]

    track_grad_cosine_rational.unit = "cosine"

    def track_polar_products(self, cache, spectrum, n):
        """n x n x n products the polar iteration took (``edlrr.Polar(steps="auto")`` chooses 9-15
        from the tail; 0 where "auto" takes another path; NaN where this edlrr does not record them)."""
        return self.result.get("polar_products", math.nan)

    track_polar_products.unit = "products"


def _rational_cosine(S, exact_grad, seed: int) -> float:
    import edlrr

    options = common.variant_options("fast_rational", PROBES, 10, 10)
    try:
        common._supported(options)
    except NotImplementedError:
        return math.nan
    X = S.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(edlrr.nuclear_norm(X, generator=seed, **options), X)
    return float((grad * exact_grad).sum() / (grad.norm() * exact_grad.norm()))
