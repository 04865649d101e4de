"""docs/security.md's threat model names tests that exist: each `path::test` reference is a
test function defined in that file."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "security.md"
REFERENCE = re.compile(r"`(tests/[\w/]+\.py)::(\w+)`")


def _threat_model() -> str:
    text = DOC.read_text()
    start = text.index("## Threat model")
    return text[start : text.index("\n## ", start + 1)]


def _tests_in(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}


def test_every_test_the_threat_model_names_exists() -> None:
    section = _threat_model()
    references = REFERENCE.findall(section)
    assert len(references) >= 20
    missing = [
        f"{path}::{name}"
        for path, name in references
        if not (ROOT / path).is_file() or name not in _tests_in(ROOT / path)
    ]
    assert missing == []


def test_the_threat_model_has_a_row_for_each_attack_of_the_review() -> None:
    rows = [line for line in _threat_model().splitlines() if re.match(r"\| \d+ \|", line)]
    assert [int(row.split("|")[1]) for row in rows] == list(range(1, 14))
