"""Billing's commands and background steps, each in its own transaction(s).

What the office's HTTP routes, the background worker and the start of the service call. The
logic is in the application modules named by each method; this class binds them to their ports
(unit of work, stores, vault, sender), which bootstrap wires in (tests pass fakes).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from fw_billing.application.account_changes import (
    AccountChange,
    change_customer_account,
)
from fw_billing.application.archive import (
    ArchiveStore,
    YearDestroyed,
    destroy_expired_archive,
)
from fw_billing.application.cancellation import cancel_invoice
from fw_billing.application.correction import CorrectionRequest, correct_invoice
from fw_billing.application.customers import (
    erase_customer_account,
    reapply_account_erasures,
)
from fw_billing.application.delivery import (
    DeliveryStore,
    MailSender,
    RetryPolicy,
    deliver_next,
    mark_delivered_by_hand,
    purge_failed,
    retry,
)
from fw_billing.application.ports import BillingDeps
from fw_billing.application.reference import ReferenceLedger, publish_reference_data
from fw_billing.application.work_notes import (
    NoteState,
    WorkNote,
    WorkNoteStore,
    purge_orphaned_notes,
    write_work_note,
)
from fw_contracts.events import (
    AccountErasureReason,
    CustomerAccountChanged,
    CustomerAccountErased,
    InvoiceCancelled,
    InvoiceIssued,
)
from fw_platform.handling import UnitOfWork

if TYPE_CHECKING:
    from fw_billing.adapters.account_changes import SqlAccountChanges

log = logging.getLogger(__name__)

UnitOfWorkFactory = Callable[[], AbstractAsyncContextManager[UnitOfWork]]


@dataclass(frozen=True)
class BillingService:
    """The use cases, bound to their ports."""

    unit_of_work: UnitOfWorkFactory
    deps: BillingDeps
    #: The stores, each built on the unit of work's connection.
    account_changes: Callable[[Any], SqlAccountChanges]
    deliveries: Callable[[Any], DeliveryStore]
    archive: Callable[[Any], ArchiveStore]
    reference_ledger: Callable[[Any], ReferenceLedger]
    work_notes: Callable[[Any], WorkNoteStore]
    #: Every ``CustomerAccountErased`` in the stream, oldest first.
    account_erasure_history: Callable[[], AsyncIterator[CustomerAccountErased]]
    #: None: e-mail delivery is off.
    sender: MailSender | None
    retry_policy: RetryPolicy
    archive_hold_years: frozenset[int]
    delivery_failed_keep: timedelta
    #: A work note of a session that never reached billing is deleted when it is this old.
    work_note_orphan_keep: timedelta
    #: Tells the background worker that a delivery may be due now (a retry was requested).
    delivery_due: Callable[[], None]

    async def cancel(self, number: str, reason_code: str, acted_by: str | None = None) -> InvoiceCancelled:
        """Cancel an invoice in its own transaction (HTTP command); ``acted_by``: the office user."""
        async with self.unit_of_work() as uow:
            return await cancel_invoice(number, reason_code, uow, deps=self.deps, acted_by=acted_by)

    async def write_work_note(self, session_id: uuid.UUID, note: str, written_by: str) -> NoteState:
        """Store the technician's note of a session in its own transaction (HTTP command);
        raises ``NoteRefused`` (frozen, not billed, invalid text) and then changes nothing."""
        async with self.unit_of_work() as uow:
            return await write_work_note(self.work_notes(uow.conn), session_id, note, written_by, uow.now)

    async def read_work_note(self, session_id: uuid.UUID) -> WorkNote | None:
        """The note of a session, if any (read-only transaction of its own)."""
        async with self.unit_of_work() as uow:
            return await self.work_notes(uow.conn).read(session_id)

    async def correct(self, number: str, request: CorrectionRequest) -> InvoiceIssued:
        """Issue the corrected invoice for a cancelled one in its own transaction (HTTP command)."""
        async with self.unit_of_work() as uow:
            return await correct_invoice(number, request, uow, deps=self.deps)

    async def erase_customer(self, customer_number: str, reason: AccountErasureReason,
                             requested_by: str) -> CustomerAccountErased:
        """Close a customer account and erase its personal fields in its own transaction (HTTP)."""
        async with self.unit_of_work() as uow:
            return await erase_customer_account(customer_number, reason, requested_by, uow, deps=self.deps)

    async def change_customer(self, customer_number: str, change: AccountChange,
                              changed_by: str) -> CustomerAccountChanged:
        """Change an open account's e-mail or address in its own transaction (HTTP command)."""
        async with self.unit_of_work() as uow:
            return await change_customer_account(customer_number, change, changed_by, uow,
                                                 store=self.account_changes)

    async def publish_reference_data(self) -> None:
        """Every known tariff version and the issuer details into the stream (once each)."""
        async with self.unit_of_work() as uow:
            published = await publish_reference_data(
                uow.repository(self.reference_ledger), uow,
                (self.deps.tariffs.get(v) for v in self.deps.tariffs.versions), self.deps.issuer)
        # Only now, after the commit: an invoice under these tariffs needs no ledger look-up.
        self.deps.published_tariffs.update(published)

    async def reapply_account_erasures(self) -> int:
        """Restore safety: erase again every account the stream says was erased (see
        :func:`fw_billing.application.customers.reapply_account_erasures`)."""
        return await reapply_account_erasures(self.unit_of_work, self.account_erasure_history(), deps=self.deps)

    async def reapply_at_start(self) -> None:
        """Before the API answers: a restored database must not show erased accounts. If the
        stream cannot be read, this raises and billing does not start (nothing would guard
        restored rows)."""
        try:
            again = await self.reapply_account_erasures()
        except BaseException:
            log.error("customer-account erasures could not be re-applied from the stream; not starting")
            raise
        log.info("customer-account erasures re-applied at start", extra={"count": again})

    async def destroy_expired_archive(self, now: datetime) -> list[YearDestroyed]:
        """Destroy every archive year past its retention period at ``now`` (injectable clock)."""
        return await destroy_expired_archive(now, unit_of_work=self.unit_of_work, store=self.archive,
                                             held=self.archive_hold_years)

    async def deliver_next(self, now: datetime) -> bool:
        """Try the next due e-mail; False when none is due (or e-mail is off)."""
        if self.sender is None:
            return False
        async with self.unit_of_work() as uow:
            return await deliver_next(self.deliveries(uow.conn), self.sender, self.deps.issuer,
                                      self.retry_policy, now, addresses=self.deps.vault, emit=uow.emit)

    async def retry_delivery(self, delivery_id: int) -> None:
        """Office: send again (raises ``DeliveryRefused``)."""
        async with self.unit_of_work() as uow:
            await retry(self.deliveries(uow.conn), delivery_id, uow.now)
        self.delivery_due()

    async def mark_delivered(self, delivery_id: int) -> None:
        """Office: handed over by hand (raises ``DeliveryRefused``)."""
        async with self.unit_of_work() as uow:
            await mark_delivered_by_hand(self.deliveries(uow.conn), delivery_id, uow.now, emit=uow.emit)

    async def housekeeping(self, now: datetime) -> None:
        """Purge long-failed deliveries and the notes of sessions that never reached billing,
        then destroy the archive years past their period."""
        async with self.unit_of_work() as uow:
            await purge_failed(self.deliveries(uow.conn), now, self.delivery_failed_keep)
        async with self.unit_of_work() as uow:
            notes = await purge_orphaned_notes(self.work_notes(uow.conn), now, self.work_note_orphan_keep)
        if notes:
            log.info("work notes of sessions that never reached billing deleted", extra={"count": notes})
        await self.destroy_expired_archive(now)
