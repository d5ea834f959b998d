"""Experiment ``ratings``: DLRL's Table III protocol (collaborative filtering, random 80/20 splits).

Data: ``--ratings FILE`` runs on a MovieLens-format file the user has (never shipped; DLRL
Table III uses MovieLens-100K and -1M); without it, a synthetic stand-in
(:class:`~edlrr_bench.datasets.ratings.SyntheticRatingsConfig`: integer 1-5 ratings of a noisy
low-rank matrix, missing at random), labelled ``synthetic`` in the ``data`` column. Each
repetition ``rep`` is one random 80/20 split of the ratings (split seed ``rep``), the same split
for every method, so methods can be compared split by split (DLRL Sec. IV-A: 10 runs).

Methods: the two rating baselines of :mod:`edlrr_bench.baselines.bias` (the global mean and the
regularised user + item bias model), DLRL, IRNN, SVT, and, on request, the EDLRR and
SVD-autograd Adam loops. Metric: the true test RMSE, the root of the mean squared error on the
held-out 20% (DLRL eq. 48; the DLRL release prints the MSE under that name), of the prediction as
returned (``rmse``) and clipped to the rating scale (``rmse_clipped``).

The report reads the long table only; a method is ranked against the others only if its mean
test RMSE is below both baselines' (a method that loses to the global mean or to the bias model
has learnt nothing the rating averages do not hold).
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from .. import papers
from ..claims import mean_ci
from ..datasets import get_dataset
from ..datasets.ratings import ratings_rmse
from ..schema import Names, Table, dataset_rows, solver_overrides
from ..sweep import Cell
from ._common import record_metrics, solver_for

NAME = "ratings"
VERSION = 3

METHODS = {
    "global mean": {"solver": "global-mean"},
    "user+item bias": {"solver": "user-item-bias"},
    "DLRL": {"solver": "dlrl", "d": 20},
    "IRNN": {"solver": "irnn"},
    "SVT": {"solver": "svt"},
    "EDLRR nuclear": {"solver": "edlrr", "penalty": "nuclear"},
    "SVD-autograd nuclear": {"solver": "svd-autograd", "penalty": "nuclear"},
}

BASELINES = ("global mean", "user+item bias")
"""The methods every other method must beat before it is ranked."""

CONFIG_KEYS = Table({
    "reps": None,
    "methods": Names(METHODS),
    "synthetic": dataset_rows("synthetic_ratings", exclude=("seed",)),  # the seed is the split
    "ratings_file": None,  # set by --ratings
    "overrides": solver_overrides(sorted({m["solver"] for m in METHODS.values()})),
})
"""The keys of ``[ratings]`` (what :func:`cells` and :func:`report` read)."""


def cells(cfg: dict) -> list[Cell]:
    """One cell per (data set, method, split): ``reps`` splits, split ``rep`` seeded by ``rep``."""
    if cfg.get("ratings_file"):
        datasets = [{"name": "movielens", "path": cfg["ratings_file"]}]
    else:
        datasets = [{"name": "synthetic_ratings", **d} for d in cfg["synthetic"]]
    given = cfg.get("overrides", {})
    overrides = {m["solver"]: given.get(m["solver"], {}) for m in METHODS.values()}  # a method may be added later
    out = []
    for ds in datasets:
        for label in cfg["methods"]:
            params = {**METHODS[label], **overrides[METHODS[label]["solver"]]}
            for rep in range(cfg["reps"]):
                out.append(Cell(NAME, label, {**ds, "seed": rep}, params, rep=rep, version=VERSION))
    return out


def run_cell(cell: Cell, device: str = "cpu") -> dict:
    """Fit on the split's 80% (a dense float64 matrix and its mask) and score on its 20%."""
    ds = dict(cell.dataset)
    name = ds.pop("name")
    data = get_dataset(name, **ds)
    train = data.train
    observed = train.to_dense().to(device)
    mask = train.mask().to(device)
    result = solver_for(cell).complete(observed, mask)
    X = result.X.detach().cpu()
    lo, hi = float(data.ratings.values.min()), float(data.ratings.values.max())
    return {
        "data": "synthetic" if name == "synthetic_ratings" else "real",
        "rmse": ratings_rmse(X, data.test),
        "rmse_clipped": ratings_rmse(X.clamp(lo, hi), data.test),
        "train_rmse": ratings_rmse(X, train),
        "users": train.shape[0], "items": train.shape[1], "ratings": len(data.ratings),
        "density": data.ratings.density,
        **record_metrics(result.record),
    }


# ------------------------------------------------------------------------------------------- report
def _column(df: pd.DataFrame, name: str) -> pd.Series:
    return df[name] if name in df else pd.Series(np.nan, index=df.index)


def _text(df: pd.DataFrame, name: str) -> pd.Series:
    """A column as text, "" where empty."""
    return _column(df, name).map(lambda v: "" if pd.isna(v) else str(v)).astype(object)


def is_real(df: pd.DataFrame) -> pd.Series:
    """Rows run on a ratings file (``dataset_name`` ``movielens``, set for every cell, diverged
    ones included; the ``data`` metric says ``real`` or ``synthetic`` for the finished ones)."""
    return _text(df, "dataset_name") == "movielens"


def data_sets(df: pd.DataFrame) -> pd.Series:
    """Each row's data set as text: ``"<file name> (users x items, N ratings)"`` for a file,
    ``"synthetic (users x items, N ratings)"`` for the stand-in; the sizes come from the finished
    cells of the same data set (a diverged cell has no metrics)."""
    real = is_real(df)
    cfg_cols = ["dataset_users", "dataset_items", "dataset_rank", "dataset_density", "dataset_noise"]
    synth_key = _text(df, cfg_cols[0])
    for c in cfg_cols[1:]:
        synth_key = synth_key + "|" + _text(df, c)
    key = pd.Series(np.where(real, "file|" + _text(df, "dataset_path"), "synthetic|" + synth_key), index=df.index)
    sizes = pd.DataFrame({"key": key, "users": pd.to_numeric(_column(df, "users"), errors="coerce"),
                          "items": pd.to_numeric(_column(df, "items"), errors="coerce"),
                          "ratings": pd.to_numeric(_column(df, "ratings"), errors="coerce")})
    first = sizes.groupby("key").first()  # first non-null value per column
    labels = {}
    for k, (users, items, count) in zip(first.index, first[["users", "items", "ratings"]].to_numpy(float)):
        shape = f"{int(users)} x {int(items)}" if np.isfinite(users) and np.isfinite(items) else "size unknown"
        shape += f", {int(count)} ratings" if np.isfinite(count) else ""
        kind, _, rest = k.partition("|")
        labels[k] = f"{Path(rest).name} ({shape})" if kind == "file" else f"synthetic ({shape})"
    return key.map(labels)


def summary(df: pd.DataFrame, metric: str = "rmse") -> pd.DataFrame:
    """One row per (data set, method) of the long table: ``n`` cells (splits), ``ok``,
    ``diverged``, ``failed`` (nothing dropped: ok + diverged + failed = n), and over the ok cells
    the ``mean``, ``sd`` and 95% Student-t interval ``low``, ``high`` of ``metric``, the mean
    clipped RMSE, train RMSE and seconds; rows in the order of :data:`METHODS` (baselines first)."""
    d = df.assign(data_set=data_sets(df)).reset_index(drop=True)
    value = pd.to_numeric(d[metric], errors="coerce") if metric in d else pd.Series(np.nan, index=d.index)
    good = (d["status"] == "ok") & np.isfinite(value.astype(float))
    rows = []
    for (ds, method), g in d.groupby(["data_set", "method"], sort=False):
        v = value[g.index][good[g.index]].to_numpy(float)
        mean, low, high = mean_ci(v)
        diverged = int((g["status"] == "diverged").sum())

        def avg(col):
            x = pd.to_numeric(g.loc[good[g.index], col], errors="coerce") if col in g else pd.Series(dtype=float)
            return float(x.mean()) if len(x) else math.nan

        rows.append({"data_set": ds, "method": method, "n": len(g), "ok": int(good[g.index].sum()),
                     "diverged": diverged, "failed": len(g) - int(good[g.index].sum()) - diverged,
                     "mean": mean, "sd": float(np.std(v, ddof=1)) if v.size > 1 else math.nan, "low": low,
                     "high": high, "clipped": avg("rmse_clipped"), "train": avg("train_rmse"),
                     "seconds": avg("seconds")})
    order = {m: i for i, m in enumerate(METHODS)}
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    out["_order"] = out.method.map(order).fillna(len(order))
    return out.sort_values(["data_set", "_order"], kind="stable").drop(columns="_order").reset_index(drop=True)


def ranking(tab: pd.DataFrame) -> dict[str, dict]:
    """Per data set of :func:`summary`: ``ranked`` (methods ok on every split whose mean is below
    both baselines' means, best first), ``losers`` ({method: (baseline, its mean)}: the first
    baseline the method does not beat) and ``unranked`` ({method: why}: a split diverged or failed,
    or a baseline is missing)."""
    out = {}
    for ds, g in tab.groupby("data_set", sort=False):
        means = dict(zip(g.method, g["mean"]))
        base = {b: means.get(b, math.nan) for b in BASELINES}
        ranked, losers, unranked = [], {}, {}
        for r in g.itertuples():
            if r.method in BASELINES:
                continue
            if r.ok < r.n:
                unranked[r.method] = f"{r.n - r.ok} of {r.n} splits diverged or failed"
                continue
            if not all(np.isfinite(v) for v in base.values()):
                unranked[r.method] = "a baseline did not run"
                continue
            lost = [b for b in BASELINES if r.mean >= base[b]]
            if lost:
                losers[r.method] = (lost[0], base[lost[0]])
            else:
                ranked.append((r.mean, r.method))
        out[ds] = {"ranked": [m for _, m in sorted(ranked)], "losers": losers, "unranked": unranked,
                   "baselines": base}
    return out


def paired_wins(df: pd.DataFrame, method: str) -> tuple[int, int]:
    """(k, n): on k of the n splits (``dataset_seed``) where ``method`` and both baselines are ok,
    the method's RMSE is below both baselines' RMSE on the same split."""
    ok = df[(df.status == "ok") & np.isfinite(pd.to_numeric(df["rmse"], errors="coerce").astype(float))]
    piv = ok.pivot_table(index="dataset_seed", columns="method", values="rmse", aggfunc="mean")
    cols = [method, *BASELINES]
    if not set(cols) <= set(piv.columns):
        return 0, 0
    piv = piv[cols].dropna()
    below = (piv[method].to_numpy()[:, None] < piv[list(BASELINES)].to_numpy()).all(axis=1)
    return int(below.sum()), len(piv)


def _interval(r) -> str:
    return f"[{r.low:.4f}, {r.high:.4f}]" if np.isfinite(r.low) else "-"


def _status(r) -> str:
    parts = [f"{r.ok}/{r.n} ok"]
    if r.diverged:
        parts.append(f"{r.diverged} diverged")
    if r.failed:
        parts.append(f"{r.failed} failed")
    return ", ".join(parts)


def _paper_text() -> str:
    sets = {"movielens-100k": "MovieLens-100K", "movielens-1m": "MovieLens-1M"}
    return "; ".join(f"{label} " + ", ".join(f"{m} {v:.4f}" for m, v in papers.DLRL_TABLE3[key].items())
                     for key, label in sets.items())


def report(df: pd.DataFrame, out: Path, cfg: dict, plot) -> tuple[str, list]:
    """The section of ``REPORT.md``, computed from the long table ``df`` alone (``cfg`` unused)."""
    lines = ["## ratings: DLRL Table III protocol (random 80/20 splits, true test RMSE)", ""]
    if df.empty:
        return "\n".join(lines + ["No cells.", ""]), []
    df = df.reset_index(drop=True)
    tab = summary(df)
    ds_kind = data_sets(df)
    synthetic = sorted(set(ds_kind[~is_real(df)]))
    real = sorted(set(ds_kind[is_real(df)]))
    if real:
        lines.append("Data: " + "; ".join(real) + " (the file given with `--ratings`).")
    if synthetic:
        full = (943, 1682)
        text = ("Data: **synthetic** stand-in " + "; ".join(synthetic) + ": integer 1-5 ratings of a noisy low-rank "
                "matrix, missing at random, not MovieLens; its numbers are not comparable with the paper's.")
        users = pd.to_numeric(_column(df, "users"), errors="coerce")
        items = pd.to_numeric(_column(df, "items"), errors="coerce")
        synth = ~is_real(df)
        if ((users[synth] < full[0]) | (items[synth] < full[1])).any():
            text += " Smaller than MovieLens-100K's 943 x 1682 (a CPU budget)."
        lines.append(text)
    splits = int(pd.to_numeric(df.get("dataset_seed"), errors="coerce").nunique()) if "dataset_seed" in df else 0
    lines += [f"{splits} random 80/20 split(s) per data set (seeds 0..{max(splits - 1, 0)}), the same for every "
              "method; the paper: 10 runs.", ""]
    show = tab.assign(status=[_status(r) for r in tab.itertuples()],
                      rmse=[f"{r.mean:.4f} ± {r.sd:.4f}" if np.isfinite(r.sd) else
                            (f"{r.mean:.4f}" if np.isfinite(r.mean) else "-") for r in tab.itertuples()],
                      interval=[_interval(r) for r in tab.itertuples()])
    show = show.rename(columns={"data_set": "data", "rmse": "test RMSE (mean ± sd)", "interval": "95% interval",
                                "clipped": "clipped", "train": "train RMSE", "seconds": "s"})
    lines += [show[["data", "method", "n", "status", "test RMSE (mean ± sd)", "95% interval", "clipped",
                    "train RMSE", "s"]].to_markdown(index=False, floatfmt=".4f"), "",
              "n: splits; test RMSE: the true root mean squared error on the held-out ratings of the prediction as "
              "returned, over the ok splits; clipped: the same after clipping to the rating scale; diverged or failed "
              "splits are counted, not averaged.", ""]
    for ds, rk in ranking(tab).items():
        base = ", ".join(f"{b} {v:.4f}" for b, v in rk["baselines"].items() if np.isfinite(v))
        lines.append(f"**{ds}** (baselines: {base or 'not run'}):")
        if rk["ranked"]:
            means = dict(zip(tab[tab.data_set == ds].method, tab[tab.data_set == ds]["mean"]))
            lines.append("- ranked (mean below both baselines'), best first: "
                         + " < ".join(f"{m} {means[m]:.4f}" for m in rk["ranked"]) + "; "
                         + "; ".join(f"{m} is below both on {k} of {n} splits" for m in rk["ranked"]
                                     for k, n in [paired_wins(df[ds_kind == ds], m)]) + ".")
        else:
            lines.append("- no method is below both baselines: none is ranked.")
        for m, (b, v) in rk["losers"].items():
            mean = float(tab[(tab.data_set == ds) & (tab.method == m)]["mean"].iloc[0])
            lines.append(f"- not ranked: {m} ({mean:.4f}) does not beat the {b} ({v:.4f}).")
        for m, why in rk["unranked"].items():
            lines.append(f"- not ranked: {m} ({why}).")
        lines.append("")
    lines += [f"DLRL Table III (the paper's RMSE, 10 runs, on the real files; `edlrr_bench.papers`): {_paper_text()}. "
              f"The DLRL release on MovieLens-100K (one 80/20 split, its seed): true test RMSE "
              f"{papers.DLRL_RELEASE_ML100K_RMSE:.4f} (it prints the MSE, {papers.DLRL_RELEASE_ML100K_MSE:.4f}, as "
              "\"RMSE\").", ""]
    reference = None
    if real and any("943 x 1682" in s for s in real):
        ref_ds = next(s for s in real if "943 x 1682" in s)
        reference = pd.DataFrame([{"data_set": ref_ds, "method": m, "value": v}
                                  for m, v in papers.DLRL_TABLE3["movielens-100k"].items()])
    lines.append(plot.pointplot(df.assign(data_set=ds_kind), x="method", y="rmse", col="data_set",
                                reference=reference, reference_label="DLRL Table III", name="ratings_rmse",
                                title="test RMSE per method", ylabel="RMSE",
                                order=[m for m in METHODS if m in set(df.method)]))
    claims = []
    for ds, rk in ranking(tab).items():
        g = tab[tab.data_set == ds].set_index("method")
        if {"DLRL", "IRNN"} <= set(g.index) and np.isfinite(g.loc["DLRL", "mean"]):
            ok = "DLRL" in rk["ranked"] and (not np.isfinite(g.loc["IRNN", "mean"])
                                             or g.loc["DLRL", "mean"] < g.loc["IRNN", "mean"])
            claims.append({"claim": f"DLRL Table III on {ds}: DLRL has a lower RMSE than IRNN and both baselines",
                           "paper": "MovieLens-100K: " + ", ".join(
                               f"{m} {v:.4f}" for m, v in papers.DLRL_TABLE3["movielens-100k"].items()),
                           "measured": f"DLRL {g.loc['DLRL', 'mean']:.4f}, IRNN {g.loc['IRNN', 'mean']:.4f}, "
                                       + ", ".join(f"{b} {v:.4f}" for b, v in rk["baselines"].items()),
                           "verdict": "reproduced" if ok else "not reproduced"})
    return "\n".join(lines), claims
