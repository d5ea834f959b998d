"""Experiment ``ratings``: DLRL's Table III protocol (collaborative filtering, 80/20 split).

Default data: synthetic low-rank 1-5 ratings with the size and density of a DLRL Table I
dataset; ``--ratings FILE`` runs on a MovieLens-format file the user has (never shipped).
Metric: test RMSE, the root of the mean squared error on the held-out 20% (DLRL eq. 48; the
DLRL release prints the MSE under that name). Predictions are scored as returned and clipped
to the rating scale (both columns).
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import torch

from ..datasets import get_dataset
from ..datasets.ratings import ratings_rmse
from ..schema import Names, Table, dataset_rows, solver_overrides
from ..sweep import Cell
from ._common import record_metrics, solver_for

NAME = "ratings"
VERSION = 2

METHODS = {
    "DLRL": {"solver": "dlrl", "d": 20},
    "IRNN": {"solver": "irnn"},
    "SVT": {"solver": "svt"},
    "EDLRR nuclear": {"solver": "edlrr", "penalty": "nuclear"},
    "SVD-autograd nuclear": {"solver": "svd-autograd", "penalty": "nuclear"},
}

CONFIG_KEYS = Table({
    "reps": None,
    "methods": Names(METHODS),
    "synthetic": dataset_rows("synthetic_ratings", exclude=("seed",)),  # the seed is the repetition
    "ratings_file": None,  # set by --ratings
    "overrides": solver_overrides(sorted({m["solver"] for m in METHODS.values()})),
})
"""The keys of ``[ratings]`` (what :func:`cells` and :func:`report` read)."""


def cells(cfg: dict) -> list[Cell]:
    if cfg.get("ratings_file"):
        datasets = [{"name": "movielens", "path": cfg["ratings_file"]}]
    else:
        datasets = [{"name": "synthetic_ratings", **d} for d in cfg["synthetic"]]
    out = []
    for ds in datasets:
        for label in cfg["methods"]:
            params = {**METHODS[label], **cfg.get("overrides", {}).get(METHODS[label]["solver"], {})}
            for rep in range(cfg["reps"]):
                out.append(Cell(NAME, label, {**ds, "seed": rep}, params, rep=rep, version=VERSION))
    return out


def run_cell(cell: Cell, device: str = "cpu") -> dict:
    ds = dict(cell.dataset)
    data = get_dataset(ds.pop("name"), **ds)
    train = data.train
    observed = train.to_dense().to(device)
    mask = train.mask().to(device)
    result = solver_for(cell).complete(observed, mask)
    X = result.X.detach().cpu()
    lo, hi = float(data.ratings.values.min()), float(data.ratings.values.max())
    return {
        "rmse": ratings_rmse(X, data.test),
        "rmse_clipped": ratings_rmse(X.clamp(lo, hi), data.test),
        "train_rmse": ratings_rmse(X, train),
        "rmse_global_mean": ratings_rmse(torch.full(X.shape, float(train.values.mean()), dtype=torch.float64),
                                         data.test),
        "users": train.shape[0], "items": train.shape[1], "density": data.ratings.density,
        **record_metrics(result.record),
    }


def report(df: pd.DataFrame, out: Path, cfg: dict, plot) -> tuple[str, list]:
    ok = df[df.status == "ok"].copy()
    real = bool(cfg.get("ratings_file"))
    lines = ["## ratings: DLRL Table III protocol (80/20 split, test RMSE)", "",
             ("Data: the MovieLens-format file given with `--ratings`." if real else
              "Data: synthetic low-rank ratings (integers 1-5, missing at random) with the sizes and densities "
              "of DLRL Table I; the paper's numbers are on the real files and are comparable only with "
              "`--ratings`.")
             + f" {cfg['reps']} random 80/20 split(s) per method (smaller than the paper's 10 runs).", ""]
    claims = []
    if ok.empty:
        return "\n".join(lines + ["No finished cells.", ""]), claims
    key = "dataset_path" if real else "dataset_users"
    tab = ok.groupby([key, "method"]).agg(rmse=("rmse", "mean"), rmse_clipped=("rmse_clipped", "mean"),
                                          train_rmse=("train_rmse", "mean"),
                                          rmse_global_mean=("rmse_global_mean", "mean"),
                                          seconds=("seconds", "mean")).reset_index()
    lines += [tab.to_markdown(index=False, floatfmt=".4f"), "",
              "`rmse_global_mean` predicts the mean training rating everywhere: a method above it has overfitted "
              "the observed entries (compare `train_rmse`).", "",
              "DLRL Table III for context: MovieLens-100K DLRL 0.8892, IRNN 0.9387; MovieLens-1M DLRL 0.8315, "
              "IRNN 0.9304 (10 runs).", ""]
    lines.append(plot.barplot(ok, x="method", y="rmse_clipped", hue=None, name="ratings_rmse",
                              title="test RMSE (clipped to the rating scale)", ylabel="RMSE"))
    piv = tab.pivot(index=key, columns="method", values="rmse_clipped")
    if {"DLRL", "IRNN"} <= set(piv.columns):
        d = (piv["DLRL"] - piv["IRNN"]).dropna()
        claims.append({"claim": "DLRL Table III: DLRL has a lower RMSE than IRNN", "paper": "-0.05 ... -0.82",
                       "measured": f"{d.min():+.4f} ... {d.max():+.4f}",
                       "verdict": "reproduced" if bool((d < 0).all()) else "not reproduced"})
    return "\n".join(lines), claims
