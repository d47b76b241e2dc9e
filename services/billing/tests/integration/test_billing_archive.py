"""The archive's destruction after 8 years (§147 Abs. 3 AO, §14b UStG), never earlier."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from fw_billing.application.handlers import on_session_ended
from fw_billing.domain.invoicing import invoice_year
from fw_contracts import InvoiceIssued, utcnow
from fw_platform.handling import UnitOfWork

FULL_SECONDS = 10 * 900


async def issue_at(billing: Any, event: Any, now: datetime) -> None:
    """Run the handler as if it were ``now`` (an invoice issued years ago)."""
    app = billing.apps[0].state
    async with app.runtime.pool.acquire() as conn, conn.transaction():
        await on_session_ended(event, UnitOfWork(conn=conn, now=now), deps=app.service.deps)


async def counts(billing: Any, year: int) -> tuple[int, int, int, int]:
    return (await billing.sql("SELECT count(*) FROM invoice_archive WHERE year = $1", year),
            await billing.sql("SELECT count(*) FROM invoice_recipients WHERE year = $1", year),
            await billing.sql("SELECT count(*) FROM data_keys WHERE purpose = 'archive' AND year = $1", year),
            await billing.sql("SELECT count(*) FROM invoices WHERE year = $1", year))


async def test_expired_year_is_destroyed_and_younger_ones_are_not(billing: Any, ended: Any) -> None:
    app = billing.apps[0].state
    old_full, old_small = ended(FULL_SECONDS), ended(1800)
    billing.vault.store(old_full.request_id)
    await issue_at(billing, old_full, datetime(2017, 6, 1, 10, 0, tzinfo=UTC))
    await issue_at(billing, old_small, datetime(2017, 12, 31, 23, 30, tzinfo=UTC))  # 2018 in Berlin
    current = ended(FULL_SECONDS)
    billing.vault.store(current.request_id)
    await billing.publish(current)
    (issued,) = await billing.wait_for(InvoiceIssued)
    this_year = invoice_year(utcnow())
    assert await counts(billing, 2017) == (1, 1, 1, 1)
    assert await counts(billing, 2018) == (1, 0, 1, 1)

    # 2017 ended 31.12.2017; 8 years later is 01.01.2026 (office time): gone now, not a second before.
    assert await app.service.destroy_expired_archive(datetime(2025, 12, 31, 22, 59, 59, tzinfo=UTC)) == []
    assert await counts(billing, 2017) == (1, 1, 1, 1)
    done = await app.service.destroy_expired_archive(datetime(2025, 12, 31, 23, 0, tzinfo=UTC))
    assert [(d.year, d.documents, d.recipients) for d in done] == [(2017, 1, 1)]
    assert await counts(billing, 2017) == (0, 0, 0, 1)  # the invoice metadata stay for the audit
    assert await counts(billing, 2018) == (1, 0, 1, 1)
    assert await billing.sql("SELECT documents FROM archive_destructions WHERE year = 2017") == 1
    number_2017 = await billing.sql("SELECT number FROM invoices WHERE year = 2017")
    assert (await billing.http.get(f"/api/invoices/{number_2017}.pdf")).status_code == 404
    body = (await billing.http.get(f"/api/invoices/{number_2017}")).json()
    assert body["recipient"] is None and body["gross_total"] == "285.60"

    # A clock that runs ahead cannot delete a young year: the database checks its own clock.
    with pytest.raises(asyncpg.IntegrityConstraintViolationError, match="retention period"):
        await app.service.destroy_expired_archive(datetime(this_year + 20, 1, 1, tzinfo=UTC))
    assert await counts(billing, this_year) == (1, 1, 1, 1)
    assert (await billing.http.get(f"/api/invoices/{issued.invoice_number}.pdf")).status_code == 200


async def test_held_years_are_kept(harness: Any, ended: Any) -> None:
    await harness.start_vault()
    await harness.start_instance(archive_hold_years=[2016])
    app = harness.apps[0].state
    await issue_at(harness, ended(1800), datetime(2016, 5, 1, tzinfo=UTC))
    assert await app.service.destroy_expired_archive(utcnow()) == []
    assert await harness.sql("SELECT count(*) FROM invoice_archive WHERE year = 2016") == 1


async def test_archive_rows_cannot_be_changed_or_deleted_directly(billing: Any, ended: Any) -> None:
    await billing.publish(ended(1800))
    (issued,) = await billing.wait_for(InvoiceIssued)
    for stmt in ("UPDATE invoice_archive SET xml_enc = NULL WHERE document_number = $1",
                 "DELETE FROM invoice_archive WHERE document_number = $1"):
        with pytest.raises(asyncpg.IntegrityConstraintViolationError):
            await billing.sql(stmt, issued.invoice_number)
    for stmt in ("DELETE FROM data_keys", "UPDATE data_keys SET wrapped = '\\x00'"):
        with pytest.raises(asyncpg.IntegrityConstraintViolationError):
            await billing.sql(stmt)


async def test_a_wrong_master_key_reads_nothing(harness: Any, ended: Any) -> None:
    await harness.start_vault()
    await harness.start_instance()
    await harness.publish(ended(1800))
    (issued,) = await harness.wait_for(InvoiceIssued)
    await harness.settle()
    other = await harness.start_instance(archive_key="b3RoZXJvdGhlcm90aGVyb3RoZXJvdGhlcm90aGVyMDA=")
    from fw_billing.adapters.keys import DecryptionFailed
    with pytest.raises(DecryptionFailed):
        await other.state.views.document(issued.invoice_number)
    assert timedelta(0) <= utcnow() - issued.issued_at
