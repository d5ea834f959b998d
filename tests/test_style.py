"""The tree speaks of the software, not of its history, in lines a reader can take in.

Every tracked text file: no words about the project's own history (work periods, tracker
numbers, anecdotes of one-off scripts; git and CHANGELOG.md hold the history); hand-written source and Markdown lines at
most 120 characters, except table rows and lines holding a URL. Generated reports (REPORT.md)
and the long CSV tables are exempt from the line length only."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_WORK, _TRACKER, _SCRIPT = "ses" + "sion", "iss" + "ue", "inl" + "ine script"
HISTORY = re.compile(rf"\b{_WORK}s?\b|\b{_TRACKER}s? #?[0-9]|\b{_SCRIPT}", re.IGNORECASE)
LIMIT = 120
TEXT = {".py", ".md", ".toml", ".txt", ".cfg", ".json", ".csv", ".yml", ".yaml", ".sh", ""}
LENGTH_CHECKED = {".py", ".md", ".toml"}


def _tracked() -> list[Path]:
    try:
        out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: the tracked files are unknown")
    return [ROOT / line for line in out.splitlines() if (ROOT / line).is_file()]


def _text_files():
    for path in _tracked():
        if path.suffix in TEXT and path.name not in {"Makefile"} or path.name in {"Makefile", "run"}:
            try:
                yield path, path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                continue


def test_no_words_about_the_projects_history():
    hits = [f"{p.relative_to(ROOT)}:{i}: {line.strip()[:100]}"
            for p, text in _text_files() for i, line in enumerate(text.splitlines(), 1)
            if HISTORY.search(line)]
    assert not hits, "history words in the tree:\n" + "\n".join(hits[:20])


def test_the_pattern_catches_what_it_should():
    assert HISTORY.search(f"as measured in the fifth {_WORK}") and HISTORY.search(f"see {_TRACKER} 7")
    assert HISTORY.search(f"an {_SCRIPT.title()} gave") and not HISTORY.search(f"the {_WORK}less API")


def test_lines_at_most_120_characters():
    long = []
    for p, text in _text_files():
        if p.suffix not in LENGTH_CHECKED or p.name == "REPORT.md":
            continue
        for i, line in enumerate(text.splitlines(), 1):
            if len(line) > LIMIT and not line.lstrip().startswith("|") and "://" not in line:
                long.append(f"{p.relative_to(ROOT)}:{i} ({len(line)} characters)")
    assert not long, "lines over 120 characters:\n" + "\n".join(long[:30])
