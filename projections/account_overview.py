"""The account overview: one row per account, contract, seat pool, invoice and support case.

Each row holds the aggregate's JSON document (the shape the HTTP API answers with, see
``projections.documents``) and, beside it, the columns that queries filter, order and
sum on: statuses, dates as ISO text (which sorts as dates do), and amounts as integers
of minor units so sums are exact on both databases. Rows are written from the state of
the aggregate right after each event, folded with the domain's own code, so a row is
always what a replay of the aggregate says.

Invoices also keep every version of their document, with the instant it was recorded
(``overview_invoice_versions``): an account as of an instant reads its invoices' documents
there instead of folding each one (ADR 0030).
"""

from __future__ import annotations

import json
import json.encoder
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NamedTuple, TypedDict
from uuid import UUID

from domain import catalog
from domain.account import Account
from domain.base import LedgerAggregate
from domain.invoice import Invoice, InvoiceStatus
from domain.license import License
from domain.subscription import Subscription, SubscriptionStatus
from domain.support_case import SupportCase, SupportCaseStatus
from projections.audit_trail import recorded
from projections.documents import (
    Document,
    MoneyDocument,
    account_document,
    id_text,
    invoice_document,
    invoice_figures,
    license_document,
    minor_units,
    money_of_units,
    subscription_document_and_figures,
    support_case_document,
)
from projections.in_force import in_force_on
from projections.projection import AggregateFolder, LoadAggregate, LoadAggregates, LoggedEvent
from projections.store import Sql

ACCOUNTS = "overview_accounts"
SUBSCRIPTIONS = "overview_subscriptions"
LICENSES = "overview_licenses"
INVOICES = "overview_invoices"
SUPPORT_CASES = "overview_support_cases"
INVOICE_VERSIONS = "overview_invoice_versions"  # every version of each invoice's document
# What the views show of an invoice: its row and each of its versions' rows.
INVOICE_FIGURES = """number TEXT NOT NULL,
        status TEXT NOT NULL,
        currency TEXT NOT NULL,
        issued_on TEXT NOT NULL,
        due_on TEXT NOT NULL,
        total BIGINT NOT NULL,
        paid BIGINT NOT NULL,
        credited BIGINT NOT NULL,
        balance BIGINT NOT NULL"""

# A row as written: the table's own columns (``Table.columns``), then its version, its
# document and its id, the order of the UPDATE's parameters (SET ... WHERE id = ?).
Row = tuple[Any, ...]


def _unserialisable(value: object) -> object:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _encoder() -> Callable[[Document], str]:
    """What ``json.dumps(value, separators=(",", ":"))`` writes, from one C encoder made
    once and without the check for circular references (a document is a tree): each
    ``JSONEncoder.encode`` makes an encoder, and a dict of the containers it has seen."""
    make: Any = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # an interpreter without the json module's C part
        return json.JSONEncoder(separators=(",", ":"), check_circular=False).encode
    encode = make(
        None,  # markers: no check for cycles
        _unserialisable,
        json.encoder.encode_basestring_ascii,
        None,  # indent
        ":",
        ",",
        False,  # sort_keys
        False,  # skipkeys
        True,  # allow_nan
    )
    return lambda document: "".join(encode(document, 0))


_json = _encoder()


# The documents rendered most (an invoice at each of its versions, a contract at each
# batch that changes it), written as text by hand: what ``_json`` writes for their shape
# (projections.documents), a third of its cost (it makes a list of a dict's items and
# encodes each key again, for every dict). Every string goes through the encoder's own
# escaping; a test holds both to ``_json`` (tests/unit/test_read_model_shortcuts.py).
_quoted = json.encoder.encode_basestring_ascii


def _or_null(text: str | None) -> str:
    return "null" if text is None else _quoted(text)


def _money_json(money: MoneyDocument) -> str:
    return f'{{"amount":{_quoted(money["amount"])},"currency":{_quoted(money["currency"])}}}'


def _invoice_json(document: Document) -> str:
    lines = ",".join(
        f'{{"description":{_quoted(line["description"])}'
        f',"product_code":{_quoted(line["product_code"])}'
        f',"quantity":{int(line["quantity"])}'
        f',"unit_price":{_money_json(line["unit_price"])}'
        f',"period_start":{_quoted(line["period_start"])}'
        f',"period_end":{_quoted(line["period_end"])}'
        f',"amount":{_money_json(line["amount"])}'
        f',"tax_rate":{_quoted(line["tax_rate"])}'
        f',"tax":{_money_json(line["tax"])}}}'
        for line in document["lines"]
    )
    credit_notes = ",".join(
        f'{{"id":{_quoted(credit["id"])}'
        f',"number":{_quoted(credit["number"])}'
        f',"issued_on":{_quoted(credit["issued_on"])}'
        f',"amount":{_money_json(credit["amount"])}'
        f',"refund":{_money_json(credit["refund"])}}}'
        for credit in document["credit_notes"]
    )
    return (
        f'{{"id":{_quoted(document["id"])}'
        f',"version":{int(document["version"])}'
        f',"number":{_quoted(document["number"])}'
        f',"account_id":{_quoted(document["account_id"])}'
        f',"subscription_id":{_or_null(document["subscription_id"])}'
        f',"status":{_quoted(document["status"])}'
        f',"currency":{_quoted(document["currency"])}'
        f',"issued_on":{_quoted(document["issued_on"])}'
        f',"due_on":{_quoted(document["due_on"])}'
        f',"lines":[{lines}]'
        f',"subtotal":{_money_json(document["subtotal"])}'
        f',"tax":{_money_json(document["tax"])}'
        f',"total":{_money_json(document["total"])}'
        f',"paid":{_money_json(document["paid"])}'
        f',"credited":{_money_json(document["credited"])}'
        f',"balance":{_money_json(document["balance"])}'
        f',"paid_on":{_or_null(document["paid_on"])}'
        f',"credit_notes":[{credit_notes}]}}'
    )


def _lines_json(lines: list[Document]) -> str:
    return ",".join(
        f'{{"line_id":{_quoted(line["line_id"])}'
        f',"product_code":{_quoted(line["product_code"])}'
        f',"product_name":{_quoted(line["product_name"])}'
        f',"quantity":{int(line["quantity"])}'
        f',"unit_price":{_money_json(line["unit_price"])}'
        f',"amount":{_money_json(line["amount"])}}}'
        for line in lines
    )


def _subscription_json(document: Document) -> str:
    renewal = document["renewal"]
    renewal_json = (
        "null"
        if renewal is None
        else f'{{"starts_on":{_quoted(renewal["starts_on"])}'
        f',"term_months":{int(renewal["term_months"])}'
        f',"lines":[{_lines_json(renewal["lines"])}]}}'
    )
    return (
        f'{{"id":{_quoted(document["id"])}'
        f',"version":{int(document["version"])}'
        f',"account_id":{_quoted(document["account_id"])}'
        f',"status":{_quoted(document["status"])}'
        f',"currency":{_quoted(document["currency"])}'
        f',"billing_period":{_quoted(document["billing_period"])}'
        f',"term_start":{_quoted(document["term_start"])}'
        f',"term_end":{_quoted(document["term_end"])}'
        f',"lines":[{_lines_json(document["lines"])}]'
        f',"period_amount":{_money_json(document["period_amount"])}'
        f',"renewal":{renewal_json}'
        f',"ended_on":{_or_null(document["ended_on"])}}}'
    )


def _account_row(account: Account) -> Row:
    document = account_document(account)
    return (
        document["id"],  # its own account
        document["name"],
        document["edition"],
        document["currency"],
        document["payment_method"],
        document["identity_licenses"]["used"],
        document["upgrade_requested"],
        account.version,
        _json(document),
        document["id"],
    )


def _subscription_row(sub: Subscription) -> Row:
    document, figures = subscription_document_and_figures(sub)
    renewal = document["renewal"]
    value = figures.renewal_value
    return (
        document["account_id"],
        document["status"],
        document["currency"],
        document["billing_period"],
        document["term_start"],
        document["term_end"],
        minor_units(figures.period_amount),
        None if renewal is None else renewal["starts_on"],
        None if renewal is None else renewal["term_months"],
        None if value is None else minor_units(value),
        sub.version,
        _subscription_json(document),
        document["id"],
    )


def _license_row(lic: License) -> Row:
    document = license_document(lic)
    return (
        id_text(lic.account_id),
        document["product_code"],
        document["held"],
        len(document["assigned"]),
        lic.version,
        _json(document),
        str(lic.id),
    )


def _invoice_row(invoice: Invoice) -> Row:
    """An invoice's row: the sums over its lines made once for its columns and its
    document."""
    figures = invoice_figures(invoice)
    document = invoice_document(invoice, figures)
    return (
        document["account_id"],
        document["subscription_id"],
        document["number"],
        document["status"],
        document["currency"],
        document["issued_on"],
        document["due_on"],
        minor_units(figures.total),
        minor_units(invoice.paid),
        minor_units(invoice.credited),
        minor_units(figures.balance),
        invoice.version,
        _invoice_json(document),
        document["id"],
    )


def _support_case_row(case: SupportCase) -> Row:
    document = support_case_document(case)
    return (
        document["account_id"],
        document["status"],
        case.version,
        _json(document),
        document["id"],
    )


@dataclass(frozen=True)
class Table:
    """The table of one aggregate type: its own columns and how a state fills them."""

    name: str
    aggregate: type[LedgerAggregate]
    columns: str  # DDL of the columns beyond those every table has
    indexes: dict[str, str]
    row: Callable[[Any], Row]  # the aggregate's state as its row
    written: tuple[str, ...]  # the names of the row's values, in its order

    @property
    def update(self) -> str:
        sets = ", ".join(f"{column} = ?" for column in self.written[:-1])
        return f"UPDATE {self.name} SET {sets} WHERE id = ?"


_LAST = ("version", "document", "id")  # every row ends with these

TABLES: tuple[Table, ...] = (
    Table(
        ACCOUNTS,
        Account,
        """name TEXT NOT NULL,
        edition TEXT NOT NULL,
        currency TEXT NOT NULL,
        payment_method TEXT,
        identity_licenses_used INTEGER NOT NULL,
        upgrade_requested TEXT""",
        {},
        _account_row,
        (
            "account_id",
            "name",
            "edition",
            "currency",
            "payment_method",
            "identity_licenses_used",
            "upgrade_requested",
            *_LAST,
        ),
    ),
    Table(
        SUBSCRIPTIONS,
        Subscription,
        """status TEXT NOT NULL,
        currency TEXT NOT NULL,
        billing_period TEXT NOT NULL,
        term_start TEXT NOT NULL,
        term_end TEXT NOT NULL,
        period_amount BIGINT NOT NULL,
        renewal_starts_on TEXT,
        renewal_term_months INTEGER,
        renewal_value BIGINT""",
        {"renewal": "status, renewal_starts_on"},
        _subscription_row,
        (
            "account_id",
            "status",
            "currency",
            "billing_period",
            "term_start",
            "term_end",
            "period_amount",
            "renewal_starts_on",
            "renewal_term_months",
            "renewal_value",
            *_LAST,
        ),
    ),
    Table(
        LICENSES,
        License,
        """product_code TEXT NOT NULL,
        held INTEGER NOT NULL,
        assigned_count INTEGER NOT NULL""",
        {},
        _license_row,
        ("account_id", "product_code", "held", "assigned_count", *_LAST),
    ),
    Table(
        INVOICES,
        Invoice,
        f"""subscription_id TEXT,
        {INVOICE_FIGURES}""",
        {"open": "status, currency, due_on"},
        _invoice_row,
        (
            "account_id",
            "subscription_id",
            "number",
            "status",
            "currency",
            "issued_on",
            "due_on",
            "total",
            "paid",
            "credited",
            "balance",
            *_LAST,
        ),
    ),
    Table(
        SUPPORT_CASES,
        SupportCase,
        "status TEXT NOT NULL",
        {},
        _support_case_row,
        ("account_id", "status", *_LAST),
    ),
)


_TABLE_OF: dict[type, Table | None] = {}


def _table_of(event_type: type) -> Table | None:
    """The table of the aggregate an event of this type belongs to (None: no table)."""
    if event_type not in _TABLE_OF:
        _TABLE_OF[event_type] = next(
            (t for t in TABLES if issubclass(event_type, t.aggregate.Event)), None
        )
    return _TABLE_OF[event_type]


_INVOICES = next(t for t in TABLES if t.name == INVOICES)
_INVOICE_VERSION_COLUMNS = (
    "id",
    "version",
    "account_id",
    "recorded_at",
    "in_force_on",
    "number",
    "status",
    "currency",
    "issued_on",
    "due_on",
    "total",
    "paid",
    "credited",
    "balance",
    "document",
)


def _invoice_version(event: LedgerAggregate.Event, row: Row, stamp: str) -> tuple[Any, ...]:
    """The row of ``overview_invoice_versions`` for the invoice right after ``event``,
    from its row in ``overview_invoices`` then (``_invoice_row``) and the text of
    ``event``'s recorded time."""
    day = in_force_on(event)
    # row: account_id, subscription_id, number .. balance (2:11), version, document, id
    return (
        row[13],
        event.originator_version,
        row[0],
        stamp,
        None if day is None else day.isoformat(),
        *row[2:11],
        row[12],
    )


class AccountOverview:
    name = "account_overview"
    # 2: support cases have a status, replies and a closing; 3: credit notes; 4: every
    # version of each invoice's document (a store at 3 rebuilds the overview from 0)
    version = 4
    personal_data = True  # contacts, users, support cases: rebuilt after an erasure
    tables: tuple[str, ...] = (*(table.name for table in TABLES), INVOICE_VERSIONS)
    # The fold writes rows by id and reads none: every other index is the readers' (an
    # account's documents, open invoices, renewals), made once the overview is at the
    # log's end (projections.projection.reader_indexes).
    reader_indexes = (
        *(
            f"CREATE INDEX IF NOT EXISTS {table.name}_{name} ON {table.name} ({columns})"
            for table in TABLES
            for name, columns in {
                "account": "account_id, created_position",
                **table.indexes,
            }.items()
        ),
        f"CREATE INDEX IF NOT EXISTS {INVOICE_VERSIONS}_account"
        f" ON {INVOICE_VERSIONS} (account_id, recorded_at)",
    )

    # The aggregates kept between events, about 3.2 KB each (resident memory at 300,000
    # events of the rebuild benchmark: 141 MiB keeping 20,000, 406 MiB keeping all of its
    # 105,000): at most some 320 MiB. Enough for the benchmark's log of a million events,
    # whose aggregates come back at most 74,000 others later (22,203 at 300,000, scaled
    # by its 3.3 times as many copies), so a rebuild loads none from the store. At 20,000,
    # 138,000 of its events would have: each a query and a fold of the aggregate's past.
    CAPACITY = 100_000

    def __init__(
        self,
        load: LoadAggregate,
        load_many: LoadAggregates | None = None,
        capacity: int = CAPACITY,
    ) -> None:
        self.folder = AggregateFolder(load, capacity, load_many)

    def create(self, sql: Sql) -> None:
        for table in TABLES:
            # Every table: the aggregate's id and account, its version, the log position
            # of its creation (lists keep that order) and its document.
            own = f"{table.columns}," if table.columns else ""
            sql.execute(
                f"""CREATE TABLE IF NOT EXISTS {table.name} (
                    id TEXT PRIMARY KEY,
                    account_id TEXT NOT NULL,
                    {own}
                    version INTEGER NOT NULL,
                    created_position BIGINT NOT NULL,
                    document TEXT NOT NULL
                )"""
            )
        # One row per invoice event: the invoice right after it (its figures, and its
        # document), when it was recorded (the audit trail's text) and the first day the
        # event is in force (projections.in_force; NULL for the issue: every day). An
        # invoice's document and figures hold no personal field (the buyer is not in an
        # invoice's state, ADR 0027): nothing here needs erasing.
        sql.execute(
            f"""CREATE TABLE IF NOT EXISTS {INVOICE_VERSIONS} (
                id TEXT NOT NULL,
                version INTEGER NOT NULL,
                account_id TEXT NOT NULL,
                recorded_at TEXT NOT NULL,
                in_force_on TEXT,
                {INVOICE_FIGURES},
                document TEXT NOT NULL,
                PRIMARY KEY (id, version)
            )"""
        )

    def apply(self, sql: Sql, logged: LoggedEvent) -> None:
        self.apply_batch(sql, [logged])

    def apply_batch(self, sql: Sql, batch: Sequence[LoggedEvent]) -> None:
        """Fold the batch, then write each aggregate it touched once, in its state after
        the batch: the new ones in one multi-row INSERT per table, the others in one
        ``executemany`` UPDATE per table."""
        mine: list[tuple[LoggedEvent, Table]] = []
        for logged in batch:
            kind = logged.kind  # from the topic: an event of no table is never decoded
            table = _TABLE_OF[kind] if kind in _TABLE_OF else _table_of(kind)
            if table is not None:  # not tokens, numbers, idempotency records: no account shows them
                mine.append((logged, table))
        self.folder.prefetch([logged.event for logged, _ in mine])
        after = self.folder.after
        # Each aggregate touched: its table, its state after the batch, the log position of
        # its creation if the batch created it.
        touched: dict[int, tuple[Table, Any, int | None]] = {}
        invoice_versions: list[tuple[Any, ...]] = []
        # Each invoice's row as rendered for its last version in the batch: the state the
        # batch leaves it in, so its row in overview_invoices too.
        rendered: dict[int, Row] = {}
        stamps: dict[datetime, str] = {}  # a command's events share their recorded time
        for logged, table in mine:
            event = logged.event
            # Keyed by the id's number: a UUID's hash and equality are Python code.
            aggregate_id = event.originator_id.int
            if event.originator_version == 1:
                created: int | None = logged.position
            else:
                seen = touched.get(aggregate_id)
                created = None if seen is None else seen[2]
            aggregate = after(event)
            touched[aggregate_id] = (table, aggregate, created)
            if table is _INVOICES:
                # Now: the folder goes on mutating the same aggregate with the next event.
                row = rendered[aggregate_id] = _invoice_row(aggregate)
                stamp = stamps.get(event.timestamp)
                if stamp is None:
                    stamp = stamps[event.timestamp] = recorded(event.timestamp)
                invoice_versions.append(_invoice_version(event, row, stamp))
        sql.insert_many(INVOICE_VERSIONS, _INVOICE_VERSION_COLUMNS, invoice_versions)
        new: dict[str, list[Row]] = {table.name: [] for table in TABLES}
        changed: dict[str, list[Row]] = {table.name: [] for table in TABLES}
        for aggregate_id, (table, aggregate, created) in touched.items():
            row = rendered.get(aggregate_id) or table.row(aggregate)
            if created is None:
                changed[table.name].append(row)
            else:
                new[table.name].append((*row, created))
        for table in TABLES:
            if new[table.name]:
                sql.insert_many(table.name, (*table.written, "created_position"), new[table.name])
            if changed[table.name]:
                sql.executemany(table.update, changed[table.name])

    def forget(self) -> None:
        self.folder.forget()


# -- queries ----------------------------------------------------------------------------


def _document(sql: Sql, table: str, aggregate_id: UUID) -> Document | None:
    text = sql.scalar(f"SELECT document FROM {table} WHERE id = ?", (str(aggregate_id),))
    return None if text is None else dict(json.loads(text))


def _documents_of(
    sql: Sql, table: str, account_id: UUID, status: str | None = None
) -> list[Document]:
    """The account's documents in one table, oldest first (log order of creation); only
    those in ``status`` if one is named."""
    where, values = "account_id = ?", [str(account_id)]
    if status is not None:
        where, values = f"{where} AND status = ?", [*values, status]
    rows = sql.execute(
        f"SELECT document FROM {table} WHERE {where} ORDER BY created_position", tuple(values)
    ).fetchall()
    return [dict(json.loads(text)) for (text,) in rows]


def account(sql: Sql, account_id: UUID) -> Document | None:
    """The account's document (``AccountOut``), or None if there is no such account."""
    return _document(sql, ACCOUNTS, account_id)


def all_accounts(sql: Sql) -> list[Document]:
    """Every account's document (``AccountOut``), by name."""
    rows = sql.execute(f"SELECT document FROM {ACCOUNTS} ORDER BY name, id").fetchall()
    return [dict(json.loads(text)) for (text,) in rows]


def find_accounts(sql: Sql, text: str, limit: int = 50) -> list[Document]:
    """Accounts whose name holds ``text`` (any case), whose id is ``text``, or that were
    issued the invoice numbered ``text``; by name."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    rows = sql.execute(
        f"SELECT document FROM {ACCOUNTS} WHERE lower(name) LIKE ? ESCAPE '\\' OR id = ?"
        f" OR id IN (SELECT account_id FROM {INVOICES} WHERE number = ?)"
        " ORDER BY name, id LIMIT ?",
        (f"%{escaped}%", text.lower(), text, limit),
    ).fetchall()
    return [dict(json.loads(doc)) for (doc,) in rows]


def subscription(sql: Sql, subscription_id: UUID) -> Document | None:
    """A contract's document (``SubscriptionOut``)."""
    return _document(sql, SUBSCRIPTIONS, subscription_id)


def invoice(sql: Sql, invoice_id: UUID) -> Document | None:
    """An invoice's document (``InvoiceOut``)."""
    return _document(sql, INVOICES, invoice_id)


class InvoiceVersion(NamedTuple):
    """An invoice at the version known at an instant, as ``overview_invoice_versions``
    holds it: minor units for the amounts, ISO text for the days, the document as text."""

    id: str
    version: int
    first_deferred: int | None  # the first of its versions up to it not yet in force
    number: str
    status: str
    currency: str
    issued_on: str
    due_on: str
    total: int
    paid: int
    credited: int
    balance: int
    document: str


def invoices_at(sql: Sql, account_id: UUID, as_of: datetime, on: date) -> list[InvoiceVersion]:
    """The account's invoices recorded by ``as_of``, each at its last version recorded by
    then, with the first of its versions not yet in force on ``on`` (the rule of
    ``projections.point_in_time.versions_of_account``, over this table's own
    ``in_force_on``), in the order they were issued. One query; complete only once the
    overview has reached the events recorded by ``as_of`` (``caught_up_with``)."""
    rows = sql.execute(
        f"SELECT d.id, d.version, (SELECT MIN(p.version) FROM {INVOICE_VERSIONS} p"
        " WHERE p.id = d.id AND p.version <= d.version AND p.in_force_on > ?),"
        " d.number, d.status, d.currency, d.issued_on, d.due_on,"
        " d.total, d.paid, d.credited, d.balance, d.document"
        f" FROM {INVOICE_VERSIONS} d JOIN {INVOICES} o ON o.id = d.id"
        " WHERE d.account_id = ? AND d.recorded_at <= ?"
        f" AND NOT EXISTS (SELECT 1 FROM {INVOICE_VERSIONS} n"
        " WHERE n.id = d.id AND n.version > d.version AND n.recorded_at <= ?)"
        " ORDER BY o.created_position",
        (on.isoformat(), str(account_id), recorded(as_of), recorded(as_of)),
    ).fetchall()
    return [
        InvoiceVersion(
            str(row[0]),
            int(row[1]),
            None if row[2] is None else int(row[2]),
            str(row[3]),
            str(row[4]),
            str(row[5]),
            str(row[6]),
            str(row[7]),
            int(row[8]),
            int(row[9]),
            int(row[10]),
            int(row[11]),
            str(row[12]),
        )
        for row in rows
    ]


def caught_up_with(sql: Sql, projection: str) -> bool:
    """Whether the overview has reached at least the position of ``projection``."""
    positions = dict(
        sql.execute(
            "SELECT name, position FROM projection_positions WHERE name IN (?, ?)",
            (AccountOverview.name, projection),
        ).fetchall()
    )
    mine, theirs = positions.get(AccountOverview.name), positions.get(projection)
    return mine is not None and theirs is not None and int(mine) >= int(theirs)


def subscriptions_of(sql: Sql, account_id: UUID) -> list[Document]:
    """The account's contracts (``SubscriptionOut``), in the order they were started."""
    return _documents_of(sql, SUBSCRIPTIONS, account_id)


def invoices_of(sql: Sql, account_id: UUID) -> list[Document]:
    """The account's invoices (``InvoiceOut``), in the order they were issued."""
    return _documents_of(sql, INVOICES, account_id)


def support_case(sql: Sql, case_id: UUID) -> Document | None:
    """A support case's document (``SupportCaseOut``)."""
    return _document(sql, SUPPORT_CASES, case_id)


def support_cases_of(
    sql: Sql, account_id: UUID, status: SupportCaseStatus | None = None
) -> list[Document]:
    """The account's support cases (``SupportCaseOut``), in the order they were opened;
    only those of ``status`` if one is named."""
    return _documents_of(sql, SUPPORT_CASES, account_id, None if status is None else status.value)


_CATALOG_ORDER = {code: n for n, code in enumerate(catalog.PRODUCTS)}


def _catalog_rank(product_code: str) -> int:
    return _CATALOG_ORDER.get(product_code, len(_CATALOG_ORDER))


def licenses_of(sql: Sql, account_id: UUID) -> list[Document]:
    """The account's seat pools (``LicenseOut``), in catalog order."""
    found = _documents_of(sql, LICENSES, account_id)
    return sorted(found, key=lambda doc: _catalog_rank(doc["product_code"]))


class Seats(TypedDict):
    product_code: str
    product_name: str
    held: int
    assigned: int
    available: int


class NextRenewal(TypedDict):
    subscription_id: str
    starts_on: str
    term_months: int
    value: MoneyDocument  # one billing period of the renewal's lines, before tax


class Overview(TypedDict):
    account: Document  # AccountOut: edition, billing details, contacts, identity licenses
    contracts: list[Document]  # SubscriptionOut, every contract with its lines
    seats: list[Seats]  # per product, catalog order
    next_renewal: NextRenewal | None  # the earliest scheduled renewal of an active contract
    open_balance: list[MoneyDocument]  # per currency; the account's own always included
    open_invoices: int


def overview(sql: Sql, account_id: UUID) -> Overview | None:
    """What the account's home screen shows, or None if there is no such account."""
    found = account(sql, account_id)
    if found is None:
        return None
    key = (str(account_id),)
    seats = sorted(
        sql.execute(
            f"SELECT product_code, held, assigned_count FROM {LICENSES} WHERE account_id = ?", key
        ).fetchall(),
        key=lambda row: _catalog_rank(row[0]),
    )
    renewal = sql.execute(
        f"SELECT id, renewal_starts_on, renewal_term_months, renewal_value, currency "
        f"FROM {SUBSCRIPTIONS} WHERE account_id = ? AND status = ? "
        "AND renewal_starts_on IS NOT NULL ORDER BY renewal_starts_on, created_position LIMIT 1",
        (*key, SubscriptionStatus.ACTIVE.value),
    ).fetchone()
    balances = {found["currency"]: 0}
    open_invoices = 0
    for currency, balance, count in sql.execute(
        f"SELECT currency, SUM(balance), COUNT(*) FROM {INVOICES} "
        "WHERE account_id = ? AND status = ? GROUP BY currency",
        (*key, InvoiceStatus.OPEN.value),
    ).fetchall():
        balances[currency] = int(balance)
        open_invoices += int(count)
    return {
        "account": found,
        "contracts": subscriptions_of(sql, account_id),
        "seats": [
            {
                "product_code": code,
                "product_name": catalog.product(code).name,
                "held": int(held),
                "assigned": int(assigned),
                "available": int(held) - int(assigned),
            }
            for code, held, assigned in seats
        ],
        "next_renewal": None
        if renewal is None
        else {
            "subscription_id": renewal[0],
            "starts_on": renewal[1],
            "term_months": int(renewal[2]),
            "value": money_of_units(int(renewal[3]), renewal[4]),
        },
        "open_balance": [money_of_units(units, c) for c, units in sorted(balances.items())],
        "open_invoices": open_invoices,
    }
