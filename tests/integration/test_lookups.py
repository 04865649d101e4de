"""The lookups read model (projections/lookups.py) on both stores: with no projection
runner at all, a token, share link or webhook endpoint is listed as soon as its command
returns (its reader catches the lookup up to the log's head first); a revoked token is
no longer a user's live token, and no longer authenticates, at once; a webhook search
from a position finds only what was registered after it, each endpoint once."""

from domain.account import User
from domain.invoice import Invoice
from service.access.tokens import Role, Tokens
from service.access.user_removal import remove_user
from service.ledger.context import CommandContext
from service.sharing.links import ShareLinks
from service.webhooks import endpoint as endpoint_module
from service.webhooks.endpoint import WebhookEndpoints
from service.webhooks.store import WebhookStore
from tests.builders import open_account
from tests.destinations import LOOPBACK

STAFF = CommandContext("staff-1", "billing_staff", reason="asked by the customer")
OPERATOR = CommandContext("op-1", "operator")


def test_tokens_are_found_as_soon_as_issued_and_revoked_ones_at_once(ledger, staff):
    account_id = open_account(ledger, staff)
    ledger.add_user(staff, account_id, User("ben", "Ben", "ben@acme.example"))
    tokens = Tokens(ledger)
    first = tokens.issue(OPERATOR, Role.USER, account_id, "ben", "laptop")
    assert [t.id for t in tokens.of_user(account_id, "ben")] == [first.token_id]
    second = tokens.issue(OPERATOR, Role.USER, account_id, "ben", "phone")
    other = tokens.issue(OPERATOR, Role.ADMIN, account_id, "ada", "admin")
    staff_token = tokens.issue(OPERATOR, Role.AUDITOR, label="auditor")
    assert [t.id for t in tokens.of_user(account_id, "ben")] == [
        first.token_id,
        second.token_id,
    ]
    tokens.revoke(OPERATOR, first.token_id)
    assert tokens.verify(first.token) is None
    assert [t.id for t in tokens.of_user(account_id, "ben")] == [second.token_id]
    listed = [t.id for t in tokens.all()]
    ids = [first.token_id, second.token_id, other.token_id, staff_token.token_id]
    assert listed == ids

    remove_user(ledger, STAFF, account_id, "ben")
    assert tokens.verify(second.token) is None
    assert tokens.of_user(account_id, "ben") == []
    assert tokens.verify(other.token) is not None


def test_share_links_of_an_invoice_and_webhook_endpoints(store, ledger, staff):
    account_id = open_account(ledger, staff)
    ledger.set_payment_method(staff, account_id, "pm_card_visa")
    ledger.start_subscription(staff, account_id, {"sales-cloud": 1})
    ledger.start_subscription(staff, account_id, {"sales-cloud": 2}, term_months=6)
    first, second = (e.originator_id for e in ledger.events_of_types(Invoice.InvoiceIssued))
    links = ShareLinks(ledger)
    a = links.create(staff, first).link_id
    b = links.create(staff, second).link_id
    c = links.create(staff, first).link_id
    assert [link.id for link in links.of_invoice(first)] == [a, c]
    assert [link.id for link in links.of_invoice(second)] == [b]

    endpoints = WebhookEndpoints(ledger, WebhookStore(store), LOOPBACK)
    assert endpoints.registered_after(0) == ([], ledger.head_position())
    one = endpoints.register(OPERATOR, "http://127.0.0.1:9/one", []).endpoint_id
    found, searched = endpoints.registered_after(0)
    assert (found, searched) == ([one], ledger.head_position())
    two = endpoints.register(OPERATOR, "http://127.0.0.1:9/two", []).endpoint_id
    assert endpoints.registered_after(searched) == ([two], ledger.head_position())
    endpoints.delete(OPERATOR, one)
    assert [e.id for e in endpoints.all()] == [two]


def test_a_webhook_search_after_a_position_reads_the_events_since_or_the_lookup(
    store, ledger, staff, monkeypatch
):
    """The webhook worker searches after every save: a few events since its last search
    are read for a registration; after more than REGISTRATIONS_READ, the lookup is."""
    endpoints = WebhookEndpoints(ledger, WebhookStore(store), LOOPBACK)
    one = endpoints.register(OPERATOR, "http://127.0.0.1:9/one", []).endpoint_id
    assert endpoints.registered_after(0) == ([one], ledger.head_position())
    searched = ledger.head_position()
    assert endpoints.registered_after(searched) == ([], searched)  # nothing since
    account_id = open_account(ledger, staff)
    assert endpoints.registered_after(searched) == ([], ledger.head_position())
    two = endpoints.register(OPERATOR, "http://127.0.0.1:9/two", []).endpoint_id
    ledger.set_payment_method(staff, account_id, "pm_card_visa")
    assert endpoints.registered_after(searched) == ([two], ledger.head_position())
    monkeypatch.setattr(endpoint_module, "REGISTRATIONS_READ", 2)
    three = endpoints.register(OPERATOR, "http://127.0.0.1:9/three", []).endpoint_id
    ledger.start_subscription(staff, account_id, {"sales-cloud": 1})  # events after it
    after_two = ledger.head_position()
    assert endpoints.registered_after(searched) == ([two, three], after_two)
    ledger.start_subscription(staff, account_id, {"sales-cloud": 1})
    assert endpoints.registered_after(after_two) == ([], ledger.head_position())
