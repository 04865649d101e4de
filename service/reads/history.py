"""``subledger history``: an account's state at a point in time, and its timeline, as text."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from uuid import UUID

from adapters.runner_lock import RunnerLock
from domain.money import total
from projections.point_in_time import TimelineEntry, timeline
from service.reads.point_in_time import AccountAt, account_at, parse_as_of, parse_effective
from service.reads.read_side import ReadSide


def text_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    """Left-aligned columns, as wide as their widest cell, under a rule."""
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: list[str]) -> str:
        return "  ".join(
            cell.ljust(width) for cell, width in zip(row, widths, strict=True)
        ).rstrip()

    return [line(cells[0]), line(["-" * w for w in widths]), *(line(r) for r in cells[1:])]


def _instant(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _state(view: AccountAt) -> list[str]:
    account = view.account.aggregate
    b = account.billing
    address = ", ".join(p for p in (b.address_line1, b.address_line2, b.city, b.region) if p)
    out = [
        f"Account {account.name} ({account.id}), version {view.account.version}",
        f"  edition         {account.edition.value}",
        f"  currency        {account.currency}",
        f"  billing         {b.legal_name}, {address} {b.postal_code}, {b.country}",
        f"  tax id          {b.tax_id or '-'}",
        f"  invoice e-mail  {b.invoice_email}",
        f"  payment method  {account.payment_method or '-'}",
        "",
        "Contracts",
    ]
    contracts = []
    lines = []
    for found in view.subscriptions:
        sub = found.aggregate
        renewal = f"{sub.renewal.term_months} months" if sub.renewal else "none"
        status = sub.status.value if found.in_force or not sub.is_active else "not started"
        contracts.append(
            (
                sub.id,
                status,
                f"{sub.term.start} .. {sub.term.end}",
                sub.billing_period.value,
                renewal,
                sub.period_amount,
            )
        )
        lines += [
            (sub.id, ln.product_code, ln.quantity, ln.unit_price, ln.amount)
            for ln in sub.lines.values()
        ]
    out += text_table(
        ("contract", "status", "term", "billing", "renews for", "per period"), contracts
    )
    out += ["", "Contract lines"]
    out += text_table(("contract", "product", "quantity", "unit price", "per period"), lines)
    out += ["", "Seats"]
    out += text_table(
        ("product", "held", "assigned"),
        [
            (f.aggregate.product_code, f.aggregate.held, len(f.aggregate.assigned))
            for f in view.licenses
        ],
    )
    out += ["", "Invoices"]
    issued = [f for f in view.invoices if f.in_force]  # their documents' figures
    out += text_table(
        ("number", "issued", "due", "status", "total", "paid", "credited", "balance"),
        [
            (
                i.number,
                i.issued_on,
                i.due_on,
                i.status.value,
                i.total,
                i.paid,
                i.credited,
                i.balance,
            )
            for i in issued
        ],
    )
    out.append(f"open balance: {total([i.balance for i in issued], account.currency)}")
    return out


def _timeline(entries: list[TimelineEntry], on: date) -> list[str]:
    rows = []
    for entry in entries:
        pending = entry.in_force_on is not None and entry.in_force_on > on.isoformat()
        rows.append(
            (
                entry.recorded_at[:19].replace("T", " "),
                entry.event_type,
                f"{entry.actor} ({entry.role})",
                entry.effective_on or "-",
                "later" if pending else "yes",
                entry.reason or "",
            )
        )
    return text_table(("recorded (UTC)", "event", "actor", "effective", "in force", "reason"), rows)


def render_history(view: AccountAt, entries: list[TimelineEntry]) -> str:
    header = f"As known at {_instant(view.account.as_of)} UTC, in force on {view.account.effective}"
    body = [header, "", *_state(view), "", "Timeline", *_timeline(entries, view.account.effective)]
    return "\n".join(body)


def catch_up(read_side: ReadSide) -> None:
    """Bring the read models up to the log: here if no runner is active, else wait for it."""
    lock = RunnerLock(read_side.settings)
    if lock.try_acquire():
        try:
            read_side.runner.catch_up()
        finally:
            lock.release()
    else:
        read_side.wait_for(read_side.ledger.head_position(), timeout=30)


def history_at(
    read_side: ReadSide, account_id: UUID, as_of: str | None, effective: str | None
) -> tuple[AccountAt, list[TimelineEntry]]:
    """The account as known at ``as_of`` (default now), in force on ``effective``
    (default as_of's day), and its timeline up to ``as_of``."""
    moment = parse_as_of(as_of) if as_of else read_side.ledger.clock.now()
    day = parse_effective(effective) if effective else None
    catch_up(read_side)
    with read_side.readers.transaction() as sql:
        view = account_at(read_side.ledger, sql, account_id, moment, day)
        return view, timeline(sql, account_id, moment)


def show_history(
    read_side: ReadSide, account_id: UUID, as_of: str | None, effective: str | None
) -> int:
    """Print the account's state and timeline at a point in time (``history_at``)."""
    print(render_history(*history_at(read_side, account_id, as_of, effective)))
    return 0
