"""Tokens for trying the demo: one per role, written to var/demo-tokens.json; and a
sign-in link to the web app for each of its people with pages there."""

from __future__ import annotations

import json
from pathlib import Path

from adapters.private_files import private_file
from service.access.tokens import Role, Tokens
from service.demo.history import LUMEN, NORTHWIND
from service.ledger.application import Ledger
from service.ledger.context import CommandContext
from service.web.cli import link_url
from service.web.sign_in_links import MAX_LINK_LIFETIME, PORTAL_ROLES, SignInLinks

DEMO_TOKENS_PATH = Path("var/demo-tokens.json")
OPERATOR = CommandContext("subledger-demo", "operator")

# name -> (role, account, user): the demo's people (see service/demo/history.py)
DEMO_PRINCIPALS = {
    "admin": (Role.ADMIN, NORTHWIND, "ada"),
    "user": (Role.USER, NORTHWIND, "ben"),
    "identity": (Role.IDENTITY, NORTHWIND, "cara"),
    "other_admin": (Role.ADMIN, LUMEN, "jonas"),
    "staff": (Role.BILLING_STAFF, None, None),
    "auditor": (Role.AUDITOR, None, None),
    "operator": (Role.OPERATOR, None, None),
    "integration": (Role.INTEGRATION, None, None),
}


def issue_demo_tokens(ledger: Ledger, path: Path = DEMO_TOKENS_PATH) -> dict[str, str]:
    tokens = Tokens(ledger)
    issued = {
        name: tokens.issue(OPERATOR, role, account, user, label=f"demo {name}").token
        for name, (role, account, user) in DEMO_PRINCIPALS.items()
    }
    private_file(path).write_text(json.dumps(issued, indent=2) + "\n")
    return issued


def read_demo_tokens(path: Path = DEMO_TOKENS_PATH) -> dict[str, str] | None:
    if not path.exists():
        return None
    loaded: dict[str, str] = json.loads(path.read_text())
    return loaded


def issue_demo_links(ledger: Ledger, base_url: str) -> dict[str, str]:
    """Fresh links (each works once), for a day: printed by ``serve --demo`` at each start."""
    links = SignInLinks(ledger)
    issued = {}
    for name, (role, account, user) in DEMO_PRINCIPALS.items():
        if role not in PORTAL_ROLES:
            continue
        staff_role = None if account else role
        link = links.issue(
            OPERATOR, Role.OPERATOR, staff_role, account, user, f"demo {name}", MAX_LINK_LIFETIME
        )
        issued[name] = link_url(base_url, link)
    return issued
