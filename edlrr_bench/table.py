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
                      "python_version", "threads", "device", "cpu", "cpu_model", "cpu_count", "platform", "hostname",
                      "malloc_trim_threshold", "polar_dtype_auto"]
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


def _plain(value):
    """A value read back from the CSV as a plain Python value (None where the cell was empty)."""
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return None
    return value.item() if hasattr(value, "item") else value


def row_to_record(row: dict, cell, source: str) -> dict:
    """The inverse of :func:`record_to_row` for one row of a long table: the cell record the row
    was made from, with ``cell`` (a :class:`~edlrr_bench.sweep.Cell` whose key is the row's) as
    its identity. Metrics left empty in the row are left out; lists and dicts, which the table
    never held, and the traceback of a failed cell are not recovered. ``source`` names the CSV
    (kept as ``restored_from``)."""
    row = {k: _plain(v) for k, v in row.items()}
    skip = set(BASE_COLUMNS) | set(RUN_COLUMNS) | set(PROVENANCE_COLUMNS)
    metrics = {k: v for k, v in row.items()
               if k not in skip and not k.startswith(("dataset_", "param_")) and v is not None}
    return {
        "cell": cell.identity(), "key": row["key"], "seed": row["seed"], "status": row["status"],
        "error": row["error"], "metrics": metrics, **{k: row.get(k) for k in RUN_COLUMNS},
        "provenance": {k: row.get(k) for k in PROVENANCE_COLUMNS}, "restored_from": source,
    }


def restore_store(root: Path, experiment: str, cells, csv_path: Path | None = None) -> dict:
    """Rebuild the cell records of ``cells`` (this configuration and code version) from the
    experiment's long table ``<root>/<experiment>.csv``, for cells not yet stored.

    The records stay out of git (``results/**/cells/``), the CSVs are committed: on a fresh
    clone this puts back what the committed table holds, so that a re-run computes only the
    cells whose key is not in it (a changed configuration or code version) and ``report``
    rebuilds from the same rows. A row is matched by its ``key``, the hash of the whole cell
    identity including the version, so rows of older versions or other configurations are left
    out, never relabelled. Returns the counts ``restored``, ``already`` (stored before),
    ``stale`` (rows of no cell of ``cells``) and ``missing`` (cells with no row: they will run).
    """
    store = CellStore(root, experiment)
    path = Path(csv_path) if csv_path is not None else Path(root) / f"{experiment}.csv"
    if not path.is_file():
        raise FileNotFoundError(f"no table to restore {experiment!r} from: {path} does not exist")
    # nullable dtypes keep integer columns with empty cells as integers (3, not 3.0)
    df = pd.read_csv(path, dtype_backend="numpy_nullable", low_memory=False)
    by_key = {c.key: c for c in cells}
    counts = {"restored": 0, "already": 0, "stale": 0, "missing": 0}
    seen = set()
    for row in df.to_dict("records"):
        cell = by_key.get(row["key"])
        if cell is None:
            counts["stale"] += 1
            continue
        if int(row["seed"]) != cell.seed:
            raise ValueError(f"{path}: the row of cell {cell.key} records seed {row['seed']}, "
                             f"but that cell's seed is {cell.seed}: the table does not come from this code")
        seen.add(cell.key)
        if store.get(cell) is not None:
            counts["already"] += 1
            continue
        store.put(row_to_record(row, cell, str(path.name)))
        counts["restored"] += 1
    counts["missing"] = len(set(by_key) - seen)
    return counts
