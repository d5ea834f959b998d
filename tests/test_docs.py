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


def test_options_list_is_generated():
    text = (DOCS / "estimators.md").read_text()
    block = text[text.index("<!-- options:begin -->") + len("<!-- options:begin -->"):text.index("<!-- options:end -->")]
    expected = "\n".join(f"- {line}" for line in edlrr.options.describe_options().splitlines())
    assert block.strip() == expected, "regenerate the options list of docs/estimators.md"
