"""Closing a regular customer's account: erasure of its personal fields (GDPR Art. 17).

What happens, in one transaction:

* the account's personal fields (company, contact, phone, e-mail, address, statement and its
  time) are deleted from ``customer_accounts``; the row keeps the customer number, the pseudonymous
  request/session ids, the technician id and the closure (time, reason, staff id of who had it
  erased);
* ``CustomerAccountErased`` goes out through the outbox (ids, reason and time only).

What stays, and why (Art. 17 Abs. 3 lit. b): issued invoices and their recipient copies are
part of the legal invoice archive (§14b UStG, §147 AO: 8 years) and are destroyed with their
year, not here. The customer number stays on them and is never given out again.

A closed account is final. A later ``CustomerPromoted`` or ``SessionEnded`` for the same request
finds the row (``customer_accounts.request_id`` is UNIQUE) and never reads the vault for it
again; the database refuses any change to a closed row (migration 003). Erasing again changes
nothing and emits nothing (:class:`AlreadyErased`).

Restore safety: a database backup taken before an erasure still holds the account's data. The
stream is not part of that backup and keeps every ``CustomerAccountErased``; at every start
billing erases again each account the stream says was erased (:func:`reapply_account_erasures`)
before its HTTP API answers.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterable, Callable
from contextlib import AbstractAsyncContextManager
from datetime import datetime

from fw_billing.application.ports import BillingDeps
from fw_contracts.events import AccountErasureReason, CustomerAccountErased
from fw_platform.handling import UnitOfWork

log = logging.getLogger(__name__)


class ErasureRefused(Exception):
    """The erasure was not carried out; ``code`` names why (the HTTP layer words it)."""

    code = "erasure_refused"


class AccountNotFound(ErasureRefused):
    code = "customer_not_found"


class AlreadyErased(ErasureRefused):
    """The account was closed before; nothing was changed."""

    code = "already_erased"

    def __init__(self, closed_at: datetime, reason: str) -> None:
        super().__init__(self.code)
        self.closed_at = closed_at
        self.reason = reason


async def erase_customer_account(customer_number: str, reason: AccountErasureReason, requested_by: str,
                                 uow: UnitOfWork, *, deps: BillingDeps) -> CustomerAccountErased:
    """Erase the account's personal fields and close it; raises :class:`ErasureRefused`."""
    repo = deps.repository(uow.conn)
    account = await repo.account_for_erasure(customer_number)  # locked until commit
    if account is None:
        raise AccountNotFound(AccountNotFound.code)
    if account.closed:
        assert account.closed_at is not None and account.closure_reason is not None
        raise AlreadyErased(account.closed_at, account.closure_reason)
    await repo.erase_customer(customer_number, reason.value, requested_by, uow.now)
    event = CustomerAccountErased(customer_number=customer_number, request_id=account.request_id,
                                  reason=reason, erased_at=uow.now)
    uow.emit(event)
    log.info("customer account erased", extra={"customer_number": customer_number, "reason": reason.value})
    return event


async def reapply_account_erasures(unit_of_work: Callable[[], AbstractAsyncContextManager[UnitOfWork]],
                                   history: AsyncIterable[CustomerAccountErased], *, deps: BillingDeps) -> int:
    """Erase again every account of ``history`` that is open (a restored backup); emits nothing.

    Returns how many accounts were erased again. The restored closure keeps the event's reason
    and time; who asked is not in the event, so ``closed_by`` stays empty.
    """
    again = 0
    async for event in history:
        async with unit_of_work() as uow:
            repo = deps.repository(uow.conn)
            account = await repo.account_for_erasure(event.customer_number)
            if account is None or account.closed or account.request_id != event.request_id:
                continue  # not in this backup, already closed, or not this account
            await repo.erase_customer(event.customer_number, event.reason.value, None, event.erased_at)
            again += 1
            log.warning("customer account erased again after a restore",
                        extra={"customer_number": event.customer_number})
    return again
