"""Deflated polar iteration for the nuclear norm (``method="polar"``, and ``"auto"``'s nuclear norm
above its dense size; beyond the EDLRR paper).

The gradient of ||S||_* is the polar factor U V^T, and ||S||_* = <U V^T, S>: one approximate
polar factor gives both the value and a gradient whose cosine with the exact one is near 1,
where a probe estimate of the value gives a gradient of rank N d plus a multiple of S.

With X = S (or S^T, so that X X^T is the smaller Gram matrix, m x m):

1. **Head**: Q = orth((X X^T)^q X Omega), k columns (randomized range finder, as
   :func:`edlrr.krylov.range_basis`); its part ||Q^T X||_* from the singular values of the
   k x n matrix Q^T X, differentiated exactly.
2. **Tail**: X_t = (I - Q Q^T) X, scaled by an estimate of its largest singular value (block
   Lanczos on X_t X_t^T, times a safety factor), then T odd quintic steps
   Y <- (a_j I + b_j Y Y^T + c_j (Y Y^T)^2) Y, each three m x m x n products (the two symmetric
   ones from their blocks on and above the diagonal: :func:`gram`, :func:`symmetric_square`,
   about 5/8 of the flops each). The coefficients
   are those of the greedy minimax composition for the matrix sign function (the design of
   "Polar Express", Amsel, Persson, Musco & Gower 2025; computed here by a linear program,
   :func:`quintic_coefficients`): the composition maps every singular value in [l, 1] to within
   e_T of 1, and smaller ones towards 0. ``steps="auto"`` (the ``"fast"`` preset) takes the
   cheapest of five designs, l = 0.03 ... 0.003 with 9 ... 15 products (cubic steps
   Y <- (a I + b Y Y^T) Y, two products, where they are cheaper: :data:`DESIGNS`), for which the
   mean of 1 - f^2 over the tail's directions is at most 3%, predicted by the Gauss quadrature
   of the Lanczos run that gives the scale (:func:`choose_design`): a square Gaussian tail takes
   9 products, a tail decaying past 0.03 sigma_t 10-12. Where the tail would take two products
   or more above the cheapest design and its top falls fast (a tail decaying like 1/i), up to ``extend``
   (``polar_extend``, 48 by default) more directions are deflated first: the top Ritz vectors of
   that Lanczos run, by thin products (:func:`choose_extension`): 1/i at n = 4096 with k = 64
   then takes 9 products, not 12. The products run in ``polar_dtype``, bfloat16 by
   default where it is fast (CUDA, and CPUs with AMX tiles or AVX512-BF16, where its products run
   several times faster than float32's; ``results/fast-*`` measure it): the target is a gradient
   direction and a value to ~1e-3, and the iteration is self-correcting.
3. **Value**: ||Q^T X||_* + <F, X_t> with F the iterate (accumulated in float64): every
   singular value of the tail is counted as sigma f(sigma), f within e_T of 1 above l sigma_t.
   **Gradient**: Q (U_h V_h^T) + (I - Q Q^T) F, the head's exact gradient and the projected
   iterate (no differentiation through the iteration: it stands for U_t V_t^T, the tail's
   true gradient).

Biases: head and tail split the nuclear norm by pinching (the estimate is at least the truth
when the iteration is exact: ||[A; B]||_* <= ||A||_* + ||B||_*), and singular values below
l sigma_t count for less than themselves. The error estimate returned (as a "standard error" s,
so that value +- 1.96 s is the interval) is e_T |tail| plus l sigma_t times an estimate of the
number of tail directions below l sigma_t (m - k - ||F||_F^2); it does not see the pinching.
``edlrr-bench fast`` measures value error, gradient cosine, coverage, time and memory.

Memory: the tail is held in ``polar_dtype``: three m x n or m x m arrays at a time in the
iteration (bfloat16: 2 bytes an entry); the result is kept for the backward in float8 (1 byte,
:data:`KEEP_FLOAT8`), which forms the one m x n gradient a block of rows at a time. X_t is
formed a block of rows at a time, so no m x n temporary of the input's dtype is made.
"""
from __future__ import annotations

import collections
import ctypes
import functools
import math
from typing import NamedTuple

import numpy as np
import torch

from .krylov import range_basis, x_times, xt_times
from .probes import sample_probes

__all__ = ["POLAR_DTYPES", "DESIGNS", "odd_coefficients", "quintic_coefficients", "design_products", "choose_design",
           "choose_extension", "work_dtype", "gram", "symmetric_square", "polar_tail", "Tail", "nuclear_norm",
           "product_counts", "extension_counts"]

POLAR_DTYPES = ("auto", "bfloat16", "float32", "float64")
BLOCK = 128
"""The tail is formed, summed and differentiated in row blocks of about BLOCK columns' worth of
entries (BLOCK * m) at a time in the input's dtype (:func:`_row_slices`)."""
SYMMETRIC_BLOCKS = 8
"""Row blocks of the iteration's symmetric products (the Gram matrix Y Y^T and a A + b A^2): the
blocks on and above the diagonal are computed, one product per row block, and the rest copied
transposed: (b + 1) / 2b of the flops (at most ``m // 256`` blocks, so none is thinner than 256
rows). Their timings: ``asv`` (benchmarks/fast.py) and docs/performance.md."""
SAFETY = 1.02
"""The tail's largest eigenvalue (of X_t X_t^T, a Lanczos lower estimate) is multiplied by this."""
UPPER = 1.05
"""The first quintic is designed on [lower, UPPER]: singular values up to 5% above the scale
(a low estimate) are mapped like the others; beyond, the composition grows without bound, which
:func:`polar_tail` detects (the largest singular value of the result) and redoes."""


def _minimax_odd(lo: float, hi: float, degree: int, grid: int = 2000) -> tuple[float, ...]:
    """The odd polynomial a x + b x^3 (+ c x^5) of ``degree`` 3 or 5 closest to 1 in the max norm
    on [lo, hi]: the linear program min_t |1 - p(x)| <= t over ``grid`` geometric points
    (scipy's HiGHS)."""
    from scipy.optimize import linprog

    x = np.geomspace(lo, hi, grid)
    B = np.stack([x**k for k in range(1, degree + 1, 2)], 1)
    ones = np.ones((grid, 1))
    res = linprog([0.0] * B.shape[1] + [1.0], A_ub=np.vstack([np.hstack([B, -ones]), np.hstack([-B, -ones])]),
                  b_ub=np.concatenate([np.ones(grid), -np.ones(grid)]),
                  bounds=[(None, None)] * B.shape[1] + [(0, None)], method="highs")
    if res.status != 0:
        raise RuntimeError(f"minimax degree-{degree} fit failed on [{lo:g}, {hi:g}]: {res.message}")
    return tuple(float(v) for v in res.x[:-1])


def _compose(coefs, x: np.ndarray) -> np.ndarray:
    for c in coefs:
        x = sum(ci * x ** (2 * i + 1) for i, ci in enumerate(c))
    return x


@functools.lru_cache(maxsize=None)
def odd_coefficients(lower: float, degrees: tuple[int, ...], upper: float = UPPER,
                     grid: int = 2000) -> tuple[tuple[tuple[float, ...], ...], float]:
    """Greedy minimax odd polynomials of the given ``degrees`` (3: a x + b x^3, one m x m x n
    product besides Y Y^T; 5: a x + b x^3 + c x^5, two) for the sign function on [lower, upper]
    (Amsel et al. 2025, "The Polar Express", Section 4: each step is the best approximation of 1
    on the interval the previous steps map [lower, upper] to).

    Each step solves the linear program min_t |1 - p(x)| <= t over ``grid`` geometric points of
    the current interval [lo, hi] (scipy's HiGHS); the next interval is [min p, max p] there.
    Returns the coefficients and e, the largest deviation |1 - composition| on [lower, upper]
    (on the grid of the last step; 0.015 for lower = 0.01, four quintics).
    """
    if not (0 < lower < 1):
        raise ValueError(f"polar_lower must be in (0, 1), got {lower!r}")
    coefs, lo, hi, dev = [], float(lower), float(upper), 1.0
    for degree in degrees:
        if degree not in (3, 5):
            raise ValueError(f"polar step degrees are 3 or 5, got {degree!r}")
        c = _minimax_odd(lo, hi, degree, grid)
        p = _compose([c], np.geomspace(lo, hi, grid))
        coefs.append(c)
        lo, hi = float(p.min()), float(p.max())
        dev = max(1.0 - lo, hi - 1.0)
    return tuple(coefs), dev


def quintic_coefficients(lower: float, steps: int, upper: float = UPPER,
                         grid: int = 2000) -> tuple[tuple[tuple[float, ...], ...], float]:
    """``steps`` greedy minimax odd quintics on [lower, upper] (:func:`odd_coefficients`): the
    design of an integer ``polar_steps``; e_T = 0.015 for lower = 0.01, four steps."""
    if isinstance(steps, bool) or int(steps) != steps or steps < 1:
        raise ValueError(f"polar_steps must be a positive integer or 'auto', got {steps!r}")
    return odd_coefficients(float(lower), (5,) * int(steps), upper, grid)


def design_products(degrees) -> int:
    """m x m x n products of a design's iteration: three per quintic step, two per cubic."""
    return sum(3 if d == 5 else 2 for d in degrees)


DESIGNS = ((0.03, (5, 5, 5)), (0.02, (3, 3, 5, 5)), (0.015, (3, 5, 5, 5)), (0.01, (5, 5, 5, 5)),
           (0.003, (5, 5, 5, 5, 5)))
"""``polar_steps="auto"``: the (lower, step degrees) designs tried in order of cost, 9, 10, 11,
12 and 15 products (e = 0.041, 0.036, 0.020, 0.015, 0.006): the first whose predicted deficit
(:func:`choose_design`) is at most :data:`DEFICIT`. The first four are the cheapest sequences of
cubic and quintic steps whose greedy composition maps [lower, 1.05] to within 0.05 of 1
(searched over every sequence of up to five steps); for 0.003,
the last resort, five quintics (e = 0.006) rather than the cheapest, a cubic and four quintics
(14 products, e = 0.032). The search's cheapest overall, (0.05, (3, 5, 5)) at 8 products, is
left out: on a square Gaussian tail its gradient cosine falls below 0.99."""
DEFICIT = 0.03
"""The largest mean of 1 - f(sigma / sigma_t)^2 over the tail's directions (from
:data:`NEGLIGIBLE` sigma_t up) that ``"auto"`` accepts: directions left at f ~ 0.6 lose about
DEFICIT / 8 of the gradient cosine, at f ~ 0 (the worst case) DEFICIT / 2; small singular values
barely move the value (they are weighted by sigma)."""
NEGLIGIBLE = 0.0015
"""Tail singular values below NEGLIGIBLE sigma_t (half the lowest design's l; exact zeros among
them) are left out of the deficit: no design maps them, more steps would be spent in vain."""
LANCZOS_STEPS = 30
"""Block Lanczos steps (block 4) on X_t X_t^T for ``"auto"``: the scale and the quadrature of the
deficit (``test_predicted_deficit_matches_the_iteration`` checks the prediction against the
iteration). A fixed number of steps needs the scale only: 12."""


def choose_design(theta: np.ndarray, weights: np.ndarray, scale2: float) -> tuple[float, tuple[int, ...]]:
    """The first of :data:`DESIGNS` (lower, degrees) whose predicted deficit is at most
    :data:`DEFICIT` (else the last): the block Gauss quadrature of the mean of 1 - f(x)^2, f the
    design's composition, over the tail's eigenvalues theta of X_t X_t^T at
    x = sqrt(theta / scale2) >= NEGLIGIBLE (Ritz values ``theta``, quadrature ``weights``
    (block, nodes) from the start vectors)."""
    x = np.sqrt(np.clip(theta, 0.0, None) / scale2)
    w = weights.mean(0) * (x >= NEGLIGIBLE)
    if w.sum() <= 0:
        return DESIGNS[0]
    for lower, degrees in DESIGNS:
        f = _compose(odd_coefficients(lower, degrees)[0], x)
        if 1.0 - float((w * f * f).sum() / w.sum()) <= DEFICIT:
            return lower, degrees
    return DESIGNS[-1]


def work_dtype(name: str, X: torch.Tensor) -> torch.dtype:
    """The dtype of the polar iteration: ``"auto"`` is bfloat16 on CUDA and on CPUs with AMX
    tiles or AVX512-BF16 dot products (where its matrix products run several times faster than
    float32's), float32 otherwise (bfloat16 products there are emulated, no faster than float32)."""
    if name not in POLAR_DTYPES:
        raise ValueError(f"polar_dtype must be one of {POLAR_DTYPES}, got {name!r}")
    if name != "auto":
        return getattr(torch, name)
    if X.device.type == "cuda":
        return torch.bfloat16
    if X.device.type == "cpu" and (getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)()
                                   or getattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)()):
        return torch.bfloat16
    return torch.float32


def _tail_lanczos(A: torch.Tensor, Q: torch.Tensor, generator, steps: int, block: int = 4, vectors: bool = False):
    """Block Lanczos on the tail's Gram matrix A = X_t X_t^T (m x m, symmetric, any float dtype)
    in float32 with full reorthogonalisation, started from a Gaussian block orthogonal to Q (A's
    null space). Returns the Ritz values theta (ascending; the largest: a lower estimate of A's
    largest eigenvalue, converged fast) and the Gauss quadrature weights (block, nodes) of the
    start vectors: v^T g(A) v ~= sum_j w_j g(theta_j) (numpy, float64); with ``vectors`` also
    the Ritz vectors (m x nodes, float32 or float64, in theta's order). The basis is kept as
    rows and A V computed as (V^T A^T)^T: the same numbers up to rounding, with MKL's and
    oneDNN's faster kernels for a thin block times a matrix (:func:`edlrr.krylov.x_times`)."""
    m = A.shape[-1]
    work = torch.float64 if A.dtype == torch.float64 else torch.float32
    V = torch.randn(m, min(block, m), generator=generator, dtype=work, device=A.device)
    if Q.shape[1]:
        Qw = Q.to(work)
        V = V - Qw @ (Qw.mT @ V)
    b = V.shape[1]
    count = min(steps, max(m // b - 1, 0))
    rows = torch.empty((count + 1) * b, m, dtype=work, device=A.device)  # the basis, a vector a row
    rows[:b] = torch.linalg.qr(V).Q.mT
    for j in range(count):
        W = (rows[j * b:(j + 1) * b].to(A.dtype) @ A.mT).to(work)  # (A V)^T
        B = rows[:(j + 1) * b]
        for _ in range(2):
            W = W - (W @ B.mT) @ B
        rows[(j + 1) * b:(j + 2) * b] = torch.linalg.qr(W.mT).Q.mT
    H = rows @ (rows.to(A.dtype) @ A.mT).to(work).mT
    theta, W = torch.linalg.eigh(0.5 * (H + H.mT))
    out = theta.double().cpu().numpy(), W[:b].double().square().cpu().numpy()
    return (*out, rows.mT @ W) if vectors else out


EXTEND_DROP = 0.8
"""``polar_extend`` deflates more directions only where the tail's top singular value would fall
below this fraction of itself (the Ritz value left on top): a tail with a few outliers far below
its bulk, which no deflation from the top helps, is left as it is."""


def choose_extension(theta: np.ndarray, weights: np.ndarray, most: int) -> int:
    """How many of the tail's top Ritz directions to deflate as well before the iteration. None
    unless the tail's design (:func:`choose_design`, for lower l) takes at least two products more
    than the cheapest (for l_0 = 0.03); then those with Ritz values above (l / l_0)^2 theta_1 (the
    top to fall by l_0 / l), at most ``most`` and half the nodes (the better converged ones), and
    only where the top then falls below :data:`EXTEND_DROP` of itself. A tail decaying like 1/i
    sheds its top, and with it its reach below 0.03 sigma_t (1/i at n = 4096, k = 64: 12
    products, 9 with 48 more directions); a few large singular values above a flat rest go alone
    (deflating into a flat bulk, whose Ritz vectors mix, would add pinching bias: ~1e-3 of the
    value per 16 directions, measured on ``lowrank_noise(240)``); a flat tail is left as it is.
    (The Gauss quadrature without the deflated nodes mispredicts the new tail's design: it
    resolves the bottom of the spectrum for the old scale; the caller runs the Lanczos again.)"""
    if most <= 0 or theta[-1] <= 0:
        return 0
    lower, degrees = choose_design(theta, weights, SAFETY * float(theta[-1]))
    if design_products(degrees) < design_products(DESIGNS[0][1]) + 2:
        return 0
    dk = min(int((theta > (lower / DESIGNS[0][0]) ** 2 * theta[-1]).sum()), int(most), len(theta) // 2)
    return dk if dk and theta[-dk - 1] < EXTEND_DROP**2 * theta[-1] else 0


def _extend_head(X, Q, QtX, Y, A, ritz, dk):
    """Deflate ``dk`` more directions, the top Ritz vectors of the tail: returns the head
    [Q, P], [Q^T X; P^T X] (X's dtype) and the tail Y - P P^T Y with its Gram matrix
    (I - P P^T) A (I - P P^T) = A - [P, C] [C, P]^T, C = A P - P (P^T A P) / 2 (``Y``'s dtype:
    thin products, no new m x m x n one)."""
    P = ritz[:, -dk:].to(X.dtype)
    for _ in range(2):  # orthogonal to Q in X's precision
        P = P - Q @ (Q.mT @ P)
    P = torch.linalg.qr(P).Q
    Pw = P.to(Y.dtype)
    Y = Y.addmm_(Pw, Pw.mT @ Y, alpha=-1.0)  # in place: Y and A are the caller's own, and a fresh
    AP = x_times(A, Pw).to(P.dtype)          # n x n array would cost first-touch page faults
    C = (AP - 0.5 * P @ (P.mT @ AP)).to(Y.dtype)
    A = A.addmm_(torch.cat([Pw, C], 1), torch.cat([C, Pw], 1).mT, alpha=-1.0)
    return torch.cat([Q, P], 1), torch.cat([QtX, P.mT @ X]), Y, A


def _row_edges(m: int) -> list[int]:
    blocks = min(SYMMETRIC_BLOCKS, max(1, m // 256))
    return [round(i * m / blocks) for i in range(blocks + 1)]


def gram(Y: torch.Tensor) -> torch.Tensor:
    """Y Y^T (m x m, Y m x n) from its blocks on and above the diagonal (:data:`SYMMETRIC_BLOCKS`):
    each entry the product's own (accumulated like ``Y @ Y.mT``)."""
    edges = _row_edges(Y.shape[0])
    if len(edges) == 2:
        return Y @ Y.mT
    A = torch.empty(Y.shape[0], Y.shape[0], dtype=Y.dtype, device=Y.device)
    for r0, r1 in zip(edges, edges[1:]):
        A[r0:r1, r0:] = Y[r0:r1] @ Y[r0:].mT
    return _mirror(A, edges)


def symmetric_square(A: torch.Tensor, beta: float, alpha: float) -> torch.Tensor:
    """beta A + alpha A^2 for a symmetric A (m x m), as ``torch.addmm(A, A, A, beta=, alpha=)``
    (the sum in the product's accumulator) from the blocks on and above the diagonal."""
    edges = _row_edges(A.shape[0])
    if len(edges) == 2:
        return torch.addmm(A, A, A, beta=beta, alpha=alpha)
    B = torch.empty_like(A)
    for r0, r1 in zip(edges, edges[1:]):
        B[r0:r1, r0:] = torch.addmm(A[r0:r1, r0:], A[r0:r1], A[:, r0:], beta=beta, alpha=alpha)
    return _mirror(B, edges)


def _mirror(A: torch.Tensor, edges: list[int]) -> torch.Tensor:
    """Fill the blocks below the diagonal of A (row blocks ``edges``) from those above."""
    for r0, r1 in zip(edges[:-2], edges[1:-1]):
        A[r1:, r0:r1] = A[r0:r1, r1:].mT
    return A


def _row_slices(m: int, n: int) -> list[slice]:
    """Row blocks of an m x n array with about BLOCK * m entries each (contiguous in memory)."""
    step = max(1, BLOCK * m // max(n, 1))
    return [slice(i, min(i + step, m)) for i in range(0, m, step)]


def _form_tail(X, Q, QtX, dtype):
    """X_t = X - Q QtX in ``dtype``, formed a block of rows at a time (:func:`_row_slices`)."""
    m, n = X.shape
    Y = torch.empty(m, n, dtype=dtype, device=X.device)
    for rows in _row_slices(m, n):
        Y[rows] = torch.addmm(X[rows], Q[rows], QtX, alpha=-1.0)
    return Y


product_counts: collections.Counter = collections.Counter()
"""The m x m x n products of each tail iteration since import, {products: count} (diagnostics:
with ``polar_steps="auto"`` the design depends on the tail; ``edlrr-bench fast`` reports it)."""
extension_counts: collections.Counter = collections.Counter()
"""The directions each tail iteration deflated beyond the sketch since import, {dk: count}."""


def _check_steps(steps, lower) -> None:
    if steps == "auto":
        return
    if isinstance(steps, str) or isinstance(steps, bool):
        raise ValueError(f"polar_steps must be a positive integer or 'auto', got {steps!r}")
    quintic_coefficients(float(lower), int(steps))


class Tail(NamedTuple):
    """What :func:`polar_tail` returns: the iterate F (m x n, ~= U_t V_t^T; None when nothing is
    left to count), the estimate sigma_t of the tail's largest singular value, the design used
    (every singular value of the tail in [lower sigma_t, sigma_t] mapped to within ``dev`` of
    1), and the head Q, Q^T X (Q extended by ``polar_extend`` directions where that paid)."""
    F: torch.Tensor | None
    sigma_t: float
    dev: float
    lower: float
    Q: torch.Tensor
    QtX: torch.Tensor


def polar_tail(X: torch.Tensor, Q: torch.Tensor, QtX: torch.Tensor, *, steps, lower: float,
               dtype: torch.dtype, generator=None, floor: float = 0.0, extend: int = 0) -> Tail:
    """The polar iteration on the tail X_t = X - Q QtX of one matrix X (m x n, m <= n).

    ``steps``: a number of quintic steps designed for [``lower``, UPPER], or ``"auto"``: the
    design of :data:`DESIGNS` that :func:`choose_design` picks from the Lanczos quadrature,
    after deflating up to ``extend`` more directions (the tail's top Ritz vectors, then a second
    Lanczos run) where the tail would take two products or more above the cheapest design
    (:func:`choose_extension`). Three arrays of
    F's size at a time. The iteration is repeated with a 4x larger scale if it overshot (a scale
    estimate too low: sigma_1(F) above 1 + 2 e + 0.05, or not finite). See :class:`Tail`.
    """
    auto = steps == "auto"
    Y = _form_tail(X, Q, QtX, dtype)
    A = gram(Y)
    want = auto and extend > 0
    lanczos = _tail_lanczos(A, Q, generator, LANCZOS_STEPS if auto else 12, vectors=want)
    theta, weights = lanczos[:2]
    dk = choose_extension(theta, weights, extend) if want else 0
    if dk:
        Q, QtX, Y, A = _extend_head(X, Q, QtX, Y, A, lanczos[2], dk)
        theta, weights = _tail_lanczos(A, Q, generator, LANCZOS_STEPS)
    del lanczos
    extension_counts[dk] += 1
    lam = float(theta[-1])
    sigma_t = math.sqrt(max(lam, 0.0))
    if not sigma_t > floor:
        return Tail(None, sigma_t, 0.0, float(lower), Q, QtX)
    scale2 = SAFETY * lam
    degrees = None if auto else (5,) * int(steps)
    for attempt in range(3):
        if attempt:
            Y = _form_tail(X, Q, QtX, dtype)
        if auto:  # (chosen again at a larger scale: the tail's x = sigma / s moved)
            lower, degrees = choose_design(theta, weights, scale2)
        coefs, dev = odd_coefficients(float(lower), degrees)
        for j, c in enumerate(coefs):
            # p(Y / s) = (a Y + (b / s^2) A Y [+ (c / s^4) A^2 Y]) / s, s = 1 after the first step
            s2 = scale2 if j == 0 else 1.0
            s = math.sqrt(s2)
            if j or attempt:
                A = gram(Y)
            if len(c) == 3:
                B = symmetric_square(A, beta=c[1] / (s2 * s), alpha=c[2] / (s2 * s2 * s))
                del A
                Y = torch.addmm(Y, B, Y, beta=c[0] / s)  # (a Y in the product's float32 accumulator:
                del B  # adding a I to B in bfloat16 instead lost ~1% where a + b x^2 + c x^4 cancels to 1)
            else:  # a cubic step: one product besides A
                Y = torch.addmm(Y, A, Y, beta=c[0] / s, alpha=c[1] / (s2 * s))
                del A
        top = _top_singular(Y, generator)
        if top <= 1 + 2 * dev + 0.05:  # (False for NaN)
            product_counts[design_products(degrees)] += 1
            return Tail(Y, sigma_t, dev, float(lower), Q, QtX)
        scale2 *= 16.0
    raise FloatingPointError(f"the polar iteration diverged (sigma_1 of the result {top:g})")


def _top_singular(Y: torch.Tensor, generator, iters: int = 4) -> float:
    """A power-iteration estimate of sigma_1(Y) (float32 vectors, two of them)."""
    work = torch.float64 if Y.dtype == torch.float64 else torch.float32
    V = torch.randn(Y.shape[1], 2, generator=generator, dtype=work, device=Y.device)
    try:
        for _ in range(iters):
            V = torch.linalg.qr(xt_times(Y, x_times(Y, V.to(Y.dtype))).to(work)).Q
        return float(torch.linalg.matrix_norm(x_times(Y, V.to(Y.dtype)).to(work), 2))
    except torch.linalg.LinAlgError:  # not finite
        return math.inf


KEEP_FLOAT8 = True
"""Keep a bfloat16 iterate for the backward in float8 (e4m3, scaled by sqrt(n)): half the memory
(the iterate is the estimate's only m x n array between forward and backward); e4m3's relative
rounding (2^-4 per entry, of random sign) leaves the direction's cosine with the unquantised one
within bfloat16's own ~1e-3 error."""


def _tail_sums(X: torch.Tensor, Q: torch.Tensor, QtX: torch.Tensor, F: torch.Tensor):
    """<F, X_t> = <F, X> - <Q^T F, Q^T X> and ||F||_F^2, accumulated in float64, F converted a
    block of rows at a time (no m x n temporary); and, for the backward, F as kept with the
    factor it was scaled by (float8 for a bfloat16 F, :data:`KEEP_FLOAT8`), from the same blocks,
    and Q^T F (k x n, X's dtype)."""
    wide = torch.float64
    scale, kept = 1.0, F
    if KEEP_FLOAT8 and F.dtype == torch.bfloat16 and hasattr(torch, "float8_e4m3fn"):
        scale = math.sqrt(F.shape[1])
        kept = torch.empty(F.shape, dtype=torch.float8_e4m3fn, device=F.device)
    QtF = torch.zeros(Q.shape[1], F.shape[1], dtype=wide, device=F.device)
    Qw = Q.to(wide)
    inner = fro2 = 0.0
    for rows in _row_slices(*F.shape):
        Fb = F[rows].to(wide).reshape(-1)
        inner += float(torch.dot(Fb, X[rows].to(wide).reshape(-1)))
        fro2 += float(torch.dot(Fb, Fb))
        Fb = Fb.view(-1, F.shape[1])
        QtF.addmm_(Qw[rows].mT, Fb)
        if kept is not F:
            kept[rows] = Fb.mul_(scale)
    inner -= float(torch.dot(QtF.reshape(-1), QtX.to(wide).reshape(-1)))
    return inner, fro2, (kept, scale, QtF.to(X.dtype))


def _widen(F: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """``out.copy_(F)``; for a float8 F through a table of its 256 values (the same numbers as
    torch's float8 conversion, in fewer operations)."""
    if F.dtype != getattr(torch, "float8_e4m3fn", None):
        return out.copy_(F)
    table = _float8_values(out.dtype, out.device)
    return torch.index_select(table, 0, F.reshape(-1).view(torch.uint8).long(), out=out.view(-1)).view(out.shape)


@functools.lru_cache(maxsize=8)
def _float8_values(dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    return torch.arange(256, dtype=torch.uint8, device=device).view(torch.float8_e4m3fn).to(dtype)


class _Sketch(torch.autograd.Function):
    """Q_i^T X_i (b, k, n; the heads) and <F_i, (I - Q_i Q_i^T) X_i> (b,) (the tails' nuclear
    norms, computed by the caller as ``tails``) of X (b, m, n), for Q (b, m, k) and the list F
    of b iterates (None: no tail) fixed. The backward forms the one b x m x n gradient
    Q_i (g_1 - g_2 Q_i^T F_i) + g_2 F_i a block of rows at a time (F as kept, converted block by
    block; Q_i^T F_i from the forward's unquantised F)."""

    @staticmethod
    def forward(ctx, X, Q, QtX, F, tails):
        ctx.save_for_backward(Q)
        ctx.F, ctx.shape, ctx.dtype = F, X.shape, X.dtype  # F: (iterate, its scale, Q^T F) or None
        return QtX.clone(), tails.to(X.dtype)

    @staticmethod
    def backward(ctx, g_head, g_tail):
        (Q,) = ctx.saved_tensors
        b, m, n = ctx.shape
        grad = torch.empty(ctx.shape, dtype=ctx.dtype, device=Q.device)
        slices = _row_slices(m, n)
        # one row-block buffer reused for every block (no allocation per block: the allocator's
        # churn of fresh blocks grew the resident memory by ~100 MiB at 4096 x 4096)
        Fb = torch.empty(slices[0].stop, n, dtype=ctx.dtype, device=Q.device)
        for i in range(b):
            if g_tail is not None and ctx.F[i] is not None:
                F, scale, QtF = ctx.F[i]
                inner = torch.nn.functional.pad(QtF, (0, 0, 0, Q.shape[-1] - QtF.shape[0])) * -g_tail[i]
                if g_head is not None:
                    inner += g_head[i]
                for rows in slices:
                    fb = Fb[:rows.stop - rows.start]
                    _widen(F[rows], fb)  # F / scale, the scale folded into beta
                    torch.addmm(fb, Q[i, rows], inner, beta=float(g_tail[i]) / scale, out=grad[i, rows])
            elif g_head is not None:
                torch.mm(Q[i], g_head[i], out=grad[i])
            else:
                grad[i].zero_()
        return grad, None, None, None, None


TRIM_HEAP = True
"""On CPU with glibc, hand the heap's free memory back to the system (``malloc_trim(0)``)
at the end of the forward, when the iteration's arrays are freed: glibc keeps tens of MiB of
freed temporaries, and the backward's m x n gradient comes on top of them (the resident peak
memory is measured by ``edlrr-bench fast``)."""


def _trim_heap(device: torch.device) -> None:
    if not TRIM_HEAP or device.type != "cpu":
        return
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc
        return
    trim(0)


def _live_sum(sigma: torch.Tensor, tol: torch.Tensor) -> torch.Tensor:
    """sum of the singular values (*, r) above ``tol`` (*, 1): those at or below count as zeros
    (no value, no gradient)."""
    return torch.where(sigma > tol, sigma, torch.zeros_like(sigma)).sum(-1)


def nuclear_norm(X: torch.Tensor, *, sketch: int, power_iters: int, steps: int | str, lower: float,
                 dtype: str = "auto", generator=None, rank_rtol: float | None = None, extend: int = 0):
    """Estimate ||X||_* and an error estimate, both (*,); X is (*, m, n), m <= n.

    ``sketch`` (k) directions deflated by the range finder with ``power_iters`` (q) (2 k (q + 1)
    products by X or X^T), then ``steps`` (T) quintic steps on the tail designed for [``lower``, UPPER],
    or ``"auto"``: 9 to 15 m x m x n products, as many as the tail needs (:func:`choose_design`;
    :data:`product_counts` records them), after deflating up to ``extend`` more directions where that
    saves products (:func:`choose_extension`; :data:`extension_counts`); 3 T products in
    ``dtype`` for T quintic steps, see :func:`work_dtype`. When k >= m the exact
    singular values are used (error 0). Singular values below ``rank_rtol`` sigma_1 count as
    zeros (default max(m, n) eps, as :func:`torch.linalg.matrix_rank`): a tail whose largest
    singular value is below that adds nothing.
    """
    m, n = X.shape[-2:]
    if m > n:
        raise ValueError(f"polar nuclear_norm expects m <= n (the smaller Gram side), got {m} x {n}")
    if isinstance(extend, bool) or int(extend) != extend or extend < 0:
        raise ValueError(f"polar_extend must be a non-negative integer, got {extend!r}")
    rank_rtol = max(m, n) * torch.finfo(X.dtype).eps if rank_rtol is None else rank_rtol
    if sketch >= m:
        sigma = torch.linalg.svdvals(X)
        value = _live_sum(sigma, rank_rtol * sigma[..., :1].detach())
        return value, torch.zeros_like(value.detach())
    work = work_dtype(dtype, X)
    _check_steps(steps, lower)  # (bad steps or lower: an error before any work)
    extend = min(int(extend), m - sketch)
    batch = X.shape[:-2]
    X3 = X.reshape(-1, m, n)  # a view: its backward copies nothing
    Qs, QtXs, Fs, tails, tops, errors = [], [], [], [], [], []
    with torch.no_grad():
        for Xd in X3.detach():
            Q = range_basis(Xd, sample_probes((), n, sketch, generator=generator, dtype=X.dtype, device=X.device),
                            power_iters) if sketch else X.new_zeros(m, 0)
            QtXd = Q.mT @ Xd
            top = float(torch.linalg.svdvals(QtXd)[0]) if sketch else 0.0
            F, sigma_t, dev, low, Q, QtXd = polar_tail(Xd, Q, QtXd, steps=steps, lower=lower, dtype=work,
                                                       generator=generator, floor=rank_rtol * top, extend=extend)
            tail, fro2, kept = _tail_sums(Xd, Q, QtXd, F) if F is not None else (0.0, 0.0, None)
            del F
            below = max(m - Q.shape[1] - fro2, 0.0)
            errors.append((dev * abs(tail) + low * sigma_t * below) / 1.96 if kept is not None else 0.0)
            Qs.append(Q), QtXs.append(QtXd), Fs.append(kept)
            tails.append(tail), tops.append(top)
    k = max(Q.shape[1] for Q in Qs)  # heads extended by different numbers of directions: zero columns
    Qs = [torch.nn.functional.pad(Q, (0, k - Q.shape[1])) for Q in Qs]  # (no value, no gradient)
    QtXs = [torch.nn.functional.pad(QtX, (0, 0, 0, k - QtX.shape[0])) for QtX in QtXs]
    QtX, values = _Sketch.apply(X3, torch.stack(Qs), torch.stack(QtXs), Fs,
                                torch.tensor(tails, dtype=torch.float64, device=X.device))
    if k:  # the heads, differentiated exactly through Q^T X
        tops = torch.tensor(tops, dtype=X.dtype, device=X.device)[:, None]
        values = values + _live_sum(torch.linalg.svdvals(QtX), rank_rtol * tops)
    value = values.reshape(batch)
    stderr = torch.tensor(errors, dtype=X.dtype, device=X.device).reshape(batch)
    _trim_heap(X.device)
    return value, stderr
