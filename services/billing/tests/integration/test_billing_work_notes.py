"""The technician's work note over real NATS and PostgreSQL: written through the API, printed on
the issued invoice, frozen from then on, erased when the session is not billed; stored only as
ciphertext and never in the outbox or the stream."""

from __future__ import annotations

import asyncio
import io
import uuid
from datetime import timedelta
from typing import Any

import asyncpg
import pypdf
import pytest

from fw_billing.adapters.keys import KeyRing
from fw_billing.adapters.repository import SqlBillingRepository
from fw_billing.adapters.work_notes import SqlWorkNotes
from fw_billing.application.work_notes import NoteFrozen, write_work_note
from fw_contracts import InvoiceIssued, SessionNotBilled, utcnow

NOTE = "Druckertreiber neu installiert, VPN-Zugang für Herrn Beispielmann eingerichtet."


def _text(pdf: bytes) -> str:
    return " ".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf)).pages)


async def test_the_note_goes_onto_the_invoice_and_is_frozen_then(billing: Any, ended: Any) -> None:
    session = ended(4 * 900)  # a Kleinbetragsrechnung
    url = f"/api/sessions/{session.session_id}/work-note"
    assert (await billing.http.get(url)).status_code == 404
    first = await billing.http.put(url, json={"note": "Erste Fassung", "written_by": "tech-03"})
    assert first.status_code == 200, first.text
    put = await billing.http.put(url, json={"note": f"  {NOTE} ", "written_by": "tech-03"})
    assert put.status_code == 200 and put.json()["note"] == NOTE and put.json()["state"] == "open"

    # refused input changes nothing and never echoes the text
    long = await billing.http.put(url, json={"note": "Beispielmann " * 40, "written_by": "tech-03"})
    assert long.status_code == 422 and long.json()["code"] == "work_note_too_long"
    assert "Beispielmann" not in long.text and "500" in long.json()["message_de"]
    bidi = await billing.http.put(url, json={"note": "Beispielmann\u202e", "written_by": "tech-03"})
    assert bidi.status_code == 422 and bidi.json()["code"] == "text_format_character"
    assert "Beispielmann" not in bidi.text
    bad_id = await billing.http.put(url, json={"note": "x", "written_by": "Erika Beispielmann"})
    assert bad_id.status_code == 422
    assert (await billing.http.get(url)).json()["note"] == NOTE

    # stored as ciphertext only
    raw = await billing.sql("SELECT note_enc FROM work_notes WHERE session_id = $1", session.session_id)
    assert b"Beispielmann" not in bytes(raw) and "Beispielmann".encode("utf-16-le") not in bytes(raw)

    await billing.publish(session)
    (issued,) = await billing.wait_for(InvoiceIssued)
    await billing.settle()
    pdf = (await billing.http.get(f"/api/invoices/{issued.invoice_number}.pdf")).content
    assert "Ausgeführte Arbeiten:" in _text(pdf) and "Beispielmann" in _text(pdf)

    frozen = await billing.http.put(url, json={"note": "Nachträglich geändert", "written_by": "tech-03"})
    assert frozen.status_code == 409 and frozen.json()["code"] == "work_note_frozen"
    assert "ausgestellt" in frozen.json()["message_de"]
    got = (await billing.http.get(url)).json()
    assert got["note"] == NOTE and got["state"] == "frozen" and got["written_by"] == "tech-03"

    # the Storno shows the same line with the same note
    storno = (await billing.http.post(f"/api/invoices/{issued.invoice_number}/cancel",
                                      json={"reason_code": "goodwill"})).json()["cancellation_number"]
    assert "Beispielmann" in _text((await billing.http.get(f"/api/invoices/{storno}.pdf")).content)

    # nowhere in the stream
    for event in await billing.events():
        assert "Beispielmann" not in event.model_dump_json()


async def test_a_session_not_billed_loses_its_note(billing: Any, ended: Any) -> None:
    session = ended(60)  # below the free threshold
    url = f"/api/sessions/{session.session_id}/work-note"
    assert (await billing.http.put(url, json={"note": NOTE, "written_by": "tech-03"})).status_code == 200
    await billing.publish(session)
    await billing.wait_for(SessionNotBilled)
    await billing.settle()
    assert await billing.sql("SELECT count(*) FROM work_notes WHERE session_id = $1", session.session_id) == 0
    refused = await billing.http.put(url, json={"note": NOTE, "written_by": "tech-03"})
    assert refused.status_code == 409 and refused.json()["code"] == "work_note_not_billed"
    assert (await billing.http.get(url)).status_code == 404


async def test_a_note_written_while_the_invoice_is_issued_waits_and_is_then_refused(billing: Any) -> None:
    """The issuing transaction holds the note's lock from its savepoint until it commits (the
    repository's own issuing path: lock with the savepoint, note read with the number): a note
    written meanwhile waits, then finds the session invoiced and changes nothing."""
    keys = KeyRing(billing.settings().archive_key_bytes())
    sid = uuid.uuid4()
    now = utcnow()
    dsn = billing.env.dsn("billing")
    issuer = await asyncpg.connect(dsn, server_settings={"search_path": "billing"})
    writer = await asyncpg.connect(dsn, server_settings={"search_path": "billing"})
    try:
        async with writer.transaction():
            await write_work_note(SqlWorkNotes(writer, keys), sid, "Erste Fassung", "tech-03", now)
        await issuer.execute(
            "INSERT INTO session_billing(session_id, request_id, started_at, ended_at, raw_seconds, promoted,"
            " tariff_version, status, source_event_id) VALUES ($1, $2, $3, $3, 60, false, 'e2e-1', 'pending', $2)",
            sid, uuid.uuid4(), now)
        tx = issuer.transaction()
        await tx.start()
        repo = SqlBillingRepository(issuer, keys)
        async with repo.issuing(sid):
            _, note = await repo.next_invoice_seq_with_note(now.year, sid)
        assert note == "Erste Fassung"

        async def late() -> None:
            async with writer.transaction():
                await write_work_note(SqlWorkNotes(writer, keys), sid, "Zu spät", "tech-03", now)

        waiting = asyncio.ensure_future(late())
        await asyncio.sleep(0.3)
        assert not waiting.done()  # held by the issuing transaction
        await issuer.execute("UPDATE session_billing SET status = 'invoiced' WHERE session_id = $1", sid)
        await tx.commit()
        with pytest.raises(NoteFrozen):
            await asyncio.wait_for(waiting, 10)
        note = await SqlWorkNotes(issuer, keys).read(sid)
        assert note is not None and note.text == "Erste Fassung"
    finally:
        await issuer.close()
        await writer.close()


async def test_the_note_of_a_session_that_never_reaches_billing_is_deleted_after_the_period(
        billing: Any, ended: Any) -> None:
    """A session whose end never comes (the tool crashed, the end was never sent) leaves no note
    behind until its archive year's key is destroyed: billing's housekeeping deletes it once it
    is older than ``work_note_orphan_days`` (30), and only it."""
    service = billing.apps[0].state.service
    keys = KeyRing(billing.settings().archive_key_bytes())
    now = utcnow()
    never_ended, rewritten, pending = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    invoiced = ended(4 * 900)
    conn = await asyncpg.connect(billing.env.dsn("billing"), server_settings={"search_path": "billing"})
    try:
        notes = SqlWorkNotes(conn, keys)
        for sid in (never_ended, rewritten, pending, invoiced.session_id):
            async with conn.transaction():
                await write_work_note(notes, sid, NOTE, "tech-03", now)
        # ended, its case waiting (e.g. blocked for the recipient's address): billing still needs the note
        await conn.execute(
            "INSERT INTO session_billing(session_id, request_id, started_at, ended_at, raw_seconds, promoted,"
            " tariff_version, status, source_event_id) VALUES ($1, $2, $3, $3, 60, false, 'e2e-1', 'blocked', $2)",
            pending, uuid.uuid4(), now)
        await billing.publish(invoiced)
        await billing.wait_for(InvoiceIssued)
        await billing.settle()
        async with conn.transaction():  # written again on day 20: the period starts again
            await write_work_note(notes, rewritten, "Zweite Fassung", "tech-03", now + timedelta(days=20))

        await service.housekeeping(now + timedelta(days=29))
        assert await conn.fetchval("SELECT count(*) FROM work_notes WHERE session_id = ANY($1::uuid[])",
                                   [never_ended, rewritten, pending, invoiced.session_id]) == 4
        await service.housekeeping(now + timedelta(days=31))
        left = {r["session_id"] for r in await conn.fetch("SELECT session_id FROM work_notes")}
        assert never_ended not in left
        assert {rewritten, pending, invoiced.session_id} <= left
        assert (await billing.http.get(f"/api/sessions/{never_ended}/work-note")).status_code == 404
        # the session may still end after all: a new note can be written, the invoice comes without the old one
        put = await billing.http.put(f"/api/sessions/{never_ended}/work-note",
                                     json={"note": "Neu", "written_by": "tech-03"})
        assert put.status_code == 200 and put.json()["state"] == "open"
    finally:
        await conn.close()
