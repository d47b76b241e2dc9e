"""The plaintext forms of billing's encrypted records, and the AAD labels that bind them."""

from __future__ import annotations

import json
from typing import Any

from fw_billing.application.ports import Recipient

# The archive's labels are part of the shared, documented format (docs/archive-format.md).
from fw_platform.sealed_archive import archive_pdf_aad, archive_xml_aad

__all__ = ["archive_pdf_aad", "archive_xml_aad", "customer_aad", "recipient_aad", "recipient_from_json",
           "recipient_json"]


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
