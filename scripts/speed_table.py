"""Print the README's compact speed table (markdown) from the speed rows of ``fast.csv`` files.

    python scripts/speed_table.py results/fast-avx512bf16 results/fast-avx512bf16-2threads
    python scripts/speed_table.py --compact results      # the README's table

One row per folder, size, spectrum and method: torch threads, svdvals forward + backward timed
in the method's cell just after its seeds (paired), the method's median time, the paired
speed-up, the median value error, the gradient cosine and the extra peak memory of both.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd


def speed_table(folders: list[str]) -> str:
    frames = []
    for folder in folders:
        rows = pd.read_csv(Path(folder) / "fast.csv")
        rows = rows[rows.param_part == "speed"]
        d = rows[(rows.method != "svdvals") & (rows.status == "ok")].copy()
        exact = rows[rows.method == "svdvals"]
        mem = exact.set_index(["dataset_n", "dataset_spectrum"]).extra_peak_mib
        d["folder"] = Path(folder).name
        d["svdvals MiB"] = [mem.get((n, s)) for n, s in zip(d.dataset_n, d.dataset_spectrum)]
        frames.append(d)
    d = pd.concat(frames).sort_values(["folder", "dataset_n", "dataset_spectrum", "method"])
    out = pd.DataFrame({
        "folder": d.folder, "threads": d.threads, "n": d.dataset_n, "spectrum": d.dataset_spectrum,
        "method": d.method, "svdvals s": d.svdvals_paired_seconds.round(2), "method s": d.seconds_median.round(3),
        "paired speed-up": (d.svdvals_paired_seconds / d.seconds_median).round(1),
        "value rel. err": d.value_relerr_median.map(lambda v: f"{v:.1e}"),
        "grad cosine": d.grad_cosine_median.round(3),
        "MiB svdvals": d["svdvals MiB"].round(0), "MiB method": d.extra_peak_mib.round(0)})
    return out.to_markdown(index=False)


def compact_table(folder: str) -> str:
    """The README's table: the ``fast`` (auto) rows of :func:`speed_table` for one folder."""
    rows = pd.read_csv(Path(folder) / "fast.csv")
    d = rows[(rows.param_part == "speed") & (rows.method == "fast") & (rows.status == "ok")]
    d = d.sort_values(["dataset_n", "dataset_spectrum"])
    exact = rows[(rows.param_part == "speed") & (rows.method == "svdvals")]
    mem = exact.set_index(["dataset_n", "dataset_spectrum"]).extra_peak_mib
    out = pd.DataFrame({
        "n": d.dataset_n.astype(int), "spectrum": d.dataset_spectrum,
        "svdvals s": d.svdvals_paired_seconds.round(2), "auto s": d.seconds_median.round(2),
        "speed-up": (d.svdvals_paired_seconds / d.seconds_median).round(1),
        "value rel. err": d.value_relerr_median.map(lambda v: f"{v:.1e}"),
        "grad cosine": d.grad_cosine_median.round(3),
        "MiB svdvals": [round(mem.get((n, s), float("nan"))) for n, s in zip(d.dataset_n, d.dataset_spectrum)],
        "MiB auto": d.extra_peak_mib.round(0).astype(int)})
    return out.to_markdown(index=False)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    if sys.argv[1] == "--compact":
        print(compact_table(sys.argv[2]))
    else:
        print(speed_table(sys.argv[1:]))
