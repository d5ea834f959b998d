"""edlrr_bench.plots: the summary behind the point figures (intervals, failed cells kept)."""
from __future__ import annotations

import math

import pandas as pd
import pytest

from edlrr_bench.plots import Plotter, point_summary

T_975_2 = 4.302652729749464


def _rows():
    ok = [{"mask": "text", "method": "A", "psnr": v, "status": "ok"} for v in (30.0, 31.0, 32.0)]
    bad = [{"mask": "text", "method": "A", "psnr": None, "status": "diverged"},
           {"mask": "text", "method": "B", "psnr": float("inf"), "status": "ok"},
           {"mask": "text", "method": "B", "psnr": 20.0, "status": "ok"}]
    return pd.DataFrame(ok + bad)


def test_summary_interval_and_failed_cells():
    """Mean 31 with the Student-t half-width t_{0.975,2} / sqrt(3) (a z or sd bar is narrower
    or wider); a diverged row and a non-finite value count as failed, never as values."""
    s = point_summary(_rows(), x="method", y="psnr", col="mask").set_index("method")
    half = T_975_2 / math.sqrt(3)
    assert s.loc["A", "mean"] == pytest.approx(31.0)
    assert (s.loc["A", "low"], s.loc["A", "high"]) == (pytest.approx(31 - half), pytest.approx(31 + half))
    assert (s.loc["A", "ok"], s.loc["A", "failed"]) == (3, 1)
    assert (s.loc["B", "ok"], s.loc["B", "failed"]) == (1, 1) and s.loc["B", "mean"] == 20.0
    assert math.isnan(s.loc["B", "low"])  # one value: no interval


def test_pointplot_writes_a_figure_with_failed_only_categories(tmp_path):
    """A category whose every cell failed still gets drawn (no exception, a file)."""
    df = pd.concat([_rows(), pd.DataFrame([{"mask": "block", "method": "C", "psnr": None, "status": "failed"}])])
    ref = pd.DataFrame([{"mask": "text", "method": "A", "value": 33.0}])
    md = Plotter(tmp_path / "figures", tmp_path).pointplot(df, x="method", y="psnr", col="mask", reference=ref,
                                                           name="p", title="t", col_order=["text", "block"])
    assert md == "![t](figures/p.png)\n" and (tmp_path / "figures" / "p.png").stat().st_size > 0
