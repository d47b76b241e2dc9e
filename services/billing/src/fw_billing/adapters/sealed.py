"""The plaintext forms of billing's encrypted records, and the AAD labels that bind them."""

from __future__ import annotations

import json
from typing import Any

from fw_billing.application.ports import Recipient


def archive_pdf_aad(document_number: str) -> str:
    """The label that binds an archived PDF to its document number (``invoice_archive.pdf_enc``)."""
    return f"archive-pdf:{document_number}"


def archive_xml_aad(document_number: str) -> str:
    """The label that binds an archived EN 16931 XML to its document number (``xml_enc``)."""
    return f"archive-xml:{document_number}"


def recipient_aad(invoice_number: str) -> str:
    return f"recipient:{invoice_number}"


def customer_aad(customer_number: str) -> str:
    return f"customer:{customer_number}"


_OPTIONAL = ("vat_id", "buyer_reference", "customer_name")


def recipient_json(recipient: Recipient) -> bytes:
    data: dict[str, Any] = {"company": recipient.company, "contact_name": recipient.contact_name,
                            "address": recipient.address}
    # Only keys with a value: a copy written before these fields existed reads the same.
    data.update({k: getattr(recipient, k) for k in _OPTIONAL if getattr(recipient, k) is not None})
    return json.dumps(data).encode()


def recipient_from_json(raw: bytes) -> Recipient:
    data: dict[str, Any] = json.loads(raw)
    return Recipient(company=data["company"], contact_name=data["contact_name"], address=data["address"],
                     **{k: data.get(k) for k in _OPTIONAL})
