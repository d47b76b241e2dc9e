"""The technician's "work done" note: onto the session's invoice line (PDF and e-invoice line
note BT-127), frozen once the invoice is issued, erased when the session is not billed, and
never in an event."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from lxml import etree

from fw_billing.adapters.cii import cii_xml
from fw_billing.adapters.rendering import PdfRenderer
from fw_billing.application.cancellation import cancel_invoice
from fw_billing.application.handlers import on_session_ended
from fw_billing.application.work_notes import (
    MAX_NOTE_CHARS,
    NoteFrozen,
    NoteInvalid,
    NoteSessionNotBilled,
    NoteState,
    WorkNote,
    clean_note,
    write_work_note,
)
from fw_billing.domain.documents import cancellation_document
from fw_contracts.events import InvoiceIssued, SessionEnded, SessionNotBilled

from .documents_support import (
    ISSUED,
    RECIPIENT,
    cen_failures,
    check_xsd,
    contains,
    document,
    pdf_text,
    schematron_failures,
    xrechnung_failures,
)

NOTE = "Druckertreiber neu installiert; VPN-Client für Frau Mustermann eingerichtet."
STARTED = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
CII = {"ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"}


def ended(seconds: int) -> SessionEnded:
    return SessionEnded(session_id=uuid.uuid4(), request_id=uuid.uuid4(), technician="tech-07",
                        started_at=STARTED, ended_at=STARTED + timedelta(seconds=seconds),
                        duration_seconds=seconds)


class FakeNotes:
    """The store contract in memory; ``state`` is set by the test."""

    def __init__(self) -> None:
        self.notes: dict[uuid.UUID, WorkNote] = {}
        self.states: dict[uuid.UUID, NoteState] = {}
        self.locks: list[uuid.UUID] = []

    async def lock(self, session_id: uuid.UUID) -> None:
        self.locks.append(session_id)

    async def state(self, session_id: uuid.UUID) -> NoteState:
        return self.states.get(session_id, NoteState.OPEN)

    async def read(self, session_id: uuid.UUID) -> WorkNote | None:
        return self.notes.get(session_id)

    async def write(self, session_id: uuid.UUID, text: str, written_by: str, at: datetime) -> None:
        self.notes[session_id] = WorkNote(session_id, text, written_by, at, NoteState.OPEN)

    async def delete(self, session_id: uuid.UUID) -> None:
        self.notes.pop(session_id, None)


# ---------------------------------------------------------------- the text at the edge
def test_a_note_is_cleaned_and_limited_with_german_and_english_messages() -> None:
    assert clean_note("  Treiber  neu\r\ninstalliert ") == "Treiber  neu\ninstalliert"
    assert clean_note("   ") == ""
    with pytest.raises(NoteInvalid) as too_long:
        clean_note("x" * (MAX_NOTE_CHARS + 1))
    assert too_long.value.code == "work_note_too_long" and "500" in too_long.value.message_de
    assert "500" in too_long.value.message_en
    with pytest.raises(NoteInvalid) as unclean:
        clean_note("Treiber\u202e installiert")  # a text direction override
    assert unclean.value.code == "text_format_character"
    assert "Treiber" not in unclean.value.message_de + unclean.value.message_en + str(unclean.value)
    assert clean_note("x" * MAX_NOTE_CHARS) == "x" * MAX_NOTE_CHARS


async def test_a_note_is_written_while_open_and_refused_once_frozen_or_not_billed() -> None:
    store, sid = FakeNotes(), uuid.uuid4()
    await write_work_note(store, sid, "Erste Fassung", "tech-07", ISSUED)
    await write_work_note(store, sid, "Zweite Fassung", "tech-07", ISSUED)
    assert store.notes[sid].text == "Zweite Fassung" and store.locks == [sid, sid]
    store.states[sid] = NoteState.FROZEN
    with pytest.raises(NoteFrozen) as frozen:
        await write_work_note(store, sid, "Nachträglich", "tech-07", ISSUED)
    assert "ausgestellt" in frozen.value.message_de and "issued" in frozen.value.message_en
    assert store.notes[sid].text == "Zweite Fassung"  # nothing changed
    store.states[sid] = NoteState.NOT_BILLED
    with pytest.raises(NoteSessionNotBilled):
        await write_work_note(store, sid, "Nachträglich", "tech-07", ISSUED)
    with pytest.raises(NoteInvalid):  # refused before anything is locked or read
        await write_work_note(store, uuid.uuid4(), "\x00", "tech-07", ISSUED)


async def test_an_empty_note_removes_it_and_each_write_locks() -> None:
    # the invoice's read of the note and its lock: the repository's issuing path
    # (tests/integration/test_billing_work_notes.py, the repository contract test)
    store, sid = FakeNotes(), uuid.uuid4()
    await write_work_note(store, sid, NOTE, "tech-07", ISSUED)
    note = await store.read(sid)
    assert note is not None and note.text == NOTE
    await write_work_note(store, sid, "  ", "tech-07", ISSUED)
    assert await store.read(sid) is None
    assert store.locks.count(sid) == 2


# ---------------------------------------------------------------- the documents
def test_the_note_is_the_first_lines_note_in_a_valid_deterministic_e_invoice() -> None:
    doc = replace(document(), work_note=NOTE)
    xml = cii_xml(doc)
    assert xml == cii_xml(doc)  # deterministic
    assert check_xsd(xml)
    assert cen_failures(xml) == []
    assert schematron_failures(xml) == []
    root = etree.fromstring(xml)
    items = root.findall(".//ram:IncludedSupplyChainTradeLineItem", namespaces=CII)
    assert items[0].findtext("ram:AssociatedDocumentLineDocument/ram:IncludedNote/ram:Content",
                             namespaces=CII) == f"Ausgeführte Arbeiten: {NOTE}"
    assert b"Ausgef" not in cii_xml(document())  # no note, no element
    # an XRechnung (public buyer with a Leitweg-ID) with a multi-line note passes KoSIT's rules
    xr = replace(doc, recipient=replace(RECIPIENT, buyer_reference="04011000-12345-03"),
                 work_note="Zeile eins\nZeile zwei")
    assert check_xsd(cii_xml(xr)) and xrechnung_failures(cii_xml(xr)) == []


def test_the_note_is_printed_below_the_line_on_the_invoice_and_its_storno() -> None:
    doc = replace(document(), work_note=NOTE)
    renderer = PdfRenderer()
    rendered = renderer.render(doc)
    assert rendered.pdf == renderer.render(doc).pdf
    text = pdf_text(rendered.pdf)
    assert contains(text, "Fernwartung je angefangene 15 Min.")
    assert contains(text, "Ausgeführte Arbeiten:") and contains(text, "VPN-Client")
    storno = cancellation_document(doc, number="FW-S-2026-000001", issued_at=ISSUED + timedelta(days=1),
                                   reason_code="wrong_amount")
    assert contains(pdf_text(renderer.render(storno).pdf), "VPN-Client")
    assert "Ausgeführte" not in pdf_text(renderer.render(document()).pdf)


# ---------------------------------------------------------------- the handler
async def test_the_issued_invoice_carries_the_note_and_the_event_does_not(world: Any) -> None:
    event = ended(4 * 900)  # a Kleinbetragsrechnung
    world.repo.work_notes[event.session_id] = NOTE
    uow = world.uow()
    await on_session_ended(event, uow, deps=world.deps)
    (issued,) = [e for e in uow.emitted if isinstance(e, InvoiceIssued)]
    assert NOTE not in issued.model_dump_json() and "VPN" not in issued.model_dump_json()
    assert contains(pdf_text(world.repo.archived[issued.invoice_number][2].pdf), "VPN-Client")
    # its Storno shows the same line with the same note
    cancelled = await cancel_invoice(issued.invoice_number, "goodwill", world.uow(), deps=world.deps)
    assert contains(pdf_text(world.repo.archived[cancelled.cancellation_number][2].pdf), "VPN-Client")
    assert "VPN" not in cancelled.model_dump_json()


async def test_a_session_not_billed_loses_its_note(world: Any) -> None:
    event = ended(60)  # below the free threshold
    world.repo.work_notes[event.session_id] = NOTE
    uow = world.uow()
    await on_session_ended(event, uow, deps=world.deps)
    assert any(isinstance(e, SessionNotBilled) for e in uow.emitted)
    assert event.session_id not in world.repo.work_notes
    assert all("VPN" not in e.model_dump_json() for e in uow.emitted)
