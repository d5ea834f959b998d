"""Part ``speed``: how fast the fast estimators are against ``svdvals``, in float64 and float32.

Nuclear norm forward + backward of n x n test matrices (``sizes`` x ``spectra``) in each dtype of
``dtypes``, by ``svdvals`` (its own cell, ``timing_reps`` timed calls) and by each variant of
``methods`` (:data:`~.common.FAST_VARIANTS`) over ``seeds`` probe seeds: median time, extra peak
memory of one call, value error against the exact float64 value, gradient cosine against the
exact U V^T, the coverage of the 95% interval value +- 1.96 stderr, and the products by S or
S^T. The ``paired`` variants time ``svdvals`` (in the cell's dtype) again just after their seeds,
side by side in one process. A float64 cell carries no ``dtype`` param.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch

import edlrr

from ...schema import Names, Table
from ...sweep import Cell, PeakMemory
from .common import (DTYPES, FAST_VARIANTS, NAME, SPEED_LANCZOS_VERSION, VERSION, cosine, dtype_of, estimator,
                     lanczos_nuclear, products, seeds_text, svdvals_sum, timed_grad, torch_dtype)
from .matrices import exact, forget_exact, matrix

DEFAULT_DTYPES = ("float64", "float32")
"""The dtypes of the speed cells where the configuration names none."""

KEYS = Table({"sizes": None, "spectra": None, "methods": Names(FAST_VARIANTS), "seeds": None,
              "timing_reps": None,  # svdvals' timed repetitions
              "paired": Names(FAST_VARIANTS),  # methods whose cells time svdvals again
              "dtypes": Names(DTYPES, "dtype")})  # default: float64 and float32
"""The keys of ``[fast.speed]``."""


def cells(sp: dict) -> list[Cell]:
    """For each size, spectrum and dtype: the ``svdvals`` cell and one cell per method."""
    dtypes = list(sp.get("dtypes", DEFAULT_DTYPES))
    for name in dtypes:
        torch_dtype(name)
    out = []
    for n in sp["sizes"]:
        for spectrum in sp["spectra"]:
            ds = {"name": "test_matrix", "spectrum": spectrum, "n": n}
            for name in dtypes:
                dt = {} if name == "float64" else {"dtype": name}
                # memory: the peak of the call alone, above the memory after the input's copy
                out.append(Cell(NAME, "svdvals", ds, {"part": "speed", "reps": sp.get("timing_reps", 1),
                                                      "memory": "call", **dt}, version=VERSION))
                for label in sp["methods"]:
                    params = {"part": "speed", **FAST_VARIANTS[label], "seeds": sp["seeds"], "memory": "call", **dt}
                    if label in sp.get("paired", ()):  # svdvals timed again in the cell, after the seeds
                        params["paired"] = True
                    lanczos = lanczos_nuclear(FAST_VARIANTS[label])
                    out.append(Cell(NAME, label, ds, params, version=SPEED_LANCZOS_VERSION if lanczos else VERSION))
    return out


def run(cell: Cell, device: str = "cpu") -> dict:
    """One speed cell (``svdvals`` or a variant); see the module's docstring."""
    ds, dtype = cell.dataset, torch_dtype(cell.params.get("dtype", "float64"))
    n, spectrum = ds["n"], ds["spectrum"]
    if cell.method == "svdvals":
        return _run_svdvals(spectrum, n, dtype, cell.params.get("reps", 1), device)
    S = matrix(spectrum, n).to(device=device, dtype=dtype)
    ex = exact(spectrum, n, device=device)
    options = estimator(cell.params)
    plan = edlrr.plan(S, **options, function="nuclear_norm")
    rows = []
    edlrr.polar.product_counts.clear(), edlrr.polar.extension_counts.clear()
    for s in range(cell.params["seeds"]):
        mem = PeakMemory(device)
        t, v, se, g = timed_grad(
            lambda X: edlrr.nuclear_norm(X, generator=s, return_stderr=True, **options), S, mem)  # noqa: B023
        err = abs(v - ex["value"]) / ex["value"]
        rows.append((t, err, cosine(g.double().cpu(), ex["grad"]), abs(v - ex["value"]) <= 1.96 * se, mem.peak_mib))
        del g
    t, err, cos, covered, peak = map(np.array, zip(*rows))
    taken = list(edlrr.polar.product_counts.elements())  # polar products of every call (none: not the polar path)
    polar_products = float(np.median(taken)) if taken else None
    out = {"seconds_median": float(np.median(t)), "extra_peak_mib": float(np.median(peak)),
           "value_relerr_median": float(np.median(err)), "value_relerr_max": float(err.max()),
           "grad_cosine_median": float(np.median(cos)), "coverage_95": float(covered.mean()),
           "products": products(plan, n, polar_products=polar_products)}
    if polar_products is not None:
        out["polar_products_median"] = polar_products
        out["polar_extended_median"] = float(np.median(list(edlrr.polar.extension_counts.elements())))
    if cell.params.get("paired"):  # side by side in this process: svdvals forward + backward just after
        out["svdvals_paired_seconds"] = timed_grad(svdvals_sum, S)[0]
    return out


def _run_svdvals(spectrum: str, n: int, dtype: torch.dtype, reps: int, device: str) -> dict:
    """svdvals forward + backward: in float64 the exact reference itself, measured here (value
    error 0, cosine 1 by definition); in float32 timed on the float32 copy and compared with the
    float64 reference."""
    if dtype == torch.float64:
        forget_exact(spectrum, n)  # measure it here, in this cell
        ex = exact(spectrum, n, PeakMemory(device), device=device)
        S = matrix(spectrum, n).to(device)
        times = [ex["seconds"]] + [timed_grad(svdvals_sum, S)[0] for _ in range(reps - 1)]
        return {"seconds_median": float(np.median(times)), "extra_peak_mib": ex["peak_mib"],
                "value_relerr_median": 0.0, "grad_cosine_median": 1.0, "products": 0}
    ex = exact(spectrum, n, device=device)
    S = matrix(spectrum, n).to(device=device, dtype=dtype)
    mem = PeakMemory(device)
    t, v, _, g = timed_grad(svdvals_sum, S, mem)
    times = [t] + [timed_grad(svdvals_sum, S)[0] for _ in range(reps - 1)]
    return {"seconds_median": float(np.median(times)), "extra_peak_mib": mem.peak_mib,
            "value_relerr_median": abs(v - ex["value"]) / ex["value"],
            "grad_cosine_median": cosine(g.double().cpu(), ex["grad"]), "products": 0}


# ---------------------------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------------------------

def trim_setting(d: pd.DataFrame, method: str, n: int) -> str:
    """The glibc trim setting the memory rows of ``method`` and svdvals at size ``n`` ran under
    (resident memory depends on it), as a parenthesis for a claim."""
    rows = d[(d.dataset_n == n) & d.method.isin([method, "svdvals"])]
    column = rows["malloc_trim_threshold"] if "malloc_trim_threshold" in rows else pd.Series(None, index=rows.index)

    def text(v):  # a CSV read back holds 65536 as 65536.0, "unset" as a string, NaN where not recorded
        if pd.isna(v):
            return "not recorded"
        return str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)

    per_method = {m: ", ".join(sorted({text(v) for v in column[rows.method == m]}))
                  for m in (method, "svdvals") if (rows.method == m).any()}
    settings = set(per_method.values())
    if settings <= {"not recorded"}:
        return " (heap trim setting not recorded)"
    if len(settings) == 1:
        return f" (MALLOC_TRIM_THRESHOLD_: {settings.pop()})"
    return " (MALLOC_TRIM_THRESHOLD_: " + "; ".join(f"{v} for {m}" for m, v in per_method.items()) + ")"


def machine_setting(d: pd.DataFrame, method: str, n: int) -> str:
    """The CPU model and the dtype ``edlrr.Polar(dtype="auto")`` took in the method's rows (the polar
    iteration's speed depends on it: bfloat16 with AMX tiles or AVX512-BF16 or on CUDA,
    float32 elsewhere), as a parenthesis for a claim."""
    rows = d[(d.dataset_n == n) & (d.method == method)]
    seen = [", ".join(sorted({str(v) for v in rows[c].dropna()})) if c in rows else ""
            for c in ("cpu_model", "polar_dtype_auto")]
    if not any(seen):
        return " (CPU model and polar dtype not recorded)"
    return f" (CPU {seen[0] or 'not recorded'}; polar_dtype auto = {seen[1] or 'not recorded'})"


def bar_ratio(g: pd.DataFrame) -> pd.Series:
    """The speed bar's ratio of each row: against svdvals timed again in the method's cell, side by
    side in one process, where the cell did so (the ``paired`` methods), else its own svdvals cell's."""
    return g["paired speed-up"].where(g["paired speed-up"].notna(), g["speed-up"])


def table(d: pd.DataFrame) -> pd.DataFrame:
    """One row per method's speed row that has its svdvals row (same size, spectrum, dtype)."""
    d = d.assign(dtype=dtype_of(d))
    ref = d[d.method == "svdvals"].set_index(["dataset_n", "dataset_spectrum", "dtype"])
    rows = []
    for _, r in d[d.method != "svdvals"].iterrows():
        key = (r.dataset_n, r.dataset_spectrum, r["dtype"])
        if key not in ref.index:
            continue
        e = ref.loc[key]
        rows.append({"n": r.dataset_n, "spectrum": r.dataset_spectrum, "dtype": r["dtype"], "method": r.method,
                     "products": int(r.products), "polar products": r.get("polar_products_median", float("nan")),
                     "extended": r.get("polar_extended_median", float("nan")),
                     "svdvals s": e.seconds_median, "fast s": r.seconds_median,
                     "speed-up": e.seconds_median / r.seconds_median,
                     "paired speed-up": r.get("svdvals_paired_seconds", float("nan")) / r.seconds_median,
                     "value rel. err (median)": r.value_relerr_median, "(max)": r.value_relerr_max,
                     "grad cosine": r.grad_cosine_median, "95% CI coverage": r.coverage_95,
                     "extra MiB svdvals": e.extra_peak_mib, "extra MiB fast": r.extra_peak_mib})
    if not rows:
        return pd.DataFrame()
    return pd.DataFrame(rows).astype({"n": int}).sort_values(["n", "spectrum", "dtype", "method"],
                                                             ascending=[True, True, False, True])


def section(ok: pd.DataFrame, plot, claims: list) -> list[str]:
    """The report's speed section and its claims, from the speed rows of ``ok``."""
    d = ok[ok.param_part == "speed"]
    if d.empty:
        return []
    tab = table(d)
    if tab.empty:
        return []
    lines = ["### Speed, accuracy and memory at large n (nuclear norm, float64 and float32)", "",
             f"Median over {seeds_text(d[d.method != 'svdvals'])} probe seeds; value error against the exact float64 "
             "value (`svdvals`), gradient cosine against the exact U V^T (its autograd), coverage of value +- 1.96 "
             "standard errors, extra peak resident memory of one forward + backward above the memory at its start "
             "(sampled every 5 ms). Each dtype's rows set the method on the matrix in that dtype against `svdvals` "
             "in the same dtype. polar products: the median number of n x n x n products of the polar iteration "
             "(`steps=\"auto\"` takes 9 to 15 as the tail needs: cubic steps two, quintic steps three), each "
             "counted as n in products; extended: the median number of directions deflated beyond the sketch "
             "(`edlrr.Polar`'s `extend`). speed-up: svdvals' time in its own cell over the method's; paired "
             "speed-up: over svdvals timed again in the method's cell, just after its seeds (side by side in one "
             "process).", "",
             tab.to_markdown(index=False, floatfmt=".3g"), ""]
    case = tab.spectrum + " " + tab.n.astype(str) + np.where(tab["dtype"] == "float64", "", " f32")
    lines.append(plot.barplot(tab.assign(case=case), x="case", y="speed-up", hue="method", name="fast_speedup",
                              title="speed-up over svdvals (forward+backward)"))
    for dtype, g in tab.groupby("dtype", sort=False):
        _claims(g, d[dtype_of(d) == dtype], "" if dtype == "float64" else f", {dtype}", claims)
    return lines


def _claims(tab: pd.DataFrame, d: pd.DataFrame, suffix: str, claims: list) -> None:
    """The speed bars of one dtype's rows (``suffix`` names a dtype other than float64)."""
    pre = tab[tab.method == "fast"]
    # the bar is for the preset (its nuclear norm by the polar iteration) and its Lanczos estimator
    for method in ("fast", "fast-lanczos"):
        for n, need in ((2048, 5.0), (4096, 10.0)):
            g = tab[(tab.method == method) & (tab.n == n)]
            if g.empty:
                continue
            which = ("" if method == "fast" else f" ({method})") + (f" ({suffix[2:]})" if suffix else "")
            ratio = bar_ratio(g)
            passed = bool(((ratio >= need) & (g["value rel. err (median)"] <= 0.01)).all())
            claims.append({"claim": f"ours: nuclear norm within 1% at >= {need:g}x the speed of svdvals (n = {n})"
                                    f"{which}",
                           "paper": "(ours)",
                           "measured": "; ".join(f"{r.spectrum}: {x:.1f}x" + (
                               f" (paired; {r['speed-up']:.1f}x against the svdvals cell)"
                               if r["paired speed-up"] == x else "")
                               + f", {r['value rel. err (median)']:.2%}" for x, (_, r) in zip(ratio, g.iterrows()))
                           + machine_setting(d, method, n),
                           "verdict": "reproduced" if passed else "not reproduced"})
            mem_ok = bool((g["extra MiB fast"] <= g["extra MiB svdvals"] * (0.25 if n >= 4096 else 1.0)).all())
            claims.append({"claim": f"ours: extra peak memory <= {'1/4 of ' if n >= 4096 else ''}svdvals' "
                                    f"(n = {n}){which}",
                           "paper": "(ours)",
                           "measured": "; ".join(f"{r.spectrum}: {r['extra MiB fast']:.0f} vs "
                                                 f"{r['extra MiB svdvals']:.0f} MiB" for _, r in g.iterrows())
                           + trim_setting(d, method, n),
                           "verdict": "reproduced" if mem_ok else "not reproduced"})
    cov = pre["95% CI coverage"]
    if len(cov):
        claims.append({"claim": "ours: 95% interval (value +- 1.96 stderr) covers the truth in >= 90% of trials"
                                + suffix, "paper": "(ours)",
                       "measured": f"coverage {cov.min():.0%} ... {cov.max():.0%}",
                       "verdict": "reproduced" if bool((cov >= 0.9).all()) else "not reproduced"})
    cos = pre[pre.spectrum != "gaussian"]["grad cosine"]
    noisy = tab[(tab.method == "fast-stochastic") & (tab.spectrum != "gaussian")]["grad cosine"]
    if len(cos):
        claims.append({"claim": f"ours: gradient cosine >= 0.99 vs exact U V^T (low-rank + noise, power-law){suffix}",
                       "paper": "(ours)", "measured": f"{cos.min():.3f} ... {cos.max():.3f}" + (
                           f" (stochastic tail gradient: {noisy.min():.3f} ... {noisy.max():.3f})"
                           if len(noisy) else ""),
                       "verdict": "reproduced" if bool((cos >= 0.99).all()) else "not reproduced"})
    # the same bar for every variant, at the speed bar's budgets (>= 5x at 2048, >= 10x at 4096, value <= 1%)
    for method, g in tab[tab.spectrum != "gaussian"].groupby("method"):
        need = np.where(g.n >= 4096, 10.0, 5.0)
        aligned = bool((g["grad cosine"] >= 0.99).all())
        g = g.assign(ratio=bar_ratio(g))
        paired = bool(g["paired speed-up"].notna().all())
        in_budget = bool(((g["ratio"] >= need) & (g["value rel. err (median)"] <= 0.01)).all())
        claims.append({"claim": f"ours: gradient cosine >= 0.99 (low-rank + noise, power-law) within the speed "
                                f"bar's budgets ({method}{suffix})",
                       "paper": "(ours)",
                       "measured": f"cosine {g['grad cosine'].min():.3f} ... {g['grad cosine'].max():.3f} at "
                                   + "; ".join(f"{int(n)}: {gn['ratio'].min():.1f} ... {gn['ratio'].max():.1f}x"
                                               + (f" (paired; {gn['speed-up'].min():.1f} ... "
                                                  f"{gn['speed-up'].max():.1f}x against the svdvals cells)"
                                                  if paired else "")
                                               for n, gn in g.groupby("n"))
                                   + f", extra memory {g['extra MiB fast'].max():.0f} MiB (svdvals "
                                   + f"{g['extra MiB svdvals'].max():.0f})",
                       "verdict": "reproduced" if aligned and in_budget else
                                  ("cosine met, budget not" if aligned else "not reproduced")})
