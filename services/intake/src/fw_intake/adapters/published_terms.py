"""Intake's record of published terms versions (``published_terms``, migration 019)."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg


class SqlPublishedTerms:
    """:class:`fw_intake.application.reference.TermsLedger` on the unit of work's connection."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def record(self, version: str, sha256: str, event_id: uuid.UUID, now: datetime) -> bool:
        done = await self._conn.fetchval(
            "INSERT INTO published_terms(terms_version, terms_sha256, event_id, published_at)"
            " VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING terms_version",
            version, sha256, event_id, now)
        return done is not None
