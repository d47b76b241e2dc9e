"""One contract for every VaultStore: run against the in-memory fake and against PostgreSQL.

Subclasses provide the ``tx`` fixture: a callable opening a transaction that yields a store.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from fw_contracts.events import ErasureReason, ErasureScope, PersonalDataErased
from fw_retention.application.ports import ErasureRecord, Sealed, SealedEntry
from fw_retention.domain.rules import Erasure

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def entry(rid: uuid.UUID, at: datetime = T0) -> SealedEntry:
    return SealedEntry(request_id=rid, wrapped_key=b"w" * 60, kek_id="k1", data=Sealed(b"n" * 12, b"ct"),
                       stored_at=at)


def erasure(rid: uuid.UUID, at: datetime = T0, had: bool = True) -> Erasure:
    return Erasure(request_id=rid, reason=ErasureReason.INVOICE_ISSUED, trigger_event_id=uuid.uuid4(),
                   erased_at=at, had_data=had)


class VaultStoreContract:
    async def test_entry_round_trip(self, tx: Any) -> None:
        rid = uuid.uuid4()
        async with tx() as store:
            assert await store.load(rid) is None and await store.stored_at(rid) is None
            await store.insert_entry(entry(rid))
        async with tx() as store:
            loaded = await store.load(rid)
            assert loaded == entry(rid)
            await store.insert_statement(rid, Sealed(b"s" * 12, b"st"), T0)
        async with tx() as store:
            assert (await store.load(rid)).statement == Sealed(b"s" * 12, b"st")
            assert await store.stored_at(rid) == T0

    async def test_current_is_the_marker_or_else_the_entry(self, tx: Any) -> None:
        rid, other = uuid.uuid4(), uuid.uuid4()
        async with tx() as store:
            assert await store.current(rid) == (None, None)
            await store.insert_entry(entry(rid))
            await store.insert_entry(entry(other, T0 + timedelta(1)))
        async with tx() as store:
            assert await store.current(rid) == (None, entry(rid))
            await store.insert_statement(rid, Sealed(b"s" * 12, b"st"), T0)
            _, with_statement = await store.current(rid)
            assert with_statement == await store.load(rid) and with_statement.statement == Sealed(b"s" * 12, b"st")
            await store.lock(rid)
            assert await store.insert_erasure(erasure(rid)) is True  # a marker, the entry still there
        async with tx() as store:
            marker = await store.erasure(rid)
            assert marker is not None and await store.current(rid) == (marker, None)
            assert await store.current(other) == (None, entry(other, T0 + timedelta(1)))

    async def test_failed_transaction_leaves_nothing(self, tx: Any) -> None:
        rid = uuid.uuid4()
        try:
            async with tx() as store:
                await store.insert_entry(entry(rid))
                raise RuntimeError("abort")
        except RuntimeError:
            pass
        async with tx() as store:
            assert await store.load(rid) is None

    async def test_marker_once_and_delete(self, tx: Any) -> None:
        rid = uuid.uuid4()
        async with tx() as store:
            await store.insert_entry(entry(rid))
            await store.lock(rid)
            assert await store.delete_data(rid) is True
            assert await store.delete_data(rid) is False
            assert await store.insert_erasure(erasure(rid)) is True
            assert await store.insert_erasure(erasure(rid, T0 + timedelta(1))) is False
        async with tx() as store:
            marker = await store.erasure(rid)
            assert marker is not None and marker.erased_at == T0 and marker.had_data is True
            assert await store.load(rid) is None

    async def test_sweep_and_pending_order(self, tx: Any) -> None:
        ids = [uuid.uuid4() for _ in range(3)]
        async with tx() as store:
            for i, rid in enumerate(reversed(ids)):
                await store.insert_entry(entry(rid, T0 - timedelta(days=i)))
        async with tx() as store:
            assert [r.request_id for r in await store.pending(10)] == ids  # oldest first
            due = await store.stored_before(T0 - timedelta(days=1), 10)
            assert [(r.request_id, r.stored_at) for r in due] == [
                (ids[0], T0 - timedelta(days=2)), (ids[1], T0 - timedelta(days=1))]
            assert [r.request_id for r in await store.stored_before(T0, 1)] == ids[:1]

    async def test_billing_holds_keep_the_first_block_and_defer_the_sweep(self, tx: Any) -> None:
        plain, held, late = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        session, first, second = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        async with tx() as store:
            for rid in (plain, held, late):
                await store.insert_entry(entry(rid, T0 - timedelta(days=20)))
            assert await store.billing_blocked_at(held) is None
            assert await store.record_billing_block(held, session, T0 - timedelta(days=19), first) is True
            # a later announcement does not move the hold; a redelivery changes nothing
            assert await store.record_billing_block(held, session, T0 - timedelta(days=2), second) is False
            assert await store.record_billing_block(held, session, T0 - timedelta(days=19), first) is False
            assert await store.record_billing_block(late, session, T0 - timedelta(days=1), second) is True
            # an earlier one (seen out of order) does
            assert await store.record_billing_block(late, session, T0 - timedelta(days=3), first) is True
        async with tx() as store:
            assert await store.billing_blocked_at(held) == T0 - timedelta(days=19)
            assert await store.billing_blocked_at(late) == T0 - timedelta(days=3)
            mine = {plain, held, late}  # the PostgreSQL store may hold other tests' rows

            async def due(stored_before: datetime, blocked_before: datetime) -> dict[uuid.UUID, Any]:
                refs = await store.due_for_erasure(stored_before, blocked_before, 1000)
                return {r.request_id: r.billing_blocked_at for r in refs if r.request_id in mine}

            # stored long enough ago, blocked not long enough ago: only the unblocked one is due
            assert await due(T0 - timedelta(days=14), T0 - timedelta(days=90)) == {plain: None}
            assert await due(T0 - timedelta(days=14), T0 - timedelta(days=10)) == {
                plain: None, held: T0 - timedelta(days=19)}
            assert await due(T0 - timedelta(days=21), T0) == {}  # stored too late for the first rule
            pending = {r.request_id: r.billing_blocked_at for r in await store.pending(1000)}
            assert pending[plain] is None and pending[held] == T0 - timedelta(days=19)

    async def test_erasure_log_purge_and_markers(self, tx: Any) -> None:
        kept, erased, restored = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        async with tx() as store:
            for rid in (kept, erased, restored):
                await store.insert_entry(entry(rid))
            await store.insert_erasure(erasure(erased, T0 + timedelta(hours=1)))
        record = ErasureRecord(request_id=restored, reason=ErasureReason.ABANDONED, trigger_event_id=None,
                               erased_at=T0 + timedelta(hours=2), had_data=True)
        async with tx() as store:
            assert await store.add_markers([record, record]) == 1
            assert await store.add_markers([record]) == 0
            assert await store.purge_erased() == 2
            assert await store.purge_erased() == 0
        async with tx() as store:
            assert await store.load(kept) is not None
            assert await store.load(erased) is None and await store.load(restored) is None
            assert [r.request_id for r in await store.list_erasures(10)] == [restored, erased]  # newest first
            assert (await store.erasure(restored)) == record
            await store.log_access(kept, "queue", "ok", T0, caller="session")

    async def test_two_erasure_steps_keep_then_drop_the_delivery_email(self, tx: Any) -> None:
        """First step: entry and statement go, key and the kept e-mail stay, the marker refuses;
        the hold makes it due; purge keeps it; the second step takes everything."""
        rid, other = uuid.uuid4(), uuid.uuid4()
        held = Sealed(b"e" * 12, b"mail-ct")
        first = Erasure(request_id=rid, reason=ErasureReason.INVOICE_ISSUED, trigger_event_id=uuid.uuid4(),
                        erased_at=T0, had_data=True, scope=ErasureScope.ALL_BUT_DELIVERY_EMAIL,
                        delivery_hold_until=T0 + timedelta(days=14))
        async with tx() as store:
            await store.insert_entry(entry(rid))
            await store.insert_statement(rid, Sealed(b"s" * 12, b"st"), T0)
            await store.insert_delivery_email(rid, held, T0)
            assert await store.delete_data(rid, keep_key=True) is True
            assert await store.insert_erasure(first) is True
            assert await store.insert_erasure(first) is False
        async with tx() as store:
            assert await store.load(rid) is None
            kept = await store.load_delivery_email(rid)
            assert kept is not None and (kept.wrapped_key, kept.email) == (b"w" * 60, held)
            marker = await store.erasure(rid)
            assert marker is not None and marker.partial and marker.delivery_hold_until == T0 + timedelta(days=14)
            assert await store.due_delivery_holds(T0 + timedelta(days=13), 10) == []
            [due] = await store.due_delivery_holds(T0 + timedelta(days=14), 10)
            assert due.request_id == rid
            await store.purge_erased()  # restore safety must not take the kept address early
            assert await store.load_delivery_email(rid) is not None
        async with tx() as store:
            assert await store.delete_data(rid) is True
            assert await store.insert_erasure(Erasure(
                request_id=rid, reason=ErasureReason.INVOICE_DELIVERED, trigger_event_id=None,
                erased_at=T0 + timedelta(hours=1), had_data=True, scope=ErasureScope.DELIVERY_EMAIL)) is True
        async with tx() as store:
            assert await store.load_delivery_email(rid) is None
            final = await store.erasure(rid)
            assert final is not None and final.scope is ErasureScope.DELIVERY_EMAIL
            assert await store.due_delivery_holds(T0 + timedelta(days=30), 10) == []
            assert {(e.request_id, e.scope) for e in await store.list_erasures(10)} >= {
                (rid, ErasureScope.ALL_BUT_DELIVERY_EMAIL), (rid, ErasureScope.DELIVERY_EMAIL)}
            # markers of both steps come back from the stream once each
            restored = [ErasureRecord(request_id=other, reason=ErasureReason.INVOICE_ISSUED, trigger_event_id=None,
                                      erased_at=T0, had_data=True, scope=ErasureScope.ALL_BUT_DELIVERY_EMAIL,
                                      delivery_hold_until=T0 + timedelta(days=14)),
                        ErasureRecord(request_id=other, reason=ErasureReason.DELIVERY_HOLD_ENDED,
                                      trigger_event_id=None, erased_at=T0 + timedelta(days=14), had_data=True,
                                      scope=ErasureScope.DELIVERY_EMAIL)]
            assert await store.add_markers(restored) == 2
            assert await store.add_markers(restored) == 0

    async def test_replace_data_keeps_stored_at(self, tx: Any) -> None:
        rid = uuid.uuid4()
        async with tx() as store:
            await store.insert_entry(entry(rid))
            await store.replace_data(rid, Sealed(b"m" * 12, b"new"))
        async with tx() as store:
            loaded = await store.load(rid)
            assert loaded.data == Sealed(b"m" * 12, b"new") and loaded.stored_at == T0
            assert loaded.wrapped_key == entry(rid).wrapped_key

    async def test_claim_is_kept_with_the_entry_and_goes_with_it(self, tx: Any) -> None:
        rid, unknown = uuid.uuid4(), uuid.uuid4()
        async with tx() as store:
            await store.insert_entry(entry(rid))
            assert await store.claim_of(rid) is None
            await store.set_claim(rid, "withdrawn", T0)
        async with tx() as store:
            assert await store.claim_of(rid) == "withdrawn"
            await store.set_claim(rid, "session_started", T0)  # never overwrites the first
            assert await store.claim_of(rid) == "withdrawn"
            assert await store.claim_of(unknown) is None
        async with tx() as store:
            assert await store.delete_data(rid)
            assert await store.claim_of(rid) is None

    async def test_claim_state_is_the_marker_or_else_the_entry_and_its_claim(self, tx: Any) -> None:
        rid, unknown = uuid.uuid4(), uuid.uuid4()
        async with tx() as store:
            assert await store.claim_state(unknown) == (None, False, None)
            await store.insert_entry(entry(rid))
            assert await store.claim_state(rid) == (None, True, None)
            await store.set_claim(rid, "withdrawn", T0)
        async with tx() as store:
            assert await store.claim_state(rid) == (None, True, "withdrawn")
            await store.lock(rid)
            assert await store.insert_erasure(erasure(rid)) is True  # a marker, the entry still there
        async with tx() as store:
            marker = await store.erasure(rid)
            assert marker is not None and await store.claim_state(rid) == (marker, False, None)
            await store.delete_data(rid)
            assert await store.claim_state(rid) == (marker, False, None)

    async def test_access_log_per_request_and_prune(self, tx: Any) -> None:
        rid, other = uuid.uuid4(), uuid.uuid4()
        async with tx() as store:
            await store.log_access(rid, "queue", "ok", T0 + timedelta(hours=1), caller="session")
            await store.log_access(rid, "billing", "ok", T0, caller="billing")
            await store.log_access(other, "queue", "ok", T0 - timedelta(days=400), caller="session")
        async with tx() as store:
            assert [(a.caller, a.purpose, a.at) for a in await store.access_log(rid)] == [
                ("billing", "billing", T0), ("session", "queue", T0 + timedelta(hours=1))]  # oldest first
            assert await store.prune_access_log(T0 - timedelta(days=1)) >= 1
        async with tx() as store:
            assert await store.access_log(other) == []
            assert len(await store.access_log(rid)) == 2

    async def test_the_forms_for_several_requests_answer_as_one_request_at_a_time(self, tx: Any) -> None:
        """lock_all/current_all/insert_delivery_emails/delete_data_all/insert_erasures (the batched
        erasure) give per request what lock/current/insert_delivery_email/delete_data/insert_erasure
        give: an entry, an entry with statement, a marker alone, nothing, a kept address."""
        stored, with_statement, marked, unknown, keeps = (uuid.uuid4() for _ in range(5))
        async with tx() as store:
            for rid in (stored, with_statement, marked, keeps):
                await store.insert_entry(entry(rid))
            await store.insert_statement(with_statement, Sealed(b"s" * 12, b"st"), T0)
            assert await store.insert_erasure(erasure(marked)) is True
        asked = [unknown, marked, with_statement, stored, keeps]
        async with tx() as store:
            await store.lock_all([*reversed(asked), stored])  # any order, a request twice
            one_by_one = {rid: await store.current(rid) for rid in asked}
            assert await store.current_all(asked) == one_by_one
            assert one_by_one[unknown] == (None, None) and one_by_one[marked][1] is None
            assert one_by_one[with_statement][1].statement == Sealed(b"s" * 12, b"st")
            held = Sealed(b"e" * 12, b"mail-ct")
            await store.insert_delivery_emails([(keeps, held)], T0)
            had = await store.delete_data_all([(rid, rid == keeps) for rid in asked])
            assert had == {unknown: False, marked: True, with_statement: True, stored: True, keeps: True}
            assert await store.delete_data_all([(rid, rid == keeps) for rid in asked]) == dict.fromkeys(asked, False)
            markers = [erasure(rid, T0 + timedelta(hours=1)) for rid in (marked, stored, keeps)]
            events = [PersonalDataErased(request_id=m.request_id, reason=m.reason, trigger_event_id=m.trigger_event_id,
                                         erased_at=m.erased_at, had_data=m.had_data, scope=m.scope) for m in markers]
            assert await store.insert_erasures(list(zip(markers, events, strict=True))) == {stored, keeps}
            assert await store.insert_erasures(list(zip(markers, events, strict=True))) == set()
        async with tx() as store:
            for rid in asked:
                assert await store.load(rid) is None
            kept = await store.load_delivery_email(keeps)
            assert kept is not None and kept.email == held  # its key stayed with it
            assert (await store.erasure(marked)).erased_at == T0  # the first marker stays
            assert (await store.erasure(stored)).erased_at == T0 + timedelta(hours=1)

    async def test_put_new_stores_only_a_request_it_has_never_seen(self, tx: Any) -> None:
        """put_new: a new request's key and entry in one step; a known one (entry or key) or an
        erased one (any marker) writes nothing."""
        new, erased = uuid.uuid4(), uuid.uuid4()
        async with tx() as store:
            assert await store.put_new(entry(new)) == "stored"
            assert await store.put_new(entry(new, T0 + timedelta(1))) == "exists"
            assert await store.insert_erasure(erasure(erased)) is True
            assert await store.put_new(entry(erased)) == "erased"
        async with tx() as store:
            assert await store.load(new) == entry(new)  # the first one stays
            assert await store.load(erased) is None

    async def test_claim_new_stores_only_the_first_outcome_of_a_stored_request(self, tx: Any) -> None:
        """claim_new: with an entry, no marker and no outcome yet, the outcome and an ``ok``
        access-log row; anything else (claimed, unknown, erased) writes nothing."""
        rid, unknown, erased = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        async with tx() as store:
            await store.insert_entry(entry(rid))
            await store.insert_entry(entry(erased))
            assert await store.insert_erasure(erasure(erased)) is True
        async with tx() as store:
            assert await store.claim_new(rid, "withdrawn", T0, purpose="claim:withdrawn", caller="intake") == "stored"
            assert await store.claim_new(rid, "session_started", T0, purpose="claim:session_started",
                                         caller="session") == "other"
            assert await store.claim_new(unknown, "withdrawn", T0, purpose="claim:withdrawn", caller="intake") == "other"
            assert await store.claim_new(erased, "withdrawn", T0, purpose="claim:withdrawn", caller="intake") == "other"
        async with tx() as store:
            assert await store.claim_of(rid) == "withdrawn"
            assert await store.claim_state(erased) == (await store.erasure(erased), False, None)
            assert [(a.purpose, a.outcome, a.caller) for a in await store.access_log(rid)] == [
                ("claim:withdrawn", "ok", "intake")]
            assert await store.access_log(unknown) == [] and await store.access_log(erased) == []
