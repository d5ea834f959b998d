"""Print the speed tables (markdown) from the speed rows of ``fast.csv`` files, float64 and float32 side by side.

    python scripts/speed_table.py results/fast-avx512bf16 results/fast-avx512bf16-2threads
    python scripts/speed_table.py --compact results      # the README's table

One row per folder, size, spectrum and method, and for each dtype: svdvals forward + backward
timed in the method's cell just after its seeds (paired), the method's median time, the paired
speed-up, the median value error, the gradient cosine and the extra peak memory of both (svdvals'
from its own cell of that dtype). A dtype whose cell is not in the table reads "not measured",
one whose cell failed "failed"; a method without any finished cell is left out.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

DTYPES = ("float64", "float32")
SHORT = {"float64": "f64", "float32": "f32"}
KEYS = ["dataset_n", "dataset_spectrum", "method"]


def speed_rows(folder: str) -> pd.DataFrame:
    """The speed rows of ``folder/fast.csv`` with a ``dtype`` column (float64 where the cell
    names none)."""
    rows = pd.read_csv(Path(folder) / "fast.csv")
    rows = rows[rows.param_part == "speed"].copy()
    rows["dtype"] = rows.param_dtype.fillna("float64") if "param_dtype" in rows else "float64"
    return rows


def _number(value, digits: int) -> str:
    return "nan" if pd.isna(value) else f"{round(float(value), digits):g}"


def _side_by_side(rows: pd.DataFrame, measures) -> pd.DataFrame:
    """One row per size, spectrum and method with a finished cell; ``measures(row, svdvals MiB)``
    gives the columns of one dtype's cell, written twice (float64, float32)."""
    ok = rows[rows.status == "ok"]
    mem = ok[ok.method == "svdvals"].set_index(["dataset_n", "dataset_spectrum", "dtype"]).extra_peak_mib
    runs = rows[rows.method != "svdvals"]
    finished = set(map(tuple, runs[runs.status == "ok"][KEYS].itertuples(index=False)))
    out = []
    for key, g in runs.groupby(KEYS, sort=True):
        if key not in finished:
            continue
        rec = {"threads": int(g[g.status == "ok"].threads.iloc[0]), "n": int(key[0]), "spectrum": key[1],
               "method": key[2]}
        for dtype in DTYPES:
            cell = g[g.dtype == dtype]
            done = cell[cell.status == "ok"]
            if len(done):
                r = done.iloc[0]
                values = measures(r, mem.get((r.dataset_n, r.dataset_spectrum, dtype), float("nan")))
            else:
                names = measures(None, None)
                values = dict.fromkeys(names, "failed" if len(cell) else "not measured")
            rec.update({f"{name} {SHORT[dtype]}": v for name, v in values.items()})
        out.append(rec)
    return pd.DataFrame(out)


def _full_measures(r, svdvals_mib) -> dict:
    names = ["svdvals s", "method s", "paired speed-up", "value rel. err", "grad cosine", "MiB svdvals",
             "MiB method"]
    if r is None:
        return dict.fromkeys(names)
    return dict(zip(names, [_number(r.svdvals_paired_seconds, 2), _number(r.seconds_median, 3),
                            _number(r.svdvals_paired_seconds / r.seconds_median, 1), f"{r.value_relerr_median:.1e}",
                            _number(r.grad_cosine_median, 3), _number(svdvals_mib, 0), _number(r.extra_peak_mib, 0)]))


def _compact_measures(r, svdvals_mib) -> dict:
    names = ["svdvals s", "auto s", "speed-up", "rel. err"]
    if r is None:
        return dict.fromkeys(names)
    return dict(zip(names, [_number(r.svdvals_paired_seconds, 2), _number(r.seconds_median, 2),
                            _number(r.svdvals_paired_seconds / r.seconds_median, 1), f"{r.value_relerr_median:.1e}"]))


def speed_table(folders: list[str]) -> str:
    """Every method's speed rows of the folders, float64 and float32 side by side."""
    frames = []
    for folder in folders:
        d = _side_by_side(speed_rows(folder), _full_measures)
        d.insert(0, "folder", Path(folder).name)
        frames.append(d)
    return pd.concat(frames).to_markdown(index=False)


def compact_table(folder: str) -> str:
    """The README's table: the ``fast`` (``method="auto"``) rows of one folder, float64 and float32
    side by side: svdvals' and auto's seconds (forward + backward), the paired speed-up and the
    value's relative error (the gradient cosine and the memory are in :func:`speed_table`)."""
    rows = speed_rows(folder)
    rows = rows[rows.method.isin(["svdvals", "fast"])]
    return _side_by_side(rows, _compact_measures).drop(columns=["threads", "method"]).to_markdown(index=False)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    if sys.argv[1] == "--compact":
        print(compact_table(sys.argv[2]))
    else:
        print(speed_table(sys.argv[1:]))
