"""The retention map is complete, consistent and rendered: the Art. 30 completeness test.

Every service's migrations (all of ``services/*``, read now, so a migration added tomorrow is
checked tomorrow) are parsed for tables and columns; each column must be either a place of a
retention-map entry (personal) or on the not-personal allow-list with a reason. The parser is
checked against a real PostgreSQL that applied the same migrations, and the committed documents
in docs/privacy/ must equal a fresh rendering.
"""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from fw_devenv.provision import database_dsn
from fw_devenv.pytest_plugin import FwEnv
from fw_platform.db import create_pool, migrate
from fw_privacy.classify import classify
from fw_privacy.measures import LOESCHKLASSEN_BY_KEY, TOMS_BY_KEY
from fw_privacy.model import Place, RetentionEntry, Role
from fw_privacy.render import documents
from fw_privacy.retention_map import ACTIVITIES, ACTIVITIES_BY_KEY, ENTRIES
from fw_privacy.schema_scan import Column, UnsupportedDDL, repo_root, service_migrations, stored_columns, tables_of

ROOT = repo_root(Path(__file__))
DOCS = ROOT / "docs" / "privacy"


def test_every_stored_column_is_classified() -> None:
    columns = stored_columns(ROOT)
    services = {c.schema for c in columns}
    assert {"intake", "session", "billing", "retention"} <= services
    result = classify(columns)
    assert result.complete, "\n" + result.message()


def test_a_new_unclassified_column_fails_with_a_clear_message() -> None:
    columns = [*stored_columns(ROOT), Column("billing", "invoices", "buyer_phone"),
               Column("newsvc", "contacts", "request_id")]
    result = classify(columns)
    assert not result.complete
    assert result.unclassified == [Column("billing", "invoices", "buyer_phone")]
    assert result.personal[Column("newsvc", "contacts", "request_id")].key == "P-REQUEST"  # a pseudonym by name
    msg = result.message()
    assert "billing.invoices.buyer_phone" in msg and "retention_map.py" in msg and "not_personal.py" in msg


def test_a_removed_column_is_reported_as_stale() -> None:
    columns = [c for c in stored_columns(ROOT) if c != Column("billing", "deliveries", "email_enc")]
    result = classify(columns)
    assert any("billing.billing.deliveries.email_enc" in s for s in result.stale), result.stale


def test_entries_are_well_formed() -> None:
    keys = [e.key for e in ENTRIES]
    assert len(set(keys)) == len(keys)
    for e in ENTRIES:
        assert e.activity in ACTIVITIES_BY_KEY, e.key
        assert e.deletion.loeschklasse in LOESCHKLASSEN_BY_KEY, e.key
        assert all(t in TOMS_BY_KEY for t in e.toms), e.key
        assert e.places or e.column_names or e.other_places, f"{e.key} has no place"
        assert e.purpose and e.legal_basis and e.data_subjects and e.recipients, e.key
        assert e.deletion.automated or e.deletion.open_point, f"{e.key}: a manual rule is an open point"
    for a in ACTIVITIES:
        if a.role is Role.CONTROLLER:
            assert any(e.activity == a.key for e in ENTRIES), f"{a.key} lists no data"


def test_the_direct_identifiers_are_personal_and_encrypted() -> None:
    result = classify(stored_columns(ROOT))
    expected = {Column("retention", "vault_entries", "ciphertext"): "E-VAULT-DATA",
                Column("retention", "vault_statements", "ciphertext"): "E-VAULT-STATEMENT",
                Column("billing", "invoice_recipients", "data_enc"): "E-RECIPIENT",
                Column("billing", "customer_accounts", "personal_enc"): "E-CUSTOMER",
                Column("billing", "deliveries", "email_enc"): "E-DELIVERY",
                Column("billing", "invoice_archive", "pdf_enc"): "E-ARCHIVE"}
    for column, key in expected.items():
        entry: RetentionEntry = result.personal[column]
        assert entry.key == key and entry.encrypted_at_rest
    assert str(Place("billing", "customer_accounts", "personal_enc")) == "billing.billing.customer_accounts.personal_enc"


def test_parser_handles_the_ddl_the_project_uses() -> None:
    tables = tables_of(["""
        -- a comment with CREATE TABLE fake (x int);
        CREATE TABLE IF NOT EXISTS a (
            id bigserial PRIMARY KEY, note text CHECK (note ~ '^[a-z;(]+$'), "Quoted" int,
            CONSTRAINT c UNIQUE (id, note), FOREIGN KEY (id) REFERENCES b (id)
        );
        CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN CREATE TABLE x (y int); END; $$;
        CREATE TABLE b (id int);
        ALTER TABLE a ADD COLUMN extra jsonb, DROP COLUMN note, ADD CONSTRAINT k CHECK (id > 0);
        ALTER TABLE a RENAME COLUMN extra TO payload;
        ALTER TABLE b RENAME TO c;
        ALTER TABLE c ADD IF NOT EXISTS d text;
        DROP TABLE IF EXISTS zzz;
    """])
    assert tables == {"a": ["id", "Quoted", "payload"], "c": ["id", "d"]}
    with pytest.raises(UnsupportedDDL):
        tables_of(["CREATE TABLE t AS SELECT 1 AS one;"])
    with pytest.raises(UnsupportedDDL):
        tables_of(["CREATE MATERIALIZED VIEW v AS SELECT 1;"])


async def test_parser_agrees_with_postgresql(fw_env: FwEnv) -> None:
    """Apply every service's migrations to real schemas and compare with the parser's columns."""
    parsed = set(stored_columns(ROOT))
    checked = set()
    for service, files in service_migrations(ROOT).items():
        if service not in fw_env.dsns:
            pytest.fail(f"service {service} has migrations but no database role in the test environment")
        pool = await create_pool(fw_env.dsn(service), service, min_size=1, max_size=1)
        try:
            await migrate(pool, service, files[0].parent)
            rows = await pool.fetch(
                "SELECT c.table_name, c.column_name FROM information_schema.columns c"
                " JOIN information_schema.tables t USING (table_schema, table_name)"
                " WHERE c.table_schema = $1 AND t.table_type = 'BASE TABLE'", service)
        finally:
            await pool.close()
        real = {Column(service, r["table_name"], r["column_name"]) for r in rows}
        assert real == {c for c in parsed if c.schema == service}, service
        checked.add(service)
    assert {"intake", "session", "billing", "retention"} <= checked
    # and no other stored relations (materialized views) exist in those schemas
    conn = await asyncpg.connect(database_dsn(fw_env.admin_dsn, fw_env.database))
    try:
        assert await conn.fetchval("SELECT count(*) FROM pg_matviews WHERE schemaname = ANY($1)", list(checked)) == 0
    finally:
        await conn.close()


def test_committed_documents_are_current() -> None:
    fresh = documents(ROOT)
    for name, text in fresh.items():
        path = DOCS / name
        assert path.exists() and path.read_text(encoding="utf-8") == text, (
            f"docs/privacy/{name} is out of date: run  python -m fw_privacy render --out docs/privacy/")


def test_documents_say_what_the_law_asks() -> None:
    docs = documents(ROOT)
    controller, processor, concept = (docs["art30-verantwortlicher.md"], docs["art30-auftragsverarbeiter.md"],
                                      docs["loeschkonzept.md"])
    for needle in ("lit. a", "lit. b", "lit. c", "lit. d", "lit. e", "lit. f", "lit. g", "§ 147 AO",
                   "retention.retention.vault_entries.ciphertext", "billing.billing.invoice_recipients.data_enc"):
        assert needle in controller, needle
    assert "Art. 30 Abs. 2" in processor and "Gespeicherte Daten:** keine" in processor
    for needle in ("DIN 66398", "Löschklasse", "LK 0.2", "LK 4.3", "Offene Punkte", "BayLfD", "restore.md"):
        assert needle in concept, needle
    assert docs["loeschkonzept.html"].startswith("<!doctype html>") and "<table>" in docs["loeschkonzept.html"]
