"""The long results table: one row per cell, built only from the stored cell records.

Columns: ``experiment, method, rep, seed, key, status, error``, the dataset's config as
``dataset_<name>``, the parameters as ``param_<name>``, the metrics under their own names,
``wall_time_s, peak_mem_mib``, and the provenance columns (:mod:`edlrr_bench.provenance`).
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from .sweep import CellStore, atomic_write_text

BASE_COLUMNS = ["experiment", "method", "rep", "seed", "key", "status", "error"]
PROVENANCE_COLUMNS = ["edlrr_version", "git_commit", "torch_version", "numpy_version", "scipy_version",
                      "python_version", "threads", "device", "cpu", "cpu_count", "platform", "hostname",
                      "malloc_trim_threshold"]
RUN_COLUMNS = ["wall_time_s", "peak_mem_mib", "started_at"]


def record_to_row(rec: dict) -> dict:
    cell = rec["cell"]
    row = {
        "experiment": cell["experiment"], "method": cell["method"], "rep": cell["rep"],
        "seed": rec["seed"], "key": rec["key"], "status": rec["status"], "error": rec["error"],
    }
    row.update({f"dataset_{k}": v for k, v in cell["dataset"].items()})
    row.update({f"param_{k}": v for k, v in cell["params"].items()})
    row.update({k: v for k, v in rec["metrics"].items() if k != "traceback" and not isinstance(v, (list, dict))})
    row.update({k: rec.get(k) for k in RUN_COLUMNS})
    row.update({k: rec["provenance"].get(k) for k in PROVENANCE_COLUMNS})
    return row


def load_table(root: Path, experiment: str, keys=None) -> pd.DataFrame:
    """The experiment's stored cells as one long table (a row per cell). ``keys``: keep only the
    cells with these keys (those of the current configuration and code version); others stay on
    disk (older versions, other presets) but are left out."""
    records = CellStore(root, experiment).records()
    if keys is not None:
        keys = set(keys)
        records = [r for r in records if r["key"] in keys]
    rows = [record_to_row(r) for r in records]
    if not rows:
        return pd.DataFrame(columns=BASE_COLUMNS)
    df = pd.DataFrame(rows)
    return df.sort_values(["method", "key"]).reset_index(drop=True)


def write_table(df: pd.DataFrame, path: Path) -> Path:
    atomic_write_text(Path(path), df.to_csv(index=False))
    return Path(path)
