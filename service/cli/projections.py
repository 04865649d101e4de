"""``subledger projections``: run, rebuild and inspect the read models."""

from __future__ import annotations

import contextlib
import signal
import sys

import click

from adapters.runner_lock import RunnerLock
from projections.projection import is_permanent
from service.bootstrap import Service
from service.cli.progress import ProgressBar
from service.cli.runner import fail, with_service
from service.config.collector import freeze_what_started, tune_for_long_running
from service.reads.parallel_rebuild import MAX_JOBS, GroupFailed, rebuild_in_parallel


@click.group(help="run, rebuild and inspect read models")
def projections() -> None:
    pass


@projections.command(help="keep the read models current (a worker)")
@click.option(
    "--exit-if-running",
    is_flag=True,
    help="exit at once if another runner holds the lock (default: wait for it)",
)
@with_service(reading=True)
def run(svc: Service, exit_if_running: bool) -> int:
    read_side = svc.read_side
    if exit_if_running:
        lock = RunnerLock(read_side.settings)
        if not lock.try_acquire():
            fail("another projection runner is active on this store")
            return 1
        lock.release()
    print(f"projections: {', '.join(read_side.names)}; waiting to be the runner", flush=True)
    tune_for_long_running()
    freeze_what_started()
    signal.signal(signal.SIGTERM, lambda *_: read_side.stop_soon())
    with contextlib.suppress(KeyboardInterrupt):
        read_side.run()
    return 0


@projections.command(help="rebuild read models from 0 (every one but the hash chain with --all)")
@click.argument("names", nargs=-1)
@click.option("--all", "every", is_flag=True, help="every read model that can be rebuilt")
@click.option(
    "--jobs",
    type=click.IntRange(min=1, max=MAX_JOBS),
    default=None,
    help="processes sharing the read models out (default: one per core on PostgreSQL,"
    " two on SQLite)",
)
@with_service(reading=True)
def rebuild(svc: Service, names: tuple[str, ...], every: bool, jobs: int | None) -> int:
    read_side = svc.read_side
    if every == bool(names):
        fail("name the read models to rebuild, or --all")
        return 1
    chosen = [p.name for p in read_side.projections if not is_permanent(p)] if every else names
    try:
        projections = [read_side.projection(name) for name in dict.fromkeys(chosen)]
    except KeyError as error:
        fail(error.args[0])
        return 1
    if permanent := [p.name for p in projections if is_permanent(p)]:
        fail(
            f"{', '.join(permanent)} is permanent: sealed once, never rebuilt "
            "(check it with `subledger audit verify`)"
        )
        return 1
    lock = RunnerLock(read_side.settings)
    if not lock.try_acquire():
        fail("a projection runner is active on this store; stop it, then rebuild")
        return 1
    tune_for_long_running()
    try:
        for projection in projections:
            read_side.runner.reset(projection)
        label = projections[0].name if len(projections) == 1 else f"{len(projections)} read models"
        if len(projections) > 1:
            print(f"read models: {', '.join(p.name for p in projections)}", file=sys.stderr)
        total = read_side.ledger.head_position() * len(projections)
        with ProgressBar(f"rebuilding {label}", total) as bar:
            rebuild_in_parallel(read_side, [p.name for p in projections], jobs, bar.advance)
    except GroupFailed as error:
        fail(str(error))
        return 1
    finally:
        lock.release()
    failures = read_side.failures()
    for projection in projections:
        if failed := failures.get(projection.name):
            fail(failed.describe())
    return 1 if any(p.name in failures for p in projections) else 0


@projections.command(help="each read model's position, lag and failure; exit 1 if one is stopped")
@with_service(reading=True)
def status(svc: Service) -> int:
    read_side = svc.read_side
    positions, failing = read_side.positions(), read_side.failures()
    for name, lag in read_side.lag().items():
        print(f"{name:20} position {positions[name]:>10}  lag {lag}")
    for failure in failing.values():
        print(f"FAILING: {failure.describe()}")
    running = read_side.runner_running()
    print("runner: " + ("a process runs the projections" if running else "none running"))
    return 1 if failing or not running else 0
