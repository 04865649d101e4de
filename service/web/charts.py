"""Charts drawn on the server as SVG: no script, no library, readable without either.

Each chart is a small bar chart with a title and a description (``role="img"``); the
page shows the same figures in a table beside it, for screen readers and for copying.
The markup is built from numbers and escaped labels only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from html import escape

from babel.dates import format_date

from domain.money import Money, minor_unit
from projections.book import BookReport
from service.web import i18n
from service.web.i18n import N_

WIDTH, HEIGHT = 640, 200
LEFT, RIGHT, TOP, BOTTOM = 72, 12, 16, 36


@dataclass(frozen=True)
class Chart:
    title: str
    svg: str  # markup, safe to insert as is


def _bars(title: str, points: Sequence[tuple[str, Decimal, str]], kind: str) -> str:
    """Bars for (label, value, value as shown); the highest value sets the scale."""
    top = max((v for _, v, _ in points), default=Decimal(0)) or Decimal(1)
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = inner_w / max(len(points), 1)
    parts = [
        f'<svg class="chart chart-{kind}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img"'
        f' aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f'<line class="axis" x1="{LEFT}" y1="{TOP + inner_h}" x2="{WIDTH - RIGHT}"'
        f' y2="{TOP + inner_h}"/>',
    ]
    for fraction in (Decimal("0.5"), Decimal(1)):
        y = TOP + inner_h - float(fraction) * inner_h
        parts.append(
            f'<line class="grid" x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}"/>'
        )
    parts.append(
        f'<text class="tick" x="{LEFT - 6}" y="{TOP + 4}" text-anchor="end">'
        f"{escape(_short(top))}</text>"
    )
    for i, (label, value, shown) in enumerate(points):
        h = float(value / top) * inner_h
        x = LEFT + i * step + step * 0.15
        y = TOP + inner_h - h
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{step * 0.7:.1f}"'
            f' height="{h:.1f}"><title>{escape(label)}: {escape(shown)}</title></rect>'
        )
        parts.append(
            f'<text class="tick" x="{x + step * 0.35:.1f}" y="{HEIGHT - BOTTOM + 16}"'
            f' text-anchor="middle">{escape(label)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _short(value: Decimal) -> str:
    """An axis label: a plain number, thousands as k."""
    if value >= 10_000:
        return f"{value / 1000:.0f}k"
    return f"{value:.0f}"


def units_to_money(units: int, currency: str) -> Money:
    return Money(Decimal(units) * minor_unit(currency), currency)


def _month(day: date, language: str) -> str:
    return str(format_date(day, format="MMM yy", locale=language))


def mrr_chart(
    months: Sequence[tuple[date, BookReport]],
    currency: str,
    language: str,
    gettext: Callable[[str], str],
) -> Chart:
    title = gettext(N_("Monthly recurring revenue in %(currency)s, at the end of each month")) % {
        "currency": currency
    }
    points = []
    for end, report in months:
        amount = units_to_money(report.monthly_recurring_revenue.get(currency, 0), currency)
        points.append((_month(end, language), amount.amount, i18n.money(amount, language)))
    return Chart(title, _bars(title, points, "mrr"))


def seats_chart(
    months: Sequence[tuple[date, BookReport]], language: str, gettext: Callable[[str], str]
) -> Chart:
    title = gettext(N_("Active seats, at the end of each month"))
    points = [
        (
            _month(end, language),
            Decimal(sum(report.seats_held.values())),
            i18n.number(sum(report.seats_held.values()), language),
        )
        for end, report in months
    ]
    return Chart(title, _bars(title, points, "seats"))
