"""PostgreSQL store of the technicians' work notes (``work_notes``, migration 023).

The note is sealed with the archive key of the year it was written (AAD ``work-note:<session>``)
and destroyed with that year's archive.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from fw_billing.adapters.keys import KeyDestroyed, KeyPurpose, KeyRing
from fw_billing.application.work_notes import NoteState, WorkNote
from fw_billing.domain.invoicing import SessionStatus, invoice_year


def work_note_aad(session_id: uuid.UUID) -> str:
    return f"work-note:{session_id}"


#: The session's note lock (transaction-scoped): writers and the issuing transaction take it.
LOCK = "SELECT pg_advisory_xact_lock(hashtextextended('billing-work-note:' || $1::uuid::text, 0))"


class SqlWorkNotes:
    """Works on a connection already inside the caller's transaction."""

    def __init__(self, conn: asyncpg.Connection, keys: KeyRing) -> None:
        self._conn = conn
        self._keys = keys

    async def lock(self, session_id: uuid.UUID) -> None:
        await self._conn.execute(LOCK, session_id)

    async def state(self, session_id: uuid.UUID) -> NoteState:
        if await self._conn.fetchval("SELECT EXISTS (SELECT 1 FROM invoices WHERE session_id = $1)", session_id):
            return NoteState.FROZEN
        status = await self._conn.fetchval("SELECT status FROM session_billing WHERE session_id = $1", session_id)
        if status == SessionStatus.NOT_BILLED.value:
            return NoteState.NOT_BILLED
        if status == SessionStatus.INVOICED.value:
            return NoteState.FROZEN
        return NoteState.OPEN

    async def read(self, session_id: uuid.UUID) -> WorkNote | None:
        row = await self._conn.fetchrow("SELECT * FROM work_notes WHERE session_id = $1", session_id)
        if row is None:
            return None
        text = await self.text(session_id, row["key_year"], row["note_enc"])
        if text is None:
            return None
        return WorkNote(session_id=session_id, text=text, written_by=row["written_by"],
                        written_at=row["written_at"], state=await self.state(session_id))

    async def text(self, session_id: uuid.UUID, key_year: int, note_enc: bytes) -> str | None:
        """A stored note's text; None once its archive year's key is destroyed (only the
        archived invoice still shows it)."""
        try:
            return (await self._keys.open(self._conn, KeyPurpose.ARCHIVE, key_year,
                                          work_note_aad(session_id), bytes(note_enc))).decode()
        except KeyDestroyed:
            return None

    async def write(self, session_id: uuid.UUID, text: str, written_by: str, at: datetime) -> None:
        year = invoice_year(at)
        sealed = await self._keys.seal(self._conn, KeyPurpose.ARCHIVE, year, work_note_aad(session_id),
                                       text.encode())
        await self._conn.execute(
            "INSERT INTO work_notes(session_id, key_year, note_enc, written_by, written_at)"
            " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (session_id) DO UPDATE SET key_year = EXCLUDED.key_year,"
            " note_enc = EXCLUDED.note_enc, written_by = EXCLUDED.written_by, written_at = EXCLUDED.written_at",
            session_id, year, sealed, written_by, at)

    async def delete(self, session_id: uuid.UUID) -> None:
        await self._conn.execute("DELETE FROM work_notes WHERE session_id = $1", session_id)

    async def purge_orphaned(self, written_before: datetime) -> int:
        deleted: int = await self._conn.fetchval(
            "WITH gone AS (DELETE FROM work_notes w WHERE w.written_at < $1"
            " AND NOT EXISTS (SELECT 1 FROM session_billing b WHERE b.session_id = w.session_id)"
            " AND NOT EXISTS (SELECT 1 FROM invoices i WHERE i.session_id = w.session_id)"
            " RETURNING 1) SELECT count(*) FROM gone", written_before)
        return deleted
