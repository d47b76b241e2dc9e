"""PostgreSQL side of e-mail delivery (:class:`DeliveryStore`) and of the archive's destruction
(:class:`ArchiveStore`). Both work on a connection inside the caller's transaction."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from fw_billing.adapters.keys import KeyPurpose, KeyRing, open_sealed
from fw_billing.adapters.sealed import archive_pdf_aad
from fw_billing.application.archive import YearDestroyed
from fw_billing.application.delivery import DeliveryRef, DueDelivery
from fw_contracts.events import DeliveryChannel


class SqlDeliveryStore:
    def __init__(self, conn: asyncpg.Connection, keys: KeyRing) -> None:
        self._conn = conn
        self._keys = keys

    async def claim_due(self, now: datetime) -> DueDelivery | None:
        # SKIP LOCKED: a second instance takes another delivery, never the same one; the row
        # stays locked while the mail is sent, so it is sent once.
        row = await self._conn.fetchrow(
            "SELECT d.id, d.document_number, d.year, d.attempts, d.email_enc, d.request_id, d.created_at,"
            " a.document_type, a.archived_at, a.pdf_enc FROM deliveries d"
            " JOIN invoice_archive a ON a.document_number = d.document_number"
            " WHERE d.status = 'pending' AND d.next_attempt_at <= $1"
            " ORDER BY d.next_attempt_at, d.id LIMIT 1 FOR UPDATE OF d SKIP LOCKED", now)
        if row is None:
            return None
        key = await self._keys.existing_key(self._conn, KeyPurpose.ARCHIVE, row["year"])
        number = row["document_number"]
        # Rows written before migration 016 carry the address themselves; new ones read the vault.
        email = (open_sealed(key, f"delivery:{number}", bytes(row["email_enc"])).decode()
                 if row["email_enc"] is not None else None)
        return DueDelivery(
            id=row["id"], document_number=number, document_type=row["document_type"],
            issued_at=row["archived_at"], attempts=row["attempts"], request_id=row["request_id"],
            created_at=row["created_at"], email=email,
            pdf=open_sealed(key, archive_pdf_aad(number), bytes(row["pdf_enc"])))

    async def mark_sent(self, delivery_id: int, attempts: int, now: datetime,
                        channel: DeliveryChannel = DeliveryChannel.EMAIL) -> None:
        await self._conn.execute(
            "UPDATE deliveries SET status = 'sent', attempts = $2, email_enc = NULL, sent_at = $3,"
            " last_attempt_at = CASE WHEN $4 = 'email' THEN $3 ELSE last_attempt_at END,"
            " next_attempt_at = NULL, channel = $4 WHERE id = $1", delivery_id, attempts, now, channel.value)

    async def mark_attempt_failed(self, delivery_id: int, attempts: int, error_type: str,
                                  now: datetime, retry_at: datetime | None) -> None:
        # given up: an address copy of an older row goes at once, like the vault's
        await self._conn.execute(
            "UPDATE deliveries SET status = $2, attempts = $3, last_error_type = $4,"
            " last_attempt_at = $5, next_attempt_at = $6,"
            " email_enc = CASE WHEN $6::timestamptz IS NULL THEN NULL ELSE email_enc END WHERE id = $1",
            delivery_id, "pending" if retry_at else "failed", attempts, error_type[:64], now, retry_at)

    async def purge_failed_addresses(self, failed_before: datetime) -> int:
        result = await self._conn.execute(
            "UPDATE deliveries SET email_enc = NULL WHERE status = 'failed' AND email_enc IS NOT NULL"
            " AND coalesce(last_attempt_at, created_at) < $1", failed_before)
        return int(result.split()[-1])

    async def lock(self, delivery_id: int) -> DeliveryRef | None:
        row = await self._conn.fetchrow(
            "SELECT d.id, d.document_number, d.request_id, d.status, d.attempts, d.last_error_type,"
            " coalesce(a.document_type, 'invoice') AS document_type FROM deliveries d"
            " LEFT JOIN invoice_archive a ON a.document_number = d.document_number"
            " WHERE d.id = $1 FOR UPDATE OF d", delivery_id)
        if row is None:
            return None
        return DeliveryRef(id=row["id"], document_number=row["document_number"],
                           document_type=row["document_type"], request_id=row["request_id"],
                           status=row["status"], attempts=row["attempts"],
                           last_error_type=row["last_error_type"])

    async def requeue(self, delivery_id: int, now: datetime) -> bool:
        """A failed delivery goes back to pending (office action)."""
        result = await self._conn.execute(
            "UPDATE deliveries SET status = 'pending', next_attempt_at = $2 WHERE id = $1"
            " AND status = 'failed'", delivery_id, now)
        return str(result).endswith(" 1")


class SqlArchiveStore:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def archive_years(self) -> list[int]:
        rows = await self._conn.fetch(
            "SELECT year FROM data_keys WHERE purpose = 'archive' UNION SELECT year FROM invoice_archive"
            " UNION SELECT year FROM invoice_recipients ORDER BY 1")
        return [int(r["year"]) for r in rows]

    async def destroy_year(self, year: int, now: datetime) -> YearDestroyed:
        # The triggers admit these DELETEs only for this year, and only if the database's own
        # clock agrees that the retention period is over.
        await self._conn.execute("SELECT set_config('fw_billing.destroy_year', $1, true)", str(year))
        documents = int((await self._conn.execute(
            "DELETE FROM invoice_archive WHERE year = $1", year)).split()[-1])
        recipients = int((await self._conn.execute(
            "DELETE FROM invoice_recipients WHERE year = $1", year)).split()[-1])
        await self._conn.execute(
            "UPDATE deliveries SET email_enc = NULL, status = 'failed',"
            " last_error_type = coalesce(last_error_type, 'ArchiveDestroyed'), next_attempt_at = NULL"
            " WHERE year = $1 AND email_enc IS NOT NULL", year)
        # the technicians' work notes sealed with this year's key (the invoices keep their text)
        await self._conn.execute("DELETE FROM work_notes WHERE key_year = $1", year)
        await self._conn.execute("DELETE FROM data_keys WHERE purpose = 'archive' AND year = $1", year)
        await self._conn.execute(
            "INSERT INTO archive_destructions(year, destroyed_at, documents, recipients)"
            " VALUES ($1, $2, $3, $4) ON CONFLICT (year) DO UPDATE SET destroyed_at = EXCLUDED.destroyed_at,"
            " documents = archive_destructions.documents + EXCLUDED.documents,"
            " recipients = archive_destructions.recipients + EXCLUDED.recipients",
            year, now, documents, recipients)
        return YearDestroyed(year=year, documents=documents, recipients=recipients)
