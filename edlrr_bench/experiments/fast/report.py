"""The ``fast`` section of REPORT.md: each part's section, drawn from the rows of ``fast.csv`` alone."""
from __future__ import annotations

import ast
from pathlib import Path

import pandas as pd

from . import accuracy, crossover, dtype, penalty, released, speed


def fmt_options(o) -> str:
    """A cell's ``options`` param (a dict, or its text read back from the CSV) as ``k=v, ...``."""
    if isinstance(o, str):
        try:
            o = ast.literal_eval(o)
        except (ValueError, SyntaxError):
            return o
    if not isinstance(o, dict):
        return ""
    return ", ".join(f"{k}={v}" for k, v in sorted(o.items())) or "defaults"


def report(df: pd.DataFrame, out: Path, cfg: dict, plot) -> tuple[str, list]:
    """The experiment's report section and its claims from the long table ``df`` (the rows of
    ``fast.csv``); ``out`` and ``cfg`` are not read (the signature of every experiment's report),
    ``plot`` draws the figures."""
    ok = df[df.status == "ok"].copy()
    threads = int(df.threads.dropna().iloc[0]) if "threads" in df and df.threads.notna().any() else "?"
    lines = ["## fast: the fast estimator against exact SVD-autograd and the paper (beyond the paper)", "",
             "`method=\"krylov\"`: deflated stochastic Lanczos quadrature (`edlrr.krylov`: k = 64 directions "
             "deflated after one power iteration, N = 8 sphere probes x d = 30 Lanczos steps on the rest (the mean "
             "of the Gauss and Gauss-Radau rules extrapolated from 20 to 30 nodes, clamped into their bracket: "
             "`quadrature=\"extrapolated\"`), a control variate from the exact Frobenius norm); up to "
             "`edlrr.Auto`'s `dense_below` `method=\"auto\"` computes densely (eigenvalues of the float64 Gram "
             "matrix), `method=\"krylov\"` keeps the Lanczos path. Times are forward + backward, measured in one "
             f"process side by side with `torch.linalg.svdvals` on the same matrix, {threads} torch thread(s).", ""]
    claims: list = []
    if ok.empty:
        return "\n".join(lines + ["No finished cells.", ""]), claims
    if "param_options" in ok:
        ok["options"] = ok["param_options"].map(fmt_options)
    lines += speed.section(ok, plot, claims)
    lines += accuracy.xtrace_section(ok, claims)
    lines += accuracy.xtrace_grid_section(ok, claims)
    lines += accuracy.pareto_section(ok, claims)
    lines += released.section(ok, claims)
    lines += crossover.section(ok)
    lines += dtype.section(ok, claims)
    lines += penalty.section(ok, claims)
    return "\n".join(lines), claims
