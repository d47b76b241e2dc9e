"""E-mail delivery through a real SMTP server on loopback (aiosmtpd), with retries."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from email import message_from_bytes, policy
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from fw_contracts import InvoiceIssued

from .conftest import until

FULL_SECONDS = 10 * 900


class FlakySmtp:
    """Refuses the first ``fail`` messages with ``code``, then accepts."""

    def __init__(self, fail: int, code: str = "451 4.3.0 Bitte später erneut versuchen") -> None:
        self.fail = fail
        self.code = code
        self.attempts = 0
        self.received: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.attempts += 1
        if self.attempts <= self.fail:
            return self.code
        self.received.append(envelope)
        return "250 2.0.0 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[FlakySmtp, int]]:
    handler = FlakySmtp(fail=2)
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def smtp_settings(port: int, **more: Any) -> dict[str, Any]:
    return {"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_starttls": False,
            "smtp_from": "rechnung@beispiel.example", "delivery_backoff_s": 0.1,
            "delivery_poll_s": 0.1, **more}


async def delivery(harness: Any, number: str) -> Any:
    (row,) = await harness.rows("SELECT * FROM deliveries WHERE document_number = $1", number)
    return row


async def test_fails_twice_then_sent_after_retries(harness: Any, ended: Any, created: Any,
                                                   smtp: tuple[FlakySmtp, int]) -> None:
    server, port = smtp
    await harness.start_vault()
    await harness.start_instance(**smtp_settings(port))
    event = ended(FULL_SECONDS)
    harness.vault.store(event.request_id)
    await harness.publish(created(event.request_id))
    await harness.publish(event)
    (issued,) = await harness.wait_for(InvoiceIssued)
    # Retention erases the vault entry on InvoiceIssued: the address was read before.
    harness.vault.entries.pop(event.request_id)
    harness.vault.erased.add(event.request_id)

    async def sent() -> bool:
        return (await delivery(harness, issued.invoice_number))["status"] == "sent"

    await until(sent, 20, "the delivery to be sent")
    row = await delivery(harness, issued.invoice_number)
    assert row["attempts"] == 3 and server.attempts == 3
    assert row["email_enc"] is None and row["last_error_type"] == "SMTPDataError"
    (envelope,) = server.received
    assert envelope.rcpt_tos == ["max@example.org"]
    mail = message_from_bytes(envelope.original_content, policy=policy.default)
    assert mail["Subject"] == f"Ihre Rechnung {issued.invoice_number}"
    (attachment,) = list(mail.iter_attachments())
    assert attachment.get_filename() == f"{issued.invoice_number}.pdf"
    pdf = (await harness.http.get(f"/api/invoices/{issued.invoice_number}.pdf")).content
    assert attachment.get_content() == pdf  # the archived document, as issued
    assert harness.vault.calls == [(event.request_id, "billing")]  # read once, at issue
    listed = (await harness.http.get("/api/deliveries", params={"status": "sent"})).json()["items"]
    assert [d["document_number"] for d in listed] == [issued.invoice_number]
    assert "example.org" not in str(listed)


async def test_refused_delivery_is_visible_as_failed_and_can_be_retried(
        harness: Any, ended: Any, created: Any, smtp: tuple[FlakySmtp, int]) -> None:
    server, port = smtp
    server.fail, server.code = 1, "550 5.1.1 Mailbox unbekannt"
    await harness.start_vault()
    await harness.start_instance(**smtp_settings(port))
    event = ended(1800)
    harness.vault.store(event.request_id, address=False)
    await harness.publish(created(event.request_id))
    await harness.publish(event)
    (issued,) = await harness.wait_for(InvoiceIssued)

    async def failed() -> list[Any]:
        resp = await harness.http.get("/api/deliveries", params={"status": "failed"})
        return list(resp.json()["items"])

    await until(lambda: _nonempty(failed()), 20, "a failed delivery")
    (item,) = await failed()
    assert item["document_number"] == issued.invoice_number and item["attempts"] == 1
    assert item["last_error_type"] == "SMTPDataError" and item["retryable"] is True
    assert "example.org" not in str(item) and "Mailbox" not in str(item)
    row = await delivery(harness, issued.invoice_number)
    assert row["email_enc"] is not None and b"example.org" not in bytes(row["email_enc"])

    retry = await harness.http.post(f"/api/deliveries/{item['id']}/retry")
    assert retry.status_code == 202

    async def sent() -> bool:
        return (await delivery(harness, issued.invoice_number))["status"] == "sent"

    await until(sent, 20, "the retried delivery")
    assert (await harness.http.post(f"/api/deliveries/{item['id']}/retry")).status_code == 409


async def _nonempty(result: Any) -> bool:
    return bool(await result)


async def test_unreachable_server_fails_after_max_attempts(harness: Any, ended: Any, created: Any) -> None:
    await harness.start_vault()
    await harness.start_instance(**smtp_settings(free_port(), delivery_max_attempts=3))
    event = ended(1800)
    harness.vault.store(event.request_id)
    await harness.publish(created(event.request_id))
    await harness.publish(event)
    (issued,) = await harness.wait_for(InvoiceIssued)

    async def failed() -> bool:
        return (await delivery(harness, issued.invoice_number))["status"] == "failed"

    await until(failed, 20, "the delivery to fail")
    row = await delivery(harness, issued.invoice_number)
    assert row["attempts"] == 3 and row["last_error_type"] == "ConnectionRefusedError"


async def test_smtp_off_records_a_visible_failure(billing: Any, ended: Any, created: Any) -> None:
    event = ended(1800)
    # No address given: nothing to read for the tax case either.
    await billing.publish(created(event.request_id, address=False))
    await billing.publish(event)
    (issued,) = await billing.wait_for(InvoiceIssued)
    await billing.settle()
    (item,) = (await billing.http.get("/api/deliveries", params={"status": "failed"})).json()["items"]
    assert item["document_number"] == issued.invoice_number and item["last_error_type"] == "SmtpDisabled"
    assert item["retryable"] is False and billing.vault.calls == []
    await asyncio.sleep(0)
