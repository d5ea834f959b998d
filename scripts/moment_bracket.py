"""Print the README's table of what ``method="matvec"``'s 100 products determine (markdown).

    python scripts/moment_bracket.py [--seeds 10] [--n 1000]

For XTrace's test spectra (``edlrr_bench.experiments.fast.matrices.matrix``, i.e.
``edlrr_bench.datasets.synthetic.test_matrix`` with seed 0: the same matrices as the harness)
and each functional: :func:`edlrr.bidiagonal.moment_bracket` of the method's one run of 50
Golub-Kahan steps (the same probe as ``generator=seed``), i.e. the range of that run's estimate
over every tail measure with the run's first 100 moments, as relative errors against the truth
(``fast.accuracy.xtrace_truth``): the mean over the seeds of its two ends and of its width, how
often the truth lies inside, and the method's own mean relative error on the same seeds. A width
above 2% means no rule using only those moments is sure to be within 1%.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import edlrr  # noqa: E402
from edlrr import bidiagonal, krylov  # noqa: E402
from edlrr.estimators import RANK_FUNCTION, power_function  # noqa: E402  (the estimators' own h)
from edlrr_bench.experiments.fast.accuracy import SCHATTEN_P, xtrace_truth  # noqa: E402
from edlrr_bench.experiments.fast.matrices import matrix  # noqa: E402

SPECTRA = ["flat", "poly", "slowexp", "fastexp", "smallstep", "bigstep", "rank20"]
FUNCTIONALS = ["nuclear", "schatten0.5", "schatten2", "rank"]


def _function(functional: str) -> krylov.SpectralFunction:
    return RANK_FUNCTION if functional == "rank" else power_function(SCHATTEN_P[functional])


def _estimate(S: torch.Tensor, functional: str, seed: int) -> float:
    if functional == "rank":
        return float(edlrr.rank(S, method="matvec", generator=seed))
    return float(edlrr.schatten(S, SCHATTEN_P[functional], method="matvec", generator=seed))


def moment_table(seeds: int = 10, n: int = 1000) -> pd.DataFrame:
    rows = []
    for spectrum in SPECTRA:
        S = matrix(spectrum, n)
        for functional in FUNCTIONALS:
            truth = xtrace_truth(spectrum, n, functional)
            h = _function(functional)
            lo, hi, est = [], [], []
            for seed in range(seeds):
                a, b = bidiagonal.moment_bracket(S, h, probes=1, lanczos_steps=50, generator=seed)
                lo.append((float(a) - truth) / truth), hi.append((float(b) - truth) / truth)
                est.append(abs(_estimate(S, functional, seed) - truth) / truth)
            lo, hi = np.array(lo), np.array(hi)
            rows.append({"spectrum": spectrum, "functional": functional, "low end": lo.mean(), "high end": hi.mean(),
                         "width": (hi - lo).mean(), "truth inside": float(((lo <= 1e-12) & (hi >= -1e-12)).mean()),
                         "matvec error": float(np.mean(est))})
    return pd.DataFrame(rows)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--n", type=int, default=1000)
    args = parser.parse_args(argv)
    d = moment_table(args.seeds, args.n)
    fmt = {c: (lambda v: f"{v:+.1e}") for c in ("low end", "high end")}
    fmt.update({"width": lambda v: f"{v:.1e}", "matvec error": lambda v: f"{v:.1e}",
                "truth inside": lambda v: f"{v:.2f}"})
    for c, f in fmt.items():
        d[c] = d[c].map(f)
    print(d.to_markdown(index=False, disable_numparse=True))


if __name__ == "__main__":
    main()
