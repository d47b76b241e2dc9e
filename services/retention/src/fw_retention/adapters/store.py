"""The vault store on PostgreSQL (asyncpg), working on one transaction's connection.

Tables are unqualified: the pool's search_path is the retention schema.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime

import asyncpg

from fw_contracts import Event
from fw_contracts.events import ErasureReason, ErasureScope
from fw_platform import db, outbox
from fw_retention.application.ports import (
    AccessRecord,
    ClaimNewOutcome,
    ErasureRecord,
    HeldEmail,
    PutOutcome,
    Sealed,
    SealedEntry,
    StoredRef,
)
from fw_retention.domain.rules import Erasure

#: Namespace of the per-request advisory locks (keeps them apart from other lock users).
_LOCK_SPACE = 0x7265_7465  # "rete"


def _lock_key(request_id: uuid.UUID) -> int:
    # 31 bits of the (random) uuid: collisions only make two requests wait for each other.
    return int.from_bytes(request_id.bytes[:4], "big") & 0x7FFF_FFFF


def _erasure(row: asyncpg.Record) -> ErasureRecord:
    return ErasureRecord(request_id=row["request_id"], reason=ErasureReason(row["reason"]),
                         trigger_event_id=row["trigger_event_id"], erased_at=row["erased_at"],
                         had_data=row["had_data"], scope=ErasureScope(row["scope"]),
                         delivery_hold_until=row["delivery_hold_until"])


_MARKER_COLUMNS = "request_id, reason, trigger_event_id, erased_at, had_data, scope, delivery_hold_until"

#: The sealed entry with its key and statement (no column named like a marker column).
_ENTRY_COLUMNS = ("k.wrapped_key, k.kek_id, e.nonce, e.ciphertext, e.stored_at,"
                  " s.nonce AS s_nonce, s.ciphertext AS s_ciphertext")
_ENTRY_FROM = ("FROM vault_entries e JOIN vault_keys k USING (request_id)"
               " LEFT JOIN vault_statements s USING (request_id)")


def _entry(request_id: uuid.UUID, row: asyncpg.Record) -> SealedEntry:
    statement = Sealed(row["s_nonce"], row["s_ciphertext"]) if row["s_nonce"] is not None else None
    return SealedEntry(request_id=request_id, wrapped_key=row["wrapped_key"], kek_id=row["kek_id"],
                       data=Sealed(row["nonce"], row["ciphertext"]), stored_at=row["stored_at"],
                       statement=statement)


_INSERT_ERASURE = (f"INSERT INTO erasures({_MARKER_COLUMNS})"
                   " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (request_id, scope) DO NOTHING RETURNING true")
#: Markers of different requests and their events (one per marker, same order): an event's outbox
#: row only if its marker is new.
_INSERT_ERASURES = (
    f"WITH w AS (INSERT INTO erasures({_MARKER_COLUMNS})"
    " SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::timestamptz[], $5::boolean[], $6::text[],"
    "                      $7::timestamptz[])"
    " ON CONFLICT (request_id, scope) DO NOTHING RETURNING request_id),"
    " o AS (INSERT INTO outbox(event_id, subject, event_type, payload)"
    " SELECT e, s, t, p FROM unnest($8::uuid[], $9::text[], $10::text[], $11::bytea[], $1::uuid[])"
    " WITH ORDINALITY AS r(e, s, t, p, rid, n) WHERE r.rid IN (SELECT request_id FROM w) ORDER BY n"
    " ON CONFLICT (event_id) DO NOTHING)"
    " SELECT request_id FROM w")


_INSERT_ENTRY = ("WITH k AS (INSERT INTO vault_keys(request_id, wrapped_key, kek_id, created_at)"
                 "           VALUES ($1, $2, $3, $4) RETURNING request_id)"
                 " INSERT INTO vault_entries(request_id, nonce, ciphertext, stored_at) SELECT request_id, $5, $6, $4 FROM k")
_LOG_ACCESS = "INSERT INTO vault_access_log(request_id, purpose, outcome, at, caller) VALUES ($1, $2, $3, $4, $5)"
# the CHECK of migration 014 refuses a second, different outcome even if a caller skipped the lock
_SET_CLAIM = ("UPDATE vault_entries SET claimed_outcome = $2, claimed_at = $3"
              " WHERE request_id = $1 AND (claimed_outcome IS NULL OR claimed_outcome = $2)")


class PgVaultStore:
    """:class:`~fw_retention.application.ports.VaultStore` on PostgreSQL.

    With ``at_commit`` (the vault's requests: ``UnitOfWork.write_at_commit``), the writes that end
    a vault request and whose results nobody reads (the access-log row, the claim, the new
    entry) go with the transaction's ``COMMIT`` instead of a round trip each; every use case
    writes them last (:mod:`fw_retention.application.vault`)."""

    def __init__(self, conn: asyncpg.Connection, at_commit: Callable[[str], None] | None = None) -> None:
        self._conn = conn
        self._at_commit = at_commit

    async def _write(self, statement: str, *args: db.Literal) -> None:
        await db.write(self._conn, self._at_commit, statement, *args)

    async def lock(self, request_id: uuid.UUID) -> None:
        await self.lock_all([request_id])

    async def lock_all(self, request_ids: Sequence[uuid.UUID]) -> None:
        # begins the transaction of a deferred unit of work (the vault's requests) in the same
        # round trip; in any other transaction just the locks. One statement takes them one after
        # the other in ascending key order (unnest keeps the array's order): two transactions
        # locking overlapping requests never wait for each other crosswise.
        keys = ",".join(db.literal(k) for k in sorted({_lock_key(r) for r in request_ids}))
        await db.begin_with(self._conn, f"SELECT pg_advisory_xact_lock({db.literal(_LOCK_SPACE)}, k)"
                                        f" FROM unnest(ARRAY[{keys}]::integer[]) AS k")

    async def erasure(self, request_id: uuid.UUID) -> ErasureRecord | None:
        # the final step first (scope 'all_but_delivery_email' sorts last)
        row = await self._conn.fetchrow(
            f"SELECT {_MARKER_COLUMNS} FROM erasures WHERE request_id = $1"
            " ORDER BY scope = 'all_but_delivery_email', erased_at LIMIT 1", request_id)
        return _erasure(row) if row else None

    async def load(self, request_id: uuid.UUID) -> SealedEntry | None:
        row = await self._conn.fetchrow(f"SELECT {_ENTRY_COLUMNS} {_ENTRY_FROM} WHERE e.request_id = $1", request_id)
        return _entry(request_id, row) if row is not None else None

    async def current(self, request_id: uuid.UUID) -> tuple[ErasureRecord | None, SealedEntry | None]:
        return (await self.current_all([request_id]))[request_id]

    async def current_all(self, request_ids: Sequence[uuid.UUID],
                          ) -> dict[uuid.UUID, tuple[ErasureRecord | None, SealedEntry | None]]:
        # one statement: per request the marker (as erasure()) and the entry (as load()), each
        # joined on the request's row of the list
        rows = await self._conn.fetch(
            f"SELECT r.id AS asked, m.*, x.* FROM unnest($1::uuid[]) AS r(id)"
            f" LEFT JOIN LATERAL (SELECT {_MARKER_COLUMNS} FROM erasures WHERE request_id = r.id"
            "   ORDER BY scope = 'all_but_delivery_email', erased_at LIMIT 1) AS m ON true"
            f" LEFT JOIN LATERAL (SELECT {_ENTRY_COLUMNS} {_ENTRY_FROM} WHERE e.request_id = r.id) AS x ON true",
            list(request_ids))
        found: dict[uuid.UUID, tuple[ErasureRecord | None, SealedEntry | None]] = {}
        for row in rows:
            asked = row["asked"]
            if row["reason"] is not None:
                found[asked] = (_erasure(row), None)
            else:
                found[asked] = (None, _entry(asked, row) if row["wrapped_key"] is not None else None)
        return found

    async def stored_at(self, request_id: uuid.UUID) -> datetime | None:
        value: datetime | None = await self._conn.fetchval(
            "SELECT stored_at FROM vault_entries WHERE request_id = $1", request_id)
        return value

    async def insert_entry(self, entry: SealedEntry) -> None:
        # key and entry in one statement (the entry's row is made from the key's)
        await self._write(_INSERT_ENTRY, entry.request_id, entry.wrapped_key, entry.kek_id, entry.stored_at,
                          entry.data.nonce, entry.data.ciphertext)

    async def put_new(self, entry: SealedEntry) -> PutOutcome:
        # one statement, outside a transaction (migration 024): the lock, the look-up and the
        # insert of key and entry, committed together
        outcome: PutOutcome = await self._conn.fetchval(
            "SELECT vault_put_new($1, $2, $3, $4, $5, $6, $7, $8)", _LOCK_SPACE, _lock_key(entry.request_id),
            entry.request_id, entry.wrapped_key, entry.kek_id, entry.stored_at, entry.data.nonce,
            entry.data.ciphertext)
        return outcome

    async def claim_new(self, request_id: uuid.UUID, outcome: str, at: datetime, *, purpose: str,
                        caller: str) -> ClaimNewOutcome:
        # one statement, outside a transaction (migration 025): the lock, the look-up, the claim
        # and its access-log row, committed together
        result: ClaimNewOutcome = await self._conn.fetchval(
            "SELECT vault_claim_new($1, $2, $3, $4, $5, $6, $7)", _LOCK_SPACE, _lock_key(request_id), request_id,
            outcome, at, purpose, caller)
        return result

    async def insert_statement(self, request_id: uuid.UUID, statement: Sealed, at: datetime) -> None:
        await self._conn.execute(
            "INSERT INTO vault_statements(request_id, nonce, ciphertext, stored_at) VALUES ($1, $2, $3, $4)",
            request_id, statement.nonce, statement.ciphertext, at)

    async def log_access(self, request_id: uuid.UUID, purpose: str, outcome: str, at: datetime, *,
                         caller: str) -> None:
        await self._write(_LOG_ACCESS, request_id, purpose, outcome, at, caller)

    async def access_log(self, request_id: uuid.UUID) -> list[AccessRecord]:
        rows = await self._conn.fetch(
            "SELECT request_id, purpose, outcome, at, caller FROM vault_access_log WHERE request_id = $1"
            " ORDER BY at, id", request_id)
        return [AccessRecord(r["request_id"], r["purpose"], r["outcome"], r["at"], r["caller"]) for r in rows]

    async def claim_of(self, request_id: uuid.UUID) -> str | None:
        value: str | None = await self._conn.fetchval(
            "SELECT claimed_outcome FROM vault_entries WHERE request_id = $1", request_id)
        return value

    async def claim_state(self, request_id: uuid.UUID) -> tuple[ErasureRecord | None, bool, str | None]:
        # one statement: the marker (as erasure()) and the entry's time and claim, each joined
        # on a row that is always there
        row = await self._conn.fetchrow(
            f"SELECT m.*, e.stored_at AS entry_stored_at, e.claimed_outcome AS entry_claim FROM (SELECT 1) AS one"
            f" LEFT JOIN LATERAL (SELECT {_MARKER_COLUMNS} FROM erasures WHERE request_id = $1"
            "   ORDER BY scope = 'all_but_delivery_email', erased_at LIMIT 1) AS m ON true"
            " LEFT JOIN vault_entries AS e ON e.request_id = $1",
            request_id)
        assert row is not None
        if row["reason"] is not None:
            return _erasure(row), False, None
        claimed: str | None = row["entry_claim"]
        return None, row["entry_stored_at"] is not None, claimed

    async def set_claim(self, request_id: uuid.UUID, outcome: str, at: datetime) -> None:
        await self._write(_SET_CLAIM, request_id, outcome, at)

    async def prune_access_log(self, before: datetime) -> int:
        deleted = await self._conn.fetchval(
            "WITH d AS (DELETE FROM vault_access_log WHERE at < $1 RETURNING 1) SELECT count(*) FROM d",
            before)
        return int(deleted)

    async def replace_data(self, request_id: uuid.UUID, data: Sealed) -> None:
        await self._conn.execute(
            "UPDATE vault_entries SET nonce = $2, ciphertext = $3 WHERE request_id = $1",
            request_id, data.nonce, data.ciphertext)

    async def delete_data(self, request_id: uuid.UUID, *, keep_key: bool = False) -> bool:
        return (await self.delete_data_all([(request_id, keep_key)]))[request_id]

    async def delete_data_all(self, requests: Sequence[tuple[uuid.UUID, bool]]) -> dict[uuid.UUID, bool]:
        # One statement for all (it was up to four round trips per request): the foreign keys are
        # checked at its end, when the children are gone too. Statements are deleted but not
        # counted, as before.
        rows = await self._conn.fetch(
            "WITH r AS (SELECT * FROM unnest($1::uuid[], $2::boolean[]) AS r(id, keep)),"
            " s AS (DELETE FROM vault_statements t USING r WHERE t.request_id = r.id),"
            " e AS (DELETE FROM vault_entries t USING r WHERE t.request_id = r.id RETURNING t.request_id),"
            " h AS (DELETE FROM vault_delivery_emails t USING r WHERE t.request_id = r.id AND NOT r.keep"
            "       RETURNING t.request_id),"
            " k AS (DELETE FROM vault_keys t USING r WHERE t.request_id = r.id AND NOT r.keep RETURNING t.request_id)"
            " SELECT r.id, r.id IN (SELECT request_id FROM e UNION ALL SELECT request_id FROM h"
            "                       UNION ALL SELECT request_id FROM k) AS had FROM r",
            [rid for rid, _ in requests], [keep for _, keep in requests])
        return {r["id"]: r["had"] for r in rows}

    async def insert_delivery_email(self, request_id: uuid.UUID, email: Sealed, at: datetime) -> None:
        await self.insert_delivery_emails([(request_id, email)], at)

    async def insert_delivery_emails(self, emails: Sequence[tuple[uuid.UUID, Sealed]], at: datetime) -> None:
        await self._conn.execute(
            "INSERT INTO vault_delivery_emails(request_id, nonce, ciphertext, kept_at)"
            " SELECT i, n, c, $4 FROM unnest($1::uuid[], $2::bytea[], $3::bytea[]) AS x(i, n, c)"
            " ON CONFLICT (request_id) DO UPDATE SET nonce = EXCLUDED.nonce, ciphertext = EXCLUDED.ciphertext",
            [rid for rid, _ in emails], [e.nonce for _, e in emails], [e.ciphertext for _, e in emails], at)

    async def load_delivery_email(self, request_id: uuid.UUID) -> HeldEmail | None:
        row = await self._conn.fetchrow(
            "SELECT k.wrapped_key, d.nonce, d.ciphertext FROM vault_delivery_emails d"
            "  JOIN vault_keys k USING (request_id) WHERE d.request_id = $1", request_id)
        if row is None:
            return None
        return HeldEmail(request_id, row["wrapped_key"], Sealed(row["nonce"], row["ciphertext"]))

    async def due_delivery_holds(self, now: datetime, limit: int) -> list[ErasureRecord]:
        rows = await self._conn.fetch(
            f"SELECT {_MARKER_COLUMNS} FROM erasures x"
            " WHERE x.scope = 'all_but_delivery_email' AND x.delivery_hold_until <= $1"
            "   AND NOT EXISTS (SELECT 1 FROM erasures y WHERE y.request_id = x.request_id"
            "                   AND y.scope <> 'all_but_delivery_email')"
            " ORDER BY x.delivery_hold_until LIMIT $2", now, limit)
        return [_erasure(r) for r in rows]

    async def insert_erasure(self, erasure: Erasure, event: Event | None = None) -> bool:
        args = (erasure.request_id, erasure.reason.value, erasure.trigger_event_id, erasure.erased_at,
                erasure.had_data, erasure.scope.value, erasure.delivery_hold_until)
        if event is None:
            return bool(await self._conn.fetchval(_INSERT_ERASURE, *args))
        return erasure.request_id in await self.insert_erasures([(erasure, event)])

    async def insert_erasures(self, erasures: Sequence[tuple[Erasure, Event]]) -> set[uuid.UUID]:
        # the markers and their events' outbox rows in one statement (a row only with a new
        # marker, in the list's order)
        markers = [e for e, _ in erasures]
        rows = await self._conn.fetch(
            _INSERT_ERASURES, [e.request_id for e in markers], [e.reason.value for e in markers],
            [e.trigger_event_id for e in markers], [e.erased_at for e in markers], [e.had_data for e in markers],
            [e.scope.value for e in markers], [e.delivery_hold_until for e in markers],
            *outbox.event_params([event for _, event in erasures]))
        return {r["request_id"] for r in rows}

    async def stored_before(self, cutoff: datetime, limit: int) -> list[StoredRef]:
        rows = await self._conn.fetch(
            "SELECT request_id, stored_at FROM vault_entries WHERE stored_at <= $1"
            " ORDER BY stored_at LIMIT $2", cutoff, limit)
        return [StoredRef(r["request_id"], r["stored_at"]) for r in rows]

    async def record_billing_block(self, request_id: uuid.UUID, session_id: uuid.UUID, blocked_at: datetime,
                                   event_id: uuid.UUID) -> bool:
        changed = await self._conn.fetchval(
            "INSERT INTO billing_holds(request_id, session_id, blocked_at, blocked_event_id)"
            " VALUES ($1, $2, $3, $4) ON CONFLICT (request_id) DO UPDATE"
            " SET session_id = EXCLUDED.session_id, blocked_at = EXCLUDED.blocked_at,"
            "     blocked_event_id = EXCLUDED.blocked_event_id"
            " WHERE EXCLUDED.blocked_at < billing_holds.blocked_at RETURNING true",
            request_id, session_id, blocked_at, event_id)
        return bool(changed)

    async def billing_blocked_at(self, request_id: uuid.UUID) -> datetime | None:
        value: datetime | None = await self._conn.fetchval(
            "SELECT blocked_at FROM billing_holds WHERE request_id = $1", request_id)
        return value

    async def due_for_erasure(self, stored_before: datetime, blocked_before: datetime,
                              limit: int) -> list[StoredRef]:
        rows = await self._conn.fetch(
            "SELECT e.request_id, e.stored_at, h.blocked_at FROM vault_entries e"
            "  LEFT JOIN billing_holds h USING (request_id)"
            " WHERE e.stored_at <= $1 AND (h.blocked_at IS NULL OR h.blocked_at <= $2)"
            " ORDER BY e.stored_at LIMIT $3", stored_before, blocked_before, limit)
        return [StoredRef(r["request_id"], r["stored_at"], r["blocked_at"]) for r in rows]

    async def pending(self, limit: int) -> list[StoredRef]:
        rows = await self._conn.fetch(
            "SELECT e.request_id, e.stored_at, h.blocked_at FROM vault_entries e"
            "  LEFT JOIN billing_holds h USING (request_id) ORDER BY e.stored_at LIMIT $1", limit)
        return [StoredRef(r["request_id"], r["stored_at"], r["blocked_at"]) for r in rows]

    async def list_erasures(self, limit: int) -> list[ErasureRecord]:
        rows = await self._conn.fetch(
            f"SELECT {_MARKER_COLUMNS} FROM erasures ORDER BY erased_at DESC, request_id, scope LIMIT $1",
            limit)
        return [_erasure(r) for r in rows]

    async def purge_erased(self) -> int:
        # Any marker: entry and statement go. Only a final marker (not the first step alone,
        # which keeps the delivery e-mail address under the key) takes the key and that row.
        await self._conn.execute(
            "DELETE FROM vault_statements s USING erasures x WHERE s.request_id = x.request_id")
        entries = await self._conn.fetch(
            "DELETE FROM vault_entries e USING erasures x WHERE e.request_id = x.request_id"
            " RETURNING e.request_id")
        final = "x.scope <> 'all_but_delivery_email'"
        await self._conn.execute(
            f"DELETE FROM vault_delivery_emails d USING erasures x WHERE d.request_id = x.request_id AND {final}")
        keys = await self._conn.fetch(
            f"DELETE FROM vault_keys k USING erasures x WHERE k.request_id = x.request_id AND {final}"
            " RETURNING k.request_id")
        return len({r["request_id"] for r in entries} | {r["request_id"] for r in keys})

    async def add_markers(self, erasures: Iterable[ErasureRecord]) -> int:
        rows = [(e.request_id, e.reason.value, e.trigger_event_id, e.erased_at, e.had_data,
                 e.scope.value, e.delivery_hold_until) for e in erasures]
        if not rows:
            return 0
        added = await self._conn.fetchval(
            "WITH ins AS ("
            f" INSERT INTO erasures({_MARKER_COLUMNS})"
            " SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::timestamptz[], $5::bool[],"
            "                      $6::text[], $7::timestamptz[])"
            " ON CONFLICT (request_id, scope) DO NOTHING RETURNING 1) SELECT count(*) FROM ins",
            *([r[i] for r in rows] for i in range(7)))
        return int(added)
