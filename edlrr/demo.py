"""A small demo: the estimators against the exact SVD values on small examples.

Run ``python -m edlrr.demo`` (or ``make run``); it needs the core dependencies only (torch).
The examples are a seeded 300 x 300 rank-20 matrix, a seeded full-rank 300 x 300 matrix with
sigma_i = 1 / i (the slow decay of natural images), and, where scikit-image is installed (the
``suite`` extra), one channel of its ``astronaut`` test image resized to 300 x 300 with values
in [0, 1] as in the EDLRR paper's experiments (without it the demo says so and goes on).
Each estimate is the mean +- standard deviation over 5 seeds.
"""
from __future__ import annotations

import argparse
import time
import warnings

import torch

from . import exact
from .estimators import lrr, nuclear_norm, rank, schatten
from .options import Paper
from .penalties import SeriesDivergenceWarning, penalty


def embedded_image(size: int = 300) -> tuple[str, torch.Tensor | None]:
    """The red channel of scikit-image's ``astronaut`` (float64, size x size, in [0, 1]) and its
    title; ``None`` and the reason where scikit-image (the ``suite`` extra) is not installed."""
    try:
        from skimage import data, transform
    except ImportError:  # the core package does not need scikit-image
        return "astronaut image left out: scikit-image is not installed (pip install 'edlrr[suite]')", None
    img = transform.resize(data.astronaut(), (size, size), anti_aliasing=True)
    return f"astronaut red channel {size}x{size}", torch.tensor(img[..., 0], dtype=torch.float64)


def lowrank_matrix(size: int = 300, r: int = 20, seed: int = 0) -> tuple[str, torch.Tensor]:
    """A seeded size x size float64 matrix of rank r, singular values log-spaced from 10 to 0.1,
    and its title."""
    g = torch.Generator().manual_seed(seed)
    U, _ = torch.linalg.qr(torch.randn(size, r, generator=g, dtype=torch.float64))
    V, _ = torch.linalg.qr(torch.randn(size, r, generator=g, dtype=torch.float64))
    sigma = torch.logspace(1, -1, r, dtype=torch.float64)
    return f"rank-{r} {size}x{size}, sigma in [0.1, 10]", (U * sigma) @ V.T


def power_matrix(size: int = 300, seed: int = 0) -> tuple[str, torch.Tensor]:
    """A seeded full-rank size x size float64 matrix with sigma_i = 1 / i (orthonormal factors
    from QR of Gaussian matrices), and its title."""
    g = torch.Generator().manual_seed(seed)
    U, _ = torch.linalg.qr(torch.randn(size, size, generator=g, dtype=torch.float64))
    V, _ = torch.linalg.qr(torch.randn(size, size, generator=g, dtype=torch.float64))
    sigma = 1.0 / torch.arange(1, size + 1, dtype=torch.float64)
    return f"full rank {size}x{size}, sigma_i = 1/i", (U * sigma) @ V.T


def _rows(S: torch.Tensor, probes: int, seeds: int, released: bool):
    gn = penalty("gamma_nuclear", gamma=500.0)
    lap = penalty("laplace", gamma=500.0)
    taylor, laguerre = Paper(probes=probes, expansion="taylor"), Paper(probes=probes, expansion="laguerre")
    cases = [
        ("rank (Prop. 3)", lambda **k: rank(S, **k), float(exact.rank(S)), taylor),
        ("nuclear norm (Prop. 4)", lambda **k: nuclear_norm(S, **k), float(exact.nuclear_norm(S)), taylor),
        ("sum sigma^2 (Thm. 1)", lambda **k: schatten(S, 2, **k), float(exact.schatten(S, 2)), taylor),
        ("sum sigma^3 (Thm. 1)", lambda **k: schatten(S, 3, **k), float(exact.schatten(S, 3)), taylor),
        ("sum sigma^0.5 (Thm. 1)", lambda **k: schatten(S, 0.5, **k), float(exact.schatten(S, 0.5)), taylor),
        ("gamma-nuclear g=500, Taylor (Thm. 2)", lambda **k: lrr(S, gn, **k), float(exact.lrr(S, gn)), taylor),
        ("gamma-nuclear g=500, Laguerre (Thm. 3)", lambda **k: lrr(S, gn, **k), float(exact.lrr(S, gn)), laguerre),
        ("Laplace g=500, Taylor (Thm. 2)", lambda **k: lrr(S, lap, **k), float(exact.lrr(S, lap)), taylor),
        ("Laplace g=500, Laguerre (Thm. 3)", lambda **k: lrr(S, lap, **k), float(exact.lrr(S, lap)), laguerre),
    ]
    for name, fn, truth, options in cases:
        t0 = time.perf_counter()
        vals = torch.stack([fn(method="paper", options=options, generator=seed) for seed in range(seeds)])
        yield name, "paper", truth, vals, (time.perf_counter() - t0) / seeds
    if released:
        t0 = time.perf_counter()
        val = nuclear_norm(S, method="released", generator=0)
        yield "nuclear norm (Prop. 4)", "released", float(exact.nuclear_norm(S)), val[None], time.perf_counter() - t0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--probes", type=int, default=256, help="probe vectors N per estimate (default 256)")
    parser.add_argument("--seeds", type=int, default=5, help="repetitions per estimate (default 5)")
    parser.add_argument("--no-released", action="store_true",
                        help="skip the authors' released recipe (20,000 probes, 5,000-term series: ~10 s)")
    args = parser.parse_args(argv)
    torch.set_num_threads(torch.get_num_threads())
    print(f"edlrr demo: estimators (method 'paper', N={args.probes}, k1=k2=30) vs exact SVD; "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    for title, S in (embedded_image(), lowrank_matrix(), power_matrix()):
        if S is None:
            print(f"\n({title})")
            continue
        print(f"\n== {title} (sigma_1 = {float(torch.linalg.svdvals(S)[0]):.4g})")
        print(f"{'quantity':40s} {'method':9s} {'exact (svdvals)':>16s} {'estimate':>24s} {'rel. err':>9s} "
              f"{'s/call':>7s}")
        for name, method, truth, vals, secs in _rows(S, args.probes, args.seeds, not args.no_released):
            mean = float(vals.mean())
            spread = f"{mean:.6g} +- {float(vals.std()):.2g}" if vals.numel() > 1 else f"{mean:.6g}"
            print(f"{name:40s} {method:9s} {truth:16.6g} {spread:>24s} {(mean - truth) / truth:9.2%} {secs:7.3f}")
    return 0


if __name__ == "__main__":
    with warnings.catch_warnings():
        warnings.simplefilter("default", SeriesDivergenceWarning)
        raise SystemExit(main())
