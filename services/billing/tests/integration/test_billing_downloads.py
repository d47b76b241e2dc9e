"""The customer's download code (issue 21): billing checks it in one place and serves the
archived documents of its request — invoice and Storno — until it expires; anything else is a
neutral 404. Real NATS and PostgreSQL, the vault stubbed."""

from __future__ import annotations

import hashlib
import logging
import secrets
from typing import Any

import pytest

from fw_contracts import InvoiceIssued
from fw_devenv.testing import eventually

NEUTRAL = "Zu diesem Code gibt es nichts (mehr) zum Herunterladen."


def new_code() -> tuple[str, str]:
    code = secrets.token_urlsafe(32)
    return code, hashlib.sha256(code.encode()).hexdigest()


async def test_a_code_opens_its_documents_and_nothing_else(billing: Any, ended: Any, created: Any,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    code, digest = new_code()
    other_code, other_digest = new_code()
    mine, other = ended(1800), ended(1800)
    await billing.publish(created(mine.request_id, email=False, download_sha256=digest))
    await billing.publish(created(other.request_id, email=False, download_sha256=other_digest))

    # before the invoice: the code is valid, nothing to fetch yet
    await billing.settle()
    early = await billing.http.post("/api/downloads", json={"code": code})
    assert early.status_code == 200 and early.json()["documents"] == []

    await billing.publish(mine)
    await billing.publish(other)
    issued = {e.request_id: e for e in await billing.wait_for(InvoiceIssued, 2)}
    mine_no, other_no = issued[mine.request_id].invoice_number, issued[other.request_id].invoice_number
    storno = await billing.http.post(f"/api/invoices/{mine_no}/cancel", json={"reason_code": "goodwill"})
    assert storno.status_code == 201
    storno_no = storno.json()["cancellation_number"]

    found = (await billing.http.post("/api/downloads", json={"code": code})).json()
    assert [(d["number"], d["document_type"]) for d in found["documents"]] == [
        (mine_no, "invoice"), (storno_no, "cancellation")]
    pdf = await billing.http.post("/api/downloads/document", json={"code": code, "number": mine_no})
    archived = await billing.http.get(f"/api/invoices/{mine_no}.pdf")
    assert pdf.status_code == 200 and pdf.content == archived.content  # the archived copy
    assert pdf.headers["content-type"] == "application/pdf" and "no-store" in pdf.headers["cache-control"]

    # another request's document, a wrong, a malformed or a hash instead of the code: the same 404
    for body in ({"code": code, "number": other_no}, {"code": secrets.token_urlsafe(32), "number": mine_no},
                 {"code": "x", "number": mine_no}, {"code": digest, "number": mine_no}):
        refused = await billing.http.post("/api/downloads/document", json=body)
        assert refused.status_code == 404 and refused.json()["message_de"] == NEUTRAL
        assert refused.json()["code"] == "download_not_found"
    wrong = await billing.http.post("/api/downloads", json={"code": secrets.token_urlsafe(32)})
    assert wrong.status_code == 404 and wrong.json()["message_de"] == NEUTRAL
    assert code not in caplog.text and other_code not in caplog.text


async def test_the_code_expires_after_the_latest_document(harness: Any, ended: Any, created: Any) -> None:
    await harness.start_vault()
    await harness.start_instance(download_ttl_s=5.0)
    code, digest = new_code()
    event = ended(1800)
    await harness.publish(created(event.request_id, email=False, download_sha256=digest))
    await harness.publish(event)
    await harness.wait_for(InvoiceIssued)
    found = await harness.http.post("/api/downloads", json={"code": code})
    assert found.status_code == 200 and len(found.json()["documents"]) == 1

    async def expired() -> bool:
        return (await harness.http.post("/api/downloads", json={"code": code})).status_code == 404

    await eventually(expired, timeout=20, what="the code to expire")
