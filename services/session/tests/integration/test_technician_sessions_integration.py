"""GET /api/sessions?technician=…&status=…: a technician's sessions from the database, not from a
browser (real NATS + PostgreSQL; vault: the test stub)."""

from __future__ import annotations

import shutil
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from fw_contracts.events import SessionEnded, SessionStarted
from fw_platform.auth import token_hash
from fw_platform.db import create_pool, migrate
from fw_session.adapters.sql import ENDED_OF_TECHNICIAN, RUNNING_OF_TECHNICIAN, SqlSessionStore
from fw_session.bootstrap import MIGRATIONS, build
from fw_session.domain.session import SessionStatus
from fw_session.settings import Settings

T0 = datetime(2025, 3, 3, 9, 0, 0, tzinfo=UTC)
SUMMARY_KEYS = {"session_id", "request_id", "ticket", "technician", "status", "started_at", "ended_at",
                "duration_seconds"}


async def test_running_and_ended_sessions_of_one_technician(harness: Any) -> None:
    h = harness
    sid: dict[str, str] = {}
    rid: dict[str, uuid.UUID] = {}
    # tech-07: a, b, d, e; tech-08: c. Started 10 s apart.
    for name, ticket, tech in (("a", "AAAA-001", "tech-07"), ("b", "BBBB-002", "tech-07"),
                               ("c", "CCCC-003", "tech-08"), ("d", "DDDD-004", "tech-07"),
                               ("e", "EEEE-005", "tech-07")):
        rid[name] = await h.waiting_request(ticket, company=f"Firma {name.upper()} GmbH")
        sid[name] = await h.start_session(rid[name], tech)
        h.clock.advance(10)
    h.clock.advance(100)
    assert (await h.client.post(f"/api/sessions/{sid['b']}/end")).status_code == 200
    h.clock.advance(50)
    assert (await h.client.post(f"/api/sessions/{sid['d']}/end")).status_code == 200

    running = await h.sessions(technician="tech-07", status="running")
    assert running["technician"] == "tech-07" and running["status"] == "running" and running["limit"] == 20
    assert [i["session_id"] for i in running["items"]] == [sid["a"], sid["e"]]  # oldest first
    first = running["items"][0]
    assert set(first) == SUMMARY_KEYS
    assert first == {"session_id": sid["a"], "request_id": str(rid["a"]), "ticket": "AAAA-001",
                     "technician": "tech-07", "status": "running", "started_at": first["started_at"],
                     "ended_at": None, "duration_seconds": None}
    assert first["started_at"].startswith("2025-03-03T09:00:00")
    assert (await h.sessions(technician="tech-07")) == running  # running is the default

    ended = await h.sessions(technician="tech-07", status="ended")
    assert [i["session_id"] for i in ended["items"]] == [sid["d"], sid["b"]]  # most recent end first
    assert [i["status"] for i in ended["items"]] == ["ended", "ended"]
    # b started at +10 s, ended at +150 s; d started at +30 s, ended at +200 s
    assert [i["duration_seconds"] for i in ended["items"]] == [170, 140]
    assert ended["items"][1]["ended_at"].startswith("2025-03-03T09:02:30")
    assert [i["session_id"] for i in (await h.sessions(technician="tech-07", status="ended", limit=1))["items"]] \
        == [sid["d"]]
    assert [i["session_id"] for i in (await h.sessions(technician="tech-07", limit=1))["items"]] == [sid["a"]]

    # another technician's sessions are not in the list, and an unknown one has none
    assert [i["session_id"] for i in (await h.sessions(technician="tech-08"))["items"]] == [sid["c"]]
    assert (await h.sessions(technician="tech-08", status="ended"))["items"] == []
    assert (await h.sessions(technician="tech-99"))["items"] == []

    # no personal data: nothing of the vault's entries is in any answer (and none was read for it)
    for params in ({"technician": "tech-07"}, {"technician": "tech-07", "status": "ended"}):
        text = (await h.client.get("/api/sessions", params=params)).text
        assert "GmbH" not in text and "Mustermann" not in text and "4930123456" not in text

    # ending a listed session takes it off the running list and puts it first among the ended
    h.clock.advance(30)
    assert (await h.client.post(f"/api/sessions/{sid['a']}/end")).status_code == 200
    assert [i["session_id"] for i in (await h.sessions(technician="tech-07"))["items"]] == [sid["e"]]
    assert [i["session_id"] for i in (await h.sessions(technician="tech-07", status="ended"))["items"]] \
        == [sid["a"], sid["d"], sid["b"]]

    # the row's summary is the fold of the session's own events
    for name, session_id in sid.items():
        state = await h.app.state.service.get(uuid.UUID(session_id), "tech-08" if name == "c" else "tech-07")
        [row] = await h.db("SELECT technician, started_at, ended_at, duration_seconds FROM sessions"
                           " WHERE session_id = $1", uuid.UUID(session_id))
        assert (row["technician"], row["started_at"], row["ended_at"], row["duration_seconds"]) == (
            state.technician, state.started_at, state.ended_at, state.duration_seconds), name


async def test_bad_parameters_answer_422_in_german_and_english(harness: Any) -> None:
    h = harness
    rid = await h.waiting_request("AAAA-001", "Muster GmbH")
    await h.start_session(rid, "tech-07")
    bad = [
        ({"technician": "Tech Nick"}, "query.technician", "string_pattern_mismatch"),
        ({"technician": "x"}, "query.technician", "string_pattern_mismatch"),
        ({"technician": "tech-07'; DROP TABLE sessions;--"}, "query.technician", "string_pattern_mismatch"),
        ({}, "query.technician", "missing"),
        ({"technician": "tech-07", "status": "paused"}, "query.status", "enum"),
        ({"technician": "tech-07", "limit": "0"}, "query.limit", "greater_than_equal"),
        ({"technician": "tech-07", "limit": "201"}, "query.limit", "less_than_equal"),
        ({"technician": "tech-07", "limit": "viele"}, "query.limit", "int_parsing"),
    ]
    for params, field, code in bad:
        resp = await h.client.get("/api/sessions", params=params)
        assert resp.status_code == 422, (params, resp.text)
        body = resp.json()
        assert body["code"] == "invalid_input" and body["message_de"] and body["message_en"]
        assert [(e["field"], e["code"]) for e in body["errors"]] == [(field, code)], body
        assert all(e["message_de"] and e["message_en"] for e in body["errors"])
        for value in ("Nick", "DROP", "paused", "viele"):  # the input is never echoed
            assert value not in resp.text
    assert body["errors"][0]["message_de"] == "Muss eine ganze Zahl sein."
    # nothing was changed by the refused calls
    assert len((await h.sessions(technician="tech-07"))["items"]) == 1


TOKEN = "web-token-for-the-session-list-test"


async def test_the_list_needs_the_api_token(harness: Any, fw_env: Any) -> None:
    """The same service with API keys configured (as deployed): 401 without or with a wrong token."""
    h = harness
    rid = await h.waiting_request("AAAA-001", "Muster GmbH")
    sid = await h.start_session(rid, "tech-07")
    settings = Settings(nats_url=fw_env.nats_url, database_url=fw_env.dsn("session"), http_port=0,
                        api_keys=f"web:{token_hash(TOKEN)}")
    app = build(settings, clock=h.clock).http
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app), base_url="http://t") as client:
        params = {"technician": "tech-07", "status": "running"}
        anonymous = await client.get("/api/sessions", params=params)
        assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"] == "Bearer"
        assert sid not in anonymous.text
        wrong = await client.get("/api/sessions", params=params, headers={"Authorization": "Bearer wrong"})
        assert wrong.status_code == 401 and sid not in wrong.text
        ok = await client.get("/api/sessions", params=params, headers={"Authorization": f"Bearer {TOKEN}"})
        assert ok.status_code == 200, ok.text
        assert [i["session_id"] for i in ok.json()["items"]] == [sid]


async def test_migration_004_fills_the_summary_of_existing_sessions(fw_env: Any, tmp_path: Path) -> None:
    """Sessions stored before migration 004 (rows without technician or times) get their summary
    from their own events, and the two list queries use the new partial indexes."""
    old = tmp_path / "migrations"
    old.mkdir()
    for f in sorted(MIGRATIONS.glob("*.sql")):
        if f.name < "004":
            shutil.copy(f, old / f.name)
    pool = await create_pool(fw_env.dsn("session"), "session", min_size=1, max_size=2)
    try:
        await migrate(pool, "session", old)
        t0 = T0
        sessions = []
        async with pool.acquire() as conn:
            for i, (tech, ended) in enumerate((("tech-07", False), ("tech-07", True), ("tech-08", False))):
                request_id, session_id = uuid.uuid4(), uuid.uuid4()
                started = SessionStarted(session_id=session_id, request_id=request_id, technician=tech,
                                         started_at=t0 + timedelta(seconds=i), occurred_at=t0)
                events: list[Any] = [started]
                if ended:
                    events.append(SessionEnded(
                        session_id=session_id, request_id=request_id, technician=tech,
                        started_at=started.started_at, ended_at=started.started_at + timedelta(seconds=95),
                        duration_seconds=95, promoted=False, occurred_at=t0))
                await conn.execute("INSERT INTO requests(request_id, status, ticket) VALUES ($1, 'started', $2)",
                                   request_id, f"OLD{i}-00{i}")
                # as the code before 004 wrote them
                await conn.execute("INSERT INTO sessions(session_id, request_id, version) VALUES ($1, $2, $3)",
                                   session_id, request_id, len(events))
                for version, e in enumerate(events, 1):
                    await conn.execute(
                        "INSERT INTO session_events(session_id, version, event_id, event_type, payload)"
                        " VALUES ($1, $2, $3, $4, $5::jsonb)", session_id, version, e.event_id, e.event_type,
                        e.model_dump_json())
                sessions.append(session_id)
        assert (await migrate(pool, "session", MIGRATIONS))[0] == "004_sessions_by_technician.sql"  # then later ones
        async with pool.acquire() as conn:
            store = SqlSessionStore(conn)
            running = await store.of_technician("tech-07", SessionStatus.RUNNING, 20)
            assert [(s.session_id, s.ticket, s.started_at, s.ended_at) for s in running] == [
                (sessions[0], "OLD0-000", t0, None)]
            [done] = await store.of_technician("tech-07", SessionStatus.ENDED, 20)
            assert (done.session_id, done.duration_seconds, done.ended_at) == (
                sessions[1], 95, t0 + timedelta(seconds=96))
            assert [s.session_id for s in await store.of_technician("tech-08", SessionStatus.RUNNING, 20)] \
                == [sessions[2]]
            # the lists read the partial indexes, not the whole table (forced: the table is tiny)
            async with conn.transaction():
                await conn.execute("SET LOCAL enable_seqscan = off")
                for sql, index in ((RUNNING_OF_TECHNICIAN, "sessions_running_by_technician"),
                                   (ENDED_OF_TECHNICIAN, "sessions_ended_by_technician")):
                    plan = "\n".join(r[0] for r in await conn.fetch(f"EXPLAIN {sql}", "tech-07", 20))
                    assert index in plan, plan
            # an end without a duration (or a session without its technician) is refused
            with pytest.raises(asyncpg.CheckViolationError):
                await conn.execute("UPDATE sessions SET ended_at = now() WHERE session_id = $1", sessions[2])
            with pytest.raises(asyncpg.NotNullViolationError):
                await conn.execute("UPDATE sessions SET technician = NULL WHERE session_id = $1", sessions[2])
    finally:
        await pool.close()
