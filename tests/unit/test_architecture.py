"""The layering of DESIGN.md, executable: import-linter's contracts must hold."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_import_contracts_are_kept():
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "broken" in result.stdout and " 0 broken" in result.stdout


def test_the_domain_imports_only_eventsourcing_domain_from_the_library():
    # import-linter cannot forbid a submodule of an external package, so check it here.
    offending = []
    for path in (ROOT / "domain").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offending += [
                f"{path.name}: {n}"
                for n in names
                if n.startswith("eventsourcing") and n != "eventsourcing.domain"
            ]
    assert offending == []
