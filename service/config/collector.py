"""How the service's long-running processes set Python's cyclic garbage collector (ADR 0031).

Reference counting frees almost everything the service allocates; the collector only
looks for cycles, and each time it runs it walks every object of the generations it
collects. With the interpreter's defaults (a young collection every 700 net
allocations, a full one when the older generations have grown by a quarter) a served
process walks its ~200,000 objects of modules, routes and schemas again and again, and
the projection runner its caches of tens of thousands of aggregates: a rebuild spent
about a fifth of its CPU time in the collector, and a full collection during a
point-in-time read of a large account took its p95 to three times its p50. A catch-up
far behind (a rebuild) also freezes what each batch leaves alive, the projections'
caches, until it ends (``ProjectionRunner.catch_up``).
"""

from __future__ import annotations

import gc

# Net allocations between young collections (default 700); then 20 young collections per
# middle one and 10 middle per full one (defaults 10 and 10). A young collection walks at
# most this many objects, so a cycle's garbage waits a little longer and nothing grows.
THRESHOLDS = (50_000, 20, 10)


def tune_for_long_running() -> None:
    """Collect less often: what a served process or a projection runner allocates in
    bulk (a page of events, a batch's aggregates, an account's thousands of invoices) is
    mostly acyclic and freed by reference counting, not by the collector."""
    gc.set_threshold(*THRESHOLDS)


def freeze_what_started() -> None:
    """Move everything alive now (after start-up) out of the collector's reach for good:
    it lives as long as the process, and full collections then walk only what came
    after. Objects frozen are still freed by reference counting."""
    gc.collect()
    gc.freeze()
