"""Every number in a committed REPORT.md comes from a table.

A decimal number in the report's prose (not in its own Markdown tables) must be given by a
table: a table of the report, a cell of one of the folder's CSVs (at the precision printed),
a number in ``claims.csv`` (its reasons included), a value of the resolved configuration, or a
published number of :mod:`edlrr_bench.papers`. A number typed into the report's code, or a
statistic computed only for a sentence, fails."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from edlrr_bench import papers

ROOT = Path(__file__).resolve().parent.parent
REPORTS = sorted(p for p in (ROOT / "results").glob("**/REPORT.md") if "scratch" not in p.parts)
NUMBER = re.compile(r"(?<![\w.])[-+]?\d+\.\d+(?:e[-+]?\d+)?")


def _numbers(text: str) -> set[str]:
    return {m.group().lstrip("+-") for m in NUMBER.finditer(text)}


def _walk(obj):
    if isinstance(obj, dict):
        for v in obj.values():
            yield from _walk(v)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from _walk(v)
    elif isinstance(obj, (int, float)) and not isinstance(obj, bool):
        yield float(obj)


def _given(folder: Path, report: str) -> tuple[set[str], np.ndarray]:
    """The numbers as printed in the report's tables and claims.csv, and every numeric value of
    the folder's CSVs, its configuration and papers.py."""
    texts = [line for line in report.splitlines() if line.startswith("|")]
    values = list(_walk({k: v for k, v in vars(papers).items() if k.isupper()}))
    config = folder / "config.resolved.toml"
    if config.is_file():
        values += list(_walk(tomllib.loads(config.read_text())))
    for csv in folder.glob("*.csv"):
        df = pd.read_csv(csv, low_memory=False)
        if csv.name == "claims.csv":
            texts += [str(v) for v in df.to_numpy().ravel()]
        values += list(pd.to_numeric(df.select_dtypes("number").to_numpy().ravel(), errors="coerce"))
    values = np.asarray([v for v in values if np.isfinite(v)], dtype=float)
    return _numbers("\n".join(texts)), np.unique(np.abs(values))


def _printed_from(value: str, values: np.ndarray) -> bool:
    """Whether a value of ``values`` prints as ``value`` at its precision."""
    x = float(value)
    decimals = len(value.split(".")[1].split("e")[0]) if "." in value else 0
    if "e" in value:
        return bool(np.any(np.isclose(values, x, rtol=10.0 ** -decimals)))
    return bool(np.any(np.abs(values - x) <= 0.5 * 10.0 ** -decimals * (1 + 1e-9)))


@pytest.mark.parametrize("path", REPORTS, ids=[str(p.relative_to(ROOT)) for p in REPORTS])
def test_prose_numbers_come_from_a_table(path):
    report = path.read_text()
    table_numbers, values = _given(path.parent, report)
    missing = []
    for line in report.splitlines():
        if line.startswith("|") or line.startswith("!["):
            continue
        for value in _numbers(line):
            if value not in table_numbers and not _printed_from(value, values):
                missing.append(f"{value}: {line[:120]}")
    assert not missing, f"numbers no table gives in {path.relative_to(ROOT)}:\n" + "\n".join(missing[:25])


def test_the_check_catches_a_typed_in_number(tmp_path):
    (tmp_path / "t.csv").write_text("a,b\n1.234,5\n")
    report = "| a |\n|---|\n| 2.50 |\nWe measured 1.23 and 2.50 dB, and 7.77 dB.\n"
    table_numbers, values = _given(tmp_path, report)
    found = [v for v in _numbers(report.splitlines()[-1]) if v not in table_numbers
             and not _printed_from(v, values)]
    assert found == ["7.77"]
