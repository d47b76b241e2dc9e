"""The invoice reaches the customer before the data go (LEGAL.md L21, issue 21).

Retention and billing run in-process on real NATS and PostgreSQL, each with its own NATS user
(its real permissions, incl. the durables ``retention--invoice_delivered`` and
``retention--invoice_delivery_failed``), billing e-mails through a real SMTP server (aiosmtpd) on
loopback, and retention's clock is injected (the delivery hold is 14 days). The test plays intake
(vault put, ``SupportRequestCreated`` with an e-mail) and session (``SessionEnded``).

1. SMTP never up: InvoiceIssued erases everything but the e-mail; billing retries the server;
   when the hold ends the sweep erases the e-mail (``delivery_hold_ended``), billing's next
   attempt finds no address and gives up (``InvoiceDeliveryFailed``); the customer still fetches
   the archived invoice with the download code (valid until 30 days after the invoice).
2. SMTP down, then up: retried with back-off, nothing erased but the first step meanwhile; once
   the server is up it is delivered late, and the e-mail is erased after (``invoice_delivered``).
3. SMTP up: delivered, then erased.

Then ``fernwartung audit verify`` passes the whole history (both steps, each delay from its own
trigger), and a raw scan (pg_dump, every JetStream file, the logs) finds none of the callers'
markers.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import secrets
import socket
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiosmtpd.controller import Controller

from fw_audit.runner import Conn, verify_stream
from fw_audit.verifier import VerifyOptions
from fw_contracts.events import (
    CustomerType,
    DeliveryChannel,
    DeliveryFailure,
    ErasureReason,
    ErasureScope,
    InvoiceDelivered,
    InvoiceDeliveryFailed,
    InvoiceIssued,
    PersonalDataErased,
    SessionEnded,
    SupportRequestCreated,
    TermsAcceptance,
)
from fw_contracts.vault import Address, PersonalData
from fw_contracts.wire import VaultCaller
from fw_devenv.pytest_plugin import FwEnv
from fw_platform.vault_client import VaultClient, VaultRefused

sys.path.insert(0, str(Path(__file__).parents[1] / "privacy"))
sys.path.insert(0, str(Path(__file__).parent))
from inprocess_office import Office as InProcessOffice
from inprocess_office import running_office, until
from privacy_kit import Markers, find, pg_dump

pytestmark = pytest.mark.e2e

HOLD = timedelta(days=14)
SECONDS = 600  # a Kleinbetragsrechnung with the shipped tariff: no recipient, just the e-mail


@dataclass
class Clock:
    """Retention's clock: real time plus an offset the test moves."""

    offset: timedelta = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


class Mailbox:
    """An SMTP server that accepts everything and keeps it."""

    def __init__(self) -> None:
        self.received: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append(envelope)
        return "250 2.0.0 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Office(InProcessOffice[Clock]):
    smtp_port: int
    mailbox: Mailbox = field(default_factory=Mailbox)

    async def request(self, m: Markers, download_code: str | None = None) -> uuid.UUID:
        """Intake and a session: the vault holds the caller's data (with the e-mail for the
        invoice), the session ended; billing issues a Kleinbetragsrechnung."""
        rid = uuid.uuid4()
        digest = hashlib.sha256(download_code.encode()).hexdigest() if download_code else None
        await VaultClient(self.nc, VaultCaller.INTAKE).put(rid, PersonalData(
            company=m.company, contact_name=m.contact_name, phone=m.phone_e164, email=m.email,
            address=Address(street=m.street, postal_code="10115", city=m.city)))
        at = datetime.now(UTC) - timedelta(hours=1)
        await self.publish(SupportRequestCreated(
            request_id=rid, ticket="MAIL-" + rid.hex[:3].upper().replace("0", "A"),
            customer_type=CustomerType.BUSINESS, has_billing_address=True, has_email=True, download_sha256=digest,
            terms=TermsAcceptance(terms_version="2026-01", terms_sha256="a" * 64, accepted_at=at), occurred_at=at))
        start = at + timedelta(minutes=5)
        await self.publish(SessionEnded(session_id=uuid.uuid4(), request_id=rid, technician="tech-02",
                                        started_at=start, ended_at=start + timedelta(seconds=SECONDS),
                                        duration_seconds=SECONDS, occurred_at=start + timedelta(seconds=SECONDS)))
        return rid

    async def attempts(self, rid: uuid.UUID) -> int:
        return int(await self.sql("billing", "SELECT coalesce(max(attempts), 0) FROM deliveries"
                                             " WHERE request_id = $1", rid))

    async def kept_rows(self, rid: uuid.UUID) -> int:
        return int(await self.sql("retention", "SELECT (SELECT count(*) FROM vault_delivery_emails WHERE"
                                               " request_id = $1) + (SELECT count(*) FROM vault_keys WHERE"
                                               " request_id = $1) + (SELECT count(*) FROM vault_entries WHERE"
                                               " request_id = $1)", rid))


@contextlib.contextmanager
def smtp_server(office: Office) -> Iterator[None]:
    controller = Controller(office.mailbox, hostname="127.0.0.1", port=office.smtp_port)
    controller.start()
    try:
        yield
    finally:
        controller.stop()


@pytest_asyncio.fixture
async def office(fw_env: FwEnv) -> AsyncIterator[Office]:
    clock = Clock()
    port = free_port()  # nobody listens yet: "SMTP down"
    async with running_office(
            fw_env, clock, "e2e-delivery-erasure", smtp_host="127.0.0.1", smtp_port=port, smtp_starttls=False,
            smtp_from="rechnung@beispiel.example", delivery_backoff_s=0.1, delivery_backoff_cap_s=0.3,
            delivery_poll_s=0.1, allow_example_issuer=True) as run:
        yield Office(fw_env, run.nc, clock, run.retention, run.billing, run.billing_pool, port)


async def _erasures(office: Office, rid: uuid.UUID, n: int) -> list[PersonalDataErased] | None:
    found = await office.events(PersonalDataErased, rid)
    return found if len(found) >= n else None


async def _first_step(office: Office, rid: uuid.UUID) -> tuple[InvoiceIssued, PersonalDataErased]:
    [issued] = await until(lambda: office.events(InvoiceIssued, rid), "InvoiceIssued")
    # (with SMTP up the second step may already follow: the first is the first in the stream)
    first = (await until(lambda: _erasures(office, rid, 1), "the first erasure step"))[0]
    assert (first.scope, first.reason, first.trigger_event_id) == (
        ErasureScope.ALL_BUT_DELIVERY_EMAIL, ErasureReason.INVOICE_ISSUED, issued.event_id)
    assert first.delivery_hold_until == issued.occurred_at + HOLD
    with pytest.raises(VaultRefused) as refused:
        await VaultClient(office.nc, VaultCaller.BILLING).get(rid, "billing")  # name, phone, address: gone
    assert refused.value.error.value == "erased"
    assert await office.sql("retention", "SELECT count(*) FROM vault_entries WHERE request_id = $1", rid) == 0
    return issued, first


async def test_delivery_erasure_smtp_never_up_down_then_up_and_up(
        office: Office, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    never, late, ok = Markers("never"), Markers("late"), Markers("ok")

    # ---- 1. SMTP never up: the hold ends, the e-mail goes; billing gives up; the copy stays
    code = secrets.token_urlsafe(32)  # what intake gave the customer
    rid_never = await office.request(never, download_code=code)
    issued_never, _ = await _first_step(office, rid_never)
    await until(lambda: _at_least(office.attempts(rid_never), 2), "billing retrying the server")
    assert await office.kept_rows(rid_never) == 2  # the kept e-mail row and its key
    assert await office.events(InvoiceDeliveryFailed) == []  # a server away is not given up
    office.clock.offset = issued_never.occurred_at + HOLD + timedelta(seconds=1) - datetime.now(UTC)
    assert await office.retention.sweep() == 1
    _first, second = await until(lambda: _erasures(office, rid_never, 2), "the erasure at the hold's end")
    assert (second.scope, second.reason, second.trigger_event_id) == (
        ErasureScope.DELIVERY_EMAIL, ErasureReason.DELIVERY_HOLD_ENDED, None)
    assert await office.kept_rows(rid_never) == 0
    [gave_up] = await until(lambda: office.events(InvoiceDeliveryFailed, rid_never), "billing giving up")
    assert gave_up.failure is DeliveryFailure.ADDRESS_UNAVAILABLE
    office.clock.offset = timedelta(0)
    # the customer still fetches the invoice with the download code, no contact data kept anywhere
    opened = (await office.billing.post("/api/downloads", json={"code": code})).json()
    assert [d["number"] for d in opened["documents"]] == [issued_never.invoice_number]
    assert datetime.fromisoformat(opened["expires_at"]) == issued_never.issued_at + timedelta(days=30)
    pdf = await office.billing.post("/api/downloads/document",
                                    json={"code": code, "number": issued_never.invoice_number})
    archived = await office.billing.get(f"/api/invoices/{issued_never.invoice_number}.pdf")
    assert pdf.status_code == 200 and pdf.content == archived.content and pdf.content.startswith(b"%PDF")
    failed = (await office.billing.get("/api/deliveries", params={"status": "failed"})).json()["items"]
    assert [d["problem_de"] for d in failed] == ["Keine E-Mail-Adresse (mehr) gespeichert"]

    # ---- 2. SMTP down, then up: delivered late, erased after
    rid_late = await office.request(late)
    issued_late, _ = await _first_step(office, rid_late)
    await until(lambda: _at_least(office.attempts(rid_late), 2), "billing retrying the server")
    pending = (await office.billing.get("/api/deliveries", params={"status": "pending"})).json()["items"]
    assert [d["problem_de"] for d in pending] == ["Server nicht erreichbar"]
    assert await office.kept_rows(rid_late) == 2 and len(await office.events(PersonalDataErased, rid_late)) == 1
    with smtp_server(office):
        [done] = await until(lambda: office.events(InvoiceDelivered, rid_late), "the late delivery")
        assert done.channel is DeliveryChannel.EMAIL and done.attempts >= 3
        _, second = await until(lambda: _erasures(office, rid_late, 2), "the e-mail's erasure")
        assert (second.scope, second.reason, second.trigger_event_id) == (
            ErasureScope.DELIVERY_EMAIL, ErasureReason.INVOICE_DELIVERED, done.event_id)
        assert await office.kept_rows(rid_late) == 0

        # ---- 3. SMTP up: delivered, then erased
        rid_ok = await office.request(ok)
        issued_ok, _ = await _first_step(office, rid_ok)
        [done_ok] = await until(lambda: office.events(InvoiceDelivered, rid_ok), "the delivery")
        _, second_ok = await until(lambda: _erasures(office, rid_ok, 2), "the e-mail's erasure")
        assert (second_ok.reason, second_ok.trigger_event_id) == (ErasureReason.INVOICE_DELIVERED, done_ok.event_id)
    with pytest.raises(VaultRefused):
        await VaultClient(office.nc, VaultCaller.BILLING).delivery_email(rid_ok)

    received = {tuple(e.rcpt_tos): e for e in office.mailbox.received}
    assert set(received) == {(late.email,), (ok.email,)}  # the one that never got through: no mail
    mail = message_from_bytes(received[(ok.email,)].original_content, policy=policy.default)
    assert mail["Subject"] == f"Ihre Rechnung {issued_ok.invoice_number}"
    assert issued_late.invoice_number in message_from_bytes(
        received[(late.email,)].original_content, policy=policy.default)["Subject"]

    # ---- the audit: both steps of all three on time, each from its own trigger
    as_of = datetime.now(UTC) + HOLD + timedelta(hours=2)
    report = await verify_stream(Conn(url=office.env.nats_url), VerifyOptions(),
                                 as_of=as_of)
    erasure = report.check("erasure")
    assert erasure.ok and not erasure.pending, [f.reason for f in erasure.failures]
    assert "(3 requests)" in " ".join(erasure.notes)
    assert await office.sql("billing", "SELECT count(*) FROM dead_letters") == 0
    assert await office.sql("retention", "SELECT count(*) FROM dead_letters") == 0

    # ---- the raw scan: no marker in the database dump, the stream's files or the logs
    dump = await asyncio.to_thread(pg_dump, office.env)
    assert b"retention.vault_delivery_emails" in dump
    hits = find(dump, [never, late, ok])
    for path in sorted(p for p in office.env.nats.store_dir.rglob("*") if p.is_file()):
        hits += [f"{path.name}:{h}" for h in find(path.read_bytes(), [never, late, ok])]
    # the office's logs (not the test's own SMTP server, "mail.log", which sees the recipient)
    ours = "\n".join(f"{r.name} {r.getMessage()} {r.__dict__}" for r in caplog.records if r.name != "mail.log")
    hits += [f"log:{h}" for h in find(ours.encode(), [never, late, ok])]
    hits += ["download code in a log"] if code in ours else []
    assert "delivery failed" in ours and "personal data erased" in ours  # the scan does see the logs
    assert not hits, hits


async def _at_least(value: Awaitable[int], n: int) -> bool:
    return await value >= n
