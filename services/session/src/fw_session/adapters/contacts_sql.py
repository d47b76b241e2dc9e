"""SQL of the contact views: sessions joined with their request's ticket and erasure time."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import asyncpg

from fw_session.application.contacts import SessionRef

_SELECT = ("SELECT s.session_id, s.request_id, r.ticket, s.technician, s.started_at, s.ended_at, r.erased_at"
           " FROM sessions s JOIN requests r ON r.request_id = s.request_id")


def _ref(row: asyncpg.Record) -> SessionRef:
    return SessionRef(session_id=row["session_id"], request_id=row["request_id"], ticket=row["ticket"],
                      technician=row["technician"], started_at=row["started_at"], ended_at=row["ended_at"],
                      erased_at=row["erased_at"])


class SqlContactReads:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def one(self, session_id: uuid.UUID) -> SessionRef | None:
        row = await self._conn.fetchrow(_SELECT + " WHERE s.session_id = $1", session_id)
        return _ref(row) if row else None

    async def running(self, technician: str | None, limit: int) -> Sequence[SessionRef]:
        rows = await self._conn.fetch(
            _SELECT + " WHERE s.ended_at IS NULL AND ($1::text IS NULL OR s.technician = $1)"
            " ORDER BY s.started_at, s.session_id LIMIT $2", technician, limit)
        return [_ref(r) for r in rows]

    async def tickets(self, request_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
        rows = await self._conn.fetch(
            "SELECT request_id, ticket FROM requests WHERE request_id = ANY($1::uuid[]) AND ticket IS NOT NULL",
            list(request_ids))
        return {r["request_id"]: r["ticket"] for r in rows}
