"""The retention agenda: what the retention run (service/privacy/retention.py) and an
erasure request for a buyer need to know of the log, without scanning it (ADR 0027, 0029).

Two tables, kept by the projection runner like every read model:

- ``retention_invoices``: one row per issued invoice: its account, number, day of issue
  and financial year (NULL for one issued before invoices kept their buyer, v1), in log
  order. An erasure request reads an account's rows to know which buyer keys its
  invoices still need (``service.privacy.retention.holds``).
- ``retention_keys``: one row per buyer key ``buyer:<account>:<subject id>`` the log
  names: the financial year whose invoices are sealed under it (NULL for the billing
  details' key, ``""``), the day an erasure request holds it until (NULL: not held, or
  erased since), and whether its erasure is recorded (``PersonalDataErased``).

Only facts of the log are kept, never a day computed from the retention settings: the
settings may change (``Ledger.retention``), and the run works the days out on reading.
No personal data is kept: account ids, invoice numbers, years and days.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from uuid import UUID

from eventsourcing.utils import get_topic

from domain.account import Account
from domain.invoice import Invoice
from domain.personal_data import SubjectKind
from projections.projection import LoggedEvent
from projections.store import Sql

KEYS = "retention_keys"
INVOICES = "retention_invoices"
CHUNK = 500  # ids per IN list
REMEMBERED = 10_000  # accounts whose key rows are kept between steps (least recent go)

_KEY_COLUMNS = ("account_id", "subject_id", "financial_year", "held_until", "erased")
_INVOICE_COLUMNS = (
    "invoice_id",
    "account_id",
    "number",
    "financial_year",
    "issued_on",
    "position",
)
# Read by topic, so that the other events of a batch are never decoded.
_TOPICS = {
    get_topic(cls)
    for cls in (Invoice.InvoiceIssued, Account.PersonalDataHeld, Account.PersonalDataErased)
}


@dataclass(frozen=True)
class BuyerKey:
    """A buyer key as the log leaves it."""

    account_id: UUID
    subject_id: str  # a financial year, or "" for the account's billing details
    financial_year: int | None  # invoices issued in it are sealed under this key
    held_until: date | None  # an erasure request holds it until then (None: not held)
    erased: bool  # its PersonalDataErased is recorded

    def row(self) -> tuple[object, ...]:
        return (
            str(self.account_id),
            self.subject_id,
            self.financial_year,
            None if self.held_until is None else self.held_until.isoformat(),
            int(self.erased),
        )

    @classmethod
    def of_row(cls, row: Sequence[object]) -> BuyerKey:
        account_id, subject_id, year, held_until, erased = row
        return cls(
            UUID(str(account_id)),
            str(subject_id),
            None if year is None else int(str(year)),
            None if held_until is None else date.fromisoformat(str(held_until)),
            bool(erased),
        )


@dataclass(frozen=True)
class IssuedInvoice:
    number: str
    financial_year: int | None  # None: issued before invoices kept their buyer (v1)
    issued_on: date


class RetentionAgenda:
    """A batch is folded in memory (the key rows of the accounts it touches read in one
    query per 500) and written with one delete and one insert per table. The key rows of
    the accounts recently touched are kept for the runner's next step (``resume``)."""

    name = "retention"
    version = 1
    tables: tuple[str, ...] = (KEYS, INVOICES)

    def __init__(self) -> None:
        # Every key row of each account kept (an account without keys: empty), as the
        # transaction ``_in`` leaves them; used in that transaction only.
        self._accounts: OrderedDict[UUID, dict[str, BuyerKey]] = OrderedDict()
        self._in: Sql | None = None

    def create(self, sql: Sql) -> None:
        sql.execute(
            f"""CREATE TABLE IF NOT EXISTS {INVOICES} (
                invoice_id TEXT PRIMARY KEY,
                account_id TEXT NOT NULL,
                number TEXT NOT NULL,
                financial_year INTEGER,
                issued_on TEXT NOT NULL,
                position BIGINT NOT NULL
            )"""
        )
        sql.execute(
            f"CREATE INDEX IF NOT EXISTS {INVOICES}_account ON {INVOICES} (account_id, position)"
        )
        sql.execute(
            f"""CREATE TABLE IF NOT EXISTS {KEYS} (
                account_id TEXT NOT NULL,
                subject_id TEXT NOT NULL,
                financial_year INTEGER,
                held_until TEXT,
                erased INTEGER NOT NULL,
                PRIMARY KEY (account_id, subject_id)
            )"""
        )
        sql.execute(f"CREATE INDEX IF NOT EXISTS {KEYS}_year ON {KEYS} (financial_year)")
        sql.execute(f"CREATE INDEX IF NOT EXISTS {KEYS}_held ON {KEYS} (held_until)")

    def apply(self, sql: Sql, logged: LoggedEvent) -> None:
        self.apply_batch(sql, [logged])

    def apply_batch(self, sql: Sql, batch: Sequence[LoggedEvent]) -> None:
        found = [logged for logged in batch if logged.notification.topic in _TOPICS]
        if not found:
            return
        invoices: list[tuple[object, ...]] = []
        folded: list[tuple[tuple[UUID, str], LoggedEvent]] = []
        for logged in found:
            event = logged.event
            if isinstance(event, Invoice.InvoiceIssued):
                year = event.financial_year
                invoices.append(
                    (
                        str(event.originator_id),
                        str(event.account_id),
                        event.number,
                        year,
                        event.issued_on.isoformat(),
                        logged.position,
                    )
                )
                if year is not None:  # v1 invoices use the billing details' key
                    folded.append(((event.account_id, str(year)), logged))
            elif getattr(event, "kind", None) == SubjectKind.BUYER.value:
                folded.append(((event.originator_id, event.subject_id), logged))  # type: ignore[attr-defined]
        sql.insert_many(INVOICES, _INVOICE_COLUMNS, invoices)
        if not folded:
            return
        keys = self._keys(sql, {account_id for (account_id, _), _ in folded})
        changed: dict[tuple[UUID, str], BuyerKey] = {}
        for (account_id, subject_id), logged in folded:
            key = changed.get((account_id, subject_id)) or keys.get((account_id, subject_id))
            key = key or BuyerKey(account_id, subject_id, None, None, False)
            changed[(account_id, subject_id)] = _fold(key, logged.event)
        # Written: the keys the batch changed. Most invoices are issued in a year whose key
        # the account has already: its row stays as it is, two statements fewer.
        changed = {at: key for at, key in changed.items() if keys.get(at) != key}
        sql.executemany(
            f"DELETE FROM {KEYS} WHERE account_id = ? AND subject_id = ?",
            [(str(a), s) for a, s in changed if (a, s) in keys],
        )
        sql.insert_many(KEYS, _KEY_COLUMNS, [key.row() for key in changed.values()])
        for (account_id, subject_id), key in changed.items():
            self._accounts[account_id][subject_id] = key

    def _keys(self, sql: Sql, accounts: set[UUID]) -> dict[tuple[UUID, str], BuyerKey]:
        """The key rows of these accounts: those kept for this transaction, the others
        read (and kept from now on)."""
        if self._in is not sql:
            self.forget()
            self._in = sql
        kept = self._accounts
        for account_id in accounts:
            if account_id in kept:
                kept.move_to_end(account_id)
        wanted = {account_id for account_id in accounts if account_id not in kept}
        read = _keys(sql, wanted) if wanted else {}
        for account_id in wanted:
            kept[account_id] = {}
        for (account_id, subject_id), key in read.items():
            kept[account_id][subject_id] = key
        while len(kept) > max(REMEMBERED, len(accounts)):
            kept.popitem(last=False)
        return {
            (account_id, subject_id): key
            for account_id in accounts
            for subject_id, key in kept[account_id].items()
        }

    def resume(self, sql: Sql) -> None:
        """The tables are as this projection's last committed step left them (the runner
        claimed its position): the key rows kept are used in ``sql``."""
        self._in = sql

    def forget(self) -> None:
        """Another runner may apply this projection too (a retention run catching it up),
        so what is kept is used only while the runner vouches for it (``resume``)."""
        self._accounts.clear()
        self._in = None


def _fold(key: BuyerKey, event: object) -> BuyerKey:
    if isinstance(event, Invoice.InvoiceIssued):
        return replace(key, financial_year=event.financial_year)
    if isinstance(event, Account.PersonalDataHeld):
        return replace(key, held_until=event.until)
    # Erased: no longer held (a later request may hold it again), and recorded.
    return replace(key, held_until=None, erased=True)


def _keys(sql: Sql, accounts: set[UUID]) -> dict[tuple[UUID, str], BuyerKey]:
    """The key rows of these accounts."""
    found: dict[tuple[UUID, str], BuyerKey] = {}
    wanted = [str(i) for i in accounts]
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start : start + CHUNK]
        marks = ", ".join("?" for _ in chunk)
        rows = sql.execute(
            f"SELECT {', '.join(_KEY_COLUMNS)} FROM {KEYS} WHERE account_id IN ({marks})", chunk
        ).fetchall()
        for row in rows:
            key = BuyerKey.of_row(row)
            found[(key.account_id, key.subject_id)] = key
    return found


# -- reading -----------------------------------------------------------------------------


def keys_due(sql: Sql, last_year: int, held_until: date) -> list[BuyerKey]:
    """The keys of the financial years up to ``last_year``, and those held until
    ``held_until`` or earlier."""
    rows = sql.execute(
        f"SELECT {', '.join(_KEY_COLUMNS)} FROM {KEYS}"
        " WHERE financial_year <= ? OR held_until <= ?",
        (last_year, held_until.isoformat()),
    ).fetchall()
    return [BuyerKey.of_row(row) for row in rows]


def invoices_of(sql: Sql, account_id: UUID) -> list[IssuedInvoice]:
    """The account's invoices, in the order they were issued."""
    rows = sql.execute(
        f"SELECT number, financial_year, issued_on FROM {INVOICES}"
        " WHERE account_id = ? ORDER BY position",
        (str(account_id),),
    ).fetchall()
    return [
        IssuedInvoice(
            str(number), None if year is None else int(str(year)), date.fromisoformat(str(day))
        )
        for number, year, day in rows
    ]


def rows(sql: Sql) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    """Every row of both tables, in a fixed order (tests compare a rebuild with them)."""
    keys = sql.execute(
        f"SELECT {', '.join(_KEY_COLUMNS)} FROM {KEYS} ORDER BY account_id, subject_id"
    ).fetchall()
    invoices = sql.execute(
        f"SELECT {', '.join(_INVOICE_COLUMNS)} FROM {INVOICES} ORDER BY position"
    ).fetchall()
    return [tuple(r) for r in keys], [tuple(r) for r in invoices]
