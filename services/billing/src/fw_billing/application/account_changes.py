"""Changing an open customer account's e-mail or address (office command).

The new values replace the old ones inside the account's ciphertext; ``CustomerAccountChanged``
records which categories changed and who changed them, never a value. A closed (erased) account
cannot be changed. Issued invoices keep the recipient they were issued to (their archive copy).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import asyncpg

from fw_billing.adapters.account_changes import SqlAccountChanges
from fw_contracts.events import AccountField, CustomerAccountChanged
from fw_platform.handling import UnitOfWork

log = logging.getLogger(__name__)

#: Leave a field as it is.
UNCHANGED: Any = object()


class ChangeRefused(Exception):
    code = "change_refused"


class AccountUnknown(ChangeRefused):
    code = "customer_not_found"


class AccountClosed(ChangeRefused):
    code = "account_closed"


class NothingChanged(ChangeRefused):
    code = "nothing_changed"


@dataclass(frozen=True)
class AccountChange:
    """New values; ``UNCHANGED`` keeps a field, ``None`` removes it."""

    email: Any = UNCHANGED
    address: Any = UNCHANGED


async def change_customer_account(customer_number: str, change: AccountChange, changed_by: str,
                                  uow: UnitOfWork, *,
                                  store: Callable[[asyncpg.Connection], SqlAccountChanges]) -> CustomerAccountChanged:
    """Apply ``change``; raises :class:`ChangeRefused` (nothing is changed then)."""
    accounts = store(uow.conn)
    account = await accounts.lock(customer_number)
    if account is None:
        raise AccountUnknown(AccountUnknown.code)
    if account.closed or account.personal is None:
        raise AccountClosed(AccountClosed.code)
    personal = dict(account.personal)
    changed: list[AccountField] = []
    for name, value in (("email", change.email), ("address", change.address)):
        if value is not UNCHANGED and personal.get(name) != value:
            personal[name] = value
            changed.append(AccountField(name))
    if not changed:
        raise NothingChanged(NothingChanged.code)
    await accounts.save(account, personal)
    event = CustomerAccountChanged(customer_number=customer_number, request_id=account.request_id,
                                   changed=tuple(changed), changed_by=changed_by, changed_at=uow.now)
    uow.emit(event)
    log.info("customer account changed", extra={"customer_number": customer_number,
                                                 "count": len(changed)})
    return event
