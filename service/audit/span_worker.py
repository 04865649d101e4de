"""One span of the hash chain verified in a process of its own (``verify_in_parallel``).

Run as ``python -m service.audit.span_worker``: it reads the pickled (store settings,
after, upto) from its standard input, verifies ``(after, upto]`` from the hash sealed at
``after``, and writes to its standard output a line ``+N`` for every N events checked,
then ``=`` and its pickled ``Verification``. A plain module rather than a
multiprocessing worker, so that the child imports only verification, not the entry
point that started the parent (spawn would import ``subledger``'s whole CLI again).
"""

from __future__ import annotations

import base64
import os
import pickle
import sys

from eventsourcing.persistence import InfrastructureFactory
from eventsourcing.utils import Environment

from adapters.store import StoreSettings
from projections.store import reader_pool
from service.audit.verification import ChainVerifier

APPLICATION = "subledger"  # the Ledger's name: it prefixes the store's environment


def main() -> int:
    store, after, upto = pickle.load(sys.stdin.buffer)
    assert isinstance(store, StoreSettings)
    out = sys.stdout.buffer
    env = Environment(APPLICATION, {**os.environ, **store.eventsourcing_env()})
    factory = InfrastructureFactory.construct(env)
    readers = reader_pool(store)

    def report(count: int) -> None:
        out.write(b"+%d\n" % count)
        out.flush()

    try:
        verifier = ChainVerifier(factory.application_recorder(), readers)
        found = verifier.verify(after, upto, progress=report)
    finally:
        readers.close()
        factory.close()
    out.write(b"=" + base64.b64encode(pickle.dumps(found)) + b"\n")
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
