"""Billing against real NATS JetStream and PostgreSQL (``fw_env``), with a vault stub.

The real vault (retention) is built elsewhere; the stub answers ``vault.v1.get.billing`` over core
NATS request/reply with the same contract types.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import asyncpg
import httpx
import nats
import pytest
import pytest_asyncio
from fastapi import FastAPI
from nats.aio.client import Client
from nats.aio.msg import Msg

from fw_billing.bootstrap import build
from fw_billing.settings import Settings
from fw_contracts import STREAM_NAME, Event, Header, SessionEnded, decode, utcnow
from fw_contracts.events import CustomerType, SupportRequestCreated, TermsAcceptance
from fw_contracts.vault import (
    Address,
    GetRequest,
    PersonalData,
    PromotionStatement,
    VaultEntry,
    VaultError,
    VaultReply,
)
from fw_contracts.wire import VaultSubject, vault_subject
from fw_devenv.testing import eventually

E = TypeVar("E", bound=Event)
#: The archive master key of the tests (base64 of 32 bytes).
TEST_ARCHIVE_KEY = "a2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2s="
STARTED = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)  # a Tuesday morning: no surcharge


class VaultStub:
    """Answers ``vault.v1.get.billing`` from ``entries`` (purpose ``delivery``: from ``kept`` first,
    like retention after the first erasure step); unknown ids get ``not_found``."""

    def __init__(self) -> None:
        self.entries: dict[uuid.UUID, VaultEntry] = {}
        self.erased: set[uuid.UUID] = set()
        #: after the first erasure step: only the delivery e-mail address is left
        self.kept: dict[uuid.UUID, str] = {}
        self.calls: list[tuple[uuid.UUID, str]] = []

    def store(self, request_id: uuid.UUID, *, address: bool = True, statement: bool = False,
              country: str = "DE", vat_id: str | None = None, buyer_reference: str | None = None) -> None:
        data = PersonalData(
            company="Beispiel AG", contact_name="Max Beispiel", phone="+4989123456",
            email="max@example.org", vat_id=vat_id, buyer_reference=buyer_reference,
            # a postal code in the country's format (fw_contracts.address): Munich's, or Vienna's
            address=Address(street="Ring 5", postal_code="80331" if country == "DE" else "1010",
                            city="München" if country == "DE" else "Wien", country=country)
            if address else None)
        stmt = PromotionStatement(text="Wir möchten Stammkunde werden.", technician="tech-03",
                                  stated_at=STARTED) if statement else None
        self.entries[request_id] = VaultEntry(request_id=request_id, data=data, statement=stmt,
                                              stored_at=STARTED)

    async def on_get(self, msg: Msg) -> None:
        req = GetRequest.model_validate_json(msg.data)
        self.calls.append((req.request_id, req.purpose))
        if req.purpose == "delivery" and req.request_id in self.kept:
            reply = VaultReply(ok=True, delivery_email=self.kept[req.request_id])
        elif req.request_id in self.erased:
            reply = VaultReply(ok=False, error=VaultError.ERASED, erased_at=utcnow())
        elif req.purpose == "delivery" and req.request_id in self.entries:
            reply = VaultReply(ok=True, delivery_email=self.entries[req.request_id].data.email)
        elif req.request_id not in self.entries:
            reply = VaultReply(ok=False, error=VaultError.NOT_FOUND)
        else:
            reply = VaultReply(ok=True, entry=self.entries[req.request_id])
        await msg.respond(reply.model_dump_json().encode())


@dataclass
class Harness:
    env: Any
    nc: Client
    vault: VaultStub
    apps: list[FastAPI] = field(default_factory=list)
    clients: list[httpx.AsyncClient] = field(default_factory=list)
    stack: contextlib.AsyncExitStack = field(default_factory=contextlib.AsyncExitStack)
    vault_sub: Any = None
    archive_key: str = TEST_ARCHIVE_KEY

    @property
    def http(self) -> httpx.AsyncClient:
        return self.clients[0]

    def settings(self, **overrides: Any) -> Settings:
        values: dict[str, Any] = {"nats_url": self.env.nats_url, "database_url": self.env.dsn("billing"),
                                  "http_port": 0, "archive_key": TEST_ARCHIVE_KEY, "delivery_poll_s": 0.2,
                                  **overrides}
        return Settings(**values)

    def as_billing_user(self) -> dict[str, Any]:
        """Settings overrides to connect with billing's own NATS user (its real permissions)."""
        user, password = self.env.nats_credentials("billing")
        return {"nats_url": self.env.nats_plain_url, "nats_user": user, "nats_password": password}

    async def start_instance(self, *, sender: Any = None, **overrides: Any) -> FastAPI:
        """One more billing instance (same database and durable consumers)."""
        app = build(self.settings(**overrides), sender=sender).http
        await self.stack.enter_async_context(app.router.lifespan_context(app))
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t")
        await self.stack.enter_async_context(client)
        self.apps.append(app)
        self.clients.append(client)
        return app

    async def start_vault(self) -> None:
        self.vault_sub = await self.nc.subscribe(vault_subject(VaultSubject.GET, "billing"), cb=self.vault.on_get)
        await self.nc.flush()

    async def stop_vault(self) -> None:
        await self.vault_sub.unsubscribe()
        await self.nc.flush()

    # -------------------------------------------------------------- the stream
    async def publish(self, event: Event, msg_id: str | None = None) -> None:
        """Publish like a producer's outbox relay: ``Nats-Msg-Id`` = event id by default."""
        await self.nc.jetstream().publish(
            event.subject(), event.to_json(),
            headers={Header.MSG_ID: msg_id or str(event.event_id), Header.EVENT_TYPE: event.event_type})

    async def events(self, kind: type[E] | None = None) -> list[Any]:
        js = self.nc.jetstream()
        info = await js.stream_info(STREAM_NAME)
        out: list[Event] = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            if info.state.messages == 0:
                break
            raw = await js.get_msg(STREAM_NAME, seq)
            out.append(decode(raw.data, raw.subject))
        return [e for e in out if kind is None or isinstance(e, kind)]

    async def wait_for(self, kind: type[E], count: int = 1, timeout: float = 30.0) -> list[E]:
        """The events of ``kind`` once at least ``count`` are in the stream."""
        found: list[E] = []

        async def enough() -> bool:
            nonlocal found
            found = await self.events(kind)
            return len(found) >= count

        await eventually(enough, timeout=timeout, what=f"{count} x {kind.__name__}")
        return found

    async def settle(self, timeout: float = 30.0) -> None:
        """Every billing consumer has acked everything and the outbox is empty."""
        js = self.nc.jetstream()

        async def idle() -> bool:
            for name in ("billing--session_billing", "billing--customer_promoted", "billing--personal_data_erased"):
                info = await js.consumer_info(STREAM_NAME, name)
                if info.num_pending or info.num_ack_pending:
                    return False
            return await self.sql("SELECT count(*) FROM outbox") == 0

        await eventually(idle, timeout=timeout, what="billing to settle")

    async def sql(self, query: str, *args: Any) -> Any:
        conn = await asyncpg.connect(self.env.dsn("billing"), server_settings={"search_path": "billing"})
        try:
            return await conn.fetchval(query, *args)
        finally:
            await conn.close()

    async def rows(self, query: str, *args: Any) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(self.env.dsn("billing"), server_settings={"search_path": "billing"})
        try:
            return await conn.fetch(query, *args)
        finally:
            await conn.close()


def session_ended(seconds: int, *, promoted: bool = False, session_id: uuid.UUID | None = None,
                  request_id: uuid.UUID | None = None) -> SessionEnded:
    return SessionEnded(session_id=session_id or uuid.uuid4(), request_id=request_id or uuid.uuid4(),
                        technician="tech-03", started_at=STARTED,
                        ended_at=STARTED + timedelta(seconds=seconds), duration_seconds=seconds,
                        promoted=promoted)


def request_created(request_id: uuid.UUID, *, email: bool = True, address: bool = True,
                    customer_type: CustomerType = CustomerType.BUSINESS,
                    download_sha256: str | None = None) -> SupportRequestCreated:
    """Intake's event for ``request_id`` (billing learns B2B/e-mail and the download code's hash)."""
    return SupportRequestCreated(
        request_id=request_id, ticket="K7MQ-3XA", customer_type=customer_type,
        terms=TermsAcceptance(terms_version="2026-01", terms_sha256="a" * 64, accepted_at=STARTED),
        has_billing_address=address, has_email=email, download_sha256=download_sha256)


@pytest_asyncio.fixture
async def harness(fw_env: Any) -> AsyncIterator[Harness]:
    nc = await nats.connect(fw_env.nats_url, name="billing-test")
    h = Harness(env=fw_env, nc=nc, vault=VaultStub())
    try:
        yield h
    finally:
        await h.stack.aclose()
        await nc.close()


@pytest_asyncio.fixture
async def billing(harness: Harness) -> Harness:
    """One running billing instance plus the vault stub."""
    await harness.start_vault()
    await harness.start_instance()
    return harness


@pytest.fixture
def ended() -> Callable[..., SessionEnded]:
    return session_ended


@pytest.fixture
def created() -> Callable[..., SupportRequestCreated]:
    return request_created
