"""E-mail delivery through a real SMTP server on loopback (aiosmtpd), with retries."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from email import message_from_bytes, policy
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from fw_contracts import InvoiceIssued
from fw_contracts.events import (
    DeliveryChannel,
    DeliveryFailure,
    InvoiceDelivered,
    InvoiceDeliveryFailed,
)
from fw_devenv.testing import eventually

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
            "delivery_poll_s": 0.1, "allow_example_issuer": True, **more}


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
    # Retention erases the vault entry on InvoiceIssued but for the delivery e-mail address.
    harness.vault.entries.pop(event.request_id)
    harness.vault.erased.add(event.request_id)
    harness.vault.kept[event.request_id] = "max@example.org"

    async def sent() -> bool:
        return (await delivery(harness, issued.invoice_number))["status"] == "sent"

    await eventually(sent, timeout=20, what="the delivery to be sent")
    row = await delivery(harness, issued.invoice_number)
    assert row["attempts"] == 3 and server.attempts == 3
    assert row["email_enc"] is None and row["last_error_type"] == "TemporaryFailure"
    assert row["channel"] == "email" and row["request_id"] == event.request_id
    (envelope,) = server.received
    assert envelope.rcpt_tos == ["max@example.org"]
    mail = message_from_bytes(envelope.original_content, policy=policy.default)
    assert mail["Subject"] == f"Ihre Rechnung {issued.invoice_number}"
    (attachment,) = list(mail.iter_attachments())
    assert attachment.get_filename() == f"{issued.invoice_number}.pdf"
    pdf = (await harness.http.get(f"/api/invoices/{issued.invoice_number}.pdf")).content
    assert attachment.get_content() == pdf  # the archived document, as issued
    # the recipient once at issue, the address at each attempt (purpose delivery)
    assert harness.vault.calls == [(event.request_id, "billing")] + [(event.request_id, "delivery")] * 3
    (delivered,) = await harness.wait_for(InvoiceDelivered)
    assert (delivered.document_number, delivered.request_id, delivered.channel, delivered.attempts) == (
        issued.invoice_number, event.request_id, DeliveryChannel.EMAIL, 3)
    listed = (await harness.http.get("/api/deliveries", params={"status": "sent"})).json()["items"]
    assert [d["document_number"] for d in listed] == [issued.invoice_number]
    assert "example.org" not in str(listed)

    # the Storno goes the same way: e-mailed while the vault still keeps the address ...
    storno = (await harness.http.post(f"/api/invoices/{issued.invoice_number}/cancel",
                                      json={"reason_code": "wrong_amount"})).json()["cancellation_number"]

    async def storno_sent() -> bool:
        return (await delivery(harness, storno))["status"] == "sent"

    await eventually(storno_sent, timeout=20, what="the Storno's delivery")
    mail = message_from_bytes(server.received[-1].original_content, policy=policy.default)
    assert mail["Subject"] == f"Ihre Stornorechnung {storno}" and server.received[-1].rcpt_tos == ["max@example.org"]
    delivered = {e.document_number: e for e in await harness.wait_for(InvoiceDelivered, 2)}
    assert delivered[storno].document_type == "cancellation"


async def test_a_storno_after_the_address_is_gone_is_for_the_office_to_hand_over(
        harness: Any, ended: Any, created: Any, smtp: tuple[FlakySmtp, int]) -> None:
    server, port = smtp
    server.fail = 0
    await harness.start_vault()
    await harness.start_instance(**smtp_settings(port))
    event = ended(1800)
    harness.vault.store(event.request_id)
    await harness.publish(created(event.request_id))
    await harness.publish(event)
    (issued,) = await harness.wait_for(InvoiceIssued)
    await harness.wait_for(InvoiceDelivered)
    harness.vault.entries.pop(event.request_id)  # retention erased the address after the delivery
    harness.vault.erased.add(event.request_id)
    storno = (await harness.http.post(f"/api/invoices/{issued.invoice_number}/cancel",
                                      json={"reason_code": "goodwill"})).json()["cancellation_number"]

    async def storno_failed() -> bool:
        return (await delivery(harness, storno))["status"] == "failed"

    await eventually(storno_failed, timeout=20, what="the Storno's delivery to give up")
    (gave_up,) = await harness.wait_for(InvoiceDeliveryFailed)
    assert (gave_up.document_number, gave_up.document_type, gave_up.failure) == (
        storno, "cancellation", DeliveryFailure.ADDRESS_UNAVAILABLE)
    (item,) = (await harness.http.get("/api/deliveries", params={"status": "failed"})).json()["items"]
    assert item["problem_de"] == "Keine E-Mail-Adresse (mehr) gespeichert" and item["can_mark_delivered"]
    assert len(server.received) == 1  # the invoice only


async def test_unknown_mailbox_is_given_up_in_german_and_can_be_marked_as_handed_over(
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

    (item,) = await eventually(failed, timeout=20, what="a failed delivery")
    assert item["document_number"] == issued.invoice_number and item["attempts"] == 1
    assert item["last_error_type"] == "MailboxUnknown" and item["problem_de"] == "Postfach existiert nicht"
    assert item["retryable"] is False and item["can_mark_delivered"] is True
    assert "example.org" not in str(item) and "unbekannt" not in str(item)  # never the reply text
    (gave_up,) = await harness.wait_for(InvoiceDeliveryFailed)
    assert (gave_up.document_number, gave_up.failure, gave_up.request_id) == (
        issued.invoice_number, DeliveryFailure.MAILBOX_UNKNOWN, event.request_id)
    row = await delivery(harness, issued.invoice_number)
    assert row["email_enc"] is None  # billing keeps no copy

    refused = await harness.http.post(f"/api/deliveries/{item['id']}/retry")
    assert refused.status_code == 409 and refused.json()["code"] == "not_retryable"
    marked = await harness.http.post(f"/api/deliveries/{item['id']}/delivered")
    assert marked.status_code == 200
    (by_hand,) = await harness.wait_for(InvoiceDelivered)
    assert by_hand.channel is DeliveryChannel.MANUAL and by_hand.document_number == issued.invoice_number
    row = await delivery(harness, issued.invoice_number)
    assert (row["status"], row["channel"]) == ("sent", "manual")
    again = await harness.http.post(f"/api/deliveries/{item['id']}/delivered")
    assert again.status_code == 409 and again.json()["code"] == "already_delivered"
    assert (await harness.http.post("/api/deliveries/999999/delivered")).status_code == 404


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

    await eventually(failed, timeout=20, what="the delivery to fail")
    row = await delivery(harness, issued.invoice_number)
    assert row["attempts"] == 3 and row["last_error_type"] == "ServerUnreachable"
    (gave_up,) = await harness.wait_for(InvoiceDeliveryFailed)
    assert gave_up.failure is DeliveryFailure.SERVER_UNREACHABLE and gave_up.attempts == 3


async def test_smtp_off_records_a_visible_failure(billing: Any, ended: Any, created: Any) -> None:
    event = ended(1800)
    # No address given: nothing to read for the tax case either.
    await billing.publish(created(event.request_id, address=False))
    await billing.publish(event)
    (issued,) = await billing.wait_for(InvoiceIssued)
    await billing.settle()
    (item,) = (await billing.http.get("/api/deliveries", params={"status": "failed"})).json()["items"]
    assert item["document_number"] == issued.invoice_number and item["last_error_type"] == "SmtpDisabled"
    assert item["problem_de"] == "SMTP ist nicht eingerichtet"
    # not given up: the office can send it once SMTP is set up (retention's hold bounds it)
    assert item["retryable"] is True and billing.vault.calls == []
    assert await billing.events(InvoiceDeliveryFailed) == []
    assert (await billing.http.post(f"/api/deliveries/{item['id']}/retry")).status_code == 202
