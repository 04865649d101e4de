"""One Settings for every SUBLEDGER_* variable: checked at start, one line per bad value,
paths under one data directory, and README's table made from it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from service.cli.main import main
from service.config.settings import SettingsInvalid, configuration_table, load_settings

README = Path(__file__).parents[2] / "README.md"


def test_readme_configuration_table_is_made_from_the_settings() -> None:
    documented = [
        line for line in README.read_text().splitlines() if line.startswith("| `SUBLEDGER_")
    ]
    made = configuration_table()
    assert documented == made[2:]
    readme = README.read_text()
    assert "\n".join(made) in readme


def test_every_variable_the_code_reads_is_a_setting() -> None:
    """No module reads a SUBLEDGER_ variable from the environment but the settings."""
    root = Path(__file__).parents[2]
    readers = [
        str(path.relative_to(root))
        for folder in ("domain", "projections", "adapters", "service")
        for path in (root / folder).rglob("*.py")
        for line in path.read_text().splitlines()
        if "SUBLEDGER_" in line and re.search(r"environ(\.get)?\(|getenv\(|environ\[", line)
    ]
    # serve hands the test clock and the public URL it chose on to the uvicorn workers it
    # starts (it sets them)
    assert set(readers) == {"service/cli/serve.py"}


def test_each_bad_value_is_named_on_a_line_of_its_own() -> None:
    with pytest.raises(SettingsInvalid) as refused:
        load_settings(
            {
                "SUBLEDGER_SSE_POLL_SECONDS": "abc",
                "SUBLEDGER_SSE_HEARTBEAT_SECONDS": "-1",
                "SUBLEDGER_WEBHOOKS": "maybe",
                "SUBLEDGER_DATABASE_URL": "mysql://x",
                "SUBLEDGER_BILLING_INTERVAL": "nan",
            }
        )
    lines = refused.value.lines
    assert len(lines) == 5 and str(refused.value) == "\n".join(lines)
    named = {line.split(":")[0] for line in lines}
    assert named == {
        "SUBLEDGER_SSE_POLL_SECONDS",
        "SUBLEDGER_SSE_HEARTBEAT_SECONDS",
        "SUBLEDGER_WEBHOOKS",
        "SUBLEDGER_DATABASE_URL",
        "SUBLEDGER_BILLING_INTERVAL",
    }
    assert (
        "SUBLEDGER_SSE_POLL_SECONDS: Input should be a valid number, unable to parse string"
        " as a number, got 'abc'"
    ) in lines


def test_values_are_read_as_their_types_and_empty_means_the_default() -> None:
    settings = load_settings(
        {"SUBLEDGER_SSE_POLL_SECONDS": "0.5", "SUBLEDGER_WEBHOOKS": " OFF ", "SUBLEDGER_DB": ""}
    )
    assert (settings.sse_poll_seconds, settings.webhooks) == (0.5, "off")
    assert settings.db == Path("var/subledger.db")
    assert load_settings({}, clock="test").clock == "test"


def test_relative_paths_are_under_the_data_directory(tmp_path: Path) -> None:
    settings = load_settings({"SUBLEDGER_DATA_DIR": str(tmp_path)})
    assert settings.store().sqlite_path == str(tmp_path / "var" / "subledger.db")
    assert settings.path(settings.signing_key) == tmp_path / "var" / "signing-key.pem"
    absolute = load_settings({"SUBLEDGER_DATA_DIR": str(tmp_path), "SUBLEDGER_DB": "/srv/l.db"})
    assert absolute.store().sqlite_path == "/srv/l.db"


def test_a_command_stops_at_once_on_bad_settings_and_names_the_store_it_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SUBLEDGER_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SUBLEDGER_SSE_POLL_SECONDS", "-1")
    monkeypatch.setenv("SUBLEDGER_LIMIT_CONCURRENCY", "many")
    assert main(["tokens", "list"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "subledger: SUBLEDGER_SSE_POLL_SECONDS: Input should be greater than 0, got '-1'",
        "subledger: SUBLEDGER_LIMIT_CONCURRENCY: Input should be a valid integer, unable to"
        " parse string as an integer, got 'many'",
    ]
    assert not (tmp_path / "var").exists()  # nothing opened, nothing made

    monkeypatch.delenv("SUBLEDGER_SSE_POLL_SECONDS")
    monkeypatch.delenv("SUBLEDGER_LIMIT_CONCURRENCY")
    monkeypatch.chdir(tmp_path.parent)
    assert main(["tokens", "list"]) == 0
    assert f"store: SQLite file {tmp_path / 'var' / 'subledger.db'}" in capsys.readouterr().err
