"""Billing address in the vault, the Art. 15 export, the AVV register and protocol pruning (fakes)."""

from __future__ import annotations

import base64
import os
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from fw_contracts.events import ErasureReason
from fw_contracts.vault import Address, AddressRequest, GetRequest, VaultError, VaultReply
from fw_contracts.wire import VaultSubject, vault_subject
from fw_retention.adapters.avv import load_avv, render_html
from fw_retention.adapters.crypto import EnvelopeCipher
from fw_retention.application.avv import AvvChannel, prune_requests, record_request
from fw_retention.application.erasure import erase
from fw_retention.application.export import export_request
from fw_retention.domain.rules import Write, decide_address, records_cutoff
from fw_retention.entrypoints.vault_responder import VaultResponder
from fw_retention.settings import Settings

from retention_testkit import MARKERS, Clock, FakeAvvRegister, FakeUnitsOfWork, FakeVaultStore, personal_data, statement

ABANDON = timedelta(days=14)
HOLD = timedelta(days=90)
NEW_ADDRESS = Address(street="Neue Gasse 5", postal_code="10115", city="Berlin")


@pytest.fixture
def store() -> FakeVaultStore:
    return FakeVaultStore()


@pytest.fixture
def cipher() -> EnvelopeCipher:
    return EnvelopeCipher(os.urandom(32))


@pytest.fixture
def vault(store: FakeVaultStore, cipher: EnvelopeCipher) -> VaultResponder:
    return VaultResponder(unit_of_work=FakeUnitsOfWork(store), store_for=store.for_conn, cipher=cipher,
                          clock=Clock())


async def set_address(vault: VaultResponder, rid: uuid.UUID, address: Address = NEW_ADDRESS) -> VaultReply:
    body = AddressRequest(request_id=rid, address=address).model_dump_json().encode()
    return await vault.handle(vault_subject(VaultSubject.ADDRESS, "session"), body)


async def stored(vault: VaultResponder, store: FakeVaultStore, cipher: EnvelopeCipher, **changes: object) -> uuid.UUID:
    from fw_contracts.vault import PutRequest

    rid = uuid.uuid4()
    body = PutRequest(request_id=rid, data=personal_data(**changes)).model_dump_json().encode()
    assert (await vault.handle(vault_subject(VaultSubject.PUT, "intake"), body)).ok
    return rid


# ---------------------------------------------------------------- address
def test_decide_address() -> None:
    assert decide_address(erased=True, has_entry=True, existing=None, new=NEW_ADDRESS) is Write.ERASED
    assert decide_address(erased=False, has_entry=False, existing=None, new=NEW_ADDRESS) is Write.NOT_FOUND
    assert decide_address(erased=False, has_entry=True, existing=None, new=NEW_ADDRESS) is Write.STORE
    assert decide_address(erased=False, has_entry=True, existing=NEW_ADDRESS, new=NEW_ADDRESS) is Write.UNCHANGED
    other = NEW_ADDRESS.model_copy(update={"city": "Potsdam"})
    assert decide_address(erased=False, has_entry=True, existing=other, new=NEW_ADDRESS) is Write.STORE


async def test_address_is_added_then_replaced_and_the_rest_kept(
        vault: VaultResponder, store: FakeVaultStore, cipher: EnvelopeCipher) -> None:
    rid = await stored(vault, store, cipher, address=None)
    before = store.s.entries[rid]
    assert (await set_address(vault, rid)).ok
    assert (await set_address(vault, rid)).ok  # an identical retry
    body = GetRequest(request_id=rid, purpose="billing").model_dump_json().encode()
    entry = (await vault.handle(vault_subject(VaultSubject.GET, "billing"), body)).entry
    assert entry is not None and entry.data.address == NEW_ADDRESS
    assert entry.data.company == MARKERS[0] and entry.stored_at == before[1]  # the deadline does not move
    corrected = NEW_ADDRESS.model_copy(update={"street": "Neue Gasse 7"})
    assert (await set_address(vault, rid, corrected)).ok
    entry = (await vault.handle(vault_subject(VaultSubject.GET, "billing"), body)).entry
    assert entry is not None and entry.data.address == corrected
    assert [(p, o) for _, p, o, _, _ in store.s.access_log if p == "billing_address"] == [
        ("billing_address", "updated"), ("billing_address", "unchanged"), ("billing_address", "updated")]
    for marker in MARKERS:  # the new ciphertext holds no plaintext either
        assert marker.encode() not in store.s.entries[rid][0].ciphertext


async def test_address_refused_after_erasure_and_for_unknown(vault: VaultResponder, store: FakeVaultStore,
                                                              cipher: EnvelopeCipher) -> None:
    unknown = await set_address(vault, uuid.uuid4())
    assert not unknown.ok and unknown.error is VaultError.NOT_FOUND
    rid = await stored(vault, store, cipher)
    uows = FakeUnitsOfWork(store)
    async with uows() as uow:
        await erase(store, uow, rid, ErasureReason.ABANDONED, now=datetime(2025, 3, 2, tzinfo=UTC))
    reply = await set_address(vault, rid)
    assert not reply.ok and reply.error is VaultError.ERASED and reply.erased_at is not None
    assert rid not in store.s.entries


async def test_invalid_address_body_is_invalid_without_echo(vault: VaultResponder) -> None:
    body = b'{"request_id": "%s", "address": {"street": "Geheimweg 1", "postal_code": "1", "city": "X"}}' % (
        str(uuid.uuid4()).encode())
    reply = await vault.handle(vault_subject(VaultSubject.ADDRESS, "session"), body)
    assert reply.error is VaultError.INVALID and b"Geheimweg" not in reply.model_dump_json().encode()


# ---------------------------------------------------------------- export
async def test_export_before_and_after_erasure(vault: VaultResponder, store: FakeVaultStore,
                                               cipher: EnvelopeCipher) -> None:
    rid = await stored(vault, store, cipher)
    from fw_contracts.vault import StatementRequest

    body = StatementRequest(request_id=rid, statement=statement()).model_dump_json().encode()
    assert (await vault.handle(vault_subject(VaultSubject.ADD_STATEMENT, "session"), body)).ok
    now = datetime(2025, 3, 1, 9, 5, tzinfo=UTC)
    export = await export_request(store, cipher, rid, now, ABANDON, billing_hold=HOLD)
    assert export.state == "stored" and export.personal_data == personal_data()
    assert export.promotion_statement == statement() and export.erasure is None
    assert export.erasure_deadline == export.stored_at + ABANDON  # type: ignore[operator]
    assert [a.purpose for a in export.access_log] == ["data_subject_access"]  # the export itself

    uows = FakeUnitsOfWork(store)
    erased_at = datetime(2025, 3, 2, 8, 0, tzinfo=UTC)
    async with uows() as uow:
        await erase(store, uow, rid, ErasureReason.INVOICE_ISSUED, now=erased_at)
    after = await export_request(store, cipher, rid, erased_at + timedelta(hours=1), ABANDON,
                                 billing_hold=HOLD)
    assert after.state == "erased" and after.personal_data is None and after.promotion_statement is None
    assert after.erasure is not None and after.erasure.erased_at == erased_at
    assert after.erasure.reason is ErasureReason.INVOICE_ISSUED and "Rechnung ausgestellt" in after.note_de
    assert [(a.purpose, a.outcome) for a in after.access_log] == [
        ("data_subject_access", "ok"), ("data_subject_access", "erased")]
    text = after.model_dump_json()
    for marker in MARKERS:
        assert marker not in text


async def test_export_of_a_held_request_shows_the_end_of_the_billing_hold(
        vault: VaultResponder, store: FakeVaultStore, cipher: EnvelopeCipher) -> None:
    rid = await stored(vault, store, cipher)
    blocked_at = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    await store.record_billing_block(rid, uuid.uuid4(), blocked_at, uuid.uuid4())
    export = await export_request(store, cipher, rid, blocked_at, ABANDON, billing_hold=HOLD)
    assert export.erasure_deadline == blocked_at + HOLD
    uows = FakeUnitsOfWork(store)
    async with uows() as uow:
        await erase(store, uow, rid, ErasureReason.ABANDONED, now=blocked_at + HOLD)
    after = await export_request(store, cipher, rid, blocked_at + HOLD, ABANDON, billing_hold=HOLD)
    assert "Frist für die Abrechnung abgelaufen" in after.note_de


async def test_export_of_unknown_request_is_logged(store: FakeVaultStore, cipher: EnvelopeCipher) -> None:
    rid = uuid.uuid4()
    export = await export_request(store, cipher, rid, datetime(2025, 3, 1, tzinfo=UTC), ABANDON,
                                  billing_hold=HOLD)
    assert export.state == "unknown" and export.personal_data is None
    assert store.s.access_log[-1][1:3] == ("data_subject_access", "not_found")


# ---------------------------------------------------------------- AVV
def test_avv_template_is_german_versioned_and_marked_as_template() -> None:
    doc = load_avv()
    assert doc.version == "2026-01" and len(doc.sha256) == 64
    assert "Art. 28" in doc.markdown and "Vorlage" in doc.markdown and "rechtlich prüfen" in doc.markdown
    for tom in ("AES-256-GCM", "Keine Speicherung von Sitzungsinhalten", "Löschung auch nach Wiederherstellung"):
        assert tom in doc.markdown
    html = render_html(doc)
    assert html.startswith("<!doctype html>") and "<table>" in html and doc.sha256 in html


async def test_avv_requests_recorded_listed_and_pruned() -> None:
    register, doc = FakeAvvRegister(), load_avv()
    t = datetime(2025, 6, 1, tzinfo=UTC)
    first = await record_request(register, doc, channel=AvvChannel.PHONE, customer_number="K00001",
                                 ticket=None, now=t)
    await record_request(register, doc, channel=AvvChannel.EMAIL, customer_number=None, ticket="K7MQ-3XA",
                         now=t + timedelta(days=1))
    assert first.avv_sha256 == doc.sha256 and first.avv_version == doc.version
    assert [r.channel for r in await register.newest(10)] == [AvvChannel.EMAIL, AvvChannel.PHONE]
    # end of the 3rd calendar year after 2025 is 31.12.2028: kept through 2028, gone in 2029
    assert await prune_requests(register, now=datetime(2028, 12, 31, tzinfo=UTC), keep_years=3) == 0
    assert await prune_requests(register, now=datetime(2029, 1, 1, tzinfo=UTC), keep_years=3) == 2


def test_records_cutoff() -> None:
    assert records_cutoff(datetime(2029, 6, 1, tzinfo=UTC), 3) == datetime(2026, 1, 1, tzinfo=UTC)


# ---------------------------------------------------------------- settings
def test_abandon_after_seconds_overrides_days() -> None:
    key = base64.b64encode(os.urandom(32)).decode()
    assert Settings(master_key=key).abandon_after == timedelta(days=14)
    assert Settings(master_key=key, abandon_after_s=2.5).abandon_after == timedelta(seconds=2.5)
    assert Settings(master_key=key).records_keep_years == 3
