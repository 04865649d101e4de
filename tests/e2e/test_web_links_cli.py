"""`subledger portal link`: a sign-in link printed once, for a customer's user (its role
from the account) or a staff or auditor role; a bad request is one clear line."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from fastapi.testclient import TestClient

from adapters.payments import FakePaymentProvider
from adapters.store import StoreSettings
from service.cli.main import main
from service.demo.history import NORTHWIND, load_demo
from service.http.app import create_app
from service.ledger.application import Ledger
from service.reads.read_side import ReadSide
from tests.e2e.live_server import LiveServer, store_environ


def test_the_command_prints_a_link_that_signs_in_once(
    store: StoreSettings, capsys, monkeypatch
) -> None:
    ledger, _ = load_demo(
        lambda clock: Ledger(
            env=store.eventsourcing_env(), clock=clock, payment_provider=FakePaymentProvider()
        )
    )
    for name, value in store_environ(store).items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv(
        "SUBLEDGER_DATABASE_URL" if store.postgres is None else "SUBLEDGER_DB", raising=False
    )
    assert (
        main(
            [
                "portal",
                "link",
                "--account",
                str(NORTHWIND),
                "--user",
                "ben",
                "--base-url",
                "http://x",
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("http://x/app/sign-in/si_") and "works once" in printed[1]
    path = printed[0].removeprefix("http://x")
    with TestClient(create_app(ReadSide(store, ledger))) as client:
        assert "Ben Okafor" in client.get(path).text
        assert client.post(path).status_code == 403  # signed in; ben lacks Manage Billing
        client.cookies.clear()
        assert client.post(path).status_code == 404  # used
    assert main(["portal", "link", "--role", "auditor"]) == 0
    assert "/app/sign-in/si_" in capsys.readouterr().out
    assert main(["portal", "link", "--account", str(NORTHWIND), "--user", "nobody"]) == 1
    assert "no user nobody" in capsys.readouterr().err
    ledger.close()


def test_serve_demo_prints_links_to_the_port_it_listens_on(
    store: StoreSettings, tmp_path: Path
) -> None:
    """Without SUBLEDGER_PUBLIC_URL, links point where `serve` listens (not port 8000)."""
    server = LiveServer(
        store, tmp_path / "server.log", serve_args=("--demo",), SUBLEDGER_DATA_DIR=str(tmp_path)
    )
    try:
        printed = server.log_path.read_text().splitlines()
        links = dict(line.split() for line in printed if "/app/sign-in/si_" in line)
        assert set(links) >= {"admin", "staff", "auditor"}
        assert all(url.startswith(f"{server.url}/app/sign-in/si_") for url in links.values())
        with httpx.Client(timeout=30) as browser:  # the first pages: slow on a loaded machine
            assert "Ada" in browser.get(links["admin"]).text
            signed_in = browser.post(links["admin"], follow_redirects=True)
            assert signed_in.status_code == 200 and "Northwind" in signed_in.text
            made = browser.post(
                f"{server.url}/v1/portal-sessions",
                headers={"Authorization": f"Bearer {_demo_token(tmp_path, 'operator')}"},
                json={"role": "auditor"},
            )
            assert made.status_code == 201, made.text
            assert made.json()["url"].startswith(f"{server.url}/app/sign-in/si_")
    finally:
        server.stop()


def test_a_configured_public_url_still_names_the_links(store: StoreSettings, tmp_path: Path):
    server = LiveServer(
        store,
        tmp_path / "server.log",
        serve_args=("--demo",),
        SUBLEDGER_DATA_DIR=str(tmp_path),
        SUBLEDGER_PUBLIC_URL="https://billing.example.com",
    )
    try:
        printed = server.log_path.read_text()
        assert "https://billing.example.com/app/sign-in/si_" in printed
        assert f"{server.url}/app/sign-in" not in printed
    finally:
        server.stop()


def _demo_token(data_dir: Path, name: str) -> str:
    tokens: dict[str, str] = json.loads((data_dir / "var" / "demo-tokens.json").read_text())
    return tokens[name]
