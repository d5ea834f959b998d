"""What the parts of the ``fast`` experiment share: the cell versions, the estimator variants,
one timed forward + backward, and the count of products by S or S^T of a call."""
from __future__ import annotations

import contextlib
import gc
import time

import torch

import edlrr

from ...sweep import PeakMemory

NAME = "fast"

# Cell versions: a number changes when what its cells compute changes, so that stored cells of
# another number are not reused (their history: CHANGELOG.md, "fast experiment: cell versions").
VERSION = 14  # speed cells of svdvals and of the variants whose nuclear norm is the polar iteration
SPEED_LANCZOS_VERSION = 14  # speed cells of the variants whose nuclear norm is Lanczos quadrature
SMALL_VERSION = 7  # pareto, released and crossover cells (sizes the preset computes densely)
BIDIAGONAL_VERSION = 7  # xtrace cells of method "matvec"
XTRACE_VERSION = 8  # the other xtrace cells and the xtrace grid's
ORACLE_VERSION = 1  # xtrace_oracle cells (the idealised estimator of each spectrum and functional)
DTYPE_VERSION = 9  # dtype cells
PENALTY_VERSION = 9  # penalty cells

DTYPES = {"float64": torch.float64, "float32": torch.float32}
"""The dtypes a cell's ``dtype`` param names (absent: float64)."""

FAST_VARIANTS = {
    # method "auto" (dense where min(m, n) <= dense_below; the nuclear norm by the polar iteration above)
    "fast": {"method": "auto"},
    # its polar iteration in float32 instead of bfloat16
    "fast-polar-f32": {"method": "auto", "options": {"polar": {"dtype": "float32"}}},
    # its polar iteration without deflating more directions from the tail
    "fast-no-extend": {"method": "auto", "options": {"polar": {"extend": 0}}},
    # its polar iteration with the fixed four-step design
    "fast-polar-4": {"method": "auto", "options": {"polar": {"steps": 4, "lower": 0.01}}},
    # the polar iteration at every size (below dense_below too)
    "fast-polar": {"method": "polar"},
    # "auto" with the Lanczos estimator for the nuclear norm above dense_below
    "fast-lanczos": {"method": "auto", "options": {"nuclear": "krylov"}},
    # a leaner configuration of the Lanczos estimator, at every size
    "fast-lean": {"method": "krylov", "options": {"probes": 8, "lanczos_steps": 10}},
    # the Lanczos estimator with the unbiased (noisy) tail gradient: the gradient-cosine evidence
    "fast-stochastic": {"method": "krylov", "options": {"tail_gradient": "stochastic"}},
    # "auto"'s Lanczos estimator with the two-pole rational tail gradient (a few dense products more)
    "fast-rational": {"method": "auto", "options": {"nuclear": "krylov", "krylov": {"tail_gradient": "rational"}}},
}
"""The speed and dtype parts' variants: the cell params ``method`` and ``options`` of each."""


def estimator(params: dict) -> dict:
    """``method=`` and ``options=`` of the core from a cell's params (``options`` None when absent)."""
    return {"method": params["method"], "options": params.get("options")}


def lanczos_nuclear(variant: dict) -> bool:
    """Whether a variant computes the nuclear norm by Lanczos quadrature (``"krylov"``) above
    ``dense_below``, not by the polar iteration."""
    opts = edlrr.options.options_for(**estimator(variant))
    return opts.method == "krylov" or (opts.method == "auto" and opts.nuclear == "krylov")


def torch_dtype(name: str) -> torch.dtype:
    """The torch dtype of a cell's ``dtype`` param; ValueError naming the known ones."""
    if name not in DTYPES:
        raise ValueError(f"unknown dtype {name!r}; known: {', '.join(DTYPES)}")
    return DTYPES[name]


def cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    """<a, b> / (||a|| ||b||) over all entries (0 where either is 0)."""
    return float((a * b).sum() / (a.norm() * b.norm()).clamp_min(1e-300))


def release_memory() -> None:
    """Collect garbage and hand freed heap back to the system (glibc ``malloc_trim``), so that a
    peak measured next starts from the live data."""
    gc.collect()
    try:
        import ctypes
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _sync(X: torch.Tensor) -> None:
    if X.is_cuda:
        torch.cuda.synchronize(X.device)


def timed_grad(fn, S: torch.Tensor, mem: PeakMemory | None = None):
    """Seconds, value, standard error (None if ``fn`` returns none) and gradient of one
    forward + backward of ``fn`` at a copy of ``S``. ``mem`` (entered after the copy is made)
    measures the peak memory of the call alone. On a GPU the clock stops after the queued work."""
    X = S.detach().clone().requires_grad_(True)
    if mem is not None:
        release_memory()
    _sync(X)
    with mem if mem is not None else contextlib.nullcontext():
        t0 = time.perf_counter()
        out = fn(X)
        value, stderr = out if isinstance(out, tuple) else (out, None)
        value.backward()
        _sync(X)
        seconds = time.perf_counter() - t0
    return seconds, float(value.detach()), (None if stderr is None else float(stderr)), X.grad


def svdvals_sum(X: torch.Tensor) -> torch.Tensor:
    """The exact nuclear norm by ``torch.linalg.svdvals`` (its autograd gives U V^T)."""
    return torch.linalg.svdvals(X).sum()


def products(plan: edlrr.Plan, m: int, polar_products: float | None = None) -> int:
    """Products by S or S^T of one estimate by ``plan`` (:func:`edlrr.plan`'s record of the call)
    on a matrix with min(m, n) = m.

    0 for the exact paths (``"dense"``, and ``"krylov"`` where sketch + probes >= m);
    ``"krylov"``: 2 k (q + 1) + 2 N d; ``"matvec"``: 2 N d; the polar iteration: its range finder's
    2 k (q + 1) plus each m x m x m product counted as m (``polar_products``: the number of such
    products the iteration took, needed for ``steps="auto"``; else 3 per quintic step). Not
    counted for the polar iteration: the block Lanczos run that scales it (30 steps of 4 columns
    on the m x m Gram matrix and its 124-column projection: 244 products; twice where
    ``extend`` deflates), the check of the result's top singular value (18) and the extension's
    thin products (6 per direction). ValueError for the other methods.
    """
    algorithm, o = plan.algorithm, plan.options
    if algorithm == "dense":
        return 0
    if algorithm == "matvec":
        return 2 * o.probes * o.lanczos_steps
    if algorithm == "polar":
        if polar_products is None:
            if o.steps == "auto":
                raise ValueError("steps='auto' takes 9 to 15 products: pass the number taken "
                                 "(polar.product_counts)")
            polar_products = 3 * o.steps
        return (2 * o.sketch * (o.power_iters + 1) if o.sketch else 0) + round(polar_products * m)
    if algorithm == "krylov":
        k, q, N, d = o.sketch, o.power_iters, o.probes, o.lanczos_steps
        if k + N >= m:
            return 0
        return (2 * k * (q + 1) if k else 0) + 2 * N * d
    raise ValueError(f"no product count for method {algorithm!r} (products of min(m, n)-square matrices)")


def dtype_of(d):
    """The dtype of each row of a long table (its ``param_dtype``; float64 where absent)."""
    import pandas as pd

    if "param_dtype" not in d:
        return pd.Series("float64", index=d.index)
    return d.param_dtype.fillna("float64")


def seeds_text(d) -> str:
    """The probe seeds per cell of the rows ``d`` (``param_seeds``), as text: "10", "3 or 5"."""
    if "param_seeds" not in d or d.param_seeds.isna().all():
        return "?"
    return " or ".join(str(int(s)) for s in sorted(d.param_seeds.dropna().unique()))
