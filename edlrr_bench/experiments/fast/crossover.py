"""Part ``crossover``: where the dense path pays. Nuclear norm forward + backward of a Gaussian
n x n test matrix by ``svdvals``, ``method="dense"`` and ``method="krylov"``, interleaved in one
process, in each dtype of ``dtypes`` (the evidence for :class:`edlrr.Auto`'s ``dense_below``)."""
from __future__ import annotations

import numpy as np
import pandas as pd

import edlrr

from ...schema import Table
from ...sweep import Cell
from .common import NAME, SMALL_VERSION, svdvals_sum, timed_grad, torch_dtype
from .matrices import matrix

KEYS = Table({"sizes": None, "dtypes": None, "reps": None})
"""The keys of ``[fast.crossover]``."""

METHODS = {
    "svdvals": svdvals_sum,
    "dense": lambda X: edlrr.nuclear_norm(X, method="dense"),
    "lanczos": lambda X: edlrr.nuclear_norm(X, method="krylov", generator=0),
}
"""The methods timed side by side (``seconds_<name>`` in the cell)."""


def cells(co: dict) -> list[Cell]:
    """One cell per size and dtype."""
    return [Cell(NAME, "crossover", {"name": "test_matrix", "spectrum": "gaussian", "n": n},
                 {"part": "crossover", "dtype": dtype, "reps": co["reps"]}, version=SMALL_VERSION)
            for n in co["sizes"] for dtype in co["dtypes"]]


def run(cell: Cell, device: str = "cpu") -> dict:
    """Median seconds of forward + backward by each method, interleaved (one round = one call of
    each), after one warm-up call each."""
    dtype = torch_dtype(cell.params["dtype"])
    S = matrix("gaussian", cell.dataset["n"]).to(device=device, dtype=dtype)
    times = {name: [] for name in METHODS}
    for r in range(cell.params["reps"] + 1):
        for name, fn in METHODS.items():
            t = timed_grad(fn, S)[0]
            if r:
                times[name].append(t)
    out = {f"seconds_{name}": float(np.median(t)) for name, t in times.items()}
    out["seconds_median"] = out["seconds_dense"]
    return out


def section(ok: pd.DataFrame) -> list[str]:
    """The report's crossover table, from the ``crossover`` rows."""
    d = ok[ok.param_part == "crossover"]
    if d.empty:
        return []
    tab = d[["dataset_n", "param_dtype", "seconds_svdvals", "seconds_dense", "seconds_lanczos"]].rename(columns={
        "dataset_n": "n", "param_dtype": "dtype", "seconds_svdvals": "svdvals s", "seconds_dense": "dense s",
        "seconds_lanczos": "Lanczos s"}).astype({"n": int}).sort_values(["dtype", "n"])
    tab["fastest"] = tab[["svdvals s", "dense s", "Lanczos s"]].idxmin(axis=1).str.replace(" s", "")
    dense_wins = tab[tab.fastest == "dense"].groupby("dtype").n.max()
    beats_svd = tab[tab["dense s"] < tab["svdvals s"]].groupby("dtype").n.max()
    reps = ", ".join(str(int(r)) for r in sorted(d.param_reps.dropna().unique())) if "param_reps" in d else "?"

    def largest(s):
        return ", ".join(f"{dt}: {int(n)}" for dt, n in s.items()) or "none"

    return ["### Where the dense path pays (the preset's `dense_below`)", "",
            f"Nuclear norm forward + backward of a Gaussian n x n matrix, median of {reps} interleaved rounds after "
            "a warm-up: `svdvals`, the preset's dense path (eigenvalues of the float64 Gram matrix, "
            "`method=\"dense\"`) and its Lanczos path (`method=\"krylov\"`).", "",
            tab.to_markdown(index=False, floatfmt=".4f"), "",
            f"Largest n where the dense path is the fastest: {largest(dense_wins)}; largest n where it beats "
            f"svdvals: {largest(beats_svd)}. `edlrr.Auto`'s `dense_below` is where `method=\"auto\"` stops taking "
            "it (exact values and gradients); see `results/completion-512` for what the Lanczos path's projected "
            "gradient costs in completion at 512 x 512.", ""]
