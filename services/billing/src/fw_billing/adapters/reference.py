"""Billing's record of published reference data (``published_reference``, migration 019)."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg


class SqlReferenceLedger:
    """:class:`fw_billing.application.reference.ReferenceLedger` on the unit of work's connection."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def published(self, kind: str, key: str) -> set[str]:
        rows = await self._conn.fetch(
            "SELECT sha256 FROM published_reference WHERE kind = $1 AND key = $2", kind, key)
        return {r["sha256"] for r in rows}

    async def last(self, kind: str) -> str | None:
        return await self._conn.fetchval(  # type: ignore[no-any-return]
            "SELECT sha256 FROM published_reference WHERE kind = $1 ORDER BY id DESC LIMIT 1", kind)

    async def record(self, kind: str, key: str, sha256: str, event_id: uuid.UUID, now: datetime) -> bool:
        # A concurrent transaction recording the same row first wins; this one then publishes nothing.
        done = await self._conn.fetchval(
            "INSERT INTO published_reference(kind, key, sha256, event_id, published_at)"
            " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (kind, key, sha256) DO NOTHING RETURNING id",
            kind, key, sha256, event_id, now)
        return done is not None
