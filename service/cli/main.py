"""The ``subledger`` command line."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from uuid import UUID

from adapters.jetstream import BrokerMisconfigured
from adapters.runner_lock import RunnerLock
from adapters.signing import SigningKeyUnusable
from adapters.store import StoreMisconfigured, StoreSettings, StoreUnreachable
from domain.errors import DomainError
from projections.projection import is_permanent
from projections.runner import ProjectionRunner
from service.access.tokens import Role, Tokens
from service.audit.replay import NO_SNAPSHOTS
from service.billing.run import (
    BILLING_LOCK,
    BillingReport,
    BillingRun,
    BillingSettings,
)
from service.bootstrap import ClockMisconfigured, Service, bootstrap, open_ledger
from service.cli.audit import add_audit_commands, run_audit
from service.cli.privacy import add_privacy_commands, run_privacy
from service.cli.progress import ProgressBar
from service.clock.test_clock import ClockControl, on_test_clock
from service.config.logs import configure_logging, logging_config
from service.config.public_url import served_url
from service.config.settings import Settings, SettingsInvalid, load_settings
from service.demo.history import DEMO_END, load_demo
from service.demo.tokens import (
    issue_demo_links,
    issue_demo_tokens,
    read_demo_tokens,
)
from service.http.server import ServeMisconfigured, ServeSettings
from service.ledger.application import Ledger
from service.ledger.context import CommandContext
from service.ledger.errors import DemoAlreadyLoaded
from service.reads.history import show_history
from service.reads.read_side import ReadSide
from service.relay.nats import NatsRelay, StreamNotOurs
from service.web.cli import add_portal_commands, run_portal
from service.webhooks.worker import WorkerBusy

CLI_OPERATOR = CommandContext(f"cli:{os.environ.get('USER', 'operator')}", "operator")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="subledger", description="The subscription ledger.")
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="write 14 months of demo history with a test clock")
    demo.add_argument(
        "--if-empty", action="store_true", help="load only into an empty store; else exit 0"
    )

    serve = commands.add_parser("serve", help="serve the HTTP API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument(
        "--demo",
        action="store_true",
        help="load the demo history into an empty store first, print the demo tokens, and "
        "serve it on a test clock (from the demo's end)",
    )
    serve.add_argument(
        "--test-clock",
        action="store_true",
        help="run on the store's test clock, moved forward by POST /v1/test-clock "
        "(as SUBLEDGER_CLOCK=test; ADR 0015)",
    )

    projections = commands.add_parser("projections", help="run, rebuild and inspect read models")
    projection_commands = projections.add_subparsers(dest="projections_command", required=True)
    run = projection_commands.add_parser("run", help="keep the read models current (a worker)")
    run.add_argument(
        "--exit-if-running",
        action="store_true",
        help="exit at once if another runner holds the lock (default: wait for it)",
    )
    rebuild = projection_commands.add_parser("rebuild", help="rebuild one read model from 0")
    rebuild.add_argument("name")
    projection_commands.add_parser(
        "status", help="each read model's position, lag and failure; exit 1 if one is stopped"
    )

    history = commands.add_parser(
        "history", help="an account's state and timeline at a point in time (ADR 0004)"
    )
    history.add_argument("account_id", type=UUID)
    history.add_argument(
        "--as-of", help="recorded time, ISO 8601 (default: now; a bare date means its end, UTC)"
    )
    history.add_argument("--effective", help="business date YYYY-MM-DD (default: as-of's day)")

    relay = commands.add_parser("relay", help="publish the event log to a message broker")
    relay_commands = relay.add_subparsers(dest="relay_command", required=True)
    nats = relay_commands.add_parser(
        "nats", help="publish every event to a NATS JetStream stream, once, in order (a worker)"
    )
    nats.add_argument("--url", default=None, help="default: SUBLEDGER_NATS_URL")
    nats.add_argument("--stream", default="SUBLEDGER")
    nats.add_argument("--subject-prefix", default="subledger.events")
    nats.add_argument("--batch-size", type=int, default=500, help="events per publish and cursor")

    billing = commands.add_parser("billing", help="invoices, renewals, reminders by the calendar")
    billing_commands = billing.add_subparsers(dest="billing_command", required=True)
    billing_run = billing_commands.add_parser(
        "run", help="do every billing step due up to a day, once (serve runs it on a schedule)"
    )
    billing_run.add_argument(
        "--until",
        type=date.fromisoformat,
        default=None,
        help="YYYY-MM-DD (default: today); a later day only on a test clock, which then "
        "moves to that day's start (SUBLEDGER_CLOCK=test)",
    )

    webhooks = commands.add_parser("webhooks", help="deliver events to webhook endpoints")
    webhook_commands = webhooks.add_subparsers(dest="webhooks_command", required=True)
    deliver = webhook_commands.add_parser(
        "run", help="send every endpoint its events, in order, signed (a worker)"
    )
    deliver.add_argument("--once", action="store_true", help="send what is due now, then exit")

    add_audit_commands(commands)
    add_privacy_commands(commands)
    add_portal_commands(commands)

    tokens = commands.add_parser("tokens", help="create, list and revoke API tokens")
    token_commands = tokens.add_subparsers(dest="tokens_command", required=True)
    create = token_commands.add_parser("create", help="create a token and print it once")
    create.add_argument("--role", required=True, choices=[r.value for r in Role])
    create.add_argument("--account", type=UUID, default=None)
    create.add_argument("--user", default=None)
    create.add_argument("--label", default="")
    token_commands.add_parser("list", help="list tokens (never their secrets)")
    revoke = token_commands.add_parser("revoke", help="revoke a token")
    revoke.add_argument("token_id", type=UUID)
    return parser


def _opened(svc: Service) -> Service:
    """Say which store a command opened (on stderr: stdout is the command's answer)."""
    print(f"store: {svc.store.describe()}", file=sys.stderr)
    return svc


def _demo(settings: Settings, if_empty: bool) -> int:
    store = settings.store()
    store.prepare()
    try:
        ledger, summary = load_demo(lambda clock: open_ledger(settings, clock=clock, reading=True))
    except DemoAlreadyLoaded as error:
        if if_empty:
            print(f"subledger: {store.describe()} already holds the demo history")
            return 0
        print(f"subledger: {error}", file=sys.stderr)
        return 1
    try:
        print(f"store: {store.describe()}")
        for line in summary.lines(ledger):
            print(line)
        issue_demo_tokens(ledger, settings.demo_tokens_path)
        print(f"demo tokens written to {settings.demo_tokens_path}")
    finally:
        ledger.close()
    return 0


def _serve(
    settings: Settings, host: str, port: int, workers: int, demo: bool, test_clock: bool
) -> int:
    import uvicorn

    if demo or test_clock:
        os.environ["SUBLEDGER_CLOCK"] = "test"  # for this process and the workers it starts
        settings = settings.model_copy(update={"clock": "test"})
    if "public_url" not in settings.model_fields_set:
        # Unconfigured, links point where this server listens (workers read it too).
        url = served_url(host, port)
        os.environ["SUBLEDGER_PUBLIC_URL"] = url
        settings = settings.model_copy(update={"public_url": url})
    if demo:
        _demo(settings, if_empty=True)
    server = ServeSettings.from_settings(settings)
    # Fail fast, with one line, if the store is unreachable or refuses this clock; and start
    # a test clock once, before the workers (the demo's at the end of its history).
    svc = _opened(bootstrap(settings, test_clock_start=DEMO_END if demo else None))
    ledger = svc.ledger
    try:
        if demo:
            tokens = read_demo_tokens(settings.demo_tokens_path) or issue_demo_tokens(
                ledger, settings.demo_tokens_path
            )
            print("demo tokens (Authorization: Bearer <token>):")
            for name, token in tokens.items():
                print(f"  {name:12} {token}")
            print("sign-in links to the web app (each works once, for a day):")
            for name, url in issue_demo_links(ledger, settings.public_url).items():
                print(f"  {name:12} {url}")
        if on_test_clock(ledger):
            print(f"test clock at {ledger.clock.now().isoformat()}: POST /v1/test-clock moves it")
    finally:
        svc.close()
    print(f"interactive API docs: http://{host}:{port}/docs", flush=True)
    uvicorn.run(
        "service.http.app:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=logging_config(settings),
        log_level="warning",
        # open event streams never end by themselves: give them this long on shutdown
        timeout_graceful_shutdown=5,
        **server.uvicorn_options(),
    )
    return 0


def _tokens(svc: Service, args: argparse.Namespace) -> int:
    tokens = Tokens(svc.ledger)
    if args.tokens_command == "create":
        issued = tokens.issue(CLI_OPERATOR, Role(args.role), args.account, args.user, args.label)
        print(f"token id: {issued.token_id}")
        print(f"token:    {issued.token}")
        print("(shown once: only its hash is stored)")
    elif args.tokens_command == "list":
        for token in tokens.all():
            state = "revoked" if token.revoked else "active"
            scope = f" account={token.account_id} user={token.user_id}" if token.account_id else ""
            print(f"{token.id}  {token.role.value:15} {state:8} {token.label}{scope}")
    else:
        tokens.revoke(CLI_OPERATOR, args.token_id)
        print(f"revoked {args.token_id}")
    return 0


def _projections(svc: Service, args: argparse.Namespace) -> int:
    read_side = svc.read_side
    if args.projections_command == "status":
        return _status(read_side)
    if args.projections_command == "rebuild":
        return _rebuild(read_side, args.name)
    return _run_worker(read_side, args.exit_if_running)


def _status(read_side: ReadSide) -> int:
    """Each read model's position and lag, and what stops them; 1 if any is stopped."""
    positions, failing = read_side.positions(), read_side.failures()
    for name, lag in read_side.lag().items():
        print(f"{name:20} position {positions[name]:>10}  lag {lag}")
    for failure in failing.values():
        print(f"FAILING: {failure.describe()}")
    running = read_side.runner_running()
    print("runner: " + ("a process runs the projections" if running else "none running"))
    return 1 if failing or not running else 0


def _rebuild(read_side: ReadSide, name: str) -> int:
    try:
        projection = read_side.projection(name)
    except KeyError as error:
        print(f"subledger: {error.args[0]}", file=sys.stderr)
        return 1
    if is_permanent(projection):
        print(
            f"subledger: {name} is permanent: sealed once, never rebuilt "
            "(check it with `subledger audit verify`)",
            file=sys.stderr,
        )
        return 1
    lock = RunnerLock(read_side.settings)
    if not lock.try_acquire():
        print(
            "subledger: a projection runner is active on this store; stop it, then rebuild",
            file=sys.stderr,
        )
        return 1
    try:
        runner = ProjectionRunner(
            read_side.store, read_side.read_log, read_side.ledger.head_position, [projection]
        )
        runner.prepare()
        runner.reset(projection)
        bar = ProgressBar(f"rebuilding {name}", read_side.ledger.head_position())
        runner.catch_up(progress=bar.advance)
        bar.finish()
        if failed := runner.failures().get(name):
            print(f"subledger: {failed.describe()}", file=sys.stderr)
            return 1
    finally:
        lock.release()
    return 0


def _run_worker(read_side: ReadSide, exit_if_running: bool) -> int:
    if exit_if_running:
        lock = RunnerLock(read_side.settings)
        if not lock.try_acquire():
            print("subledger: another projection runner is active on this store", file=sys.stderr)
            return 1
        lock.release()
    print(f"projections: {', '.join(read_side.names)}; waiting to be the runner", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: read_side.stop_soon())
    with contextlib.suppress(KeyboardInterrupt):
        read_side.run()
    return 0


def _relay_nats(svc: Service, args: argparse.Namespace) -> int:
    relay = NatsRelay(
        svc.store,
        svc.ledger,
        args.url or svc.settings.nats_url,
        args.stream,
        args.subject_prefix,
        svc.settings.public_url,
        args.batch_size,
    )
    print(f"relay: {relay.publisher.describe()}; waiting to be the relay", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: relay.stop_soon())
    try:
        with contextlib.suppress(KeyboardInterrupt):
            relay.run()
    except (BrokerMisconfigured, StreamNotOurs) as error:
        print(f"subledger: {error}", file=sys.stderr)
        return 2
    finally:
        relay.close()
    return 0


def _billing_run(svc: Service, until: date | None) -> int:
    ledger, billing = svc.ledger, svc.billing()
    if until is not None and on_test_clock(ledger) and until > ledger.clock.now().date():
        report = _rehearse(ledger, svc.store, billing, until)
    else:
        lock = RunnerLock(svc.store, BILLING_LOCK)
        if not lock.try_acquire():
            print("subledger: another billing run is active on this store; retry", file=sys.stderr)
            return 1
        try:
            report = BillingRun(ledger, billing.reminder_days).run(until)
        finally:
            lock.release()
    for line in report.lines():
        print(line)
    return 1 if report.failures else 0


def _rehearse(
    ledger: Ledger, store: StoreSettings, billing: BillingSettings, until: date
) -> BillingReport:
    """On a test clock, a later day moves the clock to that day's start, billing the way."""
    start = datetime.combine(until, time(), UTC)
    move = ClockControl(ledger, store, billing).move_to(CLI_OPERATOR, start)
    print(f"test clock moved from {move.previous.isoformat()} to {move.now.isoformat()}")
    return move.billing


def _webhooks(svc: Service, once: bool) -> int:
    """Settings from SUBLEDGER_WEBHOOK_* (timeout, backoff_base, backoff_cap, ...)."""
    worker = svc.webhook_worker()  # it records endpoints it disables
    try:
        if once:
            print(f"webhooks: {worker.run_once()} events acknowledged")
            return 0
        print("webhooks: waiting to be the delivery worker", flush=True)
        signal.signal(signal.SIGTERM, lambda *_: worker.stop_soon())
        with contextlib.suppress(KeyboardInterrupt):
            worker.run()
    except WorkerBusy as error:
        print(f"subledger: {error}", file=sys.stderr)
        return 1
    finally:
        worker.stop()
    return 0


# Commands that only read the store: on the system clock whatever the store's (ADR 0015).
READING = {"projections", "history", "audit", "relay"}
# What stops a command at once with one line: the store, a setting or the signing key.
STARTUP_ERRORS = (
    StoreUnreachable,
    StoreMisconfigured,
    ClockMisconfigured,
    ServeMisconfigured,
    SigningKeyUnusable,
)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsInvalid as error:
        for line in error.lines:
            print(f"subledger: {line}", file=sys.stderr)
        return 2
    configure_logging(settings)
    try:
        if args.command == "demo":
            return _demo(settings, args.if_empty)
        if args.command == "serve":
            return _serve(settings, args.host, args.port, args.workers, args.demo, args.test_clock)
        if args.command == "audit" and args.audit_command == "replay":
            ledger = open_ledger(settings, reading=True, env=NO_SNAPSHOTS)
            svc = _opened(Service(settings, ledger))
        else:
            svc = _opened(bootstrap(settings, reading=args.command in READING))
        try:
            return _run(svc, args)
        finally:
            svc.close()
    except STARTUP_ERRORS as error:
        print(f"subledger: {error}", file=sys.stderr)
        return 2
    except DomainError as error:
        print(f"subledger: {error}", file=sys.stderr)
        return 1


def _run(svc: Service, args: argparse.Namespace) -> int:
    if args.command == "projections":
        return _projections(svc, args)
    if args.command == "relay":
        return _relay_nats(svc, args)
    if args.command == "billing":
        return _billing_run(svc, args.until)
    if args.command == "webhooks":
        return _webhooks(svc, args.once)
    if args.command == "history":
        return show_history(svc.read_side, args.account_id, args.as_of, args.effective)
    if args.command == "audit":
        return run_audit(svc, args)
    if args.command == "privacy":
        return run_privacy(svc, args)
    if args.command == "portal":
        return run_portal(args, svc.ledger, CLI_OPERATOR, svc.settings.public_url)
    return _tokens(svc, args)


if __name__ == "__main__":
    sys.exit(main())
