"""The catalog: products per edition, and list prices versioned by effective date."""

from datetime import UTC, date, datetime
from uuid import uuid4

import pytest

from domain.catalog import (
    FREE_IDENTITY_LICENSES,
    IDENTITY_LICENSE,
    PRODUCTS,
    Edition,
    ProductKind,
    price_version,
    product,
    product_for_edition,
    unit_price,
)
from domain.errors import (
    PriceNotAvailable,
    ProductNotInEdition,
    UnknownProduct,
    UpgradeNotHigher,
)
from domain.money import Money
from domain.period import BillingPeriod
from domain.subscription import Line, Subscription
from tests.builders import cause

BEFORE_CHANGE = date(2026, 7, 31)
PRICE_CHANGE = date(2026, 8, 1)
MONTHLY, ANNUAL = BillingPeriod.MONTHLY, BillingPeriod.ANNUAL


def usd(amount):
    return Money.of(amount, "USD")


@pytest.mark.parametrize("code", ["sales-cloud", "service-cloud", "data-storage", "file-storage"])
@pytest.mark.parametrize("edition", list(Edition))
def test_products_and_storage_add_ons_are_sold_in_every_edition(code, edition):
    assert product_for_edition(code, edition).code == code


@pytest.mark.parametrize("code", ["inbox", "lightning-dialer"])
def test_inbox_and_lightning_dialer_are_sold_from_professional_up(code):
    assert product_for_edition(code, Edition.PROFESSIONAL).kind is ProductKind.ADD_ON
    assert product_for_edition(code, Edition.ENTERPRISE).kind is ProductKind.ADD_ON


@pytest.mark.parametrize("code", ["inbox", "lightning-dialer"])
def test_a_product_not_sold_in_the_accounts_edition_is_refused(code):
    with pytest.raises(ProductNotInEdition) as refused:
        product_for_edition(code, Edition.ESSENTIALS)
    assert (refused.value.product_code, refused.value.edition) == (code, "Essentials")


def test_an_unknown_product_is_refused():
    with pytest.raises(UnknownProduct):
        product("crm-deluxe")
    with pytest.raises(UnknownProduct):
        product_for_edition("crm-deluxe", Edition.ENTERPRISE)


def test_seats_are_per_user_and_storage_is_not():
    assert product("sales-cloud").per_seat
    assert not product("data-storage").per_seat


def test_the_identity_license_is_free_per_seat_and_not_for_sale():
    assert IDENTITY_LICENSE.per_seat
    assert FREE_IDENTITY_LICENSES == 100
    assert IDENTITY_LICENSE.code not in PRODUCTS


def test_professional_seats_cost_more_from_1_august_2026():
    def price(on):
        return unit_price("sales-cloud", Edition.PROFESSIONAL, "USD", MONTHLY, on)

    assert price(BEFORE_CHANGE) == usd("80")
    assert price(PRICE_CHANGE) == usd("100")
    assert price(date(2027, 1, 1)) == usd("100")


def test_essentials_seats_keep_their_price_across_the_change():
    for on in (BEFORE_CHANGE, PRICE_CHANGE):
        assert unit_price("sales-cloud", Edition.ESSENTIALS, "USD", MONTHLY, on) == usd("25")


def test_the_price_version_in_force_is_the_latest_that_started_on_or_before_the_day():
    assert price_version(BEFORE_CHANGE).effective_from == date(2024, 1, 1)
    assert price_version(PRICE_CHANGE).effective_from == PRICE_CHANGE


def test_an_annual_price_is_twelve_monthly_prices():
    annual = unit_price("sales-cloud", Edition.PROFESSIONAL, "USD", ANNUAL, BEFORE_CHANGE)
    assert annual == usd("960")


def test_euro_prices_are_the_dollar_prices_less_8_percent():
    eur = unit_price("sales-cloud", Edition.PROFESSIONAL, "EUR", MONTHLY, BEFORE_CHANGE)
    assert eur == Money.of("73.60", "EUR")


def test_a_price_in_a_currency_the_catalog_does_not_list_is_not_available():
    with pytest.raises(PriceNotAvailable):
        unit_price("sales-cloud", Edition.ESSENTIALS, "GBP", MONTHLY, BEFORE_CHANGE)


def test_a_price_before_the_first_catalog_version_is_not_available():
    with pytest.raises(PriceNotAvailable):
        unit_price("sales-cloud", Edition.ESSENTIALS, "USD", MONTHLY, date(2023, 12, 31))


def test_pricing_a_product_not_in_the_edition_is_refused():
    with pytest.raises(ProductNotInEdition):
        unit_price("inbox", Edition.ESSENTIALS, "USD", MONTHLY, BEFORE_CHANGE)


def test_a_contract_line_keeps_the_price_it_was_sold_at():
    sold_at = unit_price("sales-cloud", Edition.PROFESSIONAL, "USD", ANNUAL, date(2026, 7, 1))
    sub = Subscription.start(
        uuid4(),
        uuid4(),
        "USD",
        ANNUAL,
        date(2026, 7, 1),
        12,
        [Line("sales-cloud", "sales-cloud", 5, sold_at)],
        cause(datetime(2026, 7, 1, tzinfo=UTC)),
    )
    sub.add_licenses("sales-cloud", 2, date(2026, 9, 1), cause(datetime(2026, 9, 1, tzinfo=UTC)))
    list_price = unit_price("sales-cloud", Edition.PROFESSIONAL, "USD", ANNUAL, date(2026, 9, 1))
    assert list_price == usd("1200")
    assert sub.line("sales-cloud").unit_price == usd("960")
    assert sub.period_amount == usd("6720")  # 7 x 960


@pytest.mark.parametrize(
    ("current", "target"),
    [(Edition.ESSENTIALS, Edition.PROFESSIONAL), (Edition.PROFESSIONAL, Edition.ENTERPRISE)],
)
def test_a_higher_edition_is_an_upgrade(current, target):
    current.check_upgrade_to(target)


@pytest.mark.parametrize(
    ("current", "target"),
    [(Edition.PROFESSIONAL, Edition.PROFESSIONAL), (Edition.ENTERPRISE, Edition.ESSENTIALS)],
)
def test_the_same_or_a_lower_edition_is_not_an_upgrade(current, target):
    with pytest.raises(UpgradeNotHigher):
        current.check_upgrade_to(target)
