"""Vault use cases through the responder's ``handle`` with an in-memory store (no NATS, no SQL)."""

from __future__ import annotations

import json
import logging
import os
import uuid
from datetime import datetime

import pytest

from fw_contracts.events import ErasureReason
from fw_contracts.vault import ClaimRequest, GetRequest, PutRequest, StatementRequest, VaultError, VaultReply
from fw_contracts.wire import VaultCaller, VaultSubject, vault_subject
from fw_retention.adapters.crypto import EnvelopeCipher
from fw_retention.application.erasure import erase
from fw_retention.domain.callers import CALLERS, decide_claim
from fw_retention.domain.rules import Write
from fw_retention.entrypoints.vault_responder import ROUTES, VaultResponder

from retention_testkit import MARKERS, Clock, FakeUnitsOfWork, FakeVaultStore, personal_data, statement


@pytest.fixture
def store() -> FakeVaultStore:
    return FakeVaultStore()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def uows(store: FakeVaultStore) -> FakeUnitsOfWork:
    return FakeUnitsOfWork(store)


@pytest.fixture
def vault(store: FakeVaultStore, uows: FakeUnitsOfWork, clock: Clock) -> VaultResponder:
    return VaultResponder(unit_of_work=uows, store_for=store.for_conn,
                          cipher=EnvelopeCipher(os.urandom(32)), clock=clock)


async def put(vault: VaultResponder, rid: uuid.UUID, **changes: object) -> VaultReply:
    body = PutRequest(request_id=rid, data=personal_data(**changes)).model_dump_json().encode()
    return await vault.handle(vault_subject(VaultSubject.PUT, "intake"), body)


async def get(vault: VaultResponder, rid: uuid.UUID, purpose: str = "billing", caller: str | None = None) -> VaultReply:
    """A read as its natural caller (session for the queue, billing otherwise) unless ``caller``."""
    body = GetRequest(request_id=rid, purpose=purpose).model_dump_json().encode()  # type: ignore[arg-type]
    who = caller or ("session" if purpose == "queue" else "billing")
    return await vault.handle(vault_subject(VaultSubject.GET, who), body)


async def claim(vault: VaultResponder, rid: uuid.UUID, outcome: str, caller: str) -> VaultReply:
    body = ClaimRequest(request_id=rid, outcome=outcome).model_dump_json().encode()  # type: ignore[arg-type]
    return await vault.handle(vault_subject(VaultSubject.CLAIM, caller), body)


async def add_statement(vault: VaultResponder, rid: uuid.UUID, text: str = MARKERS[6]) -> VaultReply:
    body = StatementRequest(request_id=rid, statement=statement(text)).model_dump_json().encode()
    return await vault.handle(vault_subject(VaultSubject.ADD_STATEMENT, "session"), body)


async def erase_now(uows: FakeUnitsOfWork, store: FakeVaultStore, rid: uuid.UUID, now: datetime) -> None:
    async with uows() as uow:
        await erase(store, uow, rid, ErasureReason.INVOICE_ISSUED, now=now)


async def test_put_then_get_round_trip(vault: VaultResponder, store: FakeVaultStore, clock: Clock) -> None:
    rid = uuid.uuid4()
    assert (await put(vault, rid)).ok
    reply = await get(vault, rid, "queue")
    assert reply.ok and reply.entry is not None
    assert reply.entry.data == personal_data()
    assert reply.entry.statement is None
    assert reply.entry.stored_at == clock.now
    assert store.s.access_log == [(rid, "queue", "ok", clock.now, "session")]
    assert rid in store.locked


async def test_stored_bytes_are_encrypted(vault: VaultResponder, store: FakeVaultStore) -> None:
    rid = uuid.uuid4()
    await put(vault, rid)
    await add_statement(vault, rid)
    blob = repr(store.s).encode()
    for marker in MARKERS:
        assert marker.encode() not in blob


async def test_identical_retry_is_ok_different_data_exists(vault: VaultResponder, store: FakeVaultStore) -> None:
    rid = uuid.uuid4()
    assert (await put(vault, rid)).ok
    wrapped = store.s.keys[rid][0]
    assert (await put(vault, rid)).ok
    assert store.s.keys[rid][0] == wrapped  # nothing rewritten
    reply = await put(vault, rid, phone="+4989000000")
    assert (reply.ok, reply.error) == (False, VaultError.EXISTS)
    assert (await get(vault, rid)).entry.data == personal_data()  # type: ignore[union-attr]


async def test_one_data_key_per_request(vault: VaultResponder, store: FakeVaultStore) -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    await put(vault, a)
    await put(vault, b)
    assert store.s.keys[a][0] != store.s.keys[b][0]
    assert store.s.entries[a][0].ciphertext != store.s.entries[b][0].ciphertext


async def test_statement_is_stored_once_and_returned(vault: VaultResponder) -> None:
    rid = uuid.uuid4()
    assert (await add_statement(vault, rid)).error is VaultError.NOT_FOUND
    await put(vault, rid)
    assert (await add_statement(vault, rid)).ok
    assert (await add_statement(vault, rid)).ok  # identical retry
    assert (await add_statement(vault, rid, "etwas anderes")).error is VaultError.EXISTS
    entry = (await get(vault, rid)).entry
    assert entry is not None and entry.statement == statement()


async def test_unknown_request_is_not_found(vault: VaultResponder, store: FakeVaultStore) -> None:
    rid = uuid.uuid4()
    reply = await get(vault, rid)
    assert (reply.ok, reply.error, reply.entry) == (False, VaultError.NOT_FOUND, None)
    assert store.s.access_log[-1][2] == "not_found"


async def test_erased_request_refuses_everything(vault: VaultResponder, store: FakeVaultStore,
                                                 uows: FakeUnitsOfWork, clock: Clock) -> None:
    rid = uuid.uuid4()
    await put(vault, rid)
    erased_at = clock.advance(hours=1)
    await erase_now(uows, store, rid, erased_at)
    for reply in (await get(vault, rid), await put(vault, rid), await add_statement(vault, rid)):
        assert (reply.ok, reply.error, reply.erased_at, reply.entry) == (False, VaultError.ERASED, erased_at, None)
    assert rid not in store.s.keys and rid not in store.s.entries


@pytest.mark.parametrize("subject", sorted(ROUTES))
@pytest.mark.parametrize("body", [b"", b"not json", b"{}", b"[1]", b'{"request_id": "x", "data": 1}',
                                  json.dumps({"request_id": str(uuid.uuid4()), "purpose": "gossip",
                                              "data": {"company": MARKERS[0]}}).encode(), b"\xff\xfe"])
async def test_invalid_bodies(vault: VaultResponder, subject: str, body: bytes,
                              caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    reply = await vault.handle(subject, body)
    assert reply == VaultReply(ok=False, error=VaultError.INVALID)
    assert MARKERS[0] not in reply.model_dump_json()
    assert MARKERS[0] not in " ".join(repr(r.__dict__) for r in caplog.records)


async def test_unknown_subject_is_invalid(vault: VaultResponder) -> None:
    assert (await vault.handle("vault.v1.nope", b"{}")).error is VaultError.INVALID
    # the shared subjects of old and any operation a caller does not have are served by nobody
    body = GetRequest(request_id=uuid.uuid4(), purpose="queue").model_dump_json().encode()
    for subject in (VaultSubject.GET.value, vault_subject(VaultSubject.GET, "intake"),
                    vault_subject(VaultSubject.PUT, "billing"), vault_subject(VaultSubject.ADD_STATEMENT, "billing")):
        assert subject not in ROUTES
        assert (await vault.handle(subject, body)).error is VaultError.INVALID


def test_one_subject_per_operation_and_caller() -> None:
    assert sorted(ROUTES) == sorted([
        "vault.v1.put.intake", "vault.v1.claim.intake",
        "vault.v1.get.session", "vault.v1.statement.session", "vault.v1.address.session", "vault.v1.claim.session",
        "vault.v1.get.billing"])
    assert all(ROUTES[s][2] == VaultCaller(s.rsplit(".", 1)[1]) for s in ROUTES)
    assert {c: sorted(r.purposes) for c, r in CALLERS.items()} == {
        VaultCaller.INTAKE: [], VaultCaller.SESSION: ["queue"], VaultCaller.BILLING: ["billing", "customer_account", "delivery"]}


@pytest.mark.parametrize(("caller", "purpose"), [("billing", "queue"), ("session", "billing"),
                                                 ("session", "customer_account"), ("billing", "data_subject_access"),
                                                 ("session", "data_subject_access")])
async def test_a_caller_reads_only_for_its_own_purposes(vault: VaultResponder, store: FakeVaultStore,
                                                        clock: Clock, caller: str, purpose: str) -> None:
    rid = uuid.uuid4()
    await put(vault, rid)
    reply = await get(vault, rid, purpose, caller=caller)
    assert (reply.ok, reply.error, reply.entry) == (False, VaultError.FORBIDDEN, None)
    assert store.s.access_log == [(rid, purpose, "forbidden", clock.now, caller)]
    # its own purposes are served
    own = "queue" if caller == "session" else "billing"
    assert (await get(vault, rid, own, caller=caller)).ok
    assert store.s.access_log[-1] == (rid, own, "ok", clock.now, caller)


# ---------------------------------------------------------------- claims: withdraw vs start
def test_decide_claim() -> None:
    assert decide_claim(erased=True, has_entry=False, existing=None, new="withdrawn") is Write.ERASED
    assert decide_claim(erased=False, has_entry=False, existing=None, new="withdrawn") is Write.NOT_FOUND
    assert decide_claim(erased=False, has_entry=True, existing=None, new="withdrawn") is Write.STORE
    assert decide_claim(erased=False, has_entry=True, existing="withdrawn", new="withdrawn") is Write.UNCHANGED
    assert decide_claim(erased=False, has_entry=True, existing="session_started", new="withdrawn") is Write.CONFLICT


async def test_the_first_claim_wins_the_same_again_is_ok_the_other_is_refused(
        vault: VaultResponder, store: FakeVaultStore, clock: Clock) -> None:
    rid = uuid.uuid4()
    await put(vault, rid)
    assert (await claim(vault, rid, "session_started", "session")).ok
    assert (await claim(vault, rid, "session_started", "session")).ok  # a retry
    lost = await claim(vault, rid, "withdrawn", "intake")
    assert (lost.ok, lost.error) == (False, VaultError.CLAIMED)
    assert store.s.claims[rid][0] == "session_started"
    assert [(p, o, c) for _, p, o, _, c in store.s.access_log] == [
        ("claim_session_started", "ok", "session"), ("claim_session_started", "unchanged", "session"),
        ("claim_withdrawn", "claimed", "intake")]


async def test_a_caller_claims_only_its_own_outcome_and_never_after_erasure(
        vault: VaultResponder, store: FakeVaultStore, uows: FakeUnitsOfWork, clock: Clock) -> None:
    rid = uuid.uuid4()
    await put(vault, rid)
    assert (await claim(vault, rid, "withdrawn", "session")).error is VaultError.FORBIDDEN
    assert (await claim(vault, rid, "session_started", "intake")).error is VaultError.FORBIDDEN
    assert (await claim(vault, uuid.uuid4(), "withdrawn", "intake")).error is VaultError.NOT_FOUND
    assert rid not in store.s.claims
    assert (await claim(vault, rid, "withdrawn", "intake")).ok
    await erase_now(uows, store, rid, clock.advance(hours=1))
    for outcome, caller in (("withdrawn", "intake"), ("session_started", "session")):
        assert (await claim(vault, rid, outcome, caller)).error is VaultError.ERASED
    assert rid not in store.s.claims


async def test_internal_failure_replies_internal_without_data(
        vault: VaultResponder, store: FakeVaultStore, caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(*_: object) -> None:
        raise RuntimeError(f"boom {MARKERS[1]}")

    monkeypatch.setattr(store, "insert_entry", broken)
    caplog.set_level(logging.DEBUG)
    rid = uuid.uuid4()
    reply = await put(vault, rid)
    assert reply == VaultReply(ok=False, error=VaultError.INTERNAL)
    logged = " ".join(repr(r.__dict__) for r in caplog.records)
    assert MARKERS[1] not in logged and "boom" not in logged
    assert str(rid) in logged  # the id is logged, the data never


async def test_wrong_master_key_replies_internal(store: FakeVaultStore, uows: FakeUnitsOfWork,
                                                 clock: Clock) -> None:
    def vault_with(key: bytes) -> VaultResponder:
        return VaultResponder(unit_of_work=uows, store_for=store.for_conn, cipher=EnvelopeCipher(key),
                              clock=clock)

    rid = uuid.uuid4()
    await put(vault_with(os.urandom(32)), rid)
    assert (await get(vault_with(os.urandom(32)), rid)).error is VaultError.INTERNAL
