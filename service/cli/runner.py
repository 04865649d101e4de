"""How every ``subledger`` command starts: settings, logging, the service, one-line errors.

Commands are click callbacks decorated with :func:`with_settings` or :func:`with_service`;
they return their exit status, which :func:`service.cli.main.main` hands back."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Mapping
from typing import Any, Concatenate, ParamSpec

from adapters.signing import SigningKeyUnusable
from adapters.store import StoreMisconfigured, StoreUnreachable
from service.bootstrap import ClockMisconfigured, Service, bootstrap, open_ledger
from service.config.logs import configure_logging
from service.config.settings import Settings, load_settings
from service.http.server import ServeMisconfigured
from service.ledger.context import CommandContext

P = ParamSpec("P")

CLI_OPERATOR = CommandContext(f"cli:{os.environ.get('USER', 'operator')}", "operator")

# What stops a command at once with one line: the store, a setting or the signing key.
STARTUP_ERRORS = (
    StoreUnreachable,
    StoreMisconfigured,
    ClockMisconfigured,
    ServeMisconfigured,
    SigningKeyUnusable,
)


def fail(message: str) -> None:
    """One line on stderr, prefixed like every refusal of the CLI."""
    print(f"subledger: {message}", file=sys.stderr)


def opened(svc: Service) -> Service:
    """Say which store a command opened (on stderr: stdout is the command's answer)."""
    print(f"store: {svc.store.describe()}", file=sys.stderr)
    return svc


def with_settings(command: Callable[Concatenate[Settings, P], int]) -> Callable[P, int]:
    """Load and validate the settings (SettingsInvalid reaches ``main``), set up logging."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> int:
        settings = load_settings()
        configure_logging(settings)
        return command(settings, *args, **kwargs)

    return run


def with_service(
    reading: bool = False, env: Mapping[str, str] | None = None
) -> Callable[[Callable[Concatenate[Service, P], int]], Callable[P, int]]:
    """Run the command on the service built from the settings, closed after it.

    ``reading`` commands only read the store: on the system clock whatever the store's
    (ADR 0015); ``env`` opens the Ledger with these eventsourcing options instead."""

    def decorate(command: Callable[Concatenate[Service, P], int]) -> Callable[P, int]:
        @functools.wraps(command)
        def run(*args: P.args, **kwargs: P.kwargs) -> int:
            settings = load_settings()
            configure_logging(settings)
            if env is not None:
                svc = Service(settings, open_ledger(settings, reading=reading, env=env))
            else:
                svc = bootstrap(settings, reading=reading)
            try:
                return command(opened(svc), *args, **kwargs)
            finally:
                svc.close()

        return run

    return decorate


def status(result: Any) -> int:
    """A command's return value as an exit status (click returns None for a bare group)."""
    return result if isinstance(result, int) else 0
