"""The click command line in-process (``CliRunner``): help, usage errors and commands.

``standalone_mode=False`` hands back each command's exit status as ``return_value``, as
``service.cli.main.main`` does for the installed ``subledger`` script."""

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from service.cli.main import cli

GROUPS = [
    "audit",
    "billing",
    "demo",
    "history",
    "portal",
    "privacy",
    "projections",
    "relay",
    "serve",
    "tokens",
    "webhooks",
]


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    for name in [k for k in os.environ if k.startswith("SUBLEDGER_")]:
        monkeypatch.delenv(name)
    return CliRunner(env={"SUBLEDGER_DATA_DIR": str(tmp_path)})


def test_the_help_lists_every_group_and_each_group_its_commands(runner: CliRunner) -> None:
    top = runner.invoke(cli, ["--help"], prog_name="subledger")
    assert top.exit_code == 0
    listed = [
        line.split()[0] for line in top.output.split("Commands:")[1].splitlines() if line.strip()
    ]
    assert listed == GROUPS
    projections = runner.invoke(cli, ["projections", "--help"], prog_name="subledger")
    assert projections.exit_code == 0
    assert "Usage: subledger projections" in projections.output
    for command in ("run", "rebuild", "status"):
        assert f"  {command} " in projections.output


def test_a_usage_error_names_the_option_and_opens_nothing(
    runner: CliRunner, tmp_path: Path
) -> None:
    refused = runner.invoke(cli, ["portal", "link", "--role", "owner"], prog_name="subledger")
    assert refused.exit_code == 2
    assert "Invalid value for '--role'" in refused.stderr
    assert not (tmp_path / "var").exists()


def test_tokens_are_created_listed_and_revoked_on_the_store_it_names(
    runner: CliRunner, tmp_path: Path
) -> None:
    created = runner.invoke(
        cli, ["tokens", "create", "--role", "operator", "--label", "ops"], standalone_mode=False
    )
    assert created.return_value == 0, created.output
    assert f"store: SQLite file {tmp_path / 'var' / 'subledger.db'}" in created.stderr
    token_id = created.stdout.splitlines()[0].removeprefix("token id: ")

    listed = runner.invoke(cli, ["tokens", "list"], standalone_mode=False)
    assert listed.return_value == 0
    assert listed.stdout.split() == [token_id, "operator", "active", "ops"]

    revoked = runner.invoke(cli, ["tokens", "revoke", token_id], standalone_mode=False)
    assert revoked.stdout == f"revoked {token_id}\n"
    listed = runner.invoke(cli, ["tokens", "list"], standalone_mode=False)
    assert listed.stdout.split() == [token_id, "operator", "revoked", "ops"]


def test_audit_verify_reports_on_stdout_and_draws_no_frames_off_a_terminal(
    runner: CliRunner,
) -> None:
    runner.invoke(cli, ["tokens", "create", "--role", "operator"], standalone_mode=False)
    verified = runner.invoke(cli, ["audit", "verify"], standalone_mode=False)
    assert verified.return_value == 0, verified.output
    assert verified.stdout.strip()  # the summary
    assert "\r" not in verified.stderr and "\x1b" not in verified.stderr
    assert [line for line in verified.stderr.splitlines() if "verifying" in line] != []


def test_projections_rebuild_draws_no_frames_off_a_terminal(runner: CliRunner) -> None:
    runner.invoke(cli, ["tokens", "create", "--role", "operator"], standalone_mode=False)
    rebuilt = runner.invoke(cli, ["projections", "rebuild", "audit_trail"], standalone_mode=False)
    assert rebuilt.return_value == 0, rebuilt.output
    assert "\r" not in rebuilt.stderr and "\x1b" not in rebuilt.stderr
    (bar,) = [line for line in rebuilt.stderr.splitlines() if "rebuilding audit_trail" in line]
    assert "100%" in bar


def test_projections_rebuild_all_rebuilds_every_read_model_but_the_hash_chain(
    runner: CliRunner,
) -> None:
    runner.invoke(cli, ["tokens", "create", "--role", "operator"], standalone_mode=False)
    rebuilt = runner.invoke(
        cli, ["projections", "rebuild", "--all", "--jobs", "2"], standalone_mode=False
    )
    assert rebuilt.return_value == 0, rebuilt.output
    (named,) = [line for line in rebuilt.stderr.splitlines() if "read models:" in line]
    assert "audit_trail" in named and "book" in named and "hash_chain" not in named
    (bar,) = [line for line in rebuilt.stderr.splitlines() if "rebuilding" in line]
    assert "100%" in bar


@pytest.mark.parametrize(
    ("args", "refusal"),
    [
        ([], "name the read models to rebuild, or --all"),
        (["book", "--all"], "name the read models to rebuild, or --all"),
        (["hash_chain"], "hash_chain is permanent"),
        (["no_such"], "no projection 'no_such'"),
    ],
)
def test_projections_rebuild_refuses_what_it_cannot_rebuild(
    runner: CliRunner, args: list[str], refusal: str
) -> None:
    refused = runner.invoke(cli, ["projections", "rebuild", *args], standalone_mode=False)
    assert refused.return_value == 1
    assert refusal in refused.stderr
