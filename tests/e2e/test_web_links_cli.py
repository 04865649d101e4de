"""`subledger portal link`: a sign-in link printed once, for a customer's user (its role
from the account) or a staff or auditor role; a bad request is one clear line."""

from __future__ import annotations

from fastapi.testclient import TestClient

from adapters.payments import FakePaymentProvider
from adapters.store import StoreSettings
from service.cli.main import main
from service.demo.history import NORTHWIND, load_demo
from service.http.app import create_app
from service.ledger.application import Ledger
from service.reads.read_side import ReadSide
from tests.e2e.live_server import store_environ


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
