from tests.builders import open_account


def test_an_account_opened_is_read_back_from_the_store(ledger, staff, make_ledger):
    account_id = open_account(ledger, staff)
    reread = make_ledger().account(account_id)
    assert reread.name == "Acme"
    assert reread.manage_billing == ["ada"]
    assert ledger.head_position() == 1
