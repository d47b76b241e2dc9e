"""Erasure of a regular customer's account (GDPR Art. 17) over the real stream and database.

The account's personal fields leave every row of billing's tables and, after VACUUM FULL, the
table's files on disk; the customer number stays; CustomerAccountErased carries no personal data;
a second erasure changes nothing; a later promotion of the same request does not bring the
account back; nor does a restored database backup (billing erases again at start, reading the
stream with its own NATS user); unknown numbers, bad reasons and free-text staff ids are
refused; the route needs the API token like every office route.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from fw_contracts import CustomerAccountCreated, CustomerPromoted, InvoiceIssued, utcnow
from fw_contracts.events import CustomerAccountErased
from fw_devenv.postgres import PostgresServer
from fw_devenv.provision import database_dsn
from fw_platform.auth import token_hash

#: What VaultStub.store() puts into the account (conftest.py): none may remain after erasure.
PERSONAL_VALUES = ("Beispiel AG", "Max Beispiel", "+4989123456", "max@example.org", "Ring 5", "80331",
                   "München", "Wir möchten Stammkunde werden.")
ERASE = {"reason": "customer_request", "requested_by": "buero-02"}


async def promoted_account(billing: Any, ended: Any) -> tuple[str, uuid.UUID]:
    """A promoted, invoiced session: its account K… exists with every personal field."""
    event = ended(1801, promoted=True)
    billing.vault.store(event.request_id, statement=True)
    await billing.publish(CustomerPromoted(session_id=event.session_id, request_id=event.request_id,
                                           technician="tech-03", statement_sha256="b" * 64,
                                           stated_at=event.started_at))
    await billing.publish(event)
    await billing.wait_for(InvoiceIssued)
    await billing.settle()
    (created,) = await billing.events(CustomerAccountCreated)
    account = (await billing.http.get(f"/api/customers/{created.customer_number}")).json()
    assert account["status"] == "open" and account["company"] == "Beispiel AG", account
    return created.customer_number, event.request_id


async def every_billing_row(billing: Any) -> str:
    """Every row of every table in billing's schema as text (bytea as hex), one per line."""
    conn = await asyncpg.connect(billing.env.dsn("billing"), server_settings={"search_path": "billing"})
    try:
        tables = [r["tablename"] for r in await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'billing' ORDER BY tablename")]
        assert {"customer_accounts", "invoices", "outbox", "data_keys"} <= set(tables)
        lines = []
        for table in tables:
            lines += [f"{table}: {r[0]}" for r in await conn.fetch(f'SELECT t::text FROM billing."{table}" t')]
        return "\n".join(lines)
    finally:
        await conn.close()


async def raw_table_bytes(billing: Any, pg_server: PostgresServer) -> bytes:
    """customer_accounts as it lies on disk, after VACUUM FULL and a CHECKPOINT (as the admin)."""
    admin = await asyncpg.connect(database_dsn(billing.env.admin_dsn, billing.env.database))
    try:
        await admin.execute("VACUUM FULL billing.customer_accounts")
        await admin.execute("CHECKPOINT")
        rel = await admin.fetchval("SELECT pg_relation_filepath('billing.customer_accounts')")
        toast = await admin.fetchval(
            "SELECT pg_relation_filepath(reltoastrelid) FROM pg_class WHERE oid = 'billing.customer_accounts'::regclass")
    finally:
        await admin.close()
    files = [p for r in (rel, toast) if r for p in Path(pg_server.data_dir).glob(r + "*")]
    assert files, "the table's files were not found"
    return b"".join(p.read_bytes() for p in files)


async def test_erasure_removes_every_personal_field_from_the_raw_rows_and_disk(
        billing: Any, ended: Any, pg_server: PostgresServer) -> None:
    number, request_id = await promoted_account(billing, ended)
    blob = bytes(await billing.sql("SELECT personal_enc FROM customer_accounts WHERE customer_number = $1", number))
    assert len(blob) > 40
    # the scans below can see the data: before the erasure the ciphertext is in a row and on disk
    assert blob.hex() in await every_billing_row(billing)
    assert blob in await raw_table_bytes(billing, pg_server)

    resp = await billing.http.post(f"/api/customers/{number}/erasure", json=ERASE)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["customer_number"] == number and body["status"] == "closed"
    assert body["reason"] == "customer_request" and body["erased_at"]

    row = (await billing.rows("SELECT * FROM customer_accounts WHERE customer_number = $1", number))[0]
    assert row["personal_enc"] is None and row["stated_at"] is None
    assert row["closed_at"] is not None and row["closure_reason"] == "customer_request"
    assert row["closed_by"] == "buero-02" and row["request_id"] == request_id  # the number stays
    rows = await every_billing_row(billing)
    assert blob.hex() not in rows
    for value in PERSONAL_VALUES:
        assert value.encode().hex() not in rows, value
        # (the postcode is all hex digits: as plain text it turns up by chance inside hex dumps)
        if not set(value) <= set("0123456789abcdef"):
            assert value not in rows, value
    assert blob not in await raw_table_bytes(billing, pg_server)

    shown = (await billing.http.get(f"/api/customers/{number}")).json()
    assert shown["status"] == "closed" and shown["closure_reason"] == "customer_request"
    for field in ("company", "contact_name", "phone", "email", "address", "statement", "stated_at"):
        assert shown[field] is None, field
    listed = (await billing.http.get("/api/customers")).json()
    assert [(c["customer_number"], c["status"], c["company"]) for c in listed["items"]] == [(number, "closed", None)]
    csv = (await billing.http.get("/api/exports/customers.csv")).content.decode("utf-8-sig")
    assert not any(v in csv for v in PERSONAL_VALUES)
    assert csv.splitlines()[1].startswith(f"{number};;;;;;;;;") and csv.splitlines()[0].endswith("Gelöscht am")
    # invoices that name the customer stay as issued (§14b UStG): the number is still on them
    (issued,) = await billing.events(InvoiceIssued)
    assert (await billing.http.get(f"/api/invoices/{issued.invoice_number}")).json()["customer_number"] == number
    assert (await billing.http.get(f"/api/invoices/{issued.invoice_number}.pdf")).status_code == 200


async def test_the_event_is_published_once_without_personal_data(billing: Any, ended: Any) -> None:
    number, request_id = await promoted_account(billing, ended)
    resp = await billing.http.post(f"/api/customers/{number}/erasure",
                                   json={"reason": "relationship_ended", "requested_by": "buero-02"})
    assert resp.status_code == 200, resp.text
    (erased,) = await billing.wait_for(CustomerAccountErased)
    assert erased.customer_number == number and erased.request_id == request_id
    assert erased.reason.value == "relationship_ended" and erased.erased_at == datetime.fromisoformat(resp.json()["erased_at"])
    assert erased.subject() == "fw.billing.customer_account_erased.v1"
    # the body on the wire: ids, reason, time -- no personal value, and not even the staff id
    raw = await billing.nc.jetstream().get_last_msg("FERNWARTUNG", erased.subject())
    payload = json.loads(raw.data)
    assert set(payload) == {"event_type", "schema_version", "event_id", "occurred_at", "correlation_id",
                            "causation_id", "customer_number", "request_id", "reason", "erased_at"}
    assert not any(v in raw.data.decode() for v in (*PERSONAL_VALUES, "buero-02"))
    await billing.settle()
    assert await billing.sql("SELECT count(*) FROM outbox") == 0


async def test_a_second_erasure_changes_nothing_and_says_so(billing: Any, ended: Any) -> None:
    number, _ = await promoted_account(billing, ended)
    first = await billing.http.post(f"/api/customers/{number}/erasure", json=ERASE)
    assert first.status_code == 200
    before = dict((await billing.rows("SELECT * FROM customer_accounts WHERE customer_number = $1", number))[0])

    again = await billing.http.post(f"/api/customers/{number}/erasure",
                                    json={"reason": "relationship_ended", "requested_by": "buero-07"})
    assert again.status_code == 409
    problem = again.json()
    assert problem["code"] == "already_erased" and "bereits gelöscht" in problem["message_de"]
    assert "already erased" in problem["message_en"]
    assert problem["erased_at"] == first.json()["erased_at"] and problem["reason"] == "customer_request"
    after = dict((await billing.rows("SELECT * FROM customer_accounts WHERE customer_number = $1", number))[0])
    assert after == before  # neither reason nor staff id nor time were overwritten
    await billing.settle()
    assert len(await billing.events(CustomerAccountErased)) == 1


async def test_two_erasures_at_the_same_time_make_one(billing: Any, ended: Any) -> None:
    number, _ = await promoted_account(billing, ended)
    answers = await asyncio.gather(*(billing.http.post(f"/api/customers/{number}/erasure", json=ERASE)
                                     for _ in range(4)))
    assert sorted(a.status_code for a in answers) == [200, 409, 409, 409]
    await billing.settle()
    assert len(await billing.events(CustomerAccountErased)) == 1


async def test_a_closed_account_is_never_resurrected(billing: Any, ended: Any) -> None:
    number, request_id = await promoted_account(billing, ended)
    assert (await billing.http.post(f"/api/customers/{number}/erasure", json=ERASE)).status_code == 200
    await billing.settle()
    vault_reads = len(billing.vault.calls)

    # The vault still has the request's data (as it would before retention erased it), and the
    # promotion and a promoted session end arrive again (redelivery, or a second promotion).
    session_id = uuid.uuid4()
    await billing.publish(CustomerPromoted(session_id=session_id, request_id=request_id, technician="tech-03",
                                           statement_sha256="d" * 64, stated_at=utcnow()))
    await billing.publish(ended(1801, promoted=True, session_id=session_id, request_id=request_id))
    await billing.wait_for(InvoiceIssued, count=2)
    await billing.settle()

    assert len(await billing.events(CustomerAccountCreated)) == 1
    assert await billing.sql("SELECT count(*) FROM customer_accounts") == 1
    row = (await billing.rows("SELECT * FROM customer_accounts WHERE request_id = $1", request_id))[0]
    assert row["customer_number"] == number and row["personal_enc"] is None and row["closed_at"] is not None
    # nothing was read from the vault for an account (the second invoice is a small one)
    assert [p for _, p in billing.vault.calls[vault_reads:] if p == "customer_account"] == []
    assert (await billing.http.get(f"/api/customers/{number}")).json()["company"] is None
    assert await billing.sql("SELECT count(*) FROM dead_letters") == 0

    # and the database itself refuses to refill, reopen or delete a closed account
    for stmt in (("UPDATE customer_accounts SET personal_enc = '\\x00'::bytea, stated_at = now(), closed_at = NULL,"
                  " closure_reason = NULL, closed_by = NULL WHERE customer_number = $1"),
                 "UPDATE customer_accounts SET closure_reason = 'relationship_ended' WHERE customer_number = $1",
                 "DELETE FROM customer_accounts WHERE customer_number = $1"):
        with pytest.raises(asyncpg.IntegrityConstraintViolationError):
            await billing.sql(stmt, number)


async def test_a_new_account_never_reuses_an_erased_number(billing: Any, ended: Any) -> None:
    number, _ = await promoted_account(billing, ended)
    assert (await billing.http.post(f"/api/customers/{number}/erasure", json=ERASE)).status_code == 200
    other = ended(900)
    billing.vault.store(other.request_id, statement=True)
    await billing.publish(CustomerPromoted(session_id=other.session_id, request_id=other.request_id,
                                           technician="tech-03", statement_sha256="e" * 64, stated_at=utcnow()))
    created = await billing.wait_for(CustomerAccountCreated, count=2)
    assert [c.customer_number for c in created] == [number, "K00002"]


async def test_unknown_number_bad_reason_and_free_text_are_refused(billing: Any, ended: Any) -> None:
    unknown = await billing.http.post("/api/customers/K99999/erasure", json=ERASE)
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "customer_not_found" and "nicht bekannt" in unknown.json()["message_de"]

    number, _ = await promoted_account(billing, ended)
    bad_bodies = [
        ({"reason": "because", "requested_by": "buero-02"}, "reason"),
        ({"requested_by": "buero-02"}, "reason"),
        ({"reason": "customer_request"}, "requested_by"),
        ({"reason": "customer_request", "requested_by": "Erika Musterfrau, 030 1234567"}, "requested_by"),
        ({**ERASE, "note": "Kunde hat angerufen"}, "note"),
    ]
    for body, field in bad_bodies:
        resp = await billing.http.post(f"/api/customers/{number}/erasure", json=body)
        assert resp.status_code == 422, (body, resp.text)
        answer = resp.json()
        assert answer["code"] == "invalid_input" and [e["field"] for e in answer["errors"]] == [field], answer
        for value in ("because", "Erika", "1234567", "angerufen"):  # no input value is echoed
            assert value not in resp.text, (value, resp.text)
    assert (await billing.http.post("/api/customers/not-a-number/erasure", json=ERASE)).status_code == 422
    # nothing was changed by the refused calls
    assert (await billing.http.get(f"/api/customers/{number}")).json()["status"] == "open"
    assert await billing.events(CustomerAccountErased) == []


TOKEN = "office-token-for-the-erasure-test"


async def test_the_erasure_route_needs_the_api_token(harness: Any, ended: Any) -> None:
    await harness.start_vault()
    await harness.start_instance(api_keys=f"web:{token_hash(TOKEN)}")
    auth = {"Authorization": f"Bearer {TOKEN}"}
    event = ended(1801, promoted=True)
    harness.vault.store(event.request_id, statement=True)
    await harness.publish(CustomerPromoted(session_id=event.session_id, request_id=event.request_id,
                                           technician="tech-03", statement_sha256="b" * 64,
                                           stated_at=event.started_at))
    (created,) = await harness.wait_for(CustomerAccountCreated)
    path = f"/api/customers/{created.customer_number}/erasure"

    anonymous = await harness.http.post(path, json=ERASE)
    assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"] == "Bearer"
    wrong = await harness.http.post(path, json=ERASE, headers={"Authorization": "Bearer wrong"})
    assert wrong.status_code == 401
    assert await harness.sql("SELECT closed_at FROM customer_accounts") is None  # refused: nothing changed
    ok = await harness.http.post(path, json=ERASE, headers=auth)
    assert ok.status_code == 200, ok.text
    assert await harness.sql("SELECT closed_at FROM customer_accounts") is not None


async def test_a_restored_backup_does_not_bring_an_erased_account_back(billing: Any, ended: Any) -> None:
    number, _ = await promoted_account(billing, ended)
    other = ended(900)
    billing.vault.store(other.request_id, statement=True)
    await billing.publish(CustomerPromoted(session_id=other.session_id, request_id=other.request_id,
                                           technician="tech-03", statement_sha256="e" * 64, stated_at=utcnow()))
    await billing.wait_for(CustomerAccountCreated, count=2)
    before = dict((await billing.rows("SELECT * FROM customer_accounts WHERE customer_number = $1", number))[0])
    resp = await billing.http.post(f"/api/customers/{number}/erasure", json=ERASE)
    assert resp.status_code == 200
    await billing.wait_for(CustomerAccountErased)
    await billing.settle()

    # The database comes back from a backup taken before the erasure (the stream is not part of
    # it): the row holds the account's data again.
    admin = await asyncpg.connect(database_dsn(billing.env.admin_dsn, billing.env.database))
    try:
        async with admin.transaction():
            await admin.execute("ALTER TABLE billing.customer_accounts DISABLE TRIGGER customer_accounts_guard")
            await admin.execute(
                "UPDATE billing.customer_accounts SET personal_enc = $2, stated_at = $3, closed_at = NULL,"
                " closure_reason = NULL, closed_by = NULL WHERE customer_number = $1",
                number, before["personal_enc"], before["stated_at"])
            await admin.execute("ALTER TABLE billing.customer_accounts ENABLE TRIGGER customer_accounts_guard")
    finally:
        await admin.close()
    assert (await billing.http.get(f"/api/customers/{number}")).json()["company"] == "Beispiel AG"

    # A billing (re)start with its own NATS user erases it again before its API answers.
    await billing.start_instance(**billing.as_billing_user())
    restarted = billing.clients[-1]
    shown = (await restarted.get(f"/api/customers/{number}")).json()
    assert shown["status"] == "closed" and shown["company"] is None and shown["statement"] is None
    row = (await billing.rows("SELECT * FROM customer_accounts WHERE customer_number = $1", number))[0]
    assert row["personal_enc"] is None and row["stated_at"] is None
    assert row["closure_reason"] == "customer_request" and row["closed_at"] == datetime.fromisoformat(
        resp.json()["erased_at"]) and row["closed_by"] is None  # who asked is not in the event
    # the other account is untouched, and re-applying announced nothing new
    assert (await restarted.get("/api/customers/K00002")).json()["company"] == "Beispiel AG"
    await billing.settle()
    assert len(await billing.events(CustomerAccountErased)) == 1
    # once more: nothing left to erase
    assert await billing.apps[-1].state.service.reapply_account_erasures() == 0
