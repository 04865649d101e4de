"""The ``subledger`` command line: one click group per feature (ADR 0020).

``main`` returns the exit status instead of exiting, so tests call it in-process; startup
errors (bad settings, an unreachable store, ...) end a command with one line each."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from uuid import UUID

import click

from domain.errors import DomainError
from service.bootstrap import Service
from service.cli.audit import AS_OF_HELP, EFFECTIVE_HELP, audit
from service.cli.portal import portal
from service.cli.privacy import privacy
from service.cli.projections import projections
from service.cli.runner import STARTUP_ERRORS, fail, status, with_service
from service.cli.serve import demo, serve
from service.cli.tokens import tokens
from service.cli.workers import billing, relay, webhooks
from service.config.settings import SettingsInvalid
from service.reads.history import show_history


@click.group(help="The subscription ledger.")
def cli() -> None:
    pass


@cli.command(help="an account's state and timeline at a point in time (ADR 0004)")
@click.argument("account_id", type=click.UUID)
@click.option("--as-of", default=None, help=AS_OF_HELP)
@click.option("--effective", default=None, help=EFFECTIVE_HELP)
@with_service(reading=True)
def history(svc: Service, account_id: UUID, as_of: str | None, effective: str | None) -> int:
    return show_history(svc.read_side, account_id, as_of, effective)


for group in (demo, serve, projections, relay, billing, webhooks, audit, privacy, portal, tokens):
    cli.add_command(group)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = list(argv) if argv is not None else None
        return status(cli.main(args, prog_name="subledger", standalone_mode=False))
    except click.ClickException as error:  # a usage error: the message and the usage line
        error.show()
        return error.exit_code
    except click.Abort:
        return 1
    except SettingsInvalid as error:
        for line in error.lines:
            fail(line)
        return 2
    except STARTUP_ERRORS as error:
        fail(str(error))
        return 2
    except DomainError as error:
        fail(str(error))
        return 1


if __name__ == "__main__":
    sys.exit(main())
