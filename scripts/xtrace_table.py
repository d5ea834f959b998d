"""Print the README's compact XTrace table (markdown) from the xtrace rows of a ``fast.csv``.

    python scripts/xtrace_table.py results/xtrace

One row per spectrum and functional: the mean relative error of ``method="matvec"``
(``budget-100 matvec``) and its Gauss-Radau variant, the least error of the sketch-head
configurations with the same budget (``budget-100 A/B/C`` and their Gauss/Radau-mean variants,
and which), the gradient cosines of the method and of that configuration, and how often the
method's 95% interval (value +- 1.96 stderr) held the truth.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

PRESET = "budget-100 matvec"


def xtrace_table(folder: str) -> str:
    rows = pd.read_csv(Path(folder) / "fast.csv")
    d = rows[(rows.param_part == "xtrace") & (rows.status == "ok") & (rows.products <= 100)]
    err = d.pivot_table(index=["dataset_spectrum", "param_functional"], columns="method", values="value_relerr_mean")
    cos = d.pivot_table(index=["dataset_spectrum", "param_functional"], columns="method", values="grad_cosine_mean")
    cov = d.pivot_table(index=["dataset_spectrum", "param_functional"], columns="method", values="ci95_coverage")
    sketch = [m for m in err.columns if m.startswith("budget-100") and "matvec" not in m]
    best = err[sketch].idxmin(axis=1)
    out = pd.DataFrame({
        "spectrum": [i[0] for i in err.index], "functional": [i[1] for i in err.index],
        "matvec": err[PRESET].map(lambda v: f"{v:.1e}"),
        "matvec radau": err[f"{PRESET} radau"].map(lambda v: f"{v:.1e}"),
        "best sketch head": [f"{err.loc[i, m]:.1e}" for i, m in best.items()],
        "its configuration": best.values,
        "cosine matvec": [f"{cos.loc[i, PRESET]:.3f}" if i in cos.index else "" for i in err.index],
        "cosine sketch": [f"{cos.loc[i, m]:.3f}" if i in cos.index else "" for i, m in best.items()],
        "95% coverage matvec": cov[PRESET].map(lambda v: f"{v:.2f}")})
    return out.to_markdown(index=False, disable_numparse=True)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    print(xtrace_table(sys.argv[1]))
