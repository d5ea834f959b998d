"""The docs pages: their code examples run as written, and their generated parts are current."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

import edlrr

DOCS = Path(__file__).resolve().parents[1] / "docs"
PAGES = sorted(DOCS.glob("*.md"))


def _python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_code_examples_run(page):
    for i, code in enumerate(_python_blocks(page.read_text())):
        exec(compile(code, f"{page.name} example {i + 1}", "exec"), {})


@pytest.mark.parametrize("file,name", [("README.md", "verdicts"), ("README.md", "performance"),
                                       ("docs/estimators.md", "options"), ("docs/performance.md", "speed")])
def test_generated_blocks_are_current(file, name):
    """README's verdicts and performance tables and the docs' lists are what
    ``python scripts/update_docs.py`` generates from the code and results/."""
    import sys

    sys.path.insert(0, str(DOCS.parent / "scripts"))
    import update_docs

    assert update_docs.current(file, name) == update_docs.blocks()[(file, name)].strip(), \
        f"{file}:{name} is out of date: run python scripts/update_docs.py"
