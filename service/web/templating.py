"""Jinja2 templates: autoescaped, translated through the page's catalog, with Babel's
locale formatting as filters."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context, select_autoescape
from jinja2.runtime import Context

from service.web import i18n

TEMPLATES = i18n.HERE / "templates"


@pass_context
def _gettext(context: Context, message: str) -> str:
    return str(context["translations"].gettext(message))


@pass_context
def _ngettext(context: Context, singular: str, plural: str, n: int) -> str:
    return str(context["translations"].ngettext(singular, plural, n))


@pass_context
def _money(context: Context, value: Any) -> str:
    return i18n.money(value, context["language"])


@pass_context
def _price(context: Context, value: Any) -> str:
    return i18n.price(value, context["language"])


@pass_context
def _percent(context: Context, value: Any) -> str:
    return i18n.percent(value, context["language"])


@pass_context
def _number(context: Context, value: Any) -> str:
    return i18n.number(value, context["language"])


@pass_context
def _day(context: Context, value: Any, form: str = "medium") -> str:
    return i18n.day(value, context["language"], form)


@pass_context
def _moment(context: Context, value: Any) -> str:
    return i18n.moment(value, context["language"])


def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        undefined=StrictUndefined,  # a misspelt name fails the page (and its test)
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.policies["ext.i18n.trimmed"] = True
    env.install_gettext_callables(_gettext, _ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.filters.update(
        money=_money, price=_price, percent=_percent, number=_number, day=_day, moment=_moment
    )
    return env


ENVIRONMENT = environment()


def render(template: str, context: dict[str, Any]) -> str:
    return ENVIRONMENT.get_template(template).render(context)
