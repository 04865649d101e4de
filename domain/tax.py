"""Tax rates by billing country (ISO 3166-1 alpha-2).

A deliberately small table: standard VAT rates for the EU countries and the UK the
ledger sells into, and zero where the seller collects no tax (US sales tax and
reverse-charge B2B sales are handled outside the ledger). Unknown countries pay none.
"""

from decimal import Decimal

TAX_RATES: dict[str, Decimal] = {
    "US": Decimal("0"),
    "CA": Decimal("0"),
    "GB": Decimal("0.20"),
    "DE": Decimal("0.19"),
    "FR": Decimal("0.20"),
    "NL": Decimal("0.21"),
    "IE": Decimal("0.23"),
    "ES": Decimal("0.21"),
    "IT": Decimal("0.22"),
}


def tax_rate(country: str) -> Decimal:
    return TAX_RATES.get(country.upper(), Decimal("0"))
