"""``subledger portal link``: a single-use sign-in link to the web app, printed once."""

from __future__ import annotations

from uuid import UUID

import click

from service.bootstrap import Service
from service.cli.runner import CLI_OPERATOR, with_service
from service.web.cli import STAFF_ROLES, print_link


@click.group(help="sign-in links to the web app")
def portal() -> None:
    pass


@portal.command(help="a sign-in link for a user of an account, or for a staff or auditor role")
@click.option("--account", type=click.UUID, default=None, help="the customer's account")
@click.option("--user", default=None, help="the user of that account")
@click.option(
    "--role",
    type=click.Choice(STAFF_ROLES),
    default=None,
    help="instead of --account/--user: a link for this staff or auditor role",
)
@click.option("--label", default="", help="who it is for (staff and auditors)")
@click.option("--minutes", type=int, default=15, help="how long the link works (1-1440)")
@click.option(
    "--base-url", default=None, help="where the web app is served (default: SUBLEDGER_PUBLIC_URL)"
)
@with_service()
def link(
    svc: Service,
    account: UUID | None,
    user: str | None,
    role: str | None,
    label: str,
    minutes: int,
    base_url: str | None,
) -> int:
    return print_link(
        svc.ledger,
        CLI_OPERATOR,
        base_url or svc.settings.public_url,
        role,
        account,
        user,
        label,
        minutes,
    )
