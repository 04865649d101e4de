"""The read models' shortcuts (ADR 0025) give what the plain code they replace gives.

Each shortcut is held against the code it replaced, kept here as the oracle: the overview
row made from the aggregate's document (its sums made once for both, its text written by
one encoder, or by hand for invoices and contracts) against the row read from the
aggregate itself and ``json.dumps``, for every aggregate of the demo's fourteen months;
``to_json`` choosing its branch once per type against the chain of ``isinstance``;
``recorded`` against ``strftime``; the audit trail's rows of the demo's events against the
rows the trail wrote when it made each created aggregate and converted each event with
that chain."""

from __future__ import annotations

import copy
import dataclasses
import json
import sqlite3
from collections import Counter
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from enum import Enum, StrEnum
from typing import Any
from uuid import UUID, uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.payments import FakePaymentProvider
from domain.account import Account
from domain.base import LedgerAggregate
from domain.cause import Cause
from domain.money import Money
from projections import account_overview
from projections.audit_trail import (
    COLUMNS,
    TABLE,
    AuditTrail,
    account_of,
    created_identity,
    recorded,
    redacted,
)
from projections.event_json import ENVELOPE, event_type, to_json
from projections.projection import LoggedEvent
from projections.store import Sql
from service.demo.history import load_demo
from service.ledger.application import Ledger
from service.ledger.read_models import read_log


@pytest.fixture(scope="module")
def demo() -> Ledger:
    ledger, _ = load_demo(
        lambda clock: Ledger(
            env={"PERSISTENCE_MODULE": "eventsourcing.popo"},
            clock=clock,
            payment_provider=FakePaymentProvider(),
        )
    )
    return ledger


@pytest.fixture(scope="module")
def aggregates(demo: Ledger) -> list[LedgerAggregate]:
    ledger = demo
    ids = {n.originator_id for n in ledger.recorder.select_notifications(1, 1_000_000)}
    found = [ledger.repository.get(i, deepcopy_from_cache=False) for i in ids]
    return [a for a in found if isinstance(a, LedgerAggregate)]


# The overview's rows as first written (before ADR 0025's shortcuts): each column read
# from the aggregate itself, the document encoded by ``json.dumps``.
def _account_row(account: Any) -> dict[str, Any]:
    return {
        "account_id": str(account.id),
        "name": account.name,
        "edition": account.edition.value,
        "currency": account.currency,
        "payment_method": account.payment_method,
        "identity_licenses_used": len(account.identity_licenses),
        "upgrade_requested": None
        if account.upgrade_requested is None
        else account.upgrade_requested.value,
    }


def _subscription_row(sub: Any) -> dict[str, Any]:
    from projections.documents import minor_units, renewal_value

    renewal = renewal_value(sub)
    return {
        "account_id": str(sub.account_id),
        "status": sub.status.value,
        "currency": sub.currency,
        "billing_period": sub.billing_period.value,
        "term_start": sub.term.start.isoformat(),
        "term_end": sub.term.end.isoformat(),
        "period_amount": minor_units(sub.period_amount),
        "renewal_starts_on": None if sub.renewal is None else sub.term.end.isoformat(),
        "renewal_term_months": None if sub.renewal is None else sub.renewal.term_months,
        "renewal_value": None if renewal is None else minor_units(renewal),
    }


def _license_row(lic: Any) -> dict[str, Any]:
    return {
        "account_id": str(lic.account_id),
        "product_code": lic.product_code,
        "held": lic.held,
        "assigned_count": len(lic.assigned),
    }


def _invoice_row(invoice: Any) -> dict[str, Any]:
    from projections.documents import minor_units

    return {
        "account_id": str(invoice.account_id),
        "subscription_id": None
        if invoice.subscription_id is None
        else str(invoice.subscription_id),
        "number": invoice.number,
        "status": invoice.status.value,
        "currency": invoice.currency,
        "issued_on": invoice.issued_on.isoformat(),
        "due_on": invoice.due_on.isoformat(),
        "total": minor_units(invoice.total),
        "paid": minor_units(invoice.paid),
        "credited": minor_units(invoice.credited),
        "balance": minor_units(invoice.balance),
    }


def _support_case_row(case: Any) -> dict[str, Any]:
    return {"account_id": str(case.account_id), "status": case.status.value}


ROWS = {
    account_overview.ACCOUNTS: (_account_row, "account_document"),
    account_overview.SUBSCRIPTIONS: (_subscription_row, "subscription_document"),
    account_overview.LICENSES: (_license_row, "license_document"),
    account_overview.INVOICES: (_invoice_row, "invoice_document"),
    account_overview.SUPPORT_CASES: (_support_case_row, "support_case_document"),
}


def test_each_overview_row_is_what_the_aggregate_itself_reads_as(aggregates):
    from projections import documents

    seen = set()
    for aggregate in aggregates:
        table = account_overview._table_of(type(aggregate).Event)
        if table is None:
            continue
        seen.add(table.name)
        row, document = ROWS[table.name]
        plain = {
            **row(aggregate),
            "version": aggregate.version,
            "document": json.dumps(getattr(documents, document)(aggregate), separators=(",", ":")),
            "id": str(aggregate.id),
        }
        assert table.row(aggregate) == tuple(plain[column] for column in table.written)
    assert seen == set(ROWS)


def test_a_contracts_figures_are_what_its_properties_say(aggregates):
    from domain.subscription import Subscription
    from projections.documents import renewal_value, subscription_document_and_figures

    contracts = [a for a in aggregates if isinstance(a, Subscription)]
    assert {c.renewal is None for c in contracts} == {True, False}
    for contract in contracts:
        _, figures = subscription_document_and_figures(contract)
        own = (contract.period_amount, renewal_value(contract))
        assert figures == own
        assert [None if m is None else str(m.amount) for m in figures] == [
            None if m is None else str(m.amount) for m in own
        ]


# Text in every field a person or a catalog names: quotes, backslashes, control
# characters and letters beyond ASCII, which the encoder escapes.
texts = st.text(alphabet=st.characters(codec="utf-8"), max_size=8)


@given(st.data())
def test_an_invoices_document_is_written_as_json_dumps_writes_it(aggregates, data):
    from domain.invoice import Invoice
    from projections.documents import invoice_document

    invoices = [a for a in aggregates if isinstance(a, Invoice)]
    assert any(i.credit_note_list for i in invoices) and any(
        not i.credit_note_list for i in invoices
    )
    document = copy.deepcopy(
        invoice_document(invoices[data.draw(st.integers(0, len(invoices) - 1))])
    )
    document["number"] = data.draw(texts)
    document["subscription_id"] = data.draw(st.one_of(st.none(), texts))
    document["paid_on"] = data.draw(st.one_of(st.none(), texts))
    for line in document["lines"]:
        line["description"], line["product_code"] = data.draw(texts), data.draw(texts)
    for credit in document["credit_notes"]:
        credit["id"], credit["number"] = data.draw(texts), data.draw(texts)
    written = account_overview._invoice_json(document)
    assert written == json.dumps(document, separators=(",", ":"))
    assert written == account_overview._json(document)


@given(st.data())
def test_a_contracts_document_is_written_as_json_dumps_writes_it(aggregates, data):
    from domain.subscription import Subscription
    from projections.documents import subscription_document

    contracts = [a for a in aggregates if isinstance(a, Subscription)]
    document = copy.deepcopy(
        subscription_document(contracts[data.draw(st.integers(0, len(contracts) - 1))])
    )
    document["ended_on"] = data.draw(st.one_of(st.none(), texts))
    renewal = document["renewal"]
    for line in [*document["lines"], *([] if renewal is None else renewal["lines"])]:
        line["line_id"], line["product_name"] = data.draw(texts), data.draw(texts)
    written = account_overview._subscription_json(document)
    assert written == json.dumps(document, separators=(",", ":"))
    assert written == account_overview._json(document)


def test_an_invoices_figures_are_what_its_properties_say(aggregates):
    from domain.invoice import Invoice, InvoiceStatus
    from projections.documents import InvoiceFigures, invoice_figures

    invoices = [a for a in aggregates if isinstance(a, Invoice)]
    assert invoices
    for invoice in invoices:
        own = InvoiceFigures(invoice.subtotal, invoice.tax, invoice.total, invoice.balance)
        assert invoice_figures(invoice) == own
        # The same digits too: a document shows an amount's text, not only its value.
        assert [str(m.amount) for m in invoice_figures(invoice)] == [str(m.amount) for m in own]
    # A void invoice's balance is nothing (the demo voids none): a copy made void.
    void = copy.deepcopy(next(i for i in invoices if i.status is not InvoiceStatus.VOID))
    void.status = InvoiceStatus.VOID
    assert invoice_figures(void).balance == void.balance == Money.zero(void.currency)


def _to_json_before(value: Any) -> Any:
    """``to_json`` as it was: the isinstance chain, for every value."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _to_json_before(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _to_json_before(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_to_json_before(v) for v in value]
    return value


class Colour(StrEnum):
    RED = "red"


class Size(Enum):
    LARGE = 3


@dataclasses.dataclass(frozen=True)
class Pair:
    first: Any
    second: Any


leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.text(max_size=5),
    st.decimals(allow_nan=False, allow_infinity=False),
    st.dates(),
    st.datetimes(timezones=st.just(UTC)),
    st.uuids(),
    st.sampled_from([Colour.RED, Size.LARGE, Money(Decimal("1.50"), "USD"), bytes(2), Pair]),
)
values = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.lists(inner, max_size=3).map(tuple),
        st.dictionaries(st.one_of(st.text(max_size=3), st.integers()), inner, max_size=3),
        st.builds(Pair, inner, inner),
    ),
    max_leaves=12,
)


@given(values)
def test_to_json_gives_what_the_isinstance_chain_gave(value):
    assert to_json(value) == _to_json_before(value)
    assert json.dumps(to_json(value), sort_keys=True, default=repr) == json.dumps(
        _to_json_before(value), sort_keys=True, default=repr
    )


@given(
    st.datetimes(min_value=datetime(1000, 1, 2), max_value=datetime(9999, 12, 30)),
    st.one_of(st.none(), st.integers(min_value=-14 * 60, max_value=14 * 60)),
)
def test_recorded_time_is_the_text_strftime_wrote(moment, offset_minutes):
    if offset_minutes is not None:
        moment = moment.replace(tzinfo=timezone(timedelta(minutes=offset_minutes)))
    utc = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
    assert recorded(moment) == utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Gadget(LedgerAggregate):
    """Made by an event that names no account, it keeps one all the same."""

    class Made(LedgerAggregate.Created):
        owner: UUID

    def __init__(self, owner: UUID) -> None:
        self.account_id = owner


def _made_gadget() -> LedgerAggregate.Event:
    cause = Cause(datetime(2026, 1, 1, tzinfo=UTC), "staff-1", "billing_staff", "r", "c")
    gadget = Gadget._begin(Gadget.Made, uuid4(), cause, owner=uuid4())
    (event,) = gadget.collect_events()
    return event  # type: ignore[return-value]


def test_a_created_aggregates_type_and_account_are_those_of_the_aggregate_it_makes(demo):
    events = [logged.event for logged in read_log(demo, 0, 1_000_000)]
    ways: Counter[str] = Counter()
    for event in [*events, _made_gadget()]:
        if event.originator_version != 1:
            continue
        aggregate = event.mutate(None)
        account_id = account_of(aggregate)
        made = (type(aggregate).__name__, str(account_id) if account_id else None)
        assert created_identity(event) == made, type(event).__qualname__
        own = getattr(event, "account_id", None)
        ways["account" if isinstance(aggregate, Account) else "named" if own else "made"] += 1
    assert ways["account"] and ways["named"] and ways["made"], ways


def _audit_rows_before(logged: list[LoggedEvent]) -> list[tuple[Any, ...]]:
    """The trail's rows as it wrote them: each created aggregate made to learn its type and
    account, each event's fields converted by the isinstance chain, then encoded."""
    known: dict[UUID, tuple[str, str | None]] = {}
    rows = []
    for item in logged:
        event = item.event
        if event.originator_id not in known:
            aggregate = event.mutate(None)
            account_id = account_of(aggregate)
            known[event.originator_id] = (
                type(aggregate).__name__,
                str(account_id) if account_id else None,
            )
        aggregate_type, account_id = known[event.originator_id]
        own_account = getattr(event, "account_id", None)
        if isinstance(own_account, UUID):
            account_id = str(own_account)
        effective = event.effective()
        fields = {k: v for k, v in event.__dict__.items() if k not in ENVELOPE}
        rows.append(
            (
                item.position,
                recorded(event.timestamp),
                effective.isoformat() if effective else None,
                aggregate_type,
                str(event.originator_id),
                event.originator_version,
                account_id,
                event_type(event),
                event.meta.actor_id,
                event.meta.actor_role,
                event.meta.request_id,
                event.meta.correlation_id,
                event.meta.reason,
                json.dumps(redacted(_to_json_before(fields)), sort_keys=True),
            )
        )
    return rows


# The trail keeps what it knows of 200,000 aggregates; 8 (more than a batch of 5 names)
# makes it forget the demo's and read them back from its own rows, again and again.
@pytest.mark.parametrize(("capacity", "batch"), [(200_000, 50), (8, 5)])
def test_the_audit_trails_rows_are_those_it_wrote_making_each_aggregate(demo, capacity, batch):
    logged = list(read_log(demo, 0, 1_000_000))
    assert any(type(item.event).__name__ == "InvoiceIssued" for item in logged)
    trail = AuditTrail(
        lambda aggregate_id, version: demo.repository.get(aggregate_id, version=version),
        capacity=capacity,
    )
    sql = Sql(sqlite3.connect(":memory:").cursor(), "sqlite")
    trail.create(sql)
    for start in range(0, len(logged), batch):
        trail.apply_batch(sql, logged[start : start + batch])
    rows = sql.execute(f"SELECT {', '.join(COLUMNS)} FROM {TABLE} ORDER BY position").fetchall()
    assert rows == _audit_rows_before(logged)


def test_an_ids_text_is_its_str_whether_kept_or_made_again(monkeypatch):
    from projections import documents

    monkeypatch.setattr(documents, "ID_TEXTS", 3)  # emptied every third new id
    documents._ID_TEXTS.clear()
    ids = [uuid4() for _ in range(10)]
    for _ in range(2):
        assert [documents.id_text(i) for i in ids] == [str(i) for i in ids]
    assert len(documents._ID_TEXTS) <= 3
