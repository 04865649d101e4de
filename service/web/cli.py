"""Sign-in links printed by ``subledger portal link`` (the command: service/cli/portal.py)."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

from service.access.tokens import Role
from service.ledger.application import Ledger
from service.ledger.context import CommandContext
from service.web.app import PREFIX
from service.web.sign_in_links import IssuedLink, SignInLinks

STAFF_ROLES = ("billing_staff", "account_manager", "auditor")


def link_url(base_url: str, issued: IssuedLink) -> str:
    return f"{base_url.rstrip('/')}{PREFIX}/sign-in/{issued.token}"


def print_link(
    ledger: Ledger,
    operator: CommandContext,
    base_url: str,
    role: str | None,
    account: UUID | None,
    user: str | None,
    label: str,
    minutes: int,
) -> int:
    issued = SignInLinks(ledger).issue(
        operator,
        Role.OPERATOR,
        Role(role) if role else None,
        account,
        user,
        label,
        timedelta(minutes=minutes),
    )
    print(link_url(base_url, issued))
    print(f"(works once, until {issued.expires_at:%Y-%m-%d %H:%M %Z}; shown only now)")
    return 0
