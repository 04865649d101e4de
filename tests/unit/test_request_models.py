"""Every text field of every request body refuses what must never be recorded.

Walks every request model of the API (the subclasses of ``Body``, once every router is
imported) and every field that holds text, however nested (optional, in a list, a dict
key): a control character, an unpaired surrogate, a card number and an unbounded
length are each refused by validation, before any use case runs.
"""

from __future__ import annotations

import types
from typing import Annotated, Any, Union, get_args, get_origin

import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError

import service.http.app  # noqa: F401  (imports every router, so every request model)
from service.http.schemas.common import Body

POISON = {
    "NUL": "a\x00b",
    "escape": "a\x1bb",
    "DEL": "a\x7fb",
    "surrogate": "a\ud800b",
    "card number": "card 4242 4242 4242 4242",
    "unbounded": "x" * 100_001,
}
# One of these fits each text field (a test that no probe passes would prove nothing).
WELL_FORMED = [
    "Plain text",
    "pm_card_visa",
    "ada@acme.example",
    "sales-cloud",
    "12.50",
    "USD",
    "US",
    "https://crm.example.com/hook",
    "subledger.invoice",
    "ada",
]


def request_models() -> list[type[BaseModel]]:
    found, todo = [], [Body]
    while todo:
        for sub in todo.pop().__subclasses__():
            found.append(sub)
            todo.append(sub)
    return found


def shaped(annotation: Any, text: str) -> Any:
    """A value of ``annotation``'s shape with ``text`` in its text; None if it holds none."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return shaped(get_args(annotation)[0], text)
    if origin in (Union, types.UnionType):
        shapes = [shaped(arg, text) for arg in get_args(annotation) if arg is not type(None)]
        return next((s for s in shapes if s is not None), None)
    if origin is list:
        inner = shaped(get_args(annotation)[0], text)
        return None if inner is None else [inner]
    if origin is dict:
        key = shaped(get_args(annotation)[0], text)
        return None if key is None else {key: 1}
    return text if annotation is str else None


TEXT_FIELDS = [
    pytest.param(model, name, id=f"{model.__name__}.{name}")
    for model in request_models()
    for name, field in model.model_fields.items()
    if shaped(field.annotation, "") is not None
]


def test_the_walk_finds_the_request_models():
    names = {model.__name__ for model in request_models()}
    assert {"PaymentMethodIn", "PaymentIn", "LicensesIn", "SupportCaseIn", "TokenIn"} <= names
    assert {"WebhookEndpointIn", "BillingDetailsPatch", "UpgradeRequestIn"} <= names
    assert len(TEXT_FIELDS) > 30


@pytest.mark.parametrize(("model", "name"), TEXT_FIELDS)
def test_every_text_field_refuses_control_characters_card_numbers_and_unbounded_text(
    model: type[BaseModel], name: str
):
    field = model.model_fields[name]
    annotation = (
        Annotated[field.annotation, *field.metadata] if field.metadata else field.annotation
    )
    adapter: TypeAdapter[Any] = TypeAdapter(annotation)

    def accepts(text: str) -> bool:
        try:
            adapter.validate_python(shaped(field.annotation, text))
        except ValidationError:
            return False
        return True

    assert any(accepts(text) for text in WELL_FORMED), "no well-formed probe fits this field"
    accepted = [what for what, text in POISON.items() if accepts(text)]
    assert accepted == []
