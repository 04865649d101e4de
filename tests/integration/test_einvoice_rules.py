"""Generated e-invoices against the official EN 16931 rules, offline (ADR 16).

Every rule set runs: the Factur-X EN 16931 XSD, CEN's EN 16931 CII Schematron, the
Factur-X EN 16931 Schematron, and the French e-invoicing reform's BR-FR rules. A valid
document has no fatal finding (a Schematron warning is allowed, and reported); a broken
one is reported by the rule it breaks.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal
from fractions import Fraction
from uuid import uuid4

import pytest
from hypothesis import HealthCheck, given, settings

from adapters.einvoice.cii import cii_xml
from adapters.einvoice.validation import EN16931, Report, RuleSet, validate_cii
from domain.account import BillingDetails
from domain.invoice import Invoice, InvoiceLine
from domain.legal_document import credit_note_document, invoice_document
from domain.money import Money
from domain.period import DateRange
from tests import einvoices
from tests.builders import cause

ALL_RULES = (*EN16931, RuleSet.FRANCE_CTC)


def errors(report: Report) -> list[str]:
    return [f"{e.rule_set.name} {e.rule}: {e.message}" for e in report.errors]


@pytest.mark.parametrize("scenario", sorted(einvoices.ALL))
def test_each_kind_of_invoice_and_the_credit_note_pass_every_rule(scenario):
    report = validate_cii(cii_xml(einvoices.ALL[scenario]()), ALL_RULES)
    assert errors(report) == []
    assert {f.rule_set for f in report.findings} <= set(ALL_RULES)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(einvoices.documents())
def test_any_document_the_domain_accepts_passes_every_rule(document):
    assert errors(validate_cii(cii_xml(document), ALL_RULES)) == []


def test_a_ledger_invoice_mapped_to_its_document_passes_every_rule():
    period = DateRange(date(2026, 1, 5), date(2027, 1, 5))
    lines = [
        InvoiceLine.charge(
            "Sales Cloud",
            "sales-cloud",
            5,
            einvoices.eur("883.20"),
            period,
            Fraction(270, 365),
            Decimal("0.20"),
        ),
        InvoiceLine.charge(
            "Inbox", "inbox", 2, einvoices.eur("60.00"), period, Fraction(1), Decimal("0.20")
        ),
    ]
    invoice = Invoice.issue(
        uuid4(),
        uuid4(),
        None,
        "INV-202601-ABCDEF12",
        "EUR",
        lines,
        date(2026, 2, 4),
        cause(datetime(2026, 1, 5, 9, tzinfo=UTC)),
    )
    buyer = BillingDetails(
        "Boulangerie Martin SARL",
        "8 avenue Jean Jaurès",
        "Toulouse",
        "31000",
        "FR",
        "compta@martin.example",
        tax_id="FR14987654324",
    )
    document = invoice_document(invoice, buyer, einvoices.SELLER)
    assert errors(validate_cii(cii_xml(document), ALL_RULES)) == []


def broken(xml: bytes, pattern: bytes, replacement: bytes) -> bytes:
    changed, count = re.subn(pattern, replacement, xml, count=1)
    assert count == 1, pattern
    return changed


def rules_broken(xml: bytes) -> set[tuple[str, str]]:
    return {(e.rule_set.name, e.message[:10]) for e in validate_cii(xml, ALL_RULES).errors}


def test_totals_that_do_not_add_up_are_reported_by_both_schematrons():
    xml = cii_xml(einvoices.french_b2b())
    bad = broken(xml, rb"<ram:GrandTotalAmount>[^<]+<", b"<ram:GrandTotalAmount>8015.98<")
    assert {("CEN", "[BR-CO-15]"), ("FACTUR_X", "[BR-CO-15]")} <= rules_broken(bad)


def test_a_line_total_that_is_not_the_sum_of_the_lines_is_reported():
    xml = cii_xml(einvoices.credit_note())
    bad = broken(xml, rb"<ram:LineTotalAmount>2400.00<", b"<ram:LineTotalAmount>2400.01<")
    assert ("CEN", "[BR-CO-10]") in rules_broken(bad)


def test_vat_that_is_not_the_rate_of_its_basis_is_reported():
    xml = cii_xml(einvoices.french_b2b())
    bad = broken(xml, rb"<ram:CalculatedAmount>1336.00<", b"<ram:CalculatedAmount>1338.00<")
    assert ("CEN", "[BR-CO-17]") in rules_broken(bad)


def test_a_reverse_charge_without_the_buyers_vat_number_is_reported():
    xml = cii_xml(einvoices.intra_eu_reverse_charge())
    bad = broken(
        xml,
        rb"\s*<ram:SpecifiedTaxRegistration>\s*<ram:ID schemeID=\"VA\">DE[^<]+</ram:ID>\s*"
        rb"</ram:SpecifiedTaxRegistration>",
        b"",
    )
    assert {("CEN", "[BR-AE-02]"), ("FACTUR_X", "[BR-AE-02]")} <= rules_broken(bad)


def test_a_missing_late_payment_mention_is_reported_by_the_french_rules():
    xml = cii_xml(einvoices.french_b2b())
    bad = broken(xml, rb"<ram:SubjectCode>PMT<", b"<ram:SubjectCode>AAI<")
    assert ("FRANCE_CTC", "BR-FR-05/B") in rules_broken(bad)


def test_an_element_out_of_the_schema_is_reported_by_the_xsd():
    xml = cii_xml(einvoices.export_outside_eu())
    bad = broken(xml, rb"<ram:Name>Acme Corp</ram:Name>", b"<ram:Nom>Acme Corp</ram:Nom>")
    assert any(e.rule_set is RuleSet.XSD for e in validate_cii(bad, ALL_RULES).errors)


CREDIT_BUYERS = {
    "FR": ("FR14987654324", Decimal("0.20"), "EUR"),  # standard rate
    "DE": ("DE136695976", Decimal("0"), "EUR"),  # reverse charge
    "US": ("", Decimal("0"), "USD"),  # export of services
}


@pytest.mark.parametrize("country", sorted(CREDIT_BUYERS))
@pytest.mark.parametrize("credited", ["0.01", "100.00", "all"])
def test_a_credit_note_is_a_381_that_names_its_invoice_and_follows_the_rules(country, credited):
    tax_id, rate, currency = CREDIT_BUYERS[country]
    period = DateRange(date(2026, 1, 5), date(2027, 1, 5))
    price = Money.of("1200.00", currency)
    line = InvoiceLine.charge("Sales Cloud", "sales-cloud", 5, price, period, Fraction(1), rate)
    issued = cause(datetime(2026, 1, 5, 9, tzinfo=UTC))
    invoice = Invoice.issue(
        uuid4(), uuid4(), None, "F-2026-000001", currency, [line], date(2026, 2, 4), issued
    )
    invoice.collect_events()
    amount = invoice.total if credited == "all" else Money.of(credited, currency)
    why = cause(datetime(2026, 2, 1, 9, tzinfo=UTC), reason="seats never used")
    invoice.issue_credit_note("cn1", amount, why, "A-2026-000001")
    credit = invoice.credit_note("cn1")
    buyer = BillingDetails(
        "Client", "1 rue A", "Ville", "75001", country, "a@b.example", tax_id=tax_id
    )

    document = credit_note_document(invoice, credit, buyer, einvoices.SELLER)

    assert (document.type.value, document.number) == ("381", "A-2026-000001")
    assert document.preceding_invoice is not None
    assert document.preceding_invoice.number == "F-2026-000001"
    assert document.total == amount  # the credit, tax included, split and not changed
    xml = cii_xml(document)
    assert b"<ram:TypeCode>381</ram:TypeCode>" in xml
    assert errors(validate_cii(xml, ALL_RULES)) == []
