"""Part ``released``: the authors' released recipe (20,000 probes, 5,000 series terms) against
the fast estimators on one grayscale completion image (as the authors' demo): ``method="auto"``
(dense at that size) and its Lanczos estimator (``method="krylov"``)."""
from __future__ import annotations

import pandas as pd
import torch

from ...schema import Table
from ...sweep import Cell
from .accuracy import accuracy
from .common import NAME, SMALL_VERSION, estimator
from .matrices import image_matrix

KEYS = Table({"image": None, "size": None, "seeds": None})
"""The keys of ``[fast.released]``."""

METHODS = (("released", "released"), ("fast", "auto"), ("fast-lanczos", "krylov"))
"""The cells' labels and the core's ``method=`` of each."""


def cells(rel: dict) -> list[Cell]:
    """One cell per method of :data:`METHODS` on the image."""
    ds = {"name": "image_matrix", "image": rel["image"], "size": rel["size"]}
    return [Cell(NAME, label, ds, {"part": "released", "seeds": rel["seeds"], "method": method},
                 version=SMALL_VERSION) for label, method in METHODS]


def run(cell: Cell, device: str = "cpu") -> dict:
    """Median seconds, value error and gradient cosine of the nuclear norm of the grayscale image
    (the mean of its channels) against svdvals autograd."""
    S = image_matrix(cell.dataset).mean(0).to(device)  # the grayscale image, as the authors' demo
    X = S.clone().requires_grad_(True)
    value = torch.linalg.svdvals(X).sum()
    value.backward()
    return accuracy(S, estimator(cell.params), cell.params["seeds"], float(value.detach()), X.grad)


def section(ok: pd.DataFrame, claims: list) -> list[str]:
    """The report's paragraph on the released recipe and its claims (>= 100x faster at equal or
    better error), from the ``released`` rows."""
    r = ok[ok.param_part == "released"]
    if not {"released", "fast"} <= set(r.method):
        return []
    rel = r[r.method == "released"].iloc[0]
    ours = [(label, r[r.method == label].iloc[0]) for label in ("fast", "fast-lanczos") if label in set(r.method)]
    text = "; ".join(f"{label} {fa.seconds_median:.4f} s, error {fa.value_relerr_median:.2%}, cosine "
                     f"{fa.grad_cosine_median:.3f}: {rel.seconds_median / fa.seconds_median:.0f}x faster"
                     for label, fa in ours)
    lines = ["### Against the authors' released recipe", "",
             f"{rel.dataset_image} {int(rel.dataset_size)}^2 (grayscale, the authors' demo): released "
             f"(20,000 probes, 5,000 terms) {rel.seconds_median:.2f} s, error {rel.value_relerr_median:.2%}, "
             f"gradient cosine {rel.grad_cosine_median:.3f}; {text}. (`fast` is `method=\"auto\"`, "
             "`fast-lanczos` its Lanczos estimator, `method=\"krylov\"`.)", ""]
    for label, fa in ours:
        ratio = rel.seconds_median / fa.seconds_median
        claims.append({"claim": f"ours: >= 100x faster than the released recipe at equal or better error ({label})",
                       "paper": "(ours)", "measured": f"{ratio:.0f}x, {fa.value_relerr_median:.2%} vs "
                                                      f"{rel.value_relerr_median:.2%}",
                       "verdict": "reproduced" if ratio >= 100 and fa.value_relerr_median <= rel.value_relerr_median
                       else "not reproduced"})
    return lines
