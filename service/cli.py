"""The ``subledger`` command line."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from adapters.store import StoreMisconfigured, StoreSettings, StoreUnreachable
from service.demo import load_demo
from service.errors import DemoAlreadyLoaded
from service.ledger import Ledger


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="subledger", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="write 14 months of demo history with a test clock")
    demo.add_argument(
        "--if-empty",
        action="store_true",
        help="load only into an empty store; otherwise say so and exit 0",
    )
    return parser


def _demo(if_empty: bool) -> int:
    settings = StoreSettings.from_environ(os.environ)
    settings.prepare()
    env = settings.eventsourcing_env()
    try:
        ledger, summary = load_demo(lambda clock: Ledger(env=env, clock=clock))
    except DemoAlreadyLoaded as error:
        if if_empty:
            print(f"subledger: {settings.describe()} already holds the demo history")
            return 0
        print(f"subledger: {error}", file=sys.stderr)
        return 1
    print(f"store: {settings.describe()}")
    for line in summary.lines(ledger):
        print(line)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "demo":
            return _demo(args.if_empty)
    except (StoreUnreachable, StoreMisconfigured) as error:
        print(f"subledger: {error}", file=sys.stderr)
        return 2
    raise AssertionError(args.command)


if __name__ == "__main__":
    sys.exit(main())
