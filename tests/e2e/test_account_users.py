"""Who decides who may do what in an account: only its administrators (and billing staff)
grant or revoke Manage Billing, so a user who holds it cannot hand it on; and an
administrator removes a user, which in the same transaction releases the user's identity
license and seats and revokes the user's API tokens."""

from __future__ import annotations

from domain.account import User
from service.access.tokens import Role, Tokens
from tests.e2e.conftest import OPERATOR, STAFF, Api


def _account(api: Api) -> str:
    return f"/v1/accounts/{api.acme.account_id}"


def test_a_user_holding_manage_billing_cannot_grant_or_revoke_it(api: Api) -> None:
    account = _account(api)
    grant = f"{account}/users/ben/permissions/manage_billing"
    # cara holds Manage Billing on an identity license: not an administrator
    problem = api.refused(403, "PUT", grant, "identity")
    assert problem["type"] == "/problems/forbidden"
    api.refused(403, "DELETE", f"{account}/users/cara/permissions/manage_billing", "identity")
    # an admin token does not make its user an administrator of the account
    admin_token = Tokens(api.ledger).issue(OPERATOR, Role.ADMIN, api.acme.account_id, "cara")
    problem = api.refused(403, "PUT", grant, admin_token.token)
    assert problem["permission"] == "administrator"

    api.wrote(api.put(grant, "admin"))
    api.wrote(api.delete(grant, "billing_staff"))


def test_removing_a_user_takes_everything_they_held_in_one_transaction(api: Api) -> None:
    account = _account(api)
    api.wrote(api.put(f"{account}/licenses/sales-cloud/assignments/cara", "admin"))
    assert api.get(account, "identity").status_code == 200
    before = api.head

    removed = api.wrote(api.delete(f"{account}/users/cara", "admin"))

    assert "cara" not in {u["user_id"] for u in removed["users"]}
    written = api.ledger.recorder.select_notifications(before + 1, 100)
    kinds = [n.topic.rsplit(":", 1)[1] for n in written]
    assert kinds == [
        "Account.IdentityLicenseReleased",
        "Account.UserRemoved",
        "License.SeatUnassigned",
        "ApiToken.TokenRevoked",
    ]
    events = [api.ledger.mapper.to_domain_event(n) for n in written]
    assert len({e.meta.request_id for e in events}) == 1  # one command, one transaction
    # the user's token no longer works; the seat is free again
    assert api.get(account, "identity").status_code == 401
    (seats,) = [s for s in api.get(f"{account}/licenses", "admin").json()]
    assert seats["assigned"] == ["ada"] and seats["product_code"] == "sales-cloud"
    # and the account's other users keep theirs
    assert api.get(account, "admin").status_code == 200


def test_only_administrators_remove_users_and_never_the_last_one(api: Api) -> None:
    account = _account(api)
    api.refused(403, "DELETE", f"{account}/users/ben", "identity")
    api.refused(403, "DELETE", f"{account}/users/ben", "user")
    api.refused(404, "DELETE", f"{account}/users/nobody", "admin")
    api.refused(404, "DELETE", f"/v1/accounts/{api.other.account_id}/users/jonas", "admin")
    problem = api.refused(409, "DELETE", f"{account}/users/ada", "billing_staff")
    assert problem["type"] == "/problems/permission-rule"
    dora = User("dora", "Dora", "dora@acme.example", administrator=True)
    api.ledger.add_user(STAFF, api.acme.account_id, dora)
    api.wrote(api.delete(f"{account}/users/ada", "billing_staff"))
