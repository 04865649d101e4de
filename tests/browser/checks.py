"""What every page must pass in the browser: axe-core finds no serious or critical
violation, the Content-Security-Policy blocked nothing, nothing scrolls sideways at
375 px; and its screenshot, at desktop and phone width."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from axe_playwright_python.sync_playwright import Axe

from tests.browser.conftest import DESKTOP, MOBILE

AXE = Axe()
BLOCKING = ("serious", "critical")


def go(page: Any, selector: str) -> None:
    """Click what leads to another page and wait until that page has loaded: a bare
    click returns once the navigation commits, which can be before the new page is
    parsed, so what a test counts next could still be the old page."""
    with page.expect_navigation():
        page.click(selector)


def attach_console(page: Any, errors: list[str]) -> None:
    """Collect what the browser reports as errors (a CSP refusal is one)."""
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))


def violations(page: Any) -> list[str]:
    results = AXE.run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v["impact"] in BLOCKING
    ]


@dataclass
class Pages:
    """Checks and photographs each page a test visits."""

    folder: Path
    language: str
    seen: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)

    def check(self, page: Any, name: str, mobile: bool = True) -> None:
        page.wait_for_load_state("load")
        assert page.locator("html").get_attribute("lang") == self.language, name
        found = violations(page)
        assert found == [], f"{name}: {found}"
        page.screenshot(path=self.folder / f"{self.language}-{name}-desktop.png", full_page=True)
        if mobile:
            page.set_viewport_size(MOBILE)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= MOBILE["width"], f"{name} scrolls sideways at 375 px ({width})"
            found = violations(page)
            assert found == [], f"{name} at 375 px: {found}"
            page.screenshot(path=self.folder / f"{self.language}-{name}-mobile.png", full_page=True)
            page.set_viewport_size(DESKTOP)
        blocked = [m for m in self.console if "Content Security Policy" in m]
        assert blocked == [], f"{name}: {blocked}"
        self.seen.append(name)
