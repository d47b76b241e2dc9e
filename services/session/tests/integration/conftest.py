"""A running session service over real NATS + PostgreSQL, with a test-only vault stub.

The real vault (retention) is built elsewhere; the stub answers ``vault.v1.get.session``,
``vault.v1.statement.session`` and ``vault.v1.address.session`` with the contract's reply models,
like the real one.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import httpx
import pytest_asyncio
from fastapi import FastAPI
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from fw_contracts import STREAM_NAME, Event, Header, decode
from fw_contracts.events import SupportRequestCreated, TermsAcceptance
from fw_contracts.vault import (
    Address,
    AddressRequest,
    ClaimRequest,
    GetRequest,
    PersonalData,
    PromotionStatement,
    StatementRequest,
    VaultEntry,
    VaultError,
    VaultReply,
)
from fw_contracts.wire import VaultSubject, vault_subject
from fw_devenv.testing import eventually
from fw_platform.bus import connect
from fw_session.bootstrap import build
from fw_session.settings import Settings

T0 = datetime(2025, 3, 3, 9, 0, 0, 300_000, tzinfo=UTC)
T = TypeVar("T")


class FakeClock:
    def __init__(self, at: datetime = T0) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


@dataclass
class VaultStub:
    nc: Client
    data: dict[uuid.UUID, PersonalData] = field(default_factory=dict)
    statements: dict[uuid.UUID, PromotionStatement] = field(default_factory=dict)
    erased: set[uuid.UUID] = field(default_factory=set)
    addresses: dict[uuid.UUID, Address] = field(default_factory=dict)
    #: request id -> the outcome claimed first (a test may preset ``withdrawn``)
    claims: dict[uuid.UUID, str] = field(default_factory=dict)
    subs: list[Subscription] = field(default_factory=list)

    async def start(self) -> None:
        # session's own subjects (vault.v1.<operation>.session), as the real vault serves them
        self.subs = [await self.nc.subscribe(vault_subject(VaultSubject.GET, "session"), cb=self._get),
                     await self.nc.subscribe(vault_subject(VaultSubject.ADD_STATEMENT, "session"), cb=self._statement),
                     await self.nc.subscribe(vault_subject(VaultSubject.ADDRESS, "session"), cb=self._address),
                     await self.nc.subscribe(vault_subject(VaultSubject.CLAIM, "session"), cb=self._claim)]
        await self.nc.flush()

    async def stop(self) -> None:
        for s in self.subs:
            await s.unsubscribe()
        await self.nc.flush()
        self.subs = []

    def _refusal(self, request_id: uuid.UUID) -> VaultReply | None:
        if request_id in self.erased:
            return VaultReply(ok=False, error=VaultError.ERASED, erased_at=T0)
        if request_id not in self.data:
            return VaultReply(ok=False, error=VaultError.NOT_FOUND)
        return None

    async def _get(self, msg: Msg) -> None:
        req = GetRequest.model_validate_json(msg.data)
        reply = self._refusal(req.request_id) or VaultReply(ok=True, entry=VaultEntry(
            request_id=req.request_id, data=self.data[req.request_id], stored_at=T0))
        await msg.respond(reply.model_dump_json().encode())

    async def _address(self, msg: Msg) -> None:
        req = AddressRequest.model_validate_json(msg.data)
        reply = self._refusal(req.request_id)
        if reply is None:
            self.addresses[req.request_id] = req.address
            reply = VaultReply(ok=True)
        await msg.respond(reply.model_dump_json().encode())

    async def _claim(self, msg: Msg) -> None:
        req = ClaimRequest.model_validate_json(msg.data)
        reply = self._refusal(req.request_id)
        if reply is None and self.claims.setdefault(req.request_id, req.outcome) != req.outcome:
            reply = VaultReply(ok=False, error=VaultError.CLAIMED)
        await msg.respond((reply or VaultReply(ok=True)).model_dump_json().encode())

    async def _statement(self, msg: Msg) -> None:
        req = StatementRequest.model_validate_json(msg.data)
        reply = self._refusal(req.request_id)
        if reply is None and req.request_id in self.statements:
            reply = VaultReply(ok=False, error=VaultError.EXISTS)
        if reply is None:
            self.statements[req.request_id] = req.statement
            reply = VaultReply(ok=True)
        await msg.respond(reply.model_dump_json().encode())


@dataclass
class Harness:
    app: FastAPI
    client: httpx.AsyncClient
    clock: FakeClock
    nc: Client
    vault: VaultStub

    t0: datetime = T0

    @property
    def runtime(self) -> Any:
        return self.app.state.runtime

    async def publish(self, event: Event, msg_id: str | None = None) -> None:
        """Publish as a producer's outbox relay would (with ``Nats-Msg-Id``)."""
        await self.nc.jetstream().publish(
            event.subject(), event.to_json(),
            headers={Header.MSG_ID: msg_id or str(event.event_id), Header.EVENT_TYPE: event.event_type})

    async def create_request(self, at: datetime = T0, company: str = "Muster GmbH") -> SupportRequestCreated:
        event = SupportRequestCreated(
            request_id=uuid.uuid4(), ticket="K7MQ-3XA", occurred_at=at,
            terms=TermsAcceptance(terms_version="2025-01", terms_sha256="a" * 64, accepted_at=at))
        self.vault.data[event.request_id] = PersonalData(
            company=company, contact_name="Erika Mustermann", phone="+4930123456")
        await self.publish(event)
        return event

    async def waiting_request(self, ticket: str, company: str) -> uuid.UUID:
        """A request in the queue (published as intake would) with its data in the vault stub."""
        event = SupportRequestCreated(
            request_id=uuid.uuid4(), ticket=ticket, occurred_at=self.clock(),
            terms=TermsAcceptance(terms_version="2025-01", terms_sha256="a" * 64, accepted_at=self.clock()))
        self.vault.data[event.request_id] = PersonalData(company=company, contact_name="Erika Mustermann",
                                                         phone="+4930123456")
        await self.publish(event)
        await eventually(lambda: self.client.get("/api/queue"),
                         until=lambda r: str(event.request_id) in {i["request_id"] for i in r.json()})
        return event.request_id

    async def start_session(self, request_id: uuid.UUID, technician: str) -> str:
        """POST /api/sessions for ``technician``; the new session's id."""
        resp = await self.client.post("/api/sessions",
                                      json={"request_id": str(request_id), "technician": technician})
        assert resp.status_code == 201, resp.text
        return str(resp.json()["session_id"])

    async def sessions(self, **params: Any) -> dict[str, Any]:
        """GET /api/sessions with ``params``: the answer's body."""
        resp = await self.client.get("/api/sessions", params=params)
        assert resp.status_code == 200, resp.text
        body: dict[str, Any] = resp.json()
        return body

    async def stream_events(self, prefix: str = "fw.session.") -> list[Event]:
        """Every event in the stream whose subject starts with ``prefix``, in stream order."""
        js = self.nc.jetstream()
        info = await js.stream_info(STREAM_NAME)
        out = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            msg = await js.get_msg(STREAM_NAME, seq)
            if msg.subject.startswith(prefix):
                out.append(decode(msg.data, msg.subject))
        return out

    async def db(self, sql: str, *args: Any) -> Any:
        async with self.runtime.pool.acquire() as conn:
            return await conn.fetch(sql, *args)


@pytest_asyncio.fixture
async def harness(fw_env: Any) -> AsyncIterator[Harness]:
    clock = FakeClock()
    settings = Settings(nats_url=fw_env.nats_url, database_url=fw_env.dsn("session"), http_port=0,
                        vault_timeout=1.0)
    app = build(settings, clock=clock).http
    nc = await connect(fw_env.nats_url, name="session-test")
    vault = VaultStub(nc)
    await vault.start()
    try:
        async with app.router.lifespan_context(app):
            for consumer in app.state.runtime.consumers:
                await asyncio.wait_for(consumer.ready.wait(), 10)
            # names the acting technician like the web does (tech-07 unless a test says otherwise)
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t",
                                         headers={"Fw-Technician": "tech-07"}) as client:
                yield Harness(app, client, clock, nc, vault)
    finally:
        await nc.close()
