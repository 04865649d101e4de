"""``subledger portal link``: a single-use sign-in link to the web app, printed once."""

from __future__ import annotations

import argparse
from datetime import timedelta
from typing import Any
from uuid import UUID

from service.access.tokens import Role
from service.ledger.application import Ledger
from service.ledger.context import CommandContext
from service.web.app import PREFIX
from service.web.sign_in_links import IssuedLink, SignInLinks

DEFAULT_BASE_URL = "http://127.0.0.1:8000"


def add_portal_commands(commands: Any) -> None:
    portal = commands.add_parser("portal", help="sign-in links to the web app")
    portal_commands = portal.add_subparsers(dest="portal_command", required=True)
    link = portal_commands.add_parser(
        "link", help="a sign-in link for a user of an account, or for a staff or auditor role"
    )
    link.add_argument("--account", type=UUID, default=None, help="the customer's account")
    link.add_argument("--user", default=None, help="the user of that account")
    link.add_argument(
        "--role",
        choices=["billing_staff", "account_manager", "auditor"],
        default=None,
        help="instead of --account/--user: a link for this staff or auditor role",
    )
    link.add_argument("--label", default="", help="who it is for (staff and auditors)")
    link.add_argument("--minutes", type=int, default=15, help="how long the link works (1-1440)")
    link.add_argument(
        "--base-url",
        default=None,
        help="where the web app is served (default: SUBLEDGER_PUBLIC_URL)",
    )


def link_url(base_url: str, issued: IssuedLink) -> str:
    return f"{base_url.rstrip('/')}{PREFIX}/sign-in/{issued.token}"


def run_portal(
    args: argparse.Namespace, ledger: Ledger, operator: CommandContext, public_url: str
) -> int:
    issued = SignInLinks(ledger).issue(
        operator,
        Role.OPERATOR,
        Role(args.role) if args.role else None,
        args.account,
        args.user,
        args.label,
        timedelta(minutes=args.minutes),
    )
    print(link_url(args.base_url or public_url, issued))
    print(f"(works once, until {issued.expires_at:%Y-%m-%d %H:%M %Z}; shown only now)")
    return 0
