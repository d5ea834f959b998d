"""Synthetic matrices with exactly known spectra, and the DLRL synthetic protocol.

Two datasets:

``spectrum`` (:class:`SpectrumConfig` -> :class:`SyntheticMatrix`)
    ``X = U diag(s) V^T`` with ``U``, ``V`` orthonormal (QR of seeded Gaussian matrices,
    signs fixed so the factors are Haar distributed) and ``s`` a chosen spectrum: ``flat``,
    ``geometric``, ``power`` (``s_i = i^-a``), or a hard case: ``repeated`` singular
    values, ``ill_conditioned`` (``s_1 / s_r`` = ``cond``, up to 1e6 and beyond), ``rank1``,
    ``zero`` (rank 0). ``rank`` truncates any of them to an exact rank. The singular values
    are returned with the matrix, so accuracy is measured against exact values. With
    ``noise > 0`` Gaussian noise is added and the returned ``singular_values`` are those of
    the noisy matrix, **recomputed with an SVD** (``torch.linalg.svdvals`` in float64); the
    exact values of the noise-free part stay in ``clean_singular_values``.

``dlrl_synthetic`` (:class:`DLRLSyntheticConfig` -> :class:`CompletionProblem`)
    The synthetic protocol of DLRL (Sec. IV-D, Fig. 3): ``X_s = U V^T`` with ``U``, ``V``
    100 x 20, non-negative ``U(0, 1)`` (``factors="nonnegative"``, default) or standard
    Gaussian (``factors="signed"``), Gaussian noise ``N(0, sigma)`` on every entry, a share
    ``n_r`` (``unobserved``) of entries hidden, scored by RSRE
    (:func:`edlrr_bench.datasets.metrics.rsre`).

Beside them, the named test matrices of the estimators' benchmarks (no dataset config):
:func:`test_matrix` (``gaussian``, ``lowrank``, ``lowrank_noise``, ``power`` and XTrace's test
spectra, :data:`TEST_SPECTRA`) and their singular values :func:`spectrum_values`.

All random draws are made on the CPU in float64 from generators seeded by the config
(:meth:`DatasetConfig.generator`), then cast to ``dtype`` and moved to ``device``.

References
----------
.. [1] DLRL: Z. Chen, J. Yao, G. Xiao and S. Wang, "Efficient and Differentiable Low-rank
   Matrix Completion with Back Propagation", IEEE TMM 2021, Sec. IV-D and Fig. 3.
.. [2] F. Mezzadri, "How to generate random matrices from the classical compact groups",
   Notices of the AMS 54(5), 2007 (QR with sign correction gives Haar factors).
"""

from __future__ import annotations

import dataclasses
import math
from typing import ClassVar

import torch

from ._common import (
    CompletionProblem,
    DatasetConfig,
    check_choice,
    check_drop,
    check_float,
    check_int,
    finish,
)
from .masks import random_mask

__all__ = [
    "DLRL_FACTORS",
    "SPECTRUM_KINDS",
    "TEST_SPECTRA",
    "DLRLSyntheticConfig",
    "SpectrumConfig",
    "SyntheticMatrix",
    "low_rank_matrix",
    "make_dlrl_synthetic",
    "make_spectrum",
    "make_spectrum_matrix",
    "matrix_from_spectrum",
    "random_orthonormal",
    "lowrank_rank",
    "spectrum_values",
    "test_matrix",
]

SPECTRUM_KINDS = ("flat", "geometric", "power", "repeated", "ill_conditioned", "rank1", "zero")
DLRL_FACTORS = ("nonnegative", "signed")
"""Distributions of the factors ``U``, ``V`` of ``dlrl_synthetic`` (:class:`DLRLSyntheticConfig`)."""


# ------------------------------------------------------------------------- spectra
def make_spectrum(
    kind: str,
    k: int,
    *,
    rank: int | None = None,
    ratio: float = 0.8,
    exponent: float = 1.0,
    cond: float = 1e6,
    multiplicity: int = 3,
    scale: float = 1.0,
) -> torch.Tensor:
    """Singular values of a chosen profile, in non-increasing order, float64.

    Parameters
    ----------
    kind : str
        One of :data:`SPECTRUM_KINDS` (``i = 1, ..., r``; zero beyond the rank ``r``):

        - ``flat``: ``s_i = scale``;
        - ``geometric``: ``s_i = scale * ratio**(i-1)``;
        - ``power``: ``s_i = scale * i**(-exponent)``;
        - ``repeated``: ``s_i = scale * 2**(-floor((i-1) / multiplicity))`` (groups of
          ``multiplicity`` equal values);
        - ``ill_conditioned``: log-spaced from ``scale`` to ``scale / cond``, so
          ``s_1 / s_r = cond``;
        - ``rank1``: ``[scale, 0, ...]``; ``zero``: all zero (rank 0).
    k : int
        Length, ``min(m, n)``.
    rank : int, optional
        Exact rank ``r`` (``0 <= r <= k``); default ``k`` (1 for ``rank1``, 0 for ``zero``).
    ratio, exponent, cond, multiplicity, scale
        Profile parameters: ``0 < ratio <= 1``, ``exponent > 0``, ``cond >= 1``,
        ``multiplicity >= 1``, ``scale > 0``.

    Returns
    -------
    torch.Tensor
        Shape ``(k,)``, float64.
    """
    check_choice("spectrum", kind, SPECTRUM_KINDS)
    k = check_int("k", k, 1)
    ratio = check_float("ratio", ratio, 0.0, 1.0, min_inclusive=False)
    exponent = check_float("exponent", exponent, 0.0, min_inclusive=False)
    cond = check_float("cond", cond, 1.0)
    multiplicity = check_int("multiplicity", multiplicity, 1)
    scale = check_float("scale", scale, 0.0, min_inclusive=False)
    if kind == "rank1":
        if rank not in (None, 1):
            raise ValueError(f"spectrum 'rank1' has rank 1, got rank={rank}")
        rank = 1
    elif kind == "zero":
        if rank not in (None, 0):
            raise ValueError(f"spectrum 'zero' has rank 0, got rank={rank}")
        rank = 0
    r = k if rank is None else check_int("rank", rank, 0, k)
    s = torch.zeros(k, dtype=torch.float64)
    if r == 0:
        return s
    i = torch.arange(1, r + 1, dtype=torch.float64)
    if kind in ("flat", "rank1"):
        vals = torch.ones(r, dtype=torch.float64)
    elif kind == "geometric":
        vals = ratio ** (i - 1)
    elif kind == "power":
        vals = i ** (-exponent)
    elif kind == "repeated":
        vals = 2.0 ** (-torch.floor((i - 1) / multiplicity))
    else:  # ill_conditioned
        vals = cond ** (-(i - 1) / (r - 1)) if r > 1 else torch.ones(1, dtype=torch.float64)
    s[:r] = scale * vals
    return s


def random_orthonormal(n: int, k: int, *, generator: torch.Generator, batch: tuple[int, ...] = ()) -> torch.Tensor:
    """Haar-distributed ``n x k`` matrix with orthonormal columns (``k <= n``), float64 CPU.

    QR of a Gaussian matrix with the signs of ``diag(R)`` moved into ``Q`` (Mezzadri 2007).
    """
    n = check_int("n", n, 1)
    k = check_int("k", k, 1, n)
    g = torch.randn(*batch, n, k, generator=generator, dtype=torch.float64)
    q, r = torch.linalg.qr(g)
    signs = torch.sign(torch.diagonal(r, dim1=-2, dim2=-1))
    signs = torch.where(signs == 0, torch.ones_like(signs), signs)
    return q * signs.unsqueeze(-2)


def matrix_from_spectrum(
    singular_values: torch.Tensor,
    m: int,
    n: int,
    *,
    generator: torch.Generator,
    batch: tuple[int, ...] = (),
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``U diag(s) V^T`` with random orthonormal ``U`` (m x k), ``V`` (n x k), ``k = min(m, n)``.

    Returns
    -------
    (matrix, U, V) : tuple of torch.Tensor
        float64 CPU, shapes ``(*batch, m, n)``, ``(*batch, m, k)``, ``(*batch, n, k)``.
    """
    m, n = check_int("m", m), check_int("n", n)
    k = min(m, n)
    s = torch.as_tensor(singular_values, dtype=torch.float64)
    if s.shape[-1] != k:
        raise ValueError(f"expected {k} singular values for a {m} x {n} matrix, got {s.shape[-1]}")
    u = random_orthonormal(m, k, generator=generator, batch=batch)
    v = random_orthonormal(n, k, generator=generator, batch=batch)
    return (u * s.unsqueeze(-2)) @ v.transpose(-2, -1), u, v


# ------------------------------------------------------------------------ datasets
@dataclasses.dataclass(frozen=True)
class SpectrumConfig(DatasetConfig):
    """Config of the ``spectrum`` dataset: an ``m x n`` matrix with a chosen spectrum.

    Parameters
    ----------
    m, n : int
        Size, > 0.
    spectrum : str
        Profile, one of :data:`SPECTRUM_KINDS` (see :func:`make_spectrum`).
    rank : int or None
        Exact rank (``<= min(m, n)``); ``None`` = full (1 for ``rank1``, 0 for ``zero``).
    ratio, exponent, cond, multiplicity, scale : float / int
        Profile parameters (see :func:`make_spectrum`).
    noise : float
        Standard deviation of i.i.d. Gaussian noise added to every entry (>= 0).
    batch : int or None
        ``None``: one matrix ``(m, n)``; ``b``: ``b`` independent matrices ``(b, m, n)``
        with the same spectrum.
    seed : int
    """

    name: ClassVar[str] = "spectrum"
    m: int = 64
    n: int = 48
    spectrum: str = "geometric"
    rank: int | None = None
    ratio: float = 0.8
    exponent: float = 1.0
    cond: float = 1e6
    multiplicity: int = 3
    scale: float = 1.0
    noise: float = 0.0
    batch: int | None = None
    seed: int = 0

    def __post_init__(self):
        check_int("m", self.m)
        check_int("n", self.n)
        if self.rank is not None:
            check_int("rank", self.rank, 0, min(self.m, self.n))
        check_float("noise", self.noise, 0.0)
        if self.batch is not None:
            check_int("batch", self.batch)
        check_int("seed", self.seed, 0)
        make_spectrum(self.spectrum, min(self.m, self.n), rank=self.rank, ratio=self.ratio,
                      exponent=self.exponent, cond=self.cond, multiplicity=self.multiplicity,
                      scale=self.scale)  # validates the profile

    @classmethod
    def tiny(cls, **params) -> SpectrumConfig:
        return cls(**{"m": 8, "n": 6, **params})


@dataclasses.dataclass(frozen=True)
class SyntheticMatrix:
    """A synthetic matrix with its singular values.

    Attributes
    ----------
    matrix : torch.Tensor
        ``(*, m, n)``.
    singular_values : torch.Tensor
        ``(*, min(m, n))``, non-increasing: exact by construction without noise; with noise,
        those of ``matrix`` recomputed by ``torch.linalg.svdvals`` in float64.
    config : SpectrumConfig
    clean : torch.Tensor
        The noise-free ``U diag(s) V^T`` (equal to ``matrix`` without noise).
    clean_singular_values : torch.Tensor
        Exact singular values of ``clean``.
    left, right : torch.Tensor
        Orthonormal factors of ``clean``: ``(*, m, k)`` and ``(*, n, k)``, ``k = min(m, n)``.
    """

    matrix: torch.Tensor
    singular_values: torch.Tensor
    config: SpectrumConfig
    clean: torch.Tensor
    clean_singular_values: torch.Tensor
    left: torch.Tensor
    right: torch.Tensor

    @property
    def rank(self) -> int:
        """Exact rank of the noise-free matrix."""
        return int((self.clean_singular_values.reshape(-1, self.clean_singular_values.shape[-1])[0] > 0).sum())


def make_spectrum_matrix(config: SpectrumConfig, *, dtype: torch.dtype | None = None, device=None) -> SyntheticMatrix:
    """Build the ``spectrum`` dataset (see :class:`SpectrumConfig`).

    Parameters
    ----------
    config : SpectrumConfig
    dtype : torch.dtype, optional
        Floating dtype of the outputs (default float64; values are computed in float64).
    device : torch.device, optional

    Returns
    -------
    SyntheticMatrix
    """
    if not isinstance(config, SpectrumConfig):
        raise TypeError(f"expected a SpectrumConfig, got {type(config).__name__}")
    c = config
    k = min(c.m, c.n)
    batch = () if c.batch is None else (c.batch,)
    s = make_spectrum(c.spectrum, k, rank=c.rank, ratio=c.ratio, exponent=c.exponent, cond=c.cond,
                      multiplicity=c.multiplicity, scale=c.scale)
    s = s.expand(*batch, k).clone()
    clean, u, v = matrix_from_spectrum(s, c.m, c.n, generator=c.generator("factors"), batch=batch)
    if c.noise > 0:
        noisy = clean + c.noise * torch.randn(clean.shape, generator=c.generator("noise"), dtype=torch.float64)
        s_noisy = torch.linalg.svdvals(noisy)
    else:
        noisy, s_noisy = clean, s
    return SyntheticMatrix(
        matrix=finish(noisy, dtype, device),
        singular_values=finish(s_noisy, dtype, device),
        config=c,
        clean=finish(clean, dtype, device),
        clean_singular_values=finish(s, dtype, device),
        left=finish(u, dtype, device),
        right=finish(v, dtype, device),
    )


def low_rank_matrix(m: int, n: int, rank: int | None = None, *, spectrum: str = "flat", seed: int = 0,
                    dtype: torch.dtype | None = None, device=None, **params) -> SyntheticMatrix:
    """Shortcut: ``make_spectrum_matrix(SpectrumConfig(m=m, n=n, rank=rank, spectrum=spectrum, ...))``."""
    cfg = SpectrumConfig(m=m, n=n, rank=rank, spectrum=spectrum, seed=seed, **params)
    return make_spectrum_matrix(cfg, dtype=dtype, device=device)


@dataclasses.dataclass(frozen=True)
class DLRLSyntheticConfig(DatasetConfig):
    """Config of the DLRL synthetic protocol (DLRL Sec. IV-D, Fig. 3).

    Parameters
    ----------
    m, n : int
        Size of ``X_s`` (paper: 100 x 100).
    rank : int
        Inner dimension of the factors ``U`` (m x r), ``V`` (n x r) (paper: 20).
    factors : str
        Distribution of the entries of ``U`` and ``V``, one of :data:`DLRL_FACTORS`:

        - ``"nonnegative"`` (default): i.i.d. ``U(0, 1)``, so ``X_s >= 0``. DLRL Sec. IV-D does
          not state the distribution; Sec. III-C (the paragraph after eq. (23)) says "most
          matrix factorization-based methods require the latent submatrices to be
          non-negative" and ends every block with a ReLU, so DLRL's prediction is a product of
          non-negative factors and can only fit non-negative data. Non-negative factors are our
          reading of that paragraph; ``U(0, 1)`` (rather than, e.g., ``|N(0, 1)|``) is our choice.
        - ``"signed"``: i.i.d. standard Gaussian; about half the entries of ``X_s`` are
          negative, which DLRL's ReLU output cannot fit (RSRE >= ||min(X_s, 0)||_F / ||X_s||_F).
    sigma : float
        Standard deviation of the Gaussian noise on every entry (the paper writes
        ``N(0, sigma)``; reading sigma as the standard deviation is ours). The default 0.1
        is ours: the paper's grid is only drawn in Fig. 3.
    unobserved : float
        ``n_r``, the share of hidden entries, ``0 <= n_r < 1``; exactly
        ``round(n_r * m * n)`` entries are hidden (ours). Default 0.3 (ours).
    seed : int
    """

    name: ClassVar[str] = "dlrl_synthetic"
    m: int = 100
    n: int = 100
    rank: int = 20
    sigma: float = 0.1
    unobserved: float = 0.3
    factors: str = "nonnegative"
    seed: int = 0

    def __post_init__(self):
        check_int("m", self.m)
        check_int("n", self.n)
        check_int("rank", self.rank, 1, min(self.m, self.n))
        check_choice("factors", self.factors, DLRL_FACTORS)
        check_float("sigma", self.sigma, 0.0)
        check_drop("unobserved", self.unobserved)
        check_int("seed", self.seed, 0)

    @classmethod
    def tiny(cls, **params) -> DLRLSyntheticConfig:
        return cls(**{"m": 12, "n": 10, "rank": 3, **params})


def make_dlrl_synthetic(config: DLRLSyntheticConfig, *, dtype: torch.dtype | None = None,
                        device=None) -> CompletionProblem:
    """Build one instance of the DLRL synthetic protocol.

    ``truth = U V^T`` (``U``, ``V`` i.i.d. ``U(0, 1)`` with ``factors="nonnegative"``, standard
    Gaussian with ``"signed"``; stream ``"factors"``), ``noisy = truth + sigma * G`` (stream
    ``"noise"``), ``mask`` hides exactly ``round(n_r m n)`` entries (stream ``"mask"``),
    ``observed = noisy * mask``. The noise and the mask depend only on ``seed`` (and ``sigma``,
    ``n_r``), so both kinds of factors share them. Score a completion ``X_hat`` with
    ``rsre(X_hat, problem.truth)`` (RSRE against the clean matrix, as in the paper).
    Cost: O(m n r) for the product.

    Returns
    -------
    CompletionProblem
        ``truth``, ``observed``, ``noisy`` ``(m, n)``; ``mask`` bool ``(m, n)``.

    References
    ----------
    DLRL, Sec. IV-D ("X_s = U V^T, U, V in R^{100 x 20}", noise N(0, sigma), n_r, RSRE) and
    Sec. III-C after eq. (23) (non-negative latent submatrices, ReLU).
    """
    if not isinstance(config, DLRLSyntheticConfig):
        raise TypeError(f"expected a DLRLSyntheticConfig, got {type(config).__name__}")
    c = config
    gen = c.generator("factors")
    draw = torch.randn if c.factors == "signed" else torch.rand
    u = draw(c.m, c.rank, generator=gen, dtype=torch.float64)
    v = draw(c.n, c.rank, generator=gen, dtype=torch.float64)
    truth = u @ v.T
    noisy = truth + c.sigma * torch.randn(c.m, c.n, generator=c.generator("noise"), dtype=torch.float64)
    mask = random_mask((c.m, c.n), c.unobserved, generator=c.generator("mask"), exact=True)
    observed = torch.where(mask, noisy, torch.zeros((), dtype=torch.float64))
    dev = device
    return CompletionProblem(
        truth=finish(truth, dtype, dev),
        observed=finish(observed, dtype, dev),
        mask=mask.to(dev) if dev is not None else mask,
        config=c,
        noisy=finish(noisy, dtype, dev),
    )


# -------------------------------------------------------------------- test spectra
TEST_SPECTRA = ("gaussian", "lowrank", "lowrank_noise", "power", "flat", "poly", "slowexp", "fastexp", "smallstep",
                "bigstep", "rank20")
"""The named test matrices of :func:`test_matrix` (the ``fast`` experiment and the asv benchmarks)."""

LOWRANK_NOISE_RANK = 50
"""Rank of the signal of ``lowrank_noise`` (at most min(m, n))."""
LOWRANK_NOISE_LEVEL = 1e-2
"""Spectral norm of the noise of ``lowrank_noise``."""


def lowrank_rank(k: int) -> int:
    """Rank of the ``lowrank`` test spectrum of a matrix with min(m, n) = ``k``: max(1, k // 10)."""
    return max(1, check_int("k", k) // 10)


def spectrum_values(spectrum: str, k: int) -> torch.Tensor | None:
    """Singular values of the named test spectrum of a matrix with min(m, n) = ``k``.

    Returns float64, shape ``(k,)``, in the order :func:`test_matrix` gives them to the
    factors' columns (zeros beyond the rank); ``None`` for ``gaussian`` and ``lowrank_noise``,
    whose matrices are drawn directly. With ``i = 1, ..., k``:

    ============== =====================================================================
    ``power``      ``1 / i``
    ``lowrank``    ``r = max(1, k // 10)`` values from 10 down to 1, geometric; then 0
    ``flat``       ``linspace(1, 3, k)`` (ascending)
    ``poly``       ``i^-2``
    ``slowexp``    ``0.9^(i - 1)``
    ``fastexp``    ``0.7^(i - 1)``
    ``smallstep``  1 for ``i <= ceil(k / 20)``, then ``1e-3``
    ``bigstep``    1 for ``i <= ceil(k / 20)``, then ``1e-8``
    ``rank20``     ``1 + (20 - i) / 20`` for ``i <= 20`` (1.95 down to 1), then 0
    ============== =====================================================================

    ``flat`` ... ``bigstep`` are the test matrices of XTrace (Epperly, Tropp & Webber, "XTrace:
    making the most of every sample in stochastic trace estimation", SIMAX 2024; the
    ``tests/basic_tests.m`` of their code), as singular values. Cost O(k).
    """
    check_choice("spectrum", spectrum, TEST_SPECTRA)
    k = check_int("k", k)
    if spectrum in ("gaussian", "lowrank_noise"):
        return None
    i = torch.arange(1, k + 1, dtype=torch.float64)
    top = math.ceil(k / 20)
    if spectrum == "lowrank":
        r = lowrank_rank(k)
        return torch.cat([torch.logspace(1, 0, r, dtype=torch.float64), torch.zeros(k - r, dtype=torch.float64)])
    return {
        "power": lambda: 1.0 / i,
        "flat": lambda: torch.linspace(1, 3, k, dtype=torch.float64),
        "poly": lambda: i ** -2.0,
        "slowexp": lambda: 0.9 ** (i - 1),
        "fastexp": lambda: 0.7 ** (i - 1),
        "smallstep": lambda: torch.where(i <= top, 1.0, 1e-3).double(),
        "bigstep": lambda: torch.where(i <= top, 1.0, 1e-8).double(),
        "rank20": lambda: torch.where(i <= 20, 1.0 + (20 - i) / 20, 0.0).double(),
    }[spectrum]()


def _qr_columns(n: int, r: int, generator: torch.Generator) -> torch.Tensor:
    """The Q factor of the QR of a seeded n x r Gaussian matrix (float64; no sign fix)."""
    return torch.linalg.qr(torch.randn(n, r, generator=generator, dtype=torch.float64)).Q


def test_matrix(spectrum: str, m: int, n: int, *, seed: int = 0, dtype: torch.dtype | None = None, device=None,
                factors: bool = False):
    """A seeded ``m x n`` matrix with a named test spectrum (:data:`TEST_SPECTRA`).

    ``gaussian``: i.i.d. N(0, 1) entries (Marchenko-Pastur singular values). ``lowrank_noise``:
    ``U V^T + E`` with ``U`` (m x r), ``V`` (n x r) orthonormal, ``r = min(50, m, n)``, and an
    i.i.d. Gaussian ``E`` scaled to spectral norm exactly ``1e-2`` (a flat head of ``r`` values
    near 1 above a Marchenko-Pastur tail). The others: ``U diag(s) V^T`` with ``s`` from
    :func:`spectrum_values` (``lowrank``: its ``r`` non-zero values only) and ``U``, ``V`` with
    ``len(s)`` orthonormal columns. Orthonormal factors are the Q of the QR of Gaussian matrices
    without a sign fix (not Haar, unlike :func:`random_orthonormal`; the matrices must stay
    those the committed results were measured on). Everything is drawn on the CPU in float64
    from ``torch.Generator().manual_seed(seed)`` in the order ``U``, ``V``, ``E``, then cast to
    ``dtype`` (default float64) and moved to ``device``.

    Parameters
    ----------
    spectrum : str
        One of :data:`TEST_SPECTRA`.
    m, n : int
        Shape, >= 1.
    seed : int
        >= 0.
    dtype, device
        Of the result.
    factors : bool
        Also return ``(U, s, V)`` (float64, CPU), the exact factors; ``None`` for ``gaussian``
        and ``lowrank_noise``.

    Returns
    -------
    torch.Tensor or (torch.Tensor, tuple or None)

    Cost: O(m n k) for the QR factors and the product (k = min(m, n)); ``lowrank_noise`` adds
    the spectral norm of ``E`` (one svdvals, O(m n k)).
    """
    check_choice("spectrum", spectrum, TEST_SPECTRA)
    m, n = check_int("m", m), check_int("n", n)
    seed = check_int("seed", seed, 0)
    g = torch.Generator().manual_seed(seed)
    svd = None
    if spectrum == "gaussian":
        S = torch.randn(m, n, generator=g, dtype=torch.float64)
    elif spectrum == "lowrank_noise":
        r = min(LOWRANK_NOISE_RANK, m, n)
        U, V = _qr_columns(m, r, g), _qr_columns(n, r, g)
        E = torch.randn(m, n, generator=g, dtype=torch.float64)
        E *= LOWRANK_NOISE_LEVEL / torch.linalg.matrix_norm(E, ord=2)
        S = torch.addmm(E, U, V.mT)
        del E
    else:
        s = spectrum_values(spectrum, min(m, n))
        if spectrum == "lowrank":
            s = s[:lowrank_rank(min(m, n))]
        U = _qr_columns(m, len(s), g)
        V = _qr_columns(n, len(s), g)
        S = (U * s) @ V.mT
        svd = (U, s, V)
    S = finish(S, dtype, device)
    return (S, svd) if factors else S


test_matrix.__test__ = False  # (a builder, not a test: pytest leaves it alone where a test imports it)
