"""Migration 022: facts copied from InvoiceIssued v1/v2 said ``kleinbetrag``; v3 says ``small``.
After the migration one kind has one word, whatever release copied the fact."""

from __future__ import annotations

import shutil
import uuid
from datetime import UTC, datetime
from pathlib import Path

import fw_reporting
from fw_devenv.pytest_plugin import FwEnv
from fw_platform.db import create_pool, migrate

MIGRATIONS = Path(fw_reporting.__file__).parent / "migrations"


async def test_old_kleinbetrag_facts_read_as_small(fw_env: FwEnv, tmp_path: Path) -> None:
    before = tmp_path / "before"  # the previous release's migrations: everything before 022
    before.mkdir()
    for sql in sorted(MIGRATIONS.glob("*.sql")):
        if sql.name < "022":
            shutil.copy(sql, before / sql.name)
    pool = await create_pool(fw_env.dsn("reporting"), "reporting")
    try:
        await migrate(pool, "reporting", before)
        numbers = {"kleinbetrag": "R-2026-00001", "full": "R-2026-00002"}
        for kind, number in numbers.items():
            await pool.execute(
                "INSERT INTO invoices(invoice_number, session_id, request_id, kind, issued_at, tariff_version,"
                " raw_seconds, billed_seconds, net_total, vat_total, gross_total, event_id)"
                " VALUES ($1, $2, $3, $4, $5, 't1', 60, 60, 10, 1.9, 11.9, $6)",
                number, uuid.uuid4(), uuid.uuid4(), kind, datetime(2026, 3, 10, tzinfo=UTC), uuid.uuid4())
        assert await migrate(pool, "reporting", MIGRATIONS) == ["022_invoice_kind_small.sql"]
        rows = await pool.fetch("SELECT invoice_number, kind FROM invoices ORDER BY invoice_number")
        assert [(r["invoice_number"], r["kind"]) for r in rows] == [("R-2026-00001", "small"),
                                                                   ("R-2026-00002", "full")]
    finally:
        await pool.close()
