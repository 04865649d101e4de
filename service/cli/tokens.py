"""``subledger tokens``: create, list and revoke API tokens."""

from __future__ import annotations

from uuid import UUID

import click

from service.access.tokens import Role, Tokens
from service.bootstrap import Service
from service.cli.runner import CLI_OPERATOR, with_service


@click.group(help="create, list and revoke API tokens")
def tokens() -> None:
    pass


@tokens.command(help="create a token and print it once")
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
@click.option("--account", type=click.UUID, default=None)
@click.option("--user", default=None)
@click.option("--label", default="")
@with_service()
def create(svc: Service, role: str, account: UUID | None, user: str | None, label: str) -> int:
    issued = Tokens(svc.ledger).issue(CLI_OPERATOR, Role(role), account, user, label)
    print(f"token id: {issued.token_id}")
    print(f"token:    {issued.token}")
    print("(shown once: only its hash is stored)")
    return 0


@tokens.command(name="list", help="list tokens (never their secrets)")
@with_service()
def list_tokens(svc: Service) -> int:
    for token in Tokens(svc.ledger).all():
        state = "revoked" if token.revoked else "active"
        scope = f" account={token.account_id} user={token.user_id}" if token.account_id else ""
        print(f"{token.id}  {token.role.value:15} {state:8} {token.label}{scope}")
    return 0


@tokens.command(help="revoke a token")
@click.argument("token_id", type=click.UUID)
@with_service()
def revoke(svc: Service, token_id: UUID) -> int:
    Tokens(svc.ledger).revoke(CLI_OPERATOR, token_id)
    print(f"revoked {token_id}")
    return 0
