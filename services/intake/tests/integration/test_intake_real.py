"""Intake against a real nats-server (JetStream) and a real PostgreSQL (``fw_env``).

The vault is a test-only stub responder on ``vault.v1.put.intake`` that records what it was sent;
retention's real vault is wired in the end-to-end tests.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
import nats
from nats.aio.msg import Msg

from fw_contracts import STREAM_NAME, Event, Header, VaultSubject, decode, utcnow, vault_subject
from fw_contracts.events import ErasureReason, PersonalDataErased, SessionStarted
from fw_contracts.reference import TermsPublished
from fw_contracts.vault import ClaimRequest, PutRequest, VaultError, VaultReply
from fw_devenv.testing import eventually
from fw_intake.bootstrap import build
from fw_intake.settings import Settings

MARKER = "QXMARKERZQ"


def form(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "company": f"{MARKER} GmbH", "contact_name": f"Erika {MARKER}", "phone": "+49 30 123456",
        "terms_accepted": True, "terms_version": "2026-01", "email": f"{MARKER.lower()}@example.org",
        "address": {"street": f"{MARKER}str. 1", "postal_code": "10115", "city": "Berlin"}}
    data.update(changes)
    return data


@dataclass
class StubVault:
    """Answers ``vault.v1.put.intake`` like the vault; ``reply`` decides the answer (None: stay silent)."""

    calls: list[PutRequest] = field(default_factory=list)
    reply: Callable[[PutRequest], VaultReply | None] = lambda _: VaultReply(ok=True)

    #: request id -> outcome claimed first (``vault.v1.claim.intake``: withdrawals)
    claims: dict[uuid.UUID, str] = field(default_factory=dict)

    async def handle(self, msg: Msg) -> None:
        put = PutRequest.model_validate_json(msg.data)
        self.calls.append(put)
        answer = self.reply(put)
        if answer is not None:
            await msg.respond(answer.model_dump_json().encode())

    async def handle_claim(self, msg: Msg) -> None:
        claim = ClaimRequest.model_validate_json(msg.data)
        won = self.claims.setdefault(claim.request_id, claim.outcome) == claim.outcome
        await msg.respond(VaultReply(ok=won, error=None if won else VaultError.CLAIMED).model_dump_json().encode())

    async def subscribe(self, nc: Any) -> None:
        """Answer intake's own vault subjects on ``nc``."""
        await nc.subscribe(vault_subject(VaultSubject.PUT, "intake"), cb=self.handle)
        await nc.subscribe(vault_subject(VaultSubject.CLAIM, "intake"), cb=self.handle_claim)
        await nc.flush()


@asynccontextmanager
async def intake(fw_env: Any, vault: StubVault | None, **settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    nc = await nats.connect(fw_env.nats_url)
    if vault is not None:
        await vault.subscribe(nc)
    app = build(Settings(nats_url=fw_env.nats_url, database_url=fw_env.dsn("intake"), http_port=0,
                         **settings)).http
    try:
        async with app.router.lifespan_context(app), httpx.AsyncClient(
                transport=httpx.ASGITransport(app), base_url="http://t") as client:
            yield client
    finally:
        await nc.close()


async def relayed(fw_env: Any) -> None:
    """Wait until intake's outbox is empty: a row leaves it only once JetStream acknowledged its
    publish, so from then on the stream holds every event intake committed so far."""
    async def outbox_rows() -> int:
        conn = await asyncpg.connect(fw_env.dsn("intake"))
        try:
            return int(await conn.fetchval("SELECT count(*) FROM intake.outbox"))
        finally:
            await conn.close()

    await eventually(outbox_rows, until=lambda n: n == 0, what="intake's outbox relayed")


async def stream_messages(fw_env: Any, subject: str = "fw.>") -> list[Msg]:
    """Every message in the stream on ``subject`` besides the terms intake publishes at start
    (read once intake's outbox is relayed, so nothing it committed is missing)."""
    await relayed(fw_env)
    nc = await nats.connect(fw_env.nats_url)
    try:
        js = nc.jetstream()
        info = await js.stream_info(STREAM_NAME, subjects_filter=subject)
        total = sum((info.state.subjects or {}).values())
        if total == 0:
            return []
        sub = await js.subscribe(subject, ordered_consumer=True)
        msgs = [await sub.next_msg(timeout=5) for _ in range(total)]
        await sub.unsubscribe()
        return [m for m in msgs if m.subject != TermsPublished.subject()]  # own test below
    finally:
        await nc.close()


async def nothing_recorded(fw_env: Any) -> None:
    """No request row, no outbox row, no event: checked in this order, so an event committed by
    the refused call would be seen in the outbox or, once relayed, in the stream (no sleep)."""
    assert await table_dump(fw_env) == ([], [])
    assert await stream_messages(fw_env) == []


async def table_dump(fw_env: Any) -> tuple[list[str], list[str]]:
    """All rows of intake's request table and its outbox (besides the terms), as text."""
    conn = await asyncpg.connect(fw_env.dsn("intake"))
    try:
        rows = [r[0] for r in await conn.fetch("SELECT t::text FROM intake.support_requests t")]
        outbox = [r[0] for r in await conn.fetch("SELECT t::text FROM intake.outbox t"
                                                 " WHERE event_type <> 'TermsPublished'")]
        return rows, outbox
    finally:
        await conn.close()


async def publish(fw_env: Any, event: Event, msg_id: str | None = None) -> None:
    nc = await nats.connect(fw_env.nats_url)
    try:
        await nc.jetstream().publish(event.subject(), event.to_json(), headers={
            Header.MSG_ID: msg_id or str(event.event_id), Header.EVENT_TYPE: event.event_type})
    finally:
        await nc.close()


async def test_create_stores_vault_data_and_publishes_a_clean_event(fw_env: Any) -> None:
    vault = StubVault()
    async with intake(fw_env, vault) as client:
        r = await client.post("/api/support-requests", json=form())
        assert r.status_code == 201, r.text
        created = r.json()
        [msg] = await stream_messages(fw_env, "fw.intake.>")
        status = (await client.get(created["status_url"])).json()
    # The vault got the personal data, normalised.
    [put] = vault.calls
    assert str(put.request_id) == created["request_id"]
    assert put.data.phone == "+4930123456" and put.data.company == f"{MARKER} GmbH"
    # The stream got the event, without any of it.
    event = decode(msg.data, msg.subject)
    assert event.event_type == "SupportRequestCreated" and msg.subject == "fw.intake.support_request_created.v2"
    # only the hash of the download code the reply gave once
    assert event.download_sha256 == hashlib.sha256(created["download_code"].encode()).hexdigest()
    assert created["download_code"].encode() not in msg.data
    assert str(event.request_id) == created["request_id"] and event.ticket == created["ticket"]
    assert event.has_billing_address and event.has_email and event.terms.terms_version == "2026-01"
    assert msg.headers and msg.headers[Header.MSG_ID] == str(event.event_id)
    everything = [m.data + json.dumps(m.headers or {}).encode() for m in await stream_messages(fw_env)]
    assert everything and not any(MARKER.encode() in blob or MARKER.lower().encode() in blob
                                  for blob in everything)
    assert not any(b"123456" in blob for blob in everything)
    rows, outbox = await table_dump(fw_env)
    assert len(rows) == 1 and outbox == []
    assert MARKER not in rows[0] and MARKER.lower() not in rows[0] and "123456" not in rows[0]
    assert status["status"] == "open" and status["ticket"] == created["ticket"]


async def test_no_vault_means_503_and_nothing_anywhere(fw_env: Any) -> None:
    async with intake(fw_env, None) as client:
        r = await client.post("/api/support-requests", json=form())
        assert r.status_code == 503 and r.json()["code"] == "vault_unavailable"
        assert MARKER not in r.text
    await nothing_recorded(fw_env)


async def test_silent_vault_times_out_to_503(fw_env: Any) -> None:
    vault = StubVault(reply=lambda _: None)
    async with intake(fw_env, vault, vault_timeout_s=0.3) as client:
        r = await client.post("/api/support-requests", json=form())
        assert r.status_code == 503 and r.json()["code"] == "vault_unavailable"
    assert len(vault.calls) == 1
    await nothing_recorded(fw_env)


async def test_vault_refusal_is_409_without_data(fw_env: Any) -> None:
    vault = StubVault(reply=lambda _: VaultReply(ok=False, error=VaultError.EXISTS))
    async with intake(fw_env, vault) as client:
        r = await client.post("/api/support-requests", json=form())
        assert r.status_code == 409 and r.json()["code"] == "vault_conflict" and MARKER not in r.text
        # The vault answers but cannot reach its database: as unavailable as no answer (503).
        vault.reply = lambda _: VaultReply(ok=False, error=VaultError.INTERNAL)
        r = await client.post("/api/support-requests", json=form())
        assert r.status_code == 503 and r.json()["code"] == "vault_unavailable" and MARKER not in r.text
    await nothing_recorded(fw_env)


async def test_bad_input_is_422_and_nothing_published(fw_env: Any) -> None:
    vault = StubVault()
    async with intake(fw_env, vault) as client:
        for bad in (form(phone=f"{MARKER}"), form(terms_accepted=False), form(customer_type="consumer"),
                    form(terms_version="1999-01"), form(extra=MARKER)):
            r = await client.post("/api/support-requests", json=bad)
            assert r.status_code == 422 and MARKER not in r.text and MARKER.lower() not in r.text
    assert vault.calls == []
    await nothing_recorded(fw_env)


async def test_withdraw_publishes_once(fw_env: Any) -> None:
    async with intake(fw_env, StubVault()) as client:
        rid = (await client.post("/api/support-requests", json=form())).json()["request_id"]
        r = await client.post(f"/api/support-requests/{rid}/withdraw")
        assert r.status_code == 200 and r.json()["status"] == "withdrawn"
        r = await client.post(f"/api/support-requests/{rid}/withdraw")
        assert r.status_code == 409 and r.json()["code"] == "already_withdrawn"
        msgs = await stream_messages(fw_env, "fw.intake.>")
    events = [decode(m.data, m.subject) for m in msgs]
    assert [e.event_type for e in events] == ["SupportRequestCreated", "SupportRequestWithdrawn"]
    assert str(events[1].request_id) == rid and events[1].correlation_id == events[0].correlation_id


async def test_a_withdrawal_the_vault_refuses_records_nothing(fw_env: Any) -> None:
    """Withdraw vs start is decided at the vault: a lost claim is a 409, a missing vault a 503."""
    vault = StubVault()
    async with intake(fw_env, vault) as client:
        rid = (await client.post("/api/support-requests", json=form())).json()["request_id"]
        vault.claims[uuid.UUID(rid)] = "session_started"  # a technician's start came first
        r = await client.post(f"/api/support-requests/{rid}/withdraw")
        assert r.status_code == 409 and r.json()["code"] == "session_started", r.text
        assert r.json()["message_de"] and r.json()["message_en"]
        other = (await client.post("/api/support-requests", json=form(phone="+4930999111222"))).json()["request_id"]
        await stream_messages(fw_env, "fw.intake.>")
    # without the vault nothing is decided: 503, the request stays open
    async with intake(fw_env, None) as client:
        r = await client.post(f"/api/support-requests/{other}/withdraw")
        assert r.status_code == 503 and r.json()["code"] == "vault_unavailable", r.text
        assert (await client.get(f"/api/support-requests/{other}")).json()["status"] == "open"
    msgs = await stream_messages(fw_env, "fw.intake.>")
    assert [decode(m.data, m.subject).event_type for m in msgs] == ["SupportRequestCreated"] * 2


async def test_consumed_events_move_the_status(fw_env: Any) -> None:
    async with intake(fw_env, StubVault()) as client:
        created = (await client.post("/api/support-requests", json=form())).json()
        rid = uuid.UUID(created["request_id"])

        async def status_is(expected: str) -> bool:
            return (await client.get(created["status_url"])).json()["status"] == expected

        started = SessionStarted(session_id=uuid.uuid4(), request_id=rid, technician="tech-01",
                                 started_at=utcnow())
        await publish(fw_env, started)
        await publish(fw_env, started, msg_id=str(uuid.uuid4()))  # a redelivery past JetStream's dedup
        await eventually(lambda: status_is("in_session"))
        r = await client.post(f"/api/support-requests/{rid}/withdraw")
        assert r.status_code == 409 and r.json()["code"] == "session_started"

        await publish(fw_env, PersonalDataErased(request_id=rid, reason=ErasureReason.INVOICE_ISSUED,
                                                 erased_at=utcnow()))
        await eventually(lambda: status_is("erased"))
        # A session for a request intake never created is parked with its reason, not retried forever.
        await publish(fw_env, SessionStarted(session_id=uuid.uuid4(), request_id=uuid.uuid4(),
                                             technician="tech-01", started_at=utcnow()))
        conn = await asyncpg.connect(fw_env.dsn("intake"))
        try:
            async def parked() -> bool:
                return bool(await conn.fetchval("SELECT count(*) FROM intake.dead_letters"))
            await eventually(parked)
            consumers = {r[0] for r in await conn.fetch("SELECT DISTINCT consumer FROM intake.processed_events")}
        finally:
            await conn.close()
    assert consumers == {"intake--session_started", "intake--personal_data_erased"}
    # Only intake's own events came from intake: consuming emitted nothing.
    assert len(await stream_messages(fw_env, "fw.intake.>")) == 1


async def test_readiness_and_terms(fw_env: Any) -> None:
    async with intake(fw_env, StubVault()) as client:
        await eventually(lambda: client.get("/readyz"), until=lambda r: r.status_code == 200, what="/readyz 200")
        terms = (await client.get("/api/terms/current")).json()
        assert terms["version"] == "2026-01" and len(terms["sha256"]) == 64


async def test_the_real_process_serves_and_logs_no_personal_data(fw_env: Any) -> None:
    from fw_devenv.pytest_plugin import ServiceProcess

    vault = StubVault()
    nc = await nats.connect(fw_env.nats_url)
    await vault.subscribe(nc)
    proc = ServiceProcess("intake", fw_env)
    try:
        await asyncio.to_thread(proc.start)
        async with httpx.AsyncClient(base_url=proc.url) as client:
            created = await client.post("/api/support-requests", json=form())
            assert created.status_code == 201, created.text
            assert (await client.post("/api/support-requests", json=form(phone=MARKER))).status_code == 422
            await nc.close()  # the vault goes away
            assert (await client.post("/api/support-requests", json=form())).status_code == 503
    finally:
        await asyncio.to_thread(proc.stop)
        if not nc.is_closed:
            await nc.close()
    log = proc.log_path.read_text()
    assert created.json()["request_id"] in log  # it does log, with ids
    assert MARKER not in log and MARKER.lower() not in log and "123456" not in log


async def test_the_table_equals_a_replay_of_the_stream(fw_env: Any) -> None:
    from fw_intake.adapters.repository import SqlSupportRequests
    from fw_intake.domain.request import replay

    async with intake(fw_env, StubVault()) as client:
        ids = [uuid.UUID((await client.post("/api/support-requests", json=form())).json()["request_id"])
               for _ in range(4)]
        assert (await client.post(f"/api/support-requests/{ids[0]}/withdraw")).status_code == 200
        # As in production, the session service sees a request only after its creation is in the stream.
        assert len(await stream_messages(fw_env, "fw.intake.>")) == 5
        for rid in ids[1:3]:
            await publish(fw_env, SessionStarted(session_id=uuid.uuid4(), request_id=rid, technician="tech-02",
                                                 started_at=utcnow()))
        await publish(fw_env, PersonalDataErased(request_id=ids[2], reason=ErasureReason.INVOICE_ISSUED,
                                                 erased_at=utcnow()))
        await publish(fw_env, PersonalDataErased(request_id=ids[0], reason=ErasureReason.WITHDRAWN,
                                                 erased_at=utcnow()))

        async def settled() -> bool:
            statuses = [(await client.get(f"/api/support-requests/{rid}")).json()["status"] for rid in ids]
            return statuses == ["erased", "in_session", "erased", "open"]
        await eventually(settled)
    conn = await asyncpg.connect(fw_env.dsn("intake"))
    try:
        live = {r.request_id: r for r in await SqlSupportRequests(conn).all()}
    finally:
        await conn.close()
    msgs = await stream_messages(fw_env)
    rebuilt = replay(decode(m.data, m.subject) for m in msgs)
    assert rebuilt == live


async def test_terms_are_published_once_per_version_with_their_text(fw_env: Any) -> None:
    from fw_intake.adapters.terms_files import load_terms

    shipped = load_terms()
    async with intake(fw_env, StubVault()):
        pass
    async with intake(fw_env, StubVault()):  # a restart publishes nothing again
        pass
    nc = await nats.connect(fw_env.nats_url)
    try:
        info = await nc.jetstream().stream_info(STREAM_NAME, subjects_filter=TermsPublished.subject())
        assert sum((info.state.subjects or {}).values()) == len(shipped.versions())
        sub = await nc.jetstream().subscribe(TermsPublished.subject(), ordered_consumer=True)
        published = [decode((await sub.next_msg(timeout=5)).data) for _ in shipped.versions()]
    finally:
        await nc.close()
    for event in published:
        assert isinstance(event, TermsPublished)
        doc = shipped.get(event.terms_version)
        assert doc is not None and event.text == doc.text and event.terms_sha256 == doc.sha256
