"""Browser tests: Debian's Chromium driven by Playwright, over a live server on the demo.

Chromium is the system's (``/usr/bin/chromium``, Debian's ``chromium`` package, which
``.ci/run`` installs): nothing is downloaded at run time, and ``playwright install`` is
never needed. Without it these tests are skipped with a loud warning, unless
``SUBLEDGER_TEST_BROWSER=required`` (as in CI), which turns the skip into a failure.

Each test gets its own server on a fresh demo store (loading it takes under a second),
so the stories can change what they like. Screenshots go to ``var/screenshots`` (or
``SUBLEDGER_SCREENSHOTS``), one per page, language and width.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from adapters.payments import FakePaymentProvider
from adapters.store import StoreSettings
from service.access.tokens import Role
from service.clock.test_clock import use_test_clock
from service.demo.history import NORTHWIND, load_demo
from service.http.app import create_app
from service.ledger.application import Ledger
from service.ledger.context import CommandContext
from service.reads.read_side import ReadSide
from service.web.cli import link_url
from service.web.sign_in_links import SignInLinks
from tests.e2e.live_server import free_port

CHROMIUM = Path(os.environ.get("SUBLEDGER_CHROMIUM", "/usr/bin/chromium"))
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
SCREENSHOTS = Path(os.environ.get("SUBLEDGER_SCREENSHOTS", "var/screenshots"))
DESKTOP = {"width": 1280, "height": 900}
MOBILE = {"width": 375, "height": 812}
OPERATOR = CommandContext("browser-test-operator", "operator")


def _unavailable() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (apt-get install chromium chromium-driver)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed"
    return None


def require_browser() -> None:
    reason = _unavailable()
    if reason is None:
        return
    if os.environ.get("SUBLEDGER_TEST_BROWSER") == "required":
        pytest.fail(f"{reason} (SUBLEDGER_TEST_BROWSER=required)", pytrace=False)
    warnings.warn(f"SKIPPING browser tests: {reason}", stacklevel=2)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium, for one test module: Playwright's synchronous API keeps an event loop
    running while it is open, which would make ``asyncio.run`` fail in later tests."""
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=ARGS
        )
        yield chromium
        chromium.close()


@dataclass
class DemoServer:
    url: str
    ledger: Ledger

    def link(self, account: Any = None, user: str | None = None, role: Role | None = None) -> str:
        issued = SignInLinks(self.ledger).issue(OPERATOR, Role.OPERATOR, role, account, user)
        return link_url(self.url, issued)

    @property
    def northwind(self) -> str:
        return f"{self.url}/app/accounts/{NORTHWIND}"


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[DemoServer]:
    """The demo's history served on a free port, on a test clock from the demo's end."""
    require_browser()
    store = StoreSettings(sqlite_path=str(tmp_path / "demo.db"))
    store.prepare()
    ledger, _ = load_demo(
        lambda clock: Ledger(
            env=store.eventsourcing_env(), clock=clock, payment_provider=FakePaymentProvider()
        )
    )
    use_test_clock(ledger)  # as `serve --demo`: staff can run billing from the console
    read_side = ReadSide(store, ledger)
    read_side.runner.catch_up()
    port = free_port()
    config = uvicorn.Config(
        create_app(read_side), host="127.0.0.1", port=port, log_level="warning", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield DemoServer(f"http://127.0.0.1:{port}", ledger)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        ledger.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
