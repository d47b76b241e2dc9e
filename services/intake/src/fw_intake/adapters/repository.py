"""PostgreSQL repository of support requests (the connection's search_path is ``intake``)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence

import asyncpg

from fw_contracts import Event
from fw_contracts.events import CustomerType
from fw_intake.domain.request import RequestStatus, SupportRequest
from fw_platform import db, outbox

_COLUMNS = ("request_id, ticket, customer_type, terms_version, terms_sha256, withdrawal_waiver,"
            " created_at, status, updated_at")


#: The request and its event in one statement (no transaction needed around it).
_ADD = outbox.with_events(
    f"INSERT INTO support_requests ({_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    " ON CONFLICT (ticket) DO NOTHING RETURNING true", 10)


def _row(r: asyncpg.Record) -> SupportRequest:
    return SupportRequest(
        request_id=r["request_id"], ticket=r["ticket"], customer_type=CustomerType(r["customer_type"]),
        terms_version=r["terms_version"], terms_sha256=r["terms_sha256"],
        withdrawal_waiver=r["withdrawal_waiver"], created_at=r["created_at"],
        status=RequestStatus(r["status"]), updated_at=r["updated_at"])


class SqlSupportRequests:
    """Implements ``application.ports.SupportRequests`` on one connection (one transaction)."""

    def __init__(self, conn: asyncpg.Connection, *, at_commit: Callable[[str], None] | None = None) -> None:
        #: where ``save_many`` sends its statement (a consumer's run: with the COMMIT)
        self._at_commit = at_commit
        self._conn = conn

    async def add(self, request: SupportRequest, event: Event) -> bool:
        """Insert the request and its event (outbox) in one statement; False and nothing written
        if the ticket is taken (only that conflict: a duplicate id still fails)."""
        inserted = await self._conn.fetchval(
            _ADD, request.request_id, request.ticket, request.customer_type.value, request.terms_version,
            request.terms_sha256, request.withdrawal_waiver, request.created_at,
            request.status.value, request.updated_at, *outbox.event_params([event]))
        return bool(inserted)

    async def get(self, request_id: uuid.UUID, *, lock: bool = False) -> SupportRequest | None:
        sql = f"SELECT {_COLUMNS} FROM support_requests WHERE request_id = $1"
        row = await self._conn.fetchrow(sql + (" FOR UPDATE" if lock else ""), request_id)
        return _row(row) if row else None

    async def save(self, request: SupportRequest) -> None:
        await self._conn.execute(
            "UPDATE support_requests SET status = $2, updated_at = $3 WHERE request_id = $1",
            request.request_id, request.status.value, request.updated_at)

    async def get_many(self, request_ids: Sequence[uuid.UUID], *, lock: bool = False,
                       ) -> dict[uuid.UUID, SupportRequest]:
        # ordered by id: two transactions locking overlapping sets lock them in the same order
        sql = f"SELECT {_COLUMNS} FROM support_requests WHERE request_id = ANY($1::uuid[]) ORDER BY request_id"
        rows = await self._conn.fetch(sql + (" FOR UPDATE" if lock else ""), list(set(request_ids)))
        return {r["request_id"]: _row(r) for r in rows}

    async def save_many(self, requests: Sequence[SupportRequest]) -> None:
        if not requests:
            return
        sql = ("UPDATE support_requests AS s SET status = u.status, updated_at = u.updated_at"
               " FROM unnest($1::uuid[], $2::text[], $3::timestamptz[]) AS u(request_id, status, updated_at)"
               " WHERE s.request_id = u.request_id")
        args = ([r.request_id for r in requests], [r.status.value for r in requests], [r.updated_at for r in requests])
        await db.write(self._conn, self._at_commit, sql, *args)

    async def all(self) -> list[SupportRequest]:
        """Every request, for comparing the table with a replay of the stream (audit)."""
        rows = await self._conn.fetch(f"SELECT {_COLUMNS} FROM support_requests ORDER BY created_at, request_id")
        return [_row(r) for r in rows]
