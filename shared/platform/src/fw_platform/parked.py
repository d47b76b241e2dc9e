"""Parked messages for staff and alerts: the list (never payloads) and the gauge behind the alert."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg
from pydantic import BaseModel

from fw_platform import metrics


class ParkedMessage(BaseModel):
    """One parked message: where it is in the stream and why, never what it said."""

    id: int
    consumer: str
    stream_seq: int
    subject: str
    event_id: uuid.UUID | None
    reason_code: str
    deliveries: int
    parked_at: datetime
    resolved_at: datetime | None


class ParkedList(BaseModel):
    service: str
    unresolved: int
    items: list[ParkedMessage]


async def list_parked(pool: asyncpg.Pool, *, include_resolved: bool = False, limit: int = 200) -> list[ParkedMessage]:
    """The newest parked messages first (unresolved only unless asked)."""
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT id, consumer, stream_seq, subject, event_id, reason_code, deliveries, parked_at,"
            " resolved_at FROM dead_letters WHERE $1 OR resolved_at IS NULL ORDER BY id DESC LIMIT $2",
            include_resolved, limit)
    return [ParkedMessage(**dict(r)) for r in rows]


async def count_unresolved(pool: asyncpg.Pool) -> dict[tuple[str, str], int]:
    """``{(consumer, reason_code): n}`` of unresolved parked messages."""
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT consumer, reason_code, count(*) AS n FROM dead_letters"
                                " WHERE resolved_at IS NULL GROUP BY 1, 2")
    return {(r["consumer"], r["reason_code"]): r["n"] for r in rows}


async def refresh_gauge(pool: asyncpg.Pool, service: str, consumers: list[str]) -> None:
    """Set ``fw_parked_messages`` from the table: every consumer of the service shows (0 when
    nothing is parked, so an alert rule sees the series), and a resolved row lowers it."""
    counts = await count_unresolved(pool)
    series = {(c, code) for c, code in counts} | {(c, "undecodable") for c in consumers}
    for consumer, code in series:
        metrics.PARKED_MESSAGES.labels(service, consumer, code).set(counts.get((consumer, code), 0))
    # series that were set before and are resolved now
    for labels in list(metrics.PARKED_MESSAGES._metrics):  # prometheus_client has no public listing
        svc, consumer, code = labels
        if svc == service and (consumer, code) not in series:
            metrics.PARKED_MESSAGES.labels(svc, consumer, code).set(0)
