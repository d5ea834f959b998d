"""Shared pieces of the asv benchmarks: settings from the environment, seeded inputs, the
estimator variants under test and the exact references.

Nothing here runs torch code at import time: asv imports every benchmark module in its
forkserver before forking one process per benchmark, and an OpenMP pool started before the
fork would not survive it. Every benchmark calls :func:`configure` in its ``setup``.

Environment variables (read at import, so they also decide the parameter grids)
------------------------------------------------------------------------------------
EDLRR_BENCH_THREADS  torch intra-op threads (``torch.set_num_threads``), default 1. One
                     thread gives the steadiest numbers on a shared 2-core machine.
EDLRR_BENCH_GRID     ``default`` (the thinned grid, about 20 minutes per commit on 2 cores) or
                     ``full`` (adds 2048-sized estimator cases and the full cross product of
                     size x probes x iterations, see README.md; hours).
EDLRR_BENCH_DEVICE   ``cpu`` (default) or e.g. ``cuda``; timed GPU calls end with a sync.
"""
from __future__ import annotations

import importlib
import os
import sys
import types
import zlib
from pathlib import Path

import torch

__all__ = [
    "THREADS", "GRID", "FULL", "DEVICE", "configure", "sync", "seed_for", "parse_shape",
    "make_matrix", "synthetic", "SPECTRA", "reset_peak_memory", "VARIANTS", "REFERENCES", "estimator",
    "estimator_kwargs", "variant_options", "with_series", "check_budget", "reference_value_and_grad",
    "timing_attrs",
]


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    value = int(raw)
    if value < 1:
        raise ValueError(f"{name} must be a positive integer, got {raw!r}")
    return value


THREADS = _env_int("EDLRR_BENCH_THREADS", 1)
GRID = os.environ.get("EDLRR_BENCH_GRID", "default").strip().lower() or "default"
if GRID not in ("default", "full"):
    raise ValueError(f"EDLRR_BENCH_GRID must be 'default' or 'full', got {GRID!r}")
FULL = GRID == "full"
DEVICE = os.environ.get("EDLRR_BENCH_DEVICE", "cpu").strip() or "cpu"

# Timing settings shared by the time_ benchmarks: one call per sample (setup re-runs between
# samples, so a sample never sees the previous call's state), at most 10 samples or about
# 1 s of sampling per round after a 0.1 s warm-up, 2 rounds (1 with --quick).
TIMING = dict(number=1, repeat=(1, 10, 1.0), warmup_time=0.1, timeout=180)


def timing_attrs(cls):
    """Class decorator: give a benchmark class the shared timing attributes (unless set)."""
    for key, value in TIMING.items():
        if key not in cls.__dict__:
            setattr(cls, key, value)
    return cls


def configure() -> None:
    """Fix the thread count; skip the case (NotImplementedError) if the device is missing."""
    torch.set_num_threads(THREADS)
    if DEVICE.startswith("cuda") and not torch.cuda.is_available():
        raise NotImplementedError(f"EDLRR_BENCH_DEVICE={DEVICE} but CUDA is not available")


def sync() -> None:
    """Wait for queued GPU work, so that a timed call measures the computation itself."""
    if DEVICE.startswith("cuda"):
        torch.cuda.synchronize()


def reset_peak_memory() -> bool:
    """Reset the process's peak resident memory to its current value, so that a ``peakmem_``
    benchmark reports the call and not the temporaries of its ``setup`` (QR factors, SVDs of
    the matrix generators). asv reads the peak as ``getrusage(RUSAGE_SELF).ru_maxrss``, which on
    Linux (>= 4.0) is the high-water mark that writing ``5`` to ``/proc/self/clear_refs`` resets.
    Freed heap memory is handed back first (``malloc_trim``, glibc), so that the baseline is the
    live data only. Elsewhere nothing is reset and the peak includes ``setup``; returns whether
    it was reset."""
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL(None).malloc_trim(0)  # the process's own symbols, libc's among them
    except (OSError, AttributeError):
        pass
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        return False
    return True


def seed_for(*parts) -> int:
    """A seed derived from the identity of a case (class name, parameters). crc32 rather than
    ``hash``, which is salted per process and would differ between the two processes of
    ``asv continuous``."""
    return zlib.crc32("|".join(map(str, parts)).encode()) & 0x7FFFFFFF


def parse_shape(shape: str) -> tuple[int, int]:
    """``"1024x512"`` -> (1024, 512)."""
    m, n = shape.lower().split("x")
    return int(m), int(n)


SPECTRA = ("gaussian", "lowrank", "lowrank_noise", "power")
"""The spectra of :func:`make_matrix` the benchmarks use (of ``datasets.synthetic.TEST_SPECTRA``)."""


def synthetic():
    """The module ``datasets/synthetic.py`` of the working tree that holds these benchmarks.

    asv runs the working tree's benchmarks against each commit's installed edlrr, so the test
    matrices come from the working tree too: the same matrices on every commit, also on those
    whose installed suite has no ``test_matrix``. Loaded as a submodule of a private package
    (its folder, without running its ``__init__``); it needs torch and numpy only. Falls back to
    the installed ``edlrr_bench.datasets.synthetic`` where the folder is absent."""
    name = "_edlrr_tree_datasets"
    if f"{name}.synthetic" in sys.modules:
        return sys.modules[f"{name}.synthetic"]
    folder = Path(__file__).resolve().parents[1] / "datasets"
    if not (folder / "synthetic.py").is_file():
        return importlib.import_module("edlrr_bench.datasets.synthetic")
    package = types.ModuleType(name)
    package.__path__ = [str(folder)]
    sys.modules.setdefault(name, package)
    return importlib.import_module(f"{name}.synthetic")


def make_matrix(shape: str, *, spectrum: str = "gaussian", seed: int = 0,
                dtype=torch.float32, device: str | None = None, factors: bool = False):
    """A seeded ``m x n`` test matrix (``shape="mxn"``): ``datasets.synthetic.test_matrix``.

    ``spectrum="gaussian"``: i.i.d. N(0, 1) entries. ``"lowrank"``: rank max(1, min(m, n) // 10)
    with singular values spaced geometrically from 10 down to 1. ``"lowrank_noise"``: rank
    min(50, m, n) with singular values 1 plus a Gaussian matrix of spectral norm 1e-2 (its norm
    costs one svdvals, 2.5 s at 2048 x 2048 on one thread). ``"power"``: sigma_i = 1 / i. Drawn
    in float64 on the CPU from ``seed``, then cast to ``dtype`` and moved to ``device`` (default
    ``EDLRR_BENCH_DEVICE``). With ``factors=True`` returns ``(S, (U, s, V))`` (float64, CPU;
    None for ``gaussian`` and ``lowrank_noise``).
    """
    m, n = parse_shape(shape)
    if spectrum not in SPECTRA:
        raise ValueError(f"unknown spectrum {spectrum!r}; known: {SPECTRA}")
    return synthetic().test_matrix(spectrum, m, n, seed=int(seed), dtype=dtype, device=device or DEVICE,
                                   factors=factors)


# --------------------------------------------------------------------------------------------
# The methods under test. A variant is a function (probes, k1, k2) -> (method, options) of the
# edlrr estimators (``method=`` and a dict of the fields of its options class, ``options=``);
# ``None`` marks a reference computed through torch.linalg.svdvals.
# To benchmark a new variant of the core (e.g. a faster algorithm), add one line here: on
# commits whose edlrr does not accept its method or options the cases are skipped, not failed.
# Commits before method= and options= get the same variant in the keywords they took
# (:func:`_legacy_keywords`), so that asv compares them with later ones.
# --------------------------------------------------------------------------------------------

REFERENCES = ("svdvals", "exact")

VARIANTS = {
    # plain torch.linalg.svdvals (forward: the singular values; backward: of their sum)
    "svdvals": None,
    # the exact reference of the package: edlrr.exact (svdvals-autograd with input checks)
    "exact": None,
    # EDLRR's estimator (edlrr.Paper): Ben-Israel-Cohen pseudo-inverse (k1), Newton-Schulz root (k2)
    "paper": lambda N, k1, k2: ("paper", dict(probes=N, pinv_iters=k1, sqrt_iters=k2)),
    # the same without the projection (it changes nothing for p >= 1 in exact arithmetic)
    "paper_noproj": lambda N, k1, k2: ("paper", dict(probes=N, pinv_iters=k1, sqrt_iters=k2, project=False)),
    # the authors' released code (edlrr.Released) with the grid's N and k2 binomial-series terms;
    # it has no k1 (one Ben-Israel-Cohen step after a Tikhonov inverse)
    "released": lambda N, k1, k2: ("released", dict(probes=N, sqrt_terms=k2)),
    # the release exactly as shipped: N = 20,000 probes, 5,000 series terms (only at 128x128)
    "released_preset": lambda N, k1, k2: ("released", {}),
    # method "auto": dense up to min(m, n) = 1024, above it the nuclear norm by the deflated polar
    # iteration (edlrr.polar) and the other sums by deflated stochastic Lanczos quadrature
    # (edlrr.krylov: sketch k = 64, power_iters q = 1, lanczos_steps d = 30) with the grid's N as
    # its probes. It has no k1, k2 (the classes that sweep them run it at k1 = k2 = 10 only).
    "fast": lambda N, k1, k2: ("auto", dict(krylov=dict(probes=N))),
    # the Lanczos estimator at every size (method "krylov", the nuclear norm too)
    "fast_lanczos": lambda N, k1, k2: ("krylov", dict(probes=N)),
    # "auto" with the nuclear norm by the Lanczos estimator with the two-pole rational tail gradient
    # (cosine ~0.99 with the exact gradient for about three more dense products)
    "fast_rational": lambda N, k1, k2: ("auto", dict(nuclear="krylov",
                                                     krylov=dict(probes=N, tail_gradient="rational"))),
    # the nuclear norm by the deflated polar iteration (method "polar", edlrr.polar) at every size
    "fast_polar": lambda N, k1, k2: ("polar", {}),
}


def variant_options(method: str, N: int, k1: int, k2: int) -> dict:
    """The keyword arguments of ``VARIANTS[method]`` for the installed edlrr: ``method`` and
    ``options`` (a dict), or for an edlrr before them the keywords it took."""
    name, options = VARIANTS[method](N, k1, k2)
    return estimator_kwargs(name, options)


def _new_api() -> bool:
    import edlrr

    return hasattr(getattr(edlrr, "options", None), "options_for")


def estimator_kwargs(method: str, options: dict) -> dict:
    """``method=`` and ``options=`` for the installed edlrr, or for an edlrr before them the
    keywords it took (:func:`_legacy_keywords`)."""
    if _new_api():
        return {"method": method, "options": options}
    return _legacy_keywords(method, options)


# legacy-keywords: begin (the keywords of commits before method= and options=; the grep test
# of tests/test_no_deprecated_calls.py skips this block)
def _legacy_keywords(method: str, options: dict) -> dict:
    """The keywords of an edlrr before ``method=``/``options=`` for ``method`` and ``options``
    (its presets and Settings fields); ``nuclear_internals=None`` (the nuclear norm by the
    Lanczos estimator) is dropped where Settings has no such field (commits before it, where
    that was the only way)."""
    import edlrr

    o = dict(options)
    polar = {f"polar_{k}" if k in ("steps", "lower", "dtype", "extend") else k: v
             for k, v in o.pop("polar", {}).items()}
    if method == "paper":
        kw = {"preset": "paper", **o}
    elif method == "released":
        kw = {"preset": "released", **o}
        if "sqrt_terms" in kw:
            kw["sqrt_iters"] = kw.pop("sqrt_terms")
    elif method in ("auto", "fast"):
        nuclear = o.pop("nuclear", "polar")
        kw = {"preset": "fast", **o.pop("krylov", {}), **o, **polar}
        if nuclear == "krylov":
            kw["nuclear_internals"] = None
    elif method == "krylov":
        kw = {"preset": "fast", "dense_below": 0, "nuclear_internals": None, **o}
    elif method == "polar":
        kw = {"preset": "fast", "dense_below": 0, "nuclear_internals": "polar",
              **{f"polar_{k}" if k in ("steps", "lower", "dtype", "extend") else k: v for k, v in o.items()}}
    elif method == "matvec":
        kw = {"preset": "matvec", **o}
    else:
        raise NotImplementedError(f"no keywords for method {method!r} in this edlrr")
    fields = getattr(getattr(edlrr, "Settings", None), "__dataclass_fields__", {})
    if kw.get("nuclear_internals", "") is None and "nuclear_internals" not in fields:
        kw = {k: v for k, v in kw.items() if k != "nuclear_internals"}
    return kw


def _legacy_supported(kwargs: dict):
    import edlrr

    opts = dict(kwargs)
    preset = opts.pop("preset", None)
    resolve = getattr(edlrr, "resolve_settings", None)
    if resolve is None:
        raise NotImplementedError("this edlrr has no resolve_settings (presets/options)")
    try:
        return resolve(preset, **opts)
    except (TypeError, ValueError) as exc:
        raise NotImplementedError(f"edlrr does not support {kwargs}: {exc}") from None


def _legacy_series(settings, series: dict) -> dict:
    """The series keywords of :func:`edlrr.lrr` before ``options=`` (the Lanczos internals take
    ``expansion="quadrature"``)."""
    if getattr(settings, "internals", None) == "krylov":
        return dict(series, expansion="quadrature")
    return series


def solver_estimator(solver_cls, options: dict) -> dict:
    """The parameters of the ``edlrr`` completion solver ``solver_cls`` for the paper's estimator
    with ``options`` (its ``options`` field, or ``estimator_options`` before it)."""
    if "options" in getattr(solver_cls, "__dataclass_fields__", {}):
        return {"options": options}
    return {"estimator_options": options}
# legacy-keywords: end


def _supported(kwargs: dict, function: str = "nuclear_norm"):
    """Raise NotImplementedError unless the installed edlrr accepts the keyword arguments
    ``kwargs`` (:func:`variant_options`: an unknown method or option, or a method that does not
    compute ``function``); return the options instance (before ``options=``: the Settings)."""
    import edlrr

    if "method" not in kwargs:
        return _legacy_supported(kwargs)
    try:
        opts = edlrr.options.options_for(kwargs["method"], kwargs["options"])
        edlrr.plan((2, 2), opts.method, opts, function=function)
    except (TypeError, ValueError) as exc:
        raise NotImplementedError(f"edlrr does not support {kwargs}: {exc}") from None
    if function == "rank" and getattr(opts, "project", True) is False:
        raise NotImplementedError("the rank needs the projection (project=False estimates the dimension)")
    return opts


def with_series(opts, series: dict):
    """``opts`` with the series fields of a general h (``expansion``, ``on_series_error``, ...) for
    the methods that expand h in a series (``"paper"``, ``"released"``); the other methods
    evaluate h at (Ritz) singular values and take ``opts`` as it is."""
    import dataclasses

    if opts.method in ("paper", "released"):
        return dataclasses.replace(opts, **series)
    return opts


def estimator(method: str, functional: str = "nuclear", *, probes: int = 16, k1: int = 10,
              k2: int = 10, seed: int = 0):
    """Return f(S) -> value (shape ()) for ``method`` estimating ``functional``.

    Raises NotImplementedError when the installed edlrr lacks the method or functional, so
    that asv reports the case as skipped on older commits.
    """
    import edlrr

    if method not in VARIANTS:
        raise NotImplementedError(f"unknown method {method!r}")
    make = VARIANTS[method]
    if make is None:
        return _reference_fn(method, functional)
    func = FUNCTIONALS.get(functional)
    if func is None:
        raise NotImplementedError(f"unknown functional {functional!r}")
    name, args, series = func
    fn = getattr(edlrr, name, None)
    if fn is None:
        raise NotImplementedError(f"edlrr has no {name}")
    kwargs = variant_options(method, probes, k1, k2)
    opts = _supported(kwargs, name)
    if name == "lrr":
        if not hasattr(edlrr, "penalty"):
            raise NotImplementedError("edlrr has no penalty")
        pen = edlrr.penalty(*args[:1], **args[1])
        if "method" in kwargs:  # the same penalty h: a series, or evaluated at (Ritz) singular values
            opts = with_series(opts, series)
            return lambda S: fn(S, pen, method=opts.method, options=opts, generator=seed)
        extra = _legacy_series(opts, series)
        return lambda S: fn(S, pen, generator=seed, **extra, **kwargs)
    if "method" in kwargs:
        return lambda S: fn(S, *args, method=opts.method, options=opts, generator=seed)
    return lambda S: fn(S, *args, generator=seed, **kwargs)


# functional -> (edlrr function, positional args, the series options of a general h)
FUNCTIONALS = {
    "nuclear": ("nuclear_norm", (), {}),
    "schatten3": ("schatten", (3,), {}),
    "rank": ("rank", (), {}),
    # gamma = 500 as the authors use: within the Taylor radius for the benchmark matrices.
    # The methods other than "paper" and "released" evaluate the same h at (Ritz) singular values.
    "gamma_taylor": ("lrr", ("gamma_nuclear", dict(gamma=500.0)),
                     dict(expansion="taylor", on_series_error="ignore")),
    "laplace_laguerre": ("lrr", ("laplace", dict(gamma=10.0)),
                         dict(expansion="laguerre", on_series_error="ignore")),
}


def _h(functional: str):
    """The scalar function h of each functional, written out here (independent of edlrr)."""
    return {
        "nuclear": lambda s: s,
        "schatten3": lambda s: s**3,
        "gamma_taylor": lambda s: (1 + 500.0) * s / (500.0 + s),
        "laplace_laguerre": lambda s: -torch.expm1(-s / 10.0),
    }[functional]


def _reference_fn(method: str, functional: str):
    if functional == "rank":
        raise NotImplementedError("the rank has no useful gradient; no svdvals reference timed")
    if method == "exact":
        import edlrr

        exact = getattr(edlrr, "exact", None)
        if exact is None:
            raise NotImplementedError("edlrr has no exact module")
        if functional == "nuclear":
            return exact.nuclear_norm
        if functional == "schatten3":
            return lambda S: exact.schatten(S, 3)
        pen = FUNCTIONALS[functional][1]
        return lambda S: exact.lrr(S, pen[0], **pen[1])
    h = _h(functional)
    return lambda S: h(torch.linalg.svdvals(S)).sum(-1)


def reference_value_and_grad(S: torch.Tensor, functional: str = "nuclear", svd=None):
    """Exact value and gradient of sum_i h(sigma_i(S)) in float64, from an SVD by torch (not
    through edlrr, so that the reference does not depend on the code measured):
    value = sum h(sigma_i), gradient = U diag(h'(sigma_i)) V^T (what svdvals-autograd gives).

    ``svd=(U, s, V)``: the exact factors of a matrix built low-rank (``make_matrix(...,
    factors=True)``). Then the reference comes from them and ignores the ~1e-7 rounding noise
    of the float32 input, whose singular directions would otherwise enter the nuclear-norm
    gradient with weight 1 (the minimal-norm subgradient U_r V_r^T is the target). For the
    rank: the numerical rank (tolerance sigma_1 max(m, n) eps of the input's dtype) or r, and
    no gradient.
    """
    if svd is None:
        U, s, Vh = torch.linalg.svd(S.detach().cpu().to(torch.float64), full_matrices=False)
        V = Vh.mT
    else:
        U, s, V = svd
    if functional == "rank":
        if svd is not None:
            return float(s.numel()), None
        tol = s[0] * max(S.shape[-2:]) * torch.finfo(S.dtype).eps
        return float((s > tol).sum()), None
    s = s.clone().requires_grad_(True)
    value = _h(functional)(s).sum()
    (dh,) = torch.autograd.grad(value, s)
    grad = (U * dh) @ V.mT
    return float(value), grad


# --------------------------------------------------------------------------------------------
# Which cases run in the default grid (the rest raise NotImplementedError in setup, i.e. are
# reported as skipped). Documented in README.md.
# --------------------------------------------------------------------------------------------

def check_budget(method: str, shape: str, probes: int = 16, k: int = 10) -> None:
    """Skip cases too slow for the grid in use (a few seconds per call at most, 1 thread)."""
    m, n = parse_shape(shape)
    big = max(m, n)
    if method == "released_preset":
        # 5,000 dense 128x128 products per call (0.4 s forward, 2 s with backward);
        # at 256 it is 10 s per call
        if (m, n) != (128, 128):
            raise NotImplementedError("released_preset runs only at 128x128 (5,000-term series)")
        return
    if method in REFERENCES:
        return
    if method == "fast" and probes <= 256:
        # O(mn (k + N d)) per call: 0.3 s forward+backward at 2048x2048 float32 (N = 16)
        return
    if not FULL and big >= 2048:
        raise NotImplementedError(
            f"{method} at {shape} takes 5-20 s per call; set EDLRR_BENCH_GRID=full")
