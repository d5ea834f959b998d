"""The test matrices of the ``fast`` experiment and their exact references.

The matrices are :func:`edlrr_bench.datasets.synthetic.test_matrix` (square, seed 0: the same
matrix in every cell of a spectrum and size), the completion images of
:mod:`edlrr_bench.datasets.images`, and the exact nuclear norm and gradient (``svdvals``
autograd) of a test matrix, kept for the last one asked.
"""
from __future__ import annotations

import functools
import time

import torch

from ...datasets import get_dataset
from ...datasets.synthetic import spectrum_values, test_matrix
from ...sweep import PeakMemory
from .common import release_memory, svdvals_sum

__all__ = ["matrix", "spectrum_values", "exact", "forget_exact", "image_matrix"]


@functools.lru_cache(maxsize=2)
def matrix(spectrum: str, n: int) -> torch.Tensor:
    """The seeded n x n float64 CPU test matrix of the named spectrum (seed 0; cached: the big
    ones take seconds). Never modified in place: callers copy or cast it."""
    return test_matrix(spectrum, n, n, seed=0)


_EXACT: dict = {}


def forget_exact(spectrum: str, n: int) -> None:
    """Drop the kept exact reference of a matrix, so that the next :func:`exact` measures it."""
    _EXACT.pop((spectrum, n), None)


def exact(spectrum: str, n: int, mem: PeakMemory | None = None, device: str = "cpu") -> dict:
    """Exact nuclear norm ``value`` and gradient ``grad`` (U V^T, float64 on the CPU) of the test
    matrix by ``svdvals`` autograd in float64 on ``device``, with the ``seconds`` it took and,
    inside ``mem``, its extra peak memory ``peak_mib`` (the input's copy is made before). Kept
    for the last matrix asked (a float64 SVD of n = 4096 takes about a minute on one thread)."""
    if (spectrum, n) not in _EXACT:
        _EXACT.clear()
        S = matrix(spectrum, n).to(device).clone().requires_grad_(True)
        release_memory()
        with mem if mem is not None else PeakMemory():
            t0 = time.perf_counter()
            value = svdvals_sum(S)
            value.backward()
            if S.is_cuda:
                torch.cuda.synchronize(S.device)
            seconds = time.perf_counter() - t0
        _EXACT[(spectrum, n)] = {"value": float(value.detach()), "grad": S.grad.cpu(), "seconds": seconds,
                                 "peak_mib": mem.peak_mib if mem is not None else float("nan")}
    return _EXACT[(spectrum, n)]


def image_matrix(ds: dict) -> torch.Tensor:
    """The RGB channels (3, size, size) of an embedded completion image, float64 in [0, 1]
    (``ds``: the cell's dataset, with ``image`` and ``size``)."""
    problem = get_dataset("image_inpainting", image=ds["image"], size=ds["size"], mask="drop", drop=0.5, seed=0)
    return problem.truth.to(torch.float64)
