"""The billing staff's console: an account as it was (time travel), the book report with
its chart, and the test clock with its billing run.

Every page checks the API's own access level (``require``/``account_for``) and reads
through the API's own functions: ``account_at`` as ``?as_of`` does, ``book_report`` as
``/v1/reports/book`` does, ``ClockControl`` as ``/v1/test-clock`` does.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from domain.errors import InvalidValue
from projections.book import book_report
from service.clock.test_clock import ClockControl, on_test_clock
from service.http.access import Access, require
from service.http.reads import FreshReads, caught_up
from service.http.schemas.clock import ClockMoveIn
from service.reads.point_in_time import account_at, parse_as_of, parse_effective
from service.web import charts, time_travel
from service.web.account_view import account_context
from service.web.deps import SignedIn, Visit
from service.web.forms import Form, attempt, new_key
from service.web.i18n import N_
from service.web.pages import done, page
from service.web.refusals import Refusal, refusal_of

router = APIRouter()
MONTHS = 12


def _instant(text: str) -> datetime | None:
    """A form's instant (``datetime-local`` gives no offset: UTC), or None if empty."""
    return parse_as_of(text) if text.strip() else None


def _field(text: str, instant: datetime | None) -> str:
    """What a ``datetime-local`` field shows for the instant asked as ``text``: in its own
    format (UTC, to the second), which a bare date or an offset is not and the browser
    would show empty; the text as typed if it was refused."""
    if instant is None:
        return text
    return instant.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds")


@router.get("/accounts/{account_id}/time-travel", response_class=HTMLResponse)
def time_travel_page(
    account_id: UUID,
    current: SignedIn,
    reads: FreshReads,
    as_of: str = "",
    effective: str = "",
    compare: str = "",
) -> Response:
    """The account as known at ``as_of`` and in force on ``effective``; with ``compare``,
    each fact beside its value at that other instant, what changed marked."""
    context = account_context(current, account_id, "time-travel")
    now = current.ledger.clock.now()
    refusal: Refusal | None = None
    try:
        moment = _instant(as_of) or now
        day = parse_effective(effective) if effective.strip() else None
        other = _instant(compare)
    except InvalidValue as error:
        refusal = refusal_of(error)
        moment, day, other = now, None, None
    caught_up(reads.side)
    gettext = current.gettext
    with reads.sql() as sql:
        view = account_at(current.ledger, sql, account_id, moment, day)
        then = (
            account_at(current.ledger, sql, account_id, other, day) if other is not None else None
        )
    rows = time_travel.compare(
        time_travel.facts(view, current.language, gettext),
        time_travel.facts(then, current.language, gettext) if then is not None else None,
    )
    return page(
        current,
        "time_travel.html",
        422 if refusal else 200,
        None,
        **context,
        view=view,
        rows=rows,
        changed=sum(1 for r in rows if r.changed),
        as_of=as_of,
        as_of_field=_field(as_of, None if refusal else _instant(as_of)),
        effective=effective,
        compare=compare,
        compare_field=_field(compare, other),
        other=other,
        moment=moment,
        day=view.account.effective,
        refusal=refusal,
        shortcuts=_shortcuts(now),
    )


def _shortcuts(now: datetime) -> list[tuple[str, str]]:
    """Instants a person asks about: a month ago, the end of last March, a year ago."""
    march = date(now.year if now.month > 3 else now.year - 1, 3, 31)
    return [
        ("month", (now - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M")),
        ("march", f"{march.isoformat()}T23:59"),
        ("year", (now - timedelta(days=365)).strftime("%Y-%m-%dT%H:%M")),
    ]


# -- the book -------------------------------------------------------------------------


def _month_ends(last: date, count: int) -> list[date]:
    """The last day of each of ``count`` months up to ``last``'s month (``last`` itself
    for its own month)."""
    ends = [last]
    first = last.replace(day=1)
    for _ in range(count - 1):
        first = (first - timedelta(days=1)).replace(day=1)
        ends.append(min(last, (first + timedelta(days=31)).replace(day=1) - timedelta(days=1)))
    return list(reversed(ends))


@router.get("/book", response_class=HTMLResponse)
def book_page(current: SignedIn, reads: FreshReads, on: str = "") -> Response:
    """The book as the ledger knew it on a day (its end), with MRR and active seats at the
    end of each of the twelve months before (as known that day)."""
    assert current.principal is not None
    require(current.principal, Access.REPORTS)
    refusal: Refusal | None = None
    today = current.ledger.clock.now().date()
    try:
        day = parse_effective(on) if on.strip() else today
    except InvalidValue as error:
        refusal, day = refusal_of(error), today
    as_of = min(datetime.combine(day, time.max, UTC), current.ledger.clock.now())
    caught_up(reads.side)
    with reads.sql() as sql:
        report = book_report(sql, as_of, day)
        months = [(end, book_report(sql, as_of, end)) for end in _month_ends(day, MONTHS)]
    currencies = sorted(
        {c for _, r in months for c in r.monthly_recurring_revenue}
        | set(report.monthly_recurring_revenue)
    )
    return page(
        current,
        "book.html",
        422 if refusal else 200,
        None,
        report=report,
        day=day,
        on=on,
        refusal=refusal,
        charts=[
            charts.mrr_chart(months, currency, current.language, current.gettext)
            for currency in currencies
        ],
        seats_chart=charts.seats_chart(months, current.language, current.gettext),
        months=months,
        currencies=currencies,
        mrr=lambda found, currency: charts.units_to_money(
            found.monthly_recurring_revenue.get(currency, 0), currency
        ),
    )


# -- the test clock ---------------------------------------------------------------------

STEPS = (
    ("P1D", N_("1 day")),
    ("P7D", N_("1 week")),
    ("P1M", N_("1 month")),
    ("P3M", N_("3 months")),
)


def _control(current: Visit) -> ClockControl:
    state = current.request.app.state
    return ClockControl(current.ledger, current.read_side.settings, state.billing)


def _clock_page(current: Visit, refusal: Refusal | None = None, moved: Any = None) -> HTMLResponse:
    assert current.principal is not None
    require(current.principal, Access.CLOCK)
    clock = _control(current).clock() if on_test_clock(current.ledger) else None
    return page(
        current,
        "test_clock.html",
        clock=clock,
        steps=STEPS,
        control=current.may(Access.CLOCK_CONTROL),
        refusal=refusal,
        key=new_key(),
    )


@router.get("/test-clock", response_class=HTMLResponse)
def test_clock_page(current: SignedIn) -> Response:
    return _clock_page(current)


@router.post("/test-clock")
def run_billing(posted: Form) -> Response:
    """Move the test clock forward and run billing up to it, as ``POST /v1/test-clock``."""
    current = posted.visit

    def act() -> Response:
        assert current.principal is not None
        require(current.principal, Access.CLOCK_CONTROL)
        body = posted.model(ClockMoveIn, advance=posted.text("advance"))
        assert body.duration is not None
        move = _control(current).advance(posted.ctx, body.duration)
        # sessions run on real time, not on this clock: everyone stays signed in (ADR 0017)
        return done(current, "/test-clock", "billing-run", move.receipt)

    return attempt(act, lambda found: _clock_page(current, found))
