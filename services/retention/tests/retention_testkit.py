"""Test helpers: an in-memory VaultStore, fake units of work, sample data, a movable clock."""

from __future__ import annotations

import base64
import copy
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from fw_contracts import Event
from fw_contracts.events import ErasureScope, InvoiceIssued, InvoiceKind, PersonalDataErased
from fw_contracts.vault import Address, PersonalData, PromotionStatement
from fw_platform.handling import UnitOfWork, utc_now
from fw_retention.application.avv import AvvRequest
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

#: Marker strings that must never appear in clear anywhere but in a vault reply.
MARKERS = ("Zylinderkopf Hydraulik GmbH", "Waltraud Mustermensch", "+4930123456789",
           "waltraud@zylinderkopf.example", "Am Ölberg 17", "Quappendorf",
           "Ja, ich möchte Stammkunde werden")


def new_master_key() -> str:
    """A fresh base64 master key, as the README tells operators to create one."""
    return base64.b64encode(os.urandom(32)).decode()


def personal_data(**changes: Any) -> PersonalData:
    base: dict[str, Any] = {
        "company": MARKERS[0], "contact_name": MARKERS[1], "phone": MARKERS[2], "email": MARKERS[3],
        "address": Address(street=MARKERS[4], postal_code="15345", city=MARKERS[5])}
    base.update(changes)
    return PersonalData(**base)


def invoice_issued(rid: uuid.UUID, **changes: object) -> InvoiceIssued:
    """An ``InvoiceIssued`` (a Kleinbetragsrechnung) of request ``rid``; ``changes`` replace fields."""
    t = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)
    fields: dict[str, object] = {
        "invoice_number": "RE-2025-0001", "session_id": uuid.uuid4(), "request_id": rid, "kind": InvoiceKind.SMALL,
        "issued_at": t, "service_date": t, "tariff_version": "2025-01", "raw_seconds": 600, "billed_seconds": 900,
        "lines": (), "net_total": Decimal("25.00"), "vat_rate": Decimal("0.19"), "vat_total": Decimal("4.75"),
        "gross_total": Decimal("29.75")}
    fields.update(changes)
    return InvoiceIssued(**fields)  # type: ignore[arg-type]


def statement(text: str = MARKERS[6]) -> PromotionStatement:
    return PromotionStatement(text=text, technician="tech-07",
                              stated_at=datetime(2025, 3, 1, 10, 0, tzinfo=UTC))


@dataclass
class Clock:
    """A clock tests can move."""

    now: datetime = field(default_factory=lambda: datetime(2025, 3, 1, 9, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@dataclass
class _State:
    keys: dict[uuid.UUID, tuple[bytes, str, datetime]] = field(default_factory=dict)
    entries: dict[uuid.UUID, tuple[Sealed, datetime]] = field(default_factory=dict)
    statements: dict[uuid.UUID, tuple[Sealed, datetime]] = field(default_factory=dict)
    #: (request_id, scope) -> marker: one row per erasure step
    erasures: dict[tuple[uuid.UUID, ErasureScope], ErasureRecord] = field(default_factory=dict)
    #: kept delivery e-mail addresses (first erasure step)
    held: dict[uuid.UUID, tuple[Sealed, datetime]] = field(default_factory=dict)
    access_log: list[tuple[uuid.UUID, str, str, datetime, str]] = field(default_factory=list)
    #: request_id -> (claimed outcome, claimed_at); goes with the entry
    claims: dict[uuid.UUID, tuple[str, datetime]] = field(default_factory=dict)
    #: request_id -> (session_id, blocked_at, event_id): the billing holds
    holds: dict[uuid.UUID, tuple[uuid.UUID, datetime, uuid.UUID]] = field(default_factory=dict)


class FakeVaultStore:
    """In-memory VaultStore with transactions (snapshot on begin, restore on failure)."""

    def __init__(self) -> None:
        self.s = _State()
        self.locked: list[uuid.UUID] = []

    async def lock(self, request_id: uuid.UUID) -> None:
        self.locked.append(request_id)

    async def lock_all(self, request_ids: Sequence[uuid.UUID]) -> None:
        for rid in sorted(set(request_ids)):
            await self.lock(rid)

    async def erasure(self, request_id: uuid.UUID) -> ErasureRecord | None:
        rows = [m for (rid, _), m in self.s.erasures.items() if rid == request_id]
        return min(rows, key=lambda m: (m.partial, m.erased_at), default=None)

    def erased_ids(self) -> set[uuid.UUID]:
        """Requests with any marker."""
        return {rid for rid, _ in self.s.erasures}

    async def load(self, request_id: uuid.UUID) -> SealedEntry | None:
        if request_id not in self.s.entries:
            return None
        wrapped, kek_id, _ = self.s.keys[request_id]
        data, stored_at = self.s.entries[request_id]
        st = self.s.statements.get(request_id)
        return SealedEntry(request_id=request_id, wrapped_key=wrapped, kek_id=kek_id, data=data,
                           stored_at=stored_at, statement=st[0] if st else None)

    async def current(self, request_id: uuid.UUID) -> tuple[ErasureRecord | None, SealedEntry | None]:
        marker = await self.erasure(request_id)
        return (marker, None) if marker else (None, await self.load(request_id))

    async def current_all(self, request_ids: Sequence[uuid.UUID],
                          ) -> dict[uuid.UUID, tuple[ErasureRecord | None, SealedEntry | None]]:
        return {rid: await self.current(rid) for rid in request_ids}

    async def stored_at(self, request_id: uuid.UUID) -> datetime | None:
        e = self.s.entries.get(request_id)
        return e[1] if e else None

    async def insert_entry(self, entry: SealedEntry) -> None:
        if entry.request_id in self.s.keys:
            raise KeyError("duplicate key row")  # the primary key in PostgreSQL
        self.s.keys[entry.request_id] = (entry.wrapped_key, entry.kek_id, entry.stored_at)
        self.s.entries[entry.request_id] = (entry.data, entry.stored_at)

    async def put_new(self, entry: SealedEntry) -> PutOutcome:
        self.locked.append(entry.request_id)
        if await self.erasure(entry.request_id) is not None:
            return "erased"
        if entry.request_id in self.s.keys:
            return "exists"
        await self.insert_entry(entry)
        return "stored"

    async def claim_new(self, request_id: uuid.UUID, outcome: str, at: datetime, *, purpose: str,
                        caller: str) -> ClaimNewOutcome:
        self.locked.append(request_id)
        if (await self.erasure(request_id) is not None or request_id not in self.s.entries
                or request_id in self.s.claims):
            return "other"
        await self.set_claim(request_id, outcome, at)
        await self.log_access(request_id, purpose, "ok", at, caller=caller)
        return "stored"

    async def insert_statement(self, request_id: uuid.UUID, st: Sealed, at: datetime) -> None:
        if request_id in self.s.statements or request_id not in self.s.keys:
            raise KeyError("statement row refused")
        self.s.statements[request_id] = (st, at)

    async def log_access(self, request_id: uuid.UUID, purpose: str, outcome: str, at: datetime, *,
                         caller: str) -> None:
        self.s.access_log.append((request_id, purpose, outcome, at, caller))

    async def claim_of(self, request_id: uuid.UUID) -> str | None:
        claimed = self.s.claims.get(request_id) if request_id in self.s.entries else None
        return claimed[0] if claimed else None

    async def claim_state(self, request_id: uuid.UUID) -> tuple[ErasureRecord | None, bool, str | None]:
        marker = await self.erasure(request_id)
        if marker:
            return marker, False, None
        return None, await self.stored_at(request_id) is not None, await self.claim_of(request_id)

    async def set_claim(self, request_id: uuid.UUID, outcome: str, at: datetime) -> None:
        if request_id in self.s.entries:
            self.s.claims.setdefault(request_id, (outcome, at))

    async def access_log(self, request_id: uuid.UUID) -> list[AccessRecord]:
        return [AccessRecord(*row) for row in sorted(
            (r for r in self.s.access_log if r[0] == request_id), key=lambda r: r[3])]

    async def prune_access_log(self, before: datetime) -> int:
        kept = [r for r in self.s.access_log if r[3] >= before]
        pruned = len(self.s.access_log) - len(kept)
        self.s.access_log = kept
        return pruned

    async def replace_data(self, request_id: uuid.UUID, data: Sealed) -> None:
        _, stored_at = self.s.entries[request_id]
        self.s.entries[request_id] = (data, stored_at)

    async def delete_data(self, request_id: uuid.UUID, *, keep_key: bool = False) -> bool:
        self.s.statements.pop(request_id, None)
        had = self.s.entries.pop(request_id, None) is not None
        if keep_key:
            return had
        self.s.claims.pop(request_id, None)
        held = self.s.held.pop(request_id, None) is not None
        return self.s.keys.pop(request_id, None) is not None or had or held

    async def delete_data_all(self, requests: Sequence[tuple[uuid.UUID, bool]]) -> dict[uuid.UUID, bool]:
        return {rid: await self.delete_data(rid, keep_key=keep) for rid, keep in requests}

    async def insert_delivery_email(self, request_id: uuid.UUID, email: Sealed, at: datetime) -> None:
        if request_id not in self.s.keys:
            raise KeyError("delivery e-mail row refused")
        self.s.held[request_id] = (email, at)

    async def insert_delivery_emails(self, emails: Sequence[tuple[uuid.UUID, Sealed]], at: datetime) -> None:
        for rid, email in emails:
            await self.insert_delivery_email(rid, email, at)

    async def load_delivery_email(self, request_id: uuid.UUID) -> HeldEmail | None:
        held = self.s.held.get(request_id)
        if held is None:
            return None
        return HeldEmail(request_id, self.s.keys[request_id][0], held[0])

    async def due_delivery_holds(self, now: datetime, limit: int) -> list[ErasureRecord]:
        final = {rid for (rid, scope) in self.s.erasures if scope is not ErasureScope.ALL_BUT_DELIVERY_EMAIL}
        due = [m for m in self.s.erasures.values() if m.partial and m.request_id not in final
               and m.delivery_hold_until is not None and m.delivery_hold_until <= now]
        return sorted(due, key=lambda m: m.delivery_hold_until or now)[:limit]

    async def insert_erasure(self, erasure: Erasure, event: Event | None = None) -> bool:
        # the event's outbox row: the fake unit of work collects it from ``uow.written``
        if (erasure.request_id, erasure.scope) in self.s.erasures:
            return False
        self.s.erasures[(erasure.request_id, erasure.scope)] = ErasureRecord(
            request_id=erasure.request_id, reason=erasure.reason,
            trigger_event_id=erasure.trigger_event_id, erased_at=erasure.erased_at,
            had_data=erasure.had_data, scope=erasure.scope,
            delivery_hold_until=erasure.delivery_hold_until)
        return True

    async def insert_erasures(self, erasures: Sequence[tuple[Erasure, Event]]) -> set[uuid.UUID]:
        return {e.request_id for e, event in erasures if await self.insert_erasure(e, event)}

    async def stored_before(self, cutoff: datetime, limit: int) -> list[StoredRef]:
        return [r for r in await self.pending(10**9) if r.stored_at <= cutoff][:limit]

    async def record_billing_block(self, request_id: uuid.UUID, session_id: uuid.UUID, blocked_at: datetime,
                                   event_id: uuid.UUID) -> bool:
        known = self.s.holds.get(request_id)
        if known is not None and known[1] <= blocked_at:
            return False
        self.s.holds[request_id] = (session_id, blocked_at, event_id)
        return True

    async def billing_blocked_at(self, request_id: uuid.UUID) -> datetime | None:
        hold = self.s.holds.get(request_id)
        return hold[1] if hold else None

    async def due_for_erasure(self, stored_before: datetime, blocked_before: datetime,
                              limit: int) -> list[StoredRef]:
        return [r for r in await self.pending(10**9) if r.stored_at <= stored_before
                and (r.billing_blocked_at is None or r.billing_blocked_at <= blocked_before)][:limit]

    async def pending(self, limit: int) -> list[StoredRef]:
        holds = {k: v[1] for k, v in self.s.holds.items()}
        refs = sorted((StoredRef(k, v[1], holds.get(k)) for k, v in self.s.entries.items()),
                      key=lambda r: r.stored_at)
        return refs[:limit]

    async def list_erasures(self, limit: int) -> list[ErasureRecord]:
        return sorted(self.s.erasures.values(), key=lambda r: (-r.erased_at.timestamp(), r.request_id))[:limit]

    async def purge_erased(self) -> int:
        purged = 0
        for rid in self.erased_ids():
            marker = await self.erasure(rid)
            purged += await self.delete_data(rid, keep_key=marker is not None and marker.partial)
        return purged

    async def add_markers(self, erasures: Iterable[ErasureRecord]) -> int:
        added = 0
        for e in erasures:
            if (e.request_id, e.scope) not in self.s.erasures:
                self.s.erasures[(e.request_id, e.scope)] = e
                added += 1
        return added

    # -------------------------------------------------------------- test plumbing
    def for_conn(self, _conn: object, _at_commit: object = None) -> FakeVaultStore:
        return self

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        snapshot = copy.deepcopy(self.s)
        try:
            yield
        except BaseException:
            self.s = snapshot
            raise


class FakeUnitsOfWork:
    """``runtime.unit_of_work`` stand-in: committed events land in ``outbox``."""

    def __init__(self, store: FakeVaultStore, clock: Callable[[], datetime] = utc_now) -> None:
        self.store = store
        self.clock = clock
        self.outbox: list[PersonalDataErased] = []

    @asynccontextmanager
    async def __call__(self) -> AsyncIterator[UnitOfWork]:
        async with self.store.transaction():
            uow = UnitOfWork(conn=None, now=self.clock())
            yield uow
        self.outbox.extend(_erased(uow.emitted + uow.outboxed))

    async def run_handler(self, handler: Any, event: Event) -> list[PersonalDataErased]:
        """Run a consumed-event handler the way the platform does (one transaction)."""
        async with self() as uow:
            await handler(event, uow)
        return _erased(uow.emitted + uow.outboxed)


def _erased(events: Iterable[Event]) -> list[PersonalDataErased]:
    """Retention emits nothing else; the check makes a stray event type fail loudly."""
    out = [e for e in events if isinstance(e, PersonalDataErased)]
    assert len(out) == len(list(events))
    return out


# ---------------------------------------------------------------------- real-infrastructure helpers
async def read_subject(js: Any, subject: str) -> list[Any]:
    """Every message on ``subject`` in the stream right now (ephemeral, ack-less consumer)."""
    from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

    from fw_contracts import STREAM_NAME

    psub = await js.pull_subscribe(subject, stream=STREAM_NAME, config=ConsumerConfig(
        ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.ALL, inactive_threshold=10.0))
    try:
        remaining = (await psub.consumer_info()).num_pending or 0
        out: list[Any] = []
        while remaining > 0:
            msgs = await psub.fetch(min(remaining, 500), timeout=5)
            out.extend(msgs)
            remaining = msgs[-1].metadata.num_pending
        return out
    finally:
        await psub.unsubscribe()


def settings_for(fw_env: Any, **changes: Any) -> Any:
    """Settings for the test environment (the sweep is slow unless a test speeds it up)."""
    from fw_retention.settings import Settings

    env = fw_env.settings_env("retention")
    values: dict[str, Any] = {
        "nats_url": fw_env.nats_url, "database_url": fw_env.dsn("retention"), "http_port": 0,
        "master_key": env["FW_RETENTION_MASTER_KEY"], "sweep_interval_s": 3600.0}
    values.update(changes)
    return Settings(**values)


@asynccontextmanager
async def running(fw_env: Any, clock: Clock, **changes: Any) -> AsyncIterator[Any]:
    """A started retention service (runtime, consumers, vault, sweep); stopped on exit."""
    from fw_retention.bootstrap import build

    app = build(settings_for(fw_env, **changes), clock=clock)
    await app.start()
    try:
        yield app
    finally:
        await app.stop()


class FakeAvvRegister:
    """In-memory AvvRegister."""

    def __init__(self) -> None:
        self.rows: list[AvvRequest] = []

    async def add(self, request: AvvRequest) -> None:
        self.rows.append(request)

    async def newest(self, limit: int) -> list[AvvRequest]:
        return sorted(self.rows, key=lambda r: r.requested_at, reverse=True)[:limit]

    async def prune(self, before: datetime) -> int:
        kept = [r for r in self.rows if r.requested_at >= before]
        pruned = len(self.rows) - len(kept)
        self.rows = kept
        return pruned
