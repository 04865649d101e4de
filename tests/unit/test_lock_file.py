"""requirements.txt, the lock file that `make run` and `make test` install from, pins every
dependency that pyproject.toml names (with the test and validate extras) at a version the
project accepts, each with its hashes; `make lock` writes it again."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^ \\]+) \\$")


def pinned() -> dict[str, tuple[str, list[str]]]:
    """Each pinned package: its version and its hashes."""
    pins: dict[str, tuple[str, list[str]]] = {}
    name = ""
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if found := PIN.match(line):
            name = canonicalize_name(found.group(1))
            pins[name] = (found.group(2), [])
        elif line.strip().startswith("--hash=sha256:"):
            pins[name][1].append(line.strip())
    return pins


def declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    return [
        Requirement(text)
        for text in [*project["dependencies"], *extras["test"], *extras["validate"]]
        if canonicalize_name(Requirement(text).name) != "subledger"
    ]


def test_every_declared_dependency_is_pinned_at_an_accepted_version_with_hashes() -> None:
    pins = pinned()
    assert len(pins) > 50
    for requirement in declared():
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is not in requirements.txt: run make lock"
        version = pins[name][0]
        assert requirement.specifier.contains(version, prereleases=True), (
            f"requirements.txt pins {name}=={version}, pyproject.toml asks {requirement}: "
            "run make lock"
        )
    assert all(hashes for _, hashes in pins.values())


def test_the_lock_names_no_machine_path_nor_the_project_itself() -> None:
    text = (ROOT / "requirements.txt").read_text()
    assert "file:" not in text and "/work/" not in text and "/home/" not in text
    assert "subledger" not in pinned()
