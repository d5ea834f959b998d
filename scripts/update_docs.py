"""Regenerate the generated blocks of README.md and docs/*.md from the code and results/.

    python scripts/update_docs.py           # rewrite the blocks
    python scripts/update_docs.py --check   # exit 1 if a block is out of date

Each block sits between ``<!-- NAME:begin -->`` and ``<!-- NAME:end -->``; tests/test_docs.py
runs the check.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from speed_table import compact_table, speed_table  # noqa: E402

VERDICTS = ["reproduced", "partly", "refuted", "not-tested"]


def verdict_summary(claims_csv: Path) -> str:
    """Counts of each verdict per paper and source, from ``results/claims.csv``."""
    if not claims_csv.is_file():
        return ("No claims table yet: `edlrr-bench run --preset full --out results` writes "
                "`results/claims.csv`.")
    df = pd.read_csv(claims_csv)
    table = (df.groupby(["paper", "source", "verdict"]).size().unstack("verdict", fill_value=0)
             .reindex(columns=VERDICTS, fill_value=0).reset_index())
    table["claims"] = table[VERDICTS].sum(axis=1)
    return table.to_markdown(index=False)


def blocks() -> dict[tuple[str, str], str]:
    """{(file relative to the root, block name): its text}."""
    import edlrr

    options = "\n".join(f"- {line}" if not line.startswith(" ") else line
                        for line in edlrr.options.describe_options(width=110).splitlines())
    return {
        ("README.md", "verdicts"): verdict_summary(ROOT / "results" / "claims.csv"),
        ("README.md", "performance"): compact_table(str(ROOT / "results" / "fast-dtypes")),
        ("docs/estimators.md", "options"): options,
        ("docs/performance.md", "speed"): speed_table([str(ROOT / "results"),
                                                      str(ROOT / "results" / "fast-dtypes")]),
    }


def _span(text: str, name: str) -> tuple[int, int]:
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    return text.index(begin) + len(begin), text.index(end)


def current(file: str, name: str) -> str:
    text = (ROOT / file).read_text()
    a, b = _span(text, name)
    return text[a:b].strip()


def main(argv: list[str]) -> int:
    stale = []
    for (file, name), block in blocks().items():
        if current(file, name) == block.strip():
            continue
        stale.append(f"{file}:{name}")
        if "--check" not in argv:
            path = ROOT / file
            text = path.read_text()
            a, b = _span(text, name)
            path.write_text(text[:a] + "\n" + block.strip() + "\n" + text[b:])
    if stale:
        print(("out of date: " if "--check" in argv else "rewrote: ") + ", ".join(stale))
    return 1 if stale and "--check" in argv else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
