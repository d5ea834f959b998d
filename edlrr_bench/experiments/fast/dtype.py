"""Part ``dtype``: the nuclear norm's value error and gradient cosine of the variants in float32
against float64 (same probe seeds, exact float64 reference), at sizes above ``dense_below``."""
from __future__ import annotations

import numpy as np
import pandas as pd

import edlrr

from ...schema import Names, Table
from ...sweep import Cell
from .common import DTYPE_VERSION, FAST_VARIANTS, NAME, cosine, estimator, torch_dtype
from .matrices import exact, matrix

KEYS = Table({"sizes": None, "spectra": None, "methods": Names(FAST_VARIANTS), "seeds": None})
"""The keys of ``[fast.dtype]``."""


def cells(dt: dict) -> list[Cell]:
    """One cell per size, spectrum, method and dtype (float64, float32)."""
    out = []
    for n in dt["sizes"]:
        for spectrum in dt["spectra"]:
            ds = {"name": "test_matrix", "spectrum": spectrum, "n": n}
            for label in dt["methods"]:
                for dtype in ("float64", "float32"):
                    out.append(Cell(NAME, label, ds, {"part": "dtype", "dtype": dtype, "seeds": dt["seeds"],
                                                      **FAST_VARIANTS[label]}, version=DTYPE_VERSION))
    return out


def run(cell: Cell, device: str = "cpu") -> dict:
    """Median value error and gradient cosine of one variant in one dtype over the seeds, against
    the exact float64 value and U V^T."""
    ds = cell.dataset
    dtype = torch_dtype(cell.params["dtype"])
    S = matrix(ds["spectrum"], ds["n"]).to(device=device, dtype=dtype)
    ex = exact(ds["spectrum"], ds["n"])
    options = estimator(cell.params)
    errs, cos = [], []
    for s in range(cell.params["seeds"]):
        X = S.clone().requires_grad_(True)
        value = edlrr.nuclear_norm(X, generator=s, **options)
        value.backward()
        errs.append(abs(float(value.detach()) - ex["value"]) / ex["value"])
        cos.append(cosine(X.grad.double().cpu(), ex["grad"]))
    return {"value_relerr_median": float(np.median(errs)), "grad_cosine_median": float(np.median(cos))}


def section(ok: pd.DataFrame, claims: list) -> list[str]:
    """The report's float32-against-float64 table and its claim, from the ``dtype`` rows."""
    d = ok[ok.param_part == "dtype"]
    if d.empty:
        return []
    tab = d.pivot_table(index=["dataset_n", "dataset_spectrum", "method"], columns="param_dtype",
                        values=["value_relerr_median", "grad_cosine_median"]).reset_index()
    tab.columns = [" ".join(c).strip() if isinstance(c, tuple) else c for c in tab.columns]
    tab = tab.rename(columns={"dataset_n": "n", "dataset_spectrum": "spectrum",
                              "value_relerr_median float64": "value err float64",
                              "value_relerr_median float32": "value err float32",
                              "grad_cosine_median float64": "grad cosine float64",
                              "grad_cosine_median float32": "grad cosine float32"})
    tab = tab[["n", "spectrum", "method", "value err float64", "value err float32", "grad cosine float64",
               "grad cosine float32"]].astype({"n": int})
    # "within 2x": the float32 value error at most twice the float64 one, and the gradient's
    # error (1 - cosine) at most twice its float64 value
    ratio_v = tab["value err float32"] / tab["value err float64"]
    ratio_g = (1 - tab["grad cosine float32"]) / (1 - tab["grad cosine float64"])
    lines = ["### float32 against float64 (nuclear norm, Lanczos path)", "",
             "The same estimator and probe seeds on the float64 test matrix and its float32 copy, against the "
             "exact float64 value and U V^T (median over seeds):", "",
             tab.to_markdown(index=False, floatfmt=".3g"), ""]
    claims.append({"claim": "ours: float32 error within 2x of float64 (value, and 1 - gradient cosine)",
                   "paper": "(ours)",
                   "measured": f"value error ratio {ratio_v.min():.2f} ... {ratio_v.max():.2f}; gradient "
                               f"(1 - cosine) ratio {ratio_g.min():.2f} ... {ratio_g.max():.2f}",
                   "verdict": "reproduced" if bool(((ratio_v <= 2) & (ratio_g <= 2)).all()) else "not reproduced"})
    return lines
