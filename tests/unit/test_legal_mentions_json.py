"""The legal mentions as JSON say what the legal document says: the VAT wording where no
VAT is charged (franchise, reverse charge, export), the parties' identifiers, the
late-payment terms."""

from __future__ import annotations

import pytest

from service.http.schemas.legal_documents import LegalDocumentOut
from tests import einvoices


@pytest.mark.parametrize(
    ("scenario", "wording"),
    [
        (einvoices.franchise, "TVA non applicable, art. 293 B du CGI"),
        (einvoices.intra_eu_reverse_charge, "Autoliquidation"),
        (einvoices.export_outside_eu, "TVA non applicable, art. 259-1 du CGI"),
    ],
)
def test_the_reason_no_vat_is_charged_is_in_the_json(scenario, wording):
    document = scenario()
    out = LegalDocumentOut.of(document)
    (vat,) = out.vat_breakdown
    assert wording in vat.exemption_reason
    assert any(wording in note.text and note.subject == "TXD" for note in out.notes)
    assert vat.tax.amount == "0.00"


@pytest.mark.parametrize("scenario", sorted(einvoices.ALL))
def test_every_mention_of_the_document_is_in_the_json(scenario):
    document = einvoices.ALL[scenario]()
    out = LegalDocumentOut.of(document)
    assert out.number == document.number and out.type_code == document.type.value
    assert out.seller.siren == str(document.seller.siren)
    assert out.buyer.legal_name == document.buyer.legal_name
    buyer_vat = document.buyer.vat_number
    assert out.buyer.vat_number == (None if buyer_vat is None else str(buyer_vat))
    assert out.buyer.siren == (None if document.buyer.siren is None else str(document.buyer.siren))
    assert [line.amount.amount for line in out.lines] == [
        str(line.amount.amount) for line in document.lines
    ]
    assert out.total.amount == str(document.total.amount)
    assert out.late_payment.recovery_indemnity.amount == "40.00"
    assert [n.text for n in out.notes] == [n.text for n in document.notes]
    if document.preceding_invoice is not None:
        assert out.corrects is not None
        assert out.corrects.number == document.preceding_invoice.number
