"""Vault use cases: put, get, add a promotion statement, set the billing address, claim the outcome.

Each returns the reply to send. Each gets the caller, known from the request's subject (never
from its body): a read for a purpose that is not the caller's own is refused (``forbidden``),
and the access log records caller and purpose.

Every function runs inside one transaction (the caller's store) and takes the per-request lock
first, so a put can never slip in between an erasure's marker check and its commit (a new
request's put is one statement that takes the lock itself, :meth:`VaultStore.put_new`).
Refusals are replies, not exceptions; an exception means an internal failure.
"""

from __future__ import annotations

import logging
from datetime import datetime

from fw_contracts.address import STORED
from fw_contracts.vault import (
    AddressRequest,
    ClaimRequest,
    GetRequest,
    PersonalData,
    PromotionStatement,
    PutRequest,
    StatementRequest,
    VaultEntry,
    VaultError,
    VaultReply,
)
from fw_contracts.wire import VaultCaller
from fw_retention.application.ports import Cipher, ErasureRecord, Part, Sealed, SealedEntry, VaultStore
from fw_retention.domain.callers import decide_claim, may_claim, may_read
from fw_retention.domain.rules import Write, decide_address, decide_put, decide_statement

log = logging.getLogger(__name__)

OK = VaultReply(ok=True)


def _refused(error: VaultError, marker: ErasureRecord | None = None) -> VaultReply:
    return VaultReply(ok=False, error=error, erased_at=marker.erased_at if marker else None)


def open_data(cipher: Cipher, entry: SealedEntry) -> tuple[bytes, PersonalData]:
    """The entry's data key and decrypted data; raises ``DecryptionFailed`` on a wrong key."""
    key = cipher.unwrap(entry.request_id, entry.wrapped_key)
    plain = cipher.open(key, entry.request_id, entry.data.nonce, entry.data.ciphertext, Part.ENTRY)
    # stored under the rules of its day: decoded as stored (fw_contracts.address.STORED)
    return key, PersonalData.model_validate_json(plain, context=STORED)


def open_statement(cipher: Cipher, key: bytes, entry: SealedEntry) -> PromotionStatement | None:
    """The decrypted promotion statement, or None when there is none."""
    if entry.statement is None:
        return None
    plain = cipher.open(key, entry.request_id, entry.statement.nonce, entry.statement.ciphertext,
                        Part.STATEMENT)
    return PromotionStatement.model_validate_json(plain)


async def put(store: VaultStore, cipher: Cipher, req: PutRequest, now: datetime, caller: VaultCaller) -> VaultReply:
    """Store a request's personal data under a new data key (once; an identical retry is ok).

    A new request, the usual case, is one statement (:meth:`VaultStore.put_new`: lock, look-up and
    insert in one). Anything else is decided after the lock as every use case does: an erased
    request is refused, an identical retry is ok, other data for the request are refused."""
    key, wrapped = cipher.new_data_key(req.request_id)
    nonce, ct = cipher.seal(key, req.request_id, req.data.model_dump_json().encode(), Part.ENTRY)
    new = SealedEntry(request_id=req.request_id, wrapped_key=wrapped, kek_id=cipher.kek_id,
                      data=Sealed(nonce, ct), stored_at=now)
    if await store.put_new(new) == "stored":
        log.info("vault entry stored", extra={"request_id": str(req.request_id)})
        return OK
    await store.lock(req.request_id)
    marker, existing = await store.current(req.request_id)
    current = open_data(cipher, existing)[1] if existing else None
    decision = decide_put(erased=marker is not None, existing=current, new=req.data)
    if decision is Write.ERASED:
        return _refused(VaultError.ERASED, marker)
    if decision is Write.CONFLICT:
        return _refused(VaultError.EXISTS)
    if decision is Write.UNCHANGED:
        return OK
    # put_new found a marker or key that is gone now (nothing but a restored backup removes one)
    await store.insert_entry(new)
    log.info("vault entry stored", extra={"request_id": str(req.request_id)})
    return OK


async def delivery_email(store: VaultStore, cipher: Cipher, req: GetRequest, now: datetime,
                         caller: VaultCaller) -> VaultReply:
    """Purpose ``delivery``: only the e-mail address the invoice goes to — from the entry while it
    is stored, from the kept row after the first erasure step, ``erased`` after the second."""
    await store.lock(req.request_id)
    marker = await store.erasure(req.request_id)
    email: str | None = None
    found = False
    if marker is None:
        entry = await store.load(req.request_id)
        if entry is not None:
            found = True
            data = open_data(cipher, entry)[1]
            email = str(data.email) if data.email is not None else None
    elif marker.partial:
        held = await store.load_delivery_email(req.request_id)
        if held is not None:
            found = True
            key = cipher.unwrap(req.request_id, held.wrapped_key)
            email = cipher.open(key, req.request_id, held.email.nonce, held.email.ciphertext,
                                Part.DELIVERY_EMAIL).decode()
    outcome = "ok" if found else ("erased" if marker else "not_found")
    await store.log_access(req.request_id, req.purpose, outcome, now, caller=caller.value)
    if not found:
        return _refused(VaultError.ERASED, marker) if marker else _refused(VaultError.NOT_FOUND)
    return VaultReply(ok=True, delivery_email=email)


async def get(store: VaultStore, cipher: Cipher, req: GetRequest, now: datetime, caller: VaultCaller) -> VaultReply:
    """Decrypt a request's data (and statement) and record who read it for which purpose.

    Only for a purpose of the caller's own (session: ``queue``; billing: ``billing``,
    ``customer_account``, ``delivery``); any other is refused with ``forbidden`` and logged as such.
    """
    if not may_read(caller, req.purpose):
        await store.log_access(req.request_id, req.purpose, "forbidden", now, caller=caller.value)
        log.warning("vault read refused: purpose not the caller's",
                    extra={"request_id": str(req.request_id), "caller": caller.value, "purpose": req.purpose})
        return _refused(VaultError.FORBIDDEN)
    if req.purpose == "delivery":
        return await delivery_email(store, cipher, req, now, caller)
    await store.lock(req.request_id)
    marker, entry = await store.current(req.request_id)
    outcome = "erased" if marker else ("ok" if entry else "not_found")
    await store.log_access(req.request_id, req.purpose, outcome, now, caller=caller.value)
    if marker:
        return _refused(VaultError.ERASED, marker)
    if entry is None:
        return _refused(VaultError.NOT_FOUND)
    key, data = open_data(cipher, entry)
    result = VaultEntry(request_id=entry.request_id, data=data,
                        statement=open_statement(cipher, key, entry), stored_at=entry.stored_at)
    return VaultReply(ok=True, entry=result)


async def add_statement(store: VaultStore, cipher: Cipher, req: StatementRequest,
                        now: datetime, caller: VaultCaller) -> VaultReply:
    """Store the promotion statement under the request's data key (once)."""
    await store.lock(req.request_id)
    marker, entry = await store.current(req.request_id)
    key: bytes | None = None
    current = None
    if entry is not None:
        key = cipher.unwrap(entry.request_id, entry.wrapped_key)
        current = open_statement(cipher, key, entry)
    decision = decide_statement(erased=marker is not None, has_entry=entry is not None,
                                existing=current, new=req.statement)
    if decision is Write.ERASED:
        return _refused(VaultError.ERASED, marker)
    if decision is Write.NOT_FOUND:
        return _refused(VaultError.NOT_FOUND)
    if decision is Write.CONFLICT:
        return _refused(VaultError.EXISTS)
    if decision is Write.UNCHANGED:
        return OK
    assert key is not None
    nonce, ct = cipher.seal(key, req.request_id, req.statement.model_dump_json().encode(), Part.STATEMENT)
    await store.insert_statement(req.request_id, Sealed(nonce, ct), now)
    log.info("promotion statement stored", extra={"request_id": str(req.request_id)})
    return OK


#: Access-log purpose of an address write (the log records writes that change data, too).
ADDRESS_PURPOSE = "billing_address"


async def set_address(store: VaultStore, cipher: Cipher, req: AddressRequest, now: datetime,
                      caller: VaultCaller) -> VaultReply:
    """Add or replace the billing address of a stored request, re-encrypted under its data key.

    ``stored_at`` is kept: the deadline of the automatic erasure does not move. Refused with
    ``erased`` after erasure and ``not_found`` for a request the vault never stored.
    """
    await store.lock(req.request_id)
    marker, entry = await store.current(req.request_id)
    key: bytes | None = None
    current: PersonalData | None = None
    if entry is not None:
        key, current = open_data(cipher, entry)
    decision = decide_address(erased=marker is not None, has_entry=entry is not None,
                              existing=current.address if current else None, new=req.address)
    outcome = {Write.ERASED: "erased", Write.NOT_FOUND: "not_found", Write.UNCHANGED: "unchanged"}
    await store.log_access(req.request_id, ADDRESS_PURPOSE, outcome.get(decision, "updated"), now,
                           caller=caller.value)
    if decision is Write.ERASED:
        return _refused(VaultError.ERASED, marker)
    if decision is Write.NOT_FOUND:
        return _refused(VaultError.NOT_FOUND)
    if decision is Write.UNCHANGED:
        return OK
    assert key is not None and current is not None
    updated = current.model_copy(update={"address": req.address})
    nonce, ct = cipher.seal(key, req.request_id, updated.model_dump_json().encode(), Part.ENTRY)
    await store.replace_data(req.request_id, Sealed(nonce, ct))
    log.info("billing recipient details stored", extra={"request_id": str(req.request_id)})
    return OK


#: Access-log purpose of a claim: which outcome was asked for (the log's outcome says who won).
CLAIM_PURPOSE = "claim_{}"


async def claim(store: VaultStore, cipher: Cipher, req: ClaimRequest, now: datetime, caller: VaultCaller) -> VaultReply:
    """Decide the request's outcome (a session starts, or the customer withdraws), once.

    The per-request lock serialises the two: whichever comes first is stored with the entry and
    answered ``ok``; the other is refused with ``claimed``. The same claim again is ``ok``. After
    the erasure the marker refuses both (``erased``). Each caller claims only its own outcome.
    The first claim of a stored request is one statement (:meth:`VaultStore.claim_new`); anything
    else is decided after the lock.
    """
    purpose = CLAIM_PURPOSE.format(req.outcome)
    if not may_claim(caller, req.outcome):
        await store.log_access(req.request_id, purpose, "forbidden", now, caller=caller.value)
        return _refused(VaultError.FORBIDDEN)
    if await store.claim_new(req.request_id, req.outcome, now, purpose=purpose, caller=caller.value) == "stored":
        # the usual case in one statement (lock, look-up, claim and access-log row)
        log.info("request outcome claimed", extra={"request_id": str(req.request_id), "caller": caller.value,
                                                   "outcome": req.outcome})
        return OK
    await store.lock(req.request_id)
    marker, has_entry, existing = await store.claim_state(req.request_id)
    decision = decide_claim(erased=marker is not None, has_entry=has_entry, existing=existing, new=req.outcome)
    outcome = {Write.ERASED: "erased", Write.NOT_FOUND: "not_found", Write.CONFLICT: "claimed",
               Write.UNCHANGED: "unchanged"}.get(decision, "ok")
    await store.log_access(req.request_id, purpose, outcome, now, caller=caller.value)
    if decision is Write.ERASED:
        return _refused(VaultError.ERASED, marker)
    if decision is Write.NOT_FOUND:
        return _refused(VaultError.NOT_FOUND)
    if decision is Write.CONFLICT:
        return _refused(VaultError.CLAIMED)
    if decision is Write.STORE:
        await store.set_claim(req.request_id, req.outcome, now)
        log.info("request outcome claimed", extra={"request_id": str(req.request_id), "caller": caller.value,
                                                   "outcome": req.outcome})
    return OK
