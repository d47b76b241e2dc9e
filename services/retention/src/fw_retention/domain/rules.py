"""The vault's rules as pure functions: what a put, a statement or an erasure leads to.

No I/O here: the application layer loads the current state, asks these functions what to do and
carries the decision out.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from fw_contracts.address import PostalAddress
from fw_contracts.events import ErasureReason, ErasureScope
from fw_contracts.vault import PersonalData, PromotionStatement


class Write(Enum):
    """Outcome of a write request (put or statement)."""

    STORE = "store"          # new: encrypt and insert
    UNCHANGED = "unchanged"  # an identical retry (intake/session may retry): answer ok, write nothing
    CONFLICT = "conflict"    # different data for the same request: refuse with ``exists``
    ERASED = "erased"        # the request was erased: refuse forever
    NOT_FOUND = "not_found"  # a statement for a request the vault never stored


@dataclass(frozen=True)
class Erasure:
    """An erasure that is to happen now (becomes the marker row and the PersonalDataErased event)."""

    request_id: uuid.UUID
    reason: ErasureReason
    trigger_event_id: uuid.UUID | None
    erased_at: datetime
    had_data: bool
    scope: ErasureScope = ErasureScope.ALL
    #: With ``all_but_delivery_email``: when the kept e-mail address goes at the latest.
    delivery_hold_until: datetime | None = None


#: Reasons of the second step: the delivery the kept e-mail address served is over.
DELIVERY_REASONS = frozenset({ErasureReason.INVOICE_DELIVERED, ErasureReason.INVOICE_DELIVERY_FAILED,
                              ErasureReason.DELIVERY_HOLD_ENDED})


def decide_put(*, erased: bool, existing: PersonalData | None, new: PersonalData) -> Write:
    """A put stores once; a repeat with the same data is fine; anything else is refused."""
    if erased:
        return Write.ERASED
    if existing is None:
        return Write.STORE
    return Write.UNCHANGED if existing == new else Write.CONFLICT


def decide_statement(*, erased: bool, has_entry: bool, existing: PromotionStatement | None,
                     new: PromotionStatement) -> Write:
    """The promotion statement belongs to a stored request and is recorded once."""
    if erased:
        return Write.ERASED
    if not has_entry:
        return Write.NOT_FOUND
    if existing is None:
        return Write.STORE
    return Write.UNCHANGED if existing == new else Write.CONFLICT


def decide_address(*, erased: bool, has_entry: bool, existing: PostalAddress | None, new: PostalAddress) -> Write:
    """The billing address of a stored request may be added or replaced until it is erased.

    Replacing is allowed on purpose: the technician may have to correct a typo before billing
    issues the full invoice. The same address again is an idempotent retry.
    """
    if erased:
        return Write.ERASED
    if not has_entry:
        return Write.NOT_FOUND
    return Write.UNCHANGED if existing == new else Write.STORE


def records_cutoff(now: datetime, keep_years: int) -> datetime:
    """Protocol rows (access log, AVV requests) from before this instant are due for deletion.

    The rule is "end of the ``keep_years``-th calendar year after the entry" (DIN 66398 style:
    start = end of the year, period = ``keep_years``): at ``now`` every row of a year before
    ``now.year - keep_years`` has passed it.
    """
    return datetime(now.year - keep_years, 1, 1, tzinfo=now.tzinfo)


def erasure_scope(*, reason: ErasureReason, partially_erased: bool,
                  delivery_email_given: bool) -> ErasureScope:
    """What an erasure for ``reason`` removes (LEGAL.md L21, DESIGN.md "Personal data live
    exactly as long as billing needs them").

    An issued invoice erases everything at once except the e-mail address the customer gave
    for receiving it: the invoice is only issued ("übermittelt") once it reached the customer.
    Whatever comes after that first step (the delivery's outcome, the hold's end, or any other
    trigger) erases the kept address. Without an e-mail address nothing is kept.
    """
    if partially_erased:
        return ErasureScope.DELIVERY_EMAIL
    if reason is ErasureReason.INVOICE_ISSUED and delivery_email_given:
        return ErasureScope.ALL_BUT_DELIVERY_EMAIL
    return ErasureScope.ALL


def decide_erasure(*, request_id: uuid.UUID, already_erased: bool, had_data: bool,
                   reason: ErasureReason, trigger_event_id: uuid.UUID | None,
                   now: datetime, partially_erased: bool = False, delivery_email_given: bool = False,
                   delivery_hold: timedelta | None = None, due_since: datetime | None = None) -> Erasure | None:
    """Erase once: a request that already carries the (final) marker is left alone (no second
    event); one that was erased but for its delivery e-mail address loses that address now.

    A request the vault never saw (e.g. withdrawn before intake could store it) still gets the
    marker, so that a late put cannot store data for it. The kept address is held at the latest
    until ``delivery_hold`` after ``due_since`` (the InvoiceIssued's time).
    """
    if already_erased:
        return None
    if partially_erased and reason is ErasureReason.INVOICE_ISSUED:
        return None  # another invoice of the request: the kept address serves its delivery too
    scope = erasure_scope(reason=reason, partially_erased=partially_erased,
                          delivery_email_given=delivery_email_given)
    hold_until = None
    if scope is ErasureScope.ALL_BUT_DELIVERY_EMAIL:
        hold_until = delivery_hold_end(due_since or now, delivery_hold or timedelta(0))
    return Erasure(request_id=request_id, reason=reason, trigger_event_id=trigger_event_id,
                   erased_at=now, had_data=had_data, scope=scope, delivery_hold_until=hold_until)


def delivery_hold_end(invoice_issued_at: datetime, delivery_hold: timedelta) -> datetime:
    """The kept delivery e-mail address goes at the latest this long after the invoice, whatever
    happened to the delivery (SMTP down for good, nobody marked it)."""
    return invoice_issued_at + delivery_hold


def deadline(stored_at: datetime, abandon_after: timedelta) -> datetime:
    """When data stored at ``stored_at`` are erased at the latest if nothing else erases them."""
    return stored_at + abandon_after


def erasure_deadline(stored_at: datetime, abandon_after: timedelta, *, billing_blocked_at: datetime | None,
                     billing_hold: timedelta) -> datetime:
    """When the sweep erases an entry at the latest if no trigger erases it before.

    Normally ``abandon_after`` after it was stored. While billing is blocked because a full
    invoice needs the recipient's address (``BillingBlocked``), the purpose "billing" is still
    pending: the entry is then held until ``billing_hold`` after the (first) block, never less
    than the normal deadline. The hold is bounded: when it ends, the data are erased even if
    the invoice was never issued (billing then closes the session as not billed).
    """
    normal = deadline(stored_at, abandon_after)
    if billing_blocked_at is None:
        return normal
    return max(normal, billing_blocked_at + billing_hold)


def abandoned_before(now: datetime, abandon_after: timedelta) -> datetime:
    """Entries stored at or before this instant are past their deadline at ``now``."""
    return now - abandon_after


def is_abandoned(stored_at: datetime, now: datetime, abandon_after: timedelta) -> bool:
    """True when the entry's deadline has passed."""
    return deadline(stored_at, abandon_after) <= now
