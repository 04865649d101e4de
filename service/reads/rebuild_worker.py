"""One group of projections caught up in a process of its own (``rebuild_in_parallel``).

Run as ``python -m service.reads.rebuild_worker``: it reads the pickled (store settings,
projection names) from its standard input, catches those projections up with the log by
a runner of its own, and writes ``+N`` to its standard output for every N (event,
projection) pairs applied. A plain module rather than a multiprocessing worker, so that
the child imports the read side only, not the entry point that started the parent.
"""

from __future__ import annotations

import pickle
import sys
from functools import partial

from adapters.clock import SystemClock
from adapters.payments import FakePaymentProvider
from adapters.store import StoreSettings
from projections.folding_runner import FoldingRunner
from service.config.collector import tune_for_long_running
from service.ledger.application import Ledger
from service.ledger.read_models import read_log, read_store
from service.reads.read_side import build_projections


def main() -> int:
    store, names = pickle.load(sys.stdin.buffer)
    assert isinstance(store, StoreSettings)
    tune_for_long_running()
    out = sys.stdout.buffer
    # Only reads: the clock and the payment provider are never used.
    ledger = Ledger(
        env=store.eventsourcing_env(), clock=SystemClock(), payment_provider=FakePaymentProvider()
    )
    writer = read_store(store, sync_each_commit=False)
    try:
        chosen = [p for p in build_projections(ledger) if p.name in names]
        assert len(chosen) == len(names), f"no projections {names} here"

        def report(count: int) -> None:
            out.write(b"+%d\n" % count)
            out.flush()

        runner = FoldingRunner(writer, partial(read_log, ledger), ledger.head_position, chosen)
        runner.catch_up(progress=report)
    finally:
        writer.close()
        ledger.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
