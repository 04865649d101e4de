"""``subledger serve`` and ``subledger demo``: the HTTP API, and the demo history."""

from __future__ import annotations

import os
import signal
from typing import NoReturn

import click

from service.bootstrap import bootstrap, open_ledger
from service.cli.projection_process import RunnerProcess
from service.cli.runner import fail, opened, with_settings
from service.clock.test_clock import on_test_clock
from service.config.logs import logging_config
from service.config.public_url import served_url
from service.config.settings import Settings
from service.demo.history import DEMO_END, load_demo
from service.demo.tokens import issue_demo_links, issue_demo_tokens, read_demo_tokens
from service.http.server import ServeSettings
from service.ledger.errors import DemoAlreadyLoaded


@click.command(help="write 14 months of demo history with a test clock")
@click.option("--if-empty", is_flag=True, help="load only into an empty store; else exit 0")
@with_settings
def demo(settings: Settings, if_empty: bool) -> int:
    return load(settings, if_empty)


def load(settings: Settings, if_empty: bool) -> int:
    store = settings.store()
    store.prepare()
    try:
        ledger, summary = load_demo(lambda clock: open_ledger(settings, clock=clock, reading=True))
    except DemoAlreadyLoaded as error:
        if if_empty:
            print(f"subledger: {store.describe()} already holds the demo history")
            return 0
        fail(str(error))
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


@click.command(help="serve the HTTP API")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8000, show_default=True)
@click.option("--workers", type=int, default=1, show_default=True)
@click.option(
    "--demo",
    "with_demo",
    is_flag=True,
    help="load the demo history into an empty store first, print the demo tokens, and "
    "serve it on a test clock (from the demo's end)",
)
@click.option(
    "--test-clock",
    is_flag=True,
    help="run on the store's test clock, moved forward by POST /v1/test-clock "
    "(as SUBLEDGER_CLOCK=test; ADR 0015)",
)
@with_settings
def serve(
    settings: Settings, host: str, port: int, workers: int, with_demo: bool, test_clock: bool
) -> int:
    import uvicorn

    if with_demo or test_clock:
        os.environ["SUBLEDGER_CLOCK"] = "test"  # for this process and the workers it starts
        settings = settings.model_copy(update={"clock": "test"})
    if "public_url" not in settings.model_fields_set:
        # Unconfigured, links point where this server listens (workers read it too).
        url = served_url(host, port)
        os.environ["SUBLEDGER_PUBLIC_URL"] = url
        settings = settings.model_copy(update={"public_url": url})
    if with_demo:
        load(settings, if_empty=True)
    server = ServeSettings.from_settings(settings)
    # Fail fast, with one line, if the store is unreachable or refuses this clock; and start
    # a test clock once, before the workers (the demo's at the end of its history).
    svc = opened(bootstrap(settings, test_clock_start=DEMO_END if with_demo else None))
    ledger = svc.ledger
    try:
        if with_demo:
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
    runner = None
    if settings.projections == "on" and settings.projections_runner == "process":
        # One child runs the projections (ADR 0005); the server's processes only read them.
        runner = RunnerProcess()
        os.environ["SUBLEDGER_PROJECTIONS"] = "off"
    print(f"interactive API docs: http://{host}:{port}/docs", flush=True)
    # uvicorn raises the signal that stopped it again once it has: let it then end this
    # process through ``finally``, which stops the child.
    signal.signal(signal.SIGTERM, _exit)
    signal.signal(signal.SIGINT, _exit)
    if runner is not None:
        runner.start()
    try:
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
    finally:
        if runner is not None:
            runner.stop()
    return 0


def _exit(signum: int, frame: object) -> NoReturn:
    raise SystemExit(0)
