"""PostgreSQL implementations of the stores (tables unqualified: search_path is ``session``)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import asyncpg

from fw_contracts import decode
from fw_contracts.events import CustomerType, ErasureReason
from fw_platform import db
from fw_platform.handling import StatementUnitOfWork, UnitOfWork
from fw_session.application.ports import ConcurrentChange
from fw_session.domain.billing import BillingBlock
from fw_session.domain.requests import QueueEntry, RequestStatus
from fw_session.domain.session import Session, SessionEvent, SessionStatus, SessionSummary, replay

_ENTRY_COLUMNS = ("request_id, status, ticket, customer_type, created_at, erased_at, correlation_id,"
                  " created_event_id, erasure_reason")


def _entry(row: asyncpg.Record) -> QueueEntry:
    return QueueEntry(
        request_id=row["request_id"], status=RequestStatus(row["status"]), ticket=row["ticket"],
        customer_type=CustomerType(row["customer_type"]) if row["customer_type"] else None,
        created_at=row["created_at"], erased_at=row["erased_at"],
        correlation_id=row["correlation_id"], created_event_id=row["created_event_id"],
        erasure_reason=ErasureReason(row["erasure_reason"]) if row["erasure_reason"] else None)


#: The placeholder inserted, or the existing row locked (see ``lock_or_placeholder``).
_PLACEHOLDER_OR_LOCK = (
    f"WITH ins AS (INSERT INTO requests(request_id, status) VALUES ($1, $2) ON CONFLICT DO NOTHING"
    f" RETURNING {_ENTRY_COLUMNS})"
    f" SELECT {_ENTRY_COLUMNS} FROM ins"
    f" UNION ALL SELECT * FROM (SELECT {_ENTRY_COLUMNS} FROM requests WHERE request_id = $1 FOR UPDATE) old")

#: The same for several ids (``$1``, in order).
_PLACEHOLDERS_OR_LOCK = (
    f"WITH ins AS (INSERT INTO requests(request_id, status) SELECT i, $2 FROM unnest($1::uuid[]) AS t(i)"
    f" ORDER BY i ON CONFLICT DO NOTHING RETURNING {_ENTRY_COLUMNS})"
    f" SELECT {_ENTRY_COLUMNS} FROM ins"
    f" UNION ALL SELECT * FROM (SELECT {_ENTRY_COLUMNS} FROM requests WHERE request_id = ANY($1::uuid[])"
    f" ORDER BY request_id FOR UPDATE) old")


class SqlRequestStore:
    def __init__(self, conn: asyncpg.Connection, *, at_commit: Callable[[str], None] | None = None) -> None:
        self._conn = conn
        #: where ``save_many`` (a consumer's run) sends its statement: with the COMMIT
        self._at_commit = at_commit

    async def _write(self, statement: str, *args: db.Literal) -> None:
        await db.write(self._conn, self._at_commit, statement, *args)

    async def lock_or_placeholder(self, request_id: uuid.UUID) -> QueueEntry:
        # Insert first, then lock: two consumers seeing the same new request serialise on the
        # row instead of both inserting and one overwriting the other's change. One statement:
        # the new row (ours, so locked) or the existing one, locked. A row another transaction
        # committed while the insert waited for it is not in the statement's snapshot (no row
        # comes back): then the lock alone, a statement of its own, finds it.
        row = await self._conn.fetchrow(_PLACEHOLDER_OR_LOCK, request_id, RequestStatus.UNSEEN.value)
        entry = _entry(row) if row else await self.lock(request_id)
        assert entry is not None
        return entry

    async def lock_or_placeholders(self, request_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, QueueEntry]:
        """:meth:`lock_or_placeholder` for several requests in one statement (ids in order, so two
        such statements lock common rows in the same order); the rare row committed by another
        transaction while the insert waited is locked by a statement of its own, as there."""
        ids = sorted(set(request_ids))
        rows = await self._conn.fetch(_PLACEHOLDERS_OR_LOCK, ids, RequestStatus.UNSEEN.value)
        entries = {r["request_id"]: _entry(r) for r in rows}
        for request_id in ids:
            if request_id not in entries:
                entry = await self.lock(request_id)
                assert entry is not None
                entries[request_id] = entry
        return entries

    async def save_many(self, entries: Sequence[QueueEntry]) -> None:
        """:meth:`save` for several entries in one statement."""
        if not entries:
            return
        await self._write(
            "UPDATE requests AS r SET status = u.status, ticket = u.ticket, customer_type = u.customer_type,"
            " created_at = u.created_at, erased_at = u.erased_at, correlation_id = u.correlation_id,"
            " created_event_id = u.created_event_id, erasure_reason = u.erasure_reason, updated_at = now()"
            " FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[],"
            " $7::uuid[], $8::uuid[], $9::text[]) AS u(request_id, status, ticket, customer_type, created_at,"
            " erased_at, correlation_id, created_event_id, erasure_reason)"
            " WHERE r.request_id = u.request_id",
            [e.request_id for e in entries], [e.status.value for e in entries], [e.ticket for e in entries],
            [e.customer_type.value if e.customer_type else None for e in entries],
            [e.created_at for e in entries], [e.erased_at for e in entries],
            [e.correlation_id for e in entries], [e.created_event_id for e in entries],
            [e.erasure_reason.value if e.erasure_reason else None for e in entries])

    async def lock(self, request_id: uuid.UUID) -> QueueEntry | None:
        row = await self._conn.fetchrow(
            f"SELECT {_ENTRY_COLUMNS} FROM requests WHERE request_id = $1 FOR UPDATE", request_id)
        return _entry(row) if row else None

    async def get(self, request_id: uuid.UUID) -> QueueEntry | None:
        row = await self._conn.fetchrow(f"SELECT {_ENTRY_COLUMNS} FROM requests WHERE request_id = $1", request_id)
        return _entry(row) if row else None

    async def save(self, entry: QueueEntry) -> None:
        """The entry's new state; in a transaction it goes with the COMMIT (nothing reads it back
        before: the start writes its session and events after it)."""
        await self._write(
            "UPDATE requests SET status = $2, ticket = $3, customer_type = $4, created_at = $5,"
            " erased_at = $6, correlation_id = $7, created_event_id = $8, erasure_reason = $9,"
            " updated_at = now() WHERE request_id = $1",
            entry.request_id, entry.status.value, entry.ticket,
            entry.customer_type.value if entry.customer_type else None, entry.created_at,
            entry.erased_at, entry.correlation_id, entry.created_event_id,
            entry.erasure_reason.value if entry.erasure_reason else None)

    async def in_queue(self, limit: int) -> Sequence[QueueEntry]:
        rows = await self._conn.fetch(
            f"SELECT {_ENTRY_COLUMNS} FROM requests WHERE status = 'waiting' AND erased_at IS NULL"
            " ORDER BY created_at, request_id LIMIT $1", limit)
        return [_entry(r) for r in rows]


_SUMMARY = ("SELECT s.session_id, s.request_id, r.ticket, s.technician, s.started_at, s.ended_at,"
            " s.duration_seconds FROM sessions s JOIN requests r ON r.request_id = s.request_id"
            " WHERE s.technician = $1")
#: Served by the partial indexes of migration 004 (tested with EXPLAIN).
RUNNING_OF_TECHNICIAN = f"{_SUMMARY} AND s.ended_at IS NULL ORDER BY s.started_at, s.session_id LIMIT $2"
ENDED_OF_TECHNICIAN = f"{_SUMMARY} AND s.ended_at IS NOT NULL ORDER BY s.ended_at DESC, s.session_id DESC LIMIT $2"


class SqlSessionStore:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def load(self, session_id: uuid.UUID, *, for_update: bool = False) -> Session | None:
        """The session folded from its events; one round trip (the row, locked if asked, and its
        events in one statement)."""
        lock = " FOR UPDATE" if for_update else ""
        row = await self._conn.fetchrow(
            "SELECT ARRAY(SELECT payload::text FROM session_events e WHERE e.session_id = s.session_id"
            f" ORDER BY e.version) AS payloads FROM sessions s WHERE s.session_id = $1{lock}", session_id)
        if row is None:
            return None
        # decode() upcasts events stored under an older schema version.
        return replay(decode(p.encode()) for p in row["payloads"])

    async def append(self, before: Session | None, events: Sequence[SessionEvent]) -> Session:
        after = replay(events, before)
        assert after is not None
        first = before.version if before else 0
        # One round trip: the row change, the events and their outbox rows in one statement.
        # The events are written only if the row changed (a concurrent change leaves the version
        # and the count at 0). Each event is serialised once: the same text is the stored
        # event's payload and the outbox row's body (``Event.to_json`` is that text's UTF-8).
        events_sql = (", o AS (INSERT INTO outbox(event_id, subject, event_type, payload)"
                      " SELECT i, s, t, convert_to(p, 'UTF8') FROM unnest(${i}::uuid[], ${s}::text[], ${t}::text[],"
                      " ${p}::text[]) WITH ORDINALITY AS x(i, s, t, p, n) WHERE EXISTS (SELECT 1 FROM row_change)"
                      " ORDER BY n ON CONFLICT (event_id) DO NOTHING)"
                      " INSERT INTO session_events(session_id, version, event_id, event_type, payload)"
                      " SELECT $1, v, i, t, p::jsonb FROM unnest(${v}::int[], ${i}::uuid[], ${t}::text[],"
                      " ${p}::text[]) AS x(v, i, t, p) WHERE EXISTS (SELECT 1 FROM row_change)")
        versions = [first + i + 1 for i in range(len(events))]
        ids, types, payloads = [e.event_id for e in events], [e.event_type for e in events], \
            [e.model_dump_json() for e in events]
        subjects = [e.subject() for e in events]
        try:
            if before is None:
                status = await self._conn.execute(
                    "WITH row_change AS (INSERT INTO sessions(session_id, request_id, version, technician,"
                    " started_at, ended_at, duration_seconds) VALUES ($1, $2, $3, $4, $5, $6, $7)"
                    " RETURNING 1)" + events_sql.format(v=8, i=9, t=10, p=11, s=12),
                    after.session_id, after.request_id, after.version, after.technician, after.started_at,
                    after.ended_at, after.duration_seconds, versions, ids, types, payloads, subjects)
            else:
                # The row keeps the fold's summary for the technician's list (migration 004);
                # after a takeover the session is listed under its new technician.
                status = await self._conn.execute(
                    "WITH row_change AS (UPDATE sessions SET version = $2, ended_at = $4, duration_seconds = $5,"
                    " technician = $6 WHERE session_id = $1 AND version = $3 RETURNING 1)"
                    + events_sql.format(v=7, i=8, t=9, p=10, s=11),
                    after.session_id, after.version, before.version, after.ended_at, after.duration_seconds,
                    after.technician, versions, ids, types, payloads, subjects)
            if status != f"INSERT 0 {len(events)}":
                raise ConcurrentChange
        except asyncpg.UniqueViolationError:
            raise ConcurrentChange from None
        return after

    async def of_technician(self, technician: str, status: SessionStatus, limit: int) -> Sequence[SessionSummary]:
        """The technician's running sessions (oldest first) or ended ones (most recent first)."""
        rows = await self._conn.fetch(
            RUNNING_OF_TECHNICIAN if status is SessionStatus.RUNNING else ENDED_OF_TECHNICIAN, technician, limit)
        return [SessionSummary(session_id=r["session_id"], request_id=r["request_id"], ticket=r["ticket"],
                               technician=r["technician"], started_at=r["started_at"], ended_at=r["ended_at"],
                               duration_seconds=r["duration_seconds"]) for r in rows]


_BLOCK_COLUMNS = ("session_id, request_id, missing, blocked_at, blocked_event_id, correlation_id,"
                  " address_provided_at, provided_event_id")


def _block(row: asyncpg.Record) -> BillingBlock:
    return BillingBlock(
        session_id=row["session_id"], request_id=row["request_id"], missing=tuple(row["missing"]),
        blocked_at=row["blocked_at"], blocked_event_id=row["blocked_event_id"],
        correlation_id=row["correlation_id"], address_provided_at=row["address_provided_at"],
        provided_event_id=row["provided_event_id"])


class SqlBillingBlockStore:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def lock(self, session_id: uuid.UUID) -> BillingBlock | None:
        row = await self._conn.fetchrow(
            f"SELECT {_BLOCK_COLUMNS} FROM billing_blocks WHERE session_id = $1 FOR UPDATE", session_id)
        return _block(row) if row else None

    async def get(self, session_id: uuid.UUID) -> BillingBlock | None:
        row = await self._conn.fetchrow(
            f"SELECT {_BLOCK_COLUMNS} FROM billing_blocks WHERE session_id = $1", session_id)
        return _block(row) if row else None

    async def save(self, block: BillingBlock) -> None:
        await self._conn.execute(
            f"INSERT INTO billing_blocks ({_BLOCK_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
            " ON CONFLICT (session_id) DO UPDATE SET missing = EXCLUDED.missing,"
            " blocked_at = EXCLUDED.blocked_at, blocked_event_id = EXCLUDED.blocked_event_id,"
            " correlation_id = EXCLUDED.correlation_id, address_provided_at = EXCLUDED.address_provided_at,"
            " provided_event_id = EXCLUDED.provided_event_id",
            block.session_id, block.request_id, list(block.missing), block.blocked_at,
            block.blocked_event_id, block.correlation_id, block.address_provided_at, block.provided_event_id)


@dataclass(frozen=True)
class SqlStores:
    requests: SqlRequestStore
    sessions: SqlSessionStore
    blocks: SqlBillingBlockStore


def sql_stores(uow: UnitOfWork) -> SqlStores:
    """The stores bound to the unit of work's transaction (a queue run's write goes with its
    COMMIT; a one-statement unit of work has none)."""
    at_commit = None if isinstance(uow, StatementUnitOfWork) else uow.write_at_commit
    return SqlStores(requests=SqlRequestStore(uow.conn, at_commit=at_commit), sessions=SqlSessionStore(uow.conn),
                     blocks=SqlBillingBlockStore(uow.conn))
