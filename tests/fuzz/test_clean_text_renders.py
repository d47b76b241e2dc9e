"""Issue 14: whatever intake's request schema accepts, billing renders as PDF and as every XML
document (the EN 16931 CII invoice and its credit note), without raising.

Hypothesis draws text over the whole Unicode range (surrogates, controls, format characters,
noncharacters, unassigned code points included), feeds it through intake's real validation
(``SupportRequestIn`` and the vault's ``PersonalData`` as intake builds it) and renders what was
accepted with billing's real renderer. The renderers' own last line of defence (``xml_text``,
which replaces what XML cannot hold) is switched off here: the property must hold because of the
edge, and the XML must carry the accepted text exactly.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from pydantic import ValidationError

from fw_billing.adapters import cii
from fw_billing.adapters.rendering import PdfRenderer
from fw_billing.application.ports import Recipient
from fw_billing.domain.documents import cancellation_document, check_complete, invoice_document, recipient_name
from fw_billing.domain.issuer import EXAMPLE_ISSUER
from fw_contracts.events import InvoiceKind, InvoiceLine
from fw_contracts.vault import Address, PersonalData
from fw_intake.entrypoints.http import _personal_data
from fw_intake.entrypoints.schemas import SupportRequestIn

ISSUED = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
NS = {"ram": cii.NS["ram"]}
LINES = (InvoiceLine(description="Fernwartung, 10 × 15 min", quantity=Decimal(10), unit="C62",
                     unit_price=Decimal("24.00"), net=Decimal("240.00")),)

#: Any code point at all (hypothesis leaves surrogates out unless told).
anything = st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=())
#: Mostly-acceptable text (still over the whole range), so that many examples get rendered.
printable_mostly = st.characters(min_codepoint=0, max_codepoint=0x10FFFF,
                                 exclude_categories=("Cc", "Cf", "Cs", "Zl", "Zp"))
texts = st.one_of(st.text(anything, min_size=0, max_size=60), st.text(printable_mostly, min_size=1, max_size=60))


def _accepted(company: str, contact: str, street: str, city: str) -> Any:
    body = {"company": company, "contact_name": contact, "phone": "0170 1234567", "terms_accepted": True,
            "terms_version": "2026-01", "customer_type": "business",
            "address": {"street": street, "postal_code": "10115", "city": city, "country": "DE"}}
    try:
        return _personal_data(SupportRequestIn.model_validate(body))
    except ValidationError:
        return None


def _render_all(data: Any) -> None:
    party = Recipient.from_personal_data(data).party()
    invoice = invoice_document(
        kind=InvoiceKind.FULL, number="FW-2026-000001", issued_at=ISSUED, service_date=ISSUED,
        issuer=EXAMPLE_ISSUER, recipient=party, lines=LINES, net_total=Decimal("240.00"),
        vat_rate=Decimal("0.19"), vat_total=Decimal("45.60"), gross_total=Decimal("285.60"),
        customer_number=None, raw_seconds=9000, billed_seconds=9000, tariff_version="2026-01", e_invoice=True)
    storno = cancellation_document(invoice, number="ST-2026-000001", issued_at=ISSUED, reason_code="other")
    renderer = PdfRenderer()
    for document in (invoice, storno):
        check_complete(document)
        rendered = renderer.render(document)  # PDF/A-3 with the CII XML embedded, checked against the XSD
        assert rendered.pdf.startswith(b"%PDF") and rendered.xml is not None
        root = etree.fromstring(rendered.xml)
        buyer = root.find(".//ram:BuyerTradeParty", NS)
        assert buyer is not None
        # the accepted text, exactly: nothing had to be replaced
        # (a company "Privat" is printed as the person's name; the contact only when it differs)
        assert buyer.findtext("ram:Name", namespaces=NS) == recipient_name(party)
        assert recipient_name(party) in (data.company, data.contact_name)
        assert buyer.findtext("ram:DefinedTradeContact/ram:PersonName", namespaces=NS) == (
            data.contact_name if data.contact_name != recipient_name(party) else None)
        assert buyer.findtext("ram:PostalTradeAddress/ram:LineOne", namespaces=NS) == data.address.street
        assert buyer.findtext("ram:PostalTradeAddress/ram:CityName", namespaces=NS) == data.address.city


@pytest.mark.long(21)
def test_whatever_intake_accepts_billing_renders_as_pdf_and_every_xml() -> None:
    seen = {"accepted": 0, "refused": 0}

    @settings(max_examples=150, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    @given(company=texts, contact=texts, street=texts, city=texts)
    def check(company: str, contact: str, street: str, city: str) -> None:
        data = _accepted(company, contact, street, city)
        if data is None:
            seen["refused"] += 1
            return
        seen["accepted"] += 1
        for text in (data.company, data.contact_name, data.address.street, data.address.city):
            assert unicodedata.is_normalized("NFC", text)
        _render_all(data)

    with mock.patch.object(cii, "xml_text", lambda text: text):
        check()
    # not vacuous: both sides of the edge were exercised
    assert seen["accepted"] >= 20 and seen["refused"] >= 20, seen


def test_without_the_edge_lxml_would_refuse_the_issues_repro() -> None:
    """The property above is not vacuous: the vault's contract alone lets the repro through, and
    the CII renderer without its last line of defence refuses it."""
    data = PersonalData(company="Muster GmbH", contact_name="A\u0000B", phone="+4930123456",
                        address=Address(street="Hauptstr. 1", postal_code="10115", city="Berlin"))
    assert _accepted("Muster GmbH", "A\u0000B", "Hauptstr. 1", "Berlin") is None
    with mock.patch.object(cii, "xml_text", lambda text: text), pytest.raises(ValueError, match="XML compatible"):
        _render_all(data)
