"""Changing the next renewal over HTTP, as the issue tried it: quantities named change
those lines, 0 drops one, lines not named are kept, and the OpenAPI document says so."""

from __future__ import annotations

from tests.e2e.conftest import Api


def renewing(body: dict) -> dict[str, int]:  # type: ignore[type-arg]
    return {line["product_code"]: line["quantity"] for line in body["renewal"]["lines"]}


def test_a_renewal_change_keeps_the_lines_it_does_not_name(api: Api) -> None:
    sub = f"/v1/subscriptions/{api.acme.subscription_id}"
    for code, quantity in (("data-storage", 10), ("file-storage", 2)):
        api.wrote(
            api.post(f"{sub}/products", "admin", json={"product_code": code, "quantity": quantity})
        )

    changed = api.wrote(
        api.put(
            f"{sub}/renewal", "admin", json={"term_months": 24, "quantities": {"sales-cloud": 6}}
        )
    )
    assert changed["renewal"]["term_months"] == 24
    assert renewing(changed) == {"sales-cloud": 6, "data-storage": 10, "file-storage": 2}

    added = api.wrote(api.put(f"{sub}/renewal", "admin", json={"quantities": {"service-cloud": 2}}))
    assert renewing(added) == {
        "sales-cloud": 6,
        "data-storage": 10,
        "file-storage": 2,
        "service-cloud": 2,
    }
    dropped = api.wrote(
        api.put(f"{sub}/renewal", "admin", json={"quantities": {"file-storage": 0}})
    )
    assert "file-storage" not in renewing(dropped)


def test_a_product_the_edition_does_not_sell_is_refused_with_409(api: Api) -> None:
    path = f"/v1/subscriptions/{api.acme.subscription_id}/renewal"
    problem = api.refused(409, "PUT", path, "admin", json={"quantities": {"inbox": 1}})
    assert problem["type"] == "/problems/product-not-in-edition"
    assert "Essentials" in problem["detail"]


def test_the_openapi_document_states_the_semantics(api: Api) -> None:
    schema = api.client.get("/openapi.json").json()
    field = schema["components"]["schemas"]["RenewalIn"]["properties"]["quantities"]
    for words in ("0 drops its line", "not named keeps its line", "account's edition", "409"):
        assert words in field["description"]
    operation = schema["paths"]["/v1/subscriptions/{subscription_id}/renewal"]["put"]
    assert "lines not named are kept" in " ".join(operation["description"].split())
