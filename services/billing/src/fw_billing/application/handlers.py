"""Event handlers of billing. Each runs inside the consumer's transaction (``uow.conn``) and
emits through the outbox, so state, idempotency record and events commit together.

A session's billing is a case (``domain/billing_case.py``): the handler loads it (the session
row, locked), reads what the decision needs (tariff, request facts, the vault), lets
:func:`~fw_billing.domain.billing_case.decide` decide, carries out an issue (number, document,
archived copy) and saves the folded case with the events it emits.

Idempotency does not rest on the processed-events record alone: a session row (first seen
wins, locked while it is handled), one original invoice per session (unique index) and
``customer_accounts.request_id UNIQUE`` make a second event about the same thing a no-op.
"""

from __future__ import annotations

import asyncio
import logging
import uuid

from fw_billing.application.ports import (
    BillingDeps,
    BillingRepository,
    NewCustomerAccount,
    NewInvoice,
    Recipient,
    RecipientDataErased,
    RecipientDataMissing,
    RequestFacts,
)
from fw_billing.application.reference import publish_issuer, publish_tariff, tariff_hash
from fw_billing.domain.billing_case import (
    BillingCase,
    BillSession,
    CloseLostClaim,
    Decision,
    InvoiceDue,
    IssueInvoice,
    RecipientData,
    RecordIssuingFailure,
    decide,
    open_case,
    replay,
)
from fw_billing.domain.delivery import SMTP_DISABLED
from fw_billing.domain.documents import DocumentIncomplete, check_complete, issued_invoice_document
from fw_billing.domain.invoicing import (
    Billable,
    NotBilled,
    SessionStatus,
    assess,
    format_invoice_number,
    invoice_year,
)
from fw_billing.domain.tariff import Tariff, TariffError
from fw_billing.domain.tax import InvalidVatId, decide_tax_case
from fw_contracts import Event
from fw_contracts.events import (
    BillingAddressProvided,
    BillingBlocked,
    BlockReason,
    CustomerAccountCreated,
    CustomerPromoted,
    CustomerType,
    InvoiceIssued,
    InvoiceKind,
    NotBilledReason,
    PersonalDataErased,
    SessionEnded,
    SessionNotBilled,
    SupportRequestCreated,
)
from fw_contracts.vault import VaultEntry
from fw_platform.handling import TRANSIENT, PermanentError, UnitOfWork

log = logging.getLogger(__name__)


class PromotionStatementMissing(Exception):
    """The vault has no promotion statement (yet) for a promoted request: retry, then park."""


class IssuingFailed(Exception):
    """Issuing the invoice failed for good; ``reason`` is the block's code. The text names the
    error type only, never the data the document was made of."""

    def __init__(self, reason: BlockReason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


async def on_support_request_created(events: list[SupportRequestCreated], uow: UnitOfWork, *,
                                     deps: BillingDeps) -> None:
    """Remember whether each request is B2B and whether it gave an e-mail (no personal data), and
    the hash of the customer's download code (the capability checked by ``/api/downloads``).
    ``batched``: a run of created requests is one statement."""
    await deps.repository(uow.conn).record_requests([RequestFacts(
        request_id=event.request_id, customer_type=event.customer_type, has_email=event.has_email,
        has_billing_address=event.has_billing_address, recorded_at=uow.now,
        download_sha256=event.download_sha256, ticket=event.ticket) for event in events])


async def on_session_ended(event: SessionEnded, uow: UnitOfWork, *, deps: BillingDeps) -> None:
    """Open the session's billing case (the first end seen wins) and decide it."""
    repo = deps.repository(uow.conn, at_commit=uow.write_at_commit)
    case = await repo.claim_session(open_case(event, deps.tariffs.current.version))
    if case.status.final:
        log.info("session already decided; event ignored", extra={
            "session_id": str(case.session_id), "event_id": str(event.event_id)})
        return
    await _bill(repo, deps, uow, case, cause=event, promoted=case.promoted or event.promoted)


async def on_billing_address_provided(event: BillingAddressProvided, uow: UnitOfWork, *,
                                      deps: BillingDeps) -> None:
    """The technician added the address a full invoice was missing: bill the blocked session now.

    Rides on the consumer of the session's end, so it is never seen before the session's end.
    """
    repo = deps.repository(uow.conn, at_commit=uow.write_at_commit)
    case = await repo.find_session(event.session_id)
    if case is None or case.status is not SessionStatus.BLOCKED:
        # e.g. the session was closed as not billed because the data were erased at the end of
        # retention's billing hold: too late, and nothing to retry (not a poison message)
        log.info("recipient details provided for a session that is not blocked; nothing to do",
                 extra={"session_id": str(event.session_id), "event_id": str(event.event_id),
                        "status": case.status.value if case else "unknown"})
        return
    await _bill(repo, deps, uow, case, cause=event, promoted=case.promoted)


async def on_personal_data_erased(events: list[PersonalDataErased], uow: UnitOfWork, *,
                                  deps: BillingDeps) -> None:
    """The requests' personal data are gone: a session still blocked for want of the recipient's
    address can never be invoiced. Close it as not billed (``recipient_data_erased``), so the
    office sees a lost claim instead of a session blocked for ever.

    A run of erasures (``batched``) is one look-up for all their requests; almost always none
    of them has a blocked session. Each blocked session is closed by the first erasure of its
    request in the run, in stream order, as one by one.

    Typically retention's billing hold ended (reason ``abandoned``); any erasure of the request
    has the same effect. Sessions already invoiced or not billed are left alone (a redelivery
    finds nothing blocked). The ``SessionNotBilled`` makes retention erase the request, which
    already carries its marker: a no-op there, no second ``PersonalDataErased``.
    """
    repo = deps.repository(uow.conn, at_commit=uow.write_at_commit)
    first: dict[uuid.UUID, PersonalDataErased] = {}
    for event in events:
        first.setdefault(event.request_id, event)
    blocked = await repo.blocked_sessions_for(list(first))
    for event in first.values():
        for case in blocked:
            if case.request_id == event.request_id:
                await _record(repo, uow, case, decide(CloseLostClaim(event), case))


async def _record(repo: BillingRepository, uow: UnitOfWork, case: BillingCase,
                  events: list[Decision]) -> BillingCase:
    """Fold the decided events into the case, store it and emit them (one transaction)."""
    published = [e for e in events if not isinstance(e, InvoiceDue)]
    if not published:
        return case
    case = replay(published, case)
    await repo.save_case(case, uow.now)
    uow.emit(*published)
    for e in published:
        _log_decision(case, e)
    return case


def _log_decision(case: BillingCase, event: Event) -> None:
    ids = {"session_id": str(case.session_id), "request_id": str(case.request_id), "event_id": str(event.event_id)}
    match event:
        case InvoiceIssued():
            log.info("invoice issued", extra={**ids, "invoice_number": event.invoice_number,
                                              "kind": event.kind.value})
        case SessionNotBilled(reason=NotBilledReason.RECIPIENT_DATA_ERASED):
            log.warning("session not billed: recipient data erased before the invoice (claim lost)",
                        extra={**ids, "reason": event.reason.value})
        case SessionNotBilled():
            log.info("session not billed", extra={**ids, "reason": event.reason.value})
        case BillingBlocked():
            log.info("billing blocked", extra={**ids, "reason": event.reason.value})


async def _bill(repo: BillingRepository, deps: BillingDeps, uow: UnitOfWork, case: BillingCase, *,
                cause: Event, promoted: bool) -> None:
    """Decide an undecided case: load its inputs, decide, issue if due, save and emit."""
    try:
        # The version first used for this session, also when a blocked session is retried later.
        tariff = deps.tariffs.get(case.tariff_version)
    except TariffError as exc:
        raise PermanentError(str(exc)) from None

    # Before anything that lets retention erase the request's data (InvoiceIssued,
    # SessionNotBilled): the account is built from that data.
    customer_number: str | None
    if promoted:
        customer_number = await ensure_customer_account(
            repo, deps, request_id=case.request_id, session_id=case.session_id, uow=uow, cause=cause)
        facts = await repo.request_facts(case.request_id)
    else:
        customer_number, facts = await repo.billing_inputs(case.request_id)
    # The tariff (and the issuer) go into the stream before the first event that names them.
    await _publish_reference(deps, uow, tariff)
    assessment, entry, recipient_data = await _assess(deps, case, tariff, facts)
    decided = decide(BillSession(cause, assessment, recipient_data), case)
    due = next((d for d in decided if isinstance(d, InvoiceDue)), None)
    if due is None:
        await _record(repo, uow, case, decided)
        return

    recipient: Recipient | None = None
    if due.billable.needs_recipient:
        assert entry is not None  # decide asks for the address of every invoice naming the recipient
        recipient = Recipient.from_personal_data(
            entry.data, customer_name=await repo.customer_name(customer_number) if customer_number else None)
    try:
        # A savepoint: should issuing fail for good, the drawn number, the invoice row and the
        # archived copy roll back (numbers stay gapless) while the block commits with this
        # transaction, so the message is acked and nothing is parked. It takes the session's
        # work-note lock too.
        async with repo.issuing(case.session_id):
            issued = await _issue(repo, deps, uow, case, due, cause=cause, recipient=recipient, facts=facts,
                                  customer_number=customer_number, tariff_sha256=tariff_hash(tariff))
    except (IssuingFailed, PermanentError) as exc:
        # any permanent failure while issuing: a recorded block, not a parked message
        reason = exc.reason if isinstance(exc, IssuingFailed) else BlockReason.ISSUING_FAILED
        log.error("invoice could not be issued; billing blocked", extra={
            "session_id": str(case.session_id), "request_id": str(case.request_id),
            "reason": reason.value, "error": str(exc)})
        await _record(repo, uow, case, decide(RecordIssuingFailure(cause, reason), case))
        return
    await _record(repo, uow, case, [issued])


async def _assess(deps: BillingDeps, case: BillingCase, tariff: Tariff, facts: RequestFacts | None,
                  ) -> tuple[NotBilled | Billable | None, VaultEntry | None, RecipientData]:
    """The session priced under the recipient's tax case (``None``: no tax case can be decided),
    with what the vault said about the recipient (read only when the invoice may need it)."""
    assessment = assess(case.raw_seconds, case.started_at, tariff)
    if not isinstance(assessment, Billable) or not (assessment.needs_recipient or _may_be_abroad(facts)):
        return assessment, None, RecipientData.NOT_READ
    # The tax case needs the billing address's country and the VAT id (vault only).
    entry: VaultEntry | None = None
    try:
        entry = await deps.vault.get(case.request_id, purpose="billing")
    except RecipientDataErased:
        if assessment.needs_recipient:
            return assessment, None, RecipientData.ERASED
    except RecipientDataMissing:
        if assessment.needs_recipient:
            raise
        # nothing known about the recipient: as without an address (domestic, small)
    data = entry.data if entry is not None else None
    known = (RecipientData.NOT_READ if data is None
             else RecipientData.ADDRESS if data.address is not None else RecipientData.NO_ADDRESS)
    try:
        case_ = decide_tax_case(
            customer_type=facts.customer_type if facts is not None else None,
            country=data.address.country if data is not None and data.address is not None else None,
            vat_id=data.vat_id if data is not None else None, tariff_vat_rate=tariff.vat_rate)
    except InvalidVatId:
        # Only a value that bypassed intake's check gets here: a recorded block, no number drawn.
        return None, entry, known
    return assess(case.raw_seconds, case.started_at, tariff, case_), entry, known


def _may_be_abroad(facts: RequestFacts | None) -> bool:
    """Whether the request gave an address, hence maybe one abroad (intake takes a VAT id or a
    Leitweg-ID only with an address): then the vault decides the tax case even of a small sum."""
    return facts is not None and facts.has_billing_address


async def _publish_reference(deps: BillingDeps, uow: UnitOfWork, tariff: Tariff) -> None:
    if deps.reference is not None:
        ledger = uow.repository(deps.reference)
        await publish_tariff(ledger, uow, tariff, deps.published_tariffs)
        await publish_issuer(ledger, uow, deps.issuer)


def _delivery(deps: BillingDeps, facts: RequestFacts | None) -> tuple[bool, str | None]:
    """``(queue, problem)`` for e-mailing the invoice: queued (the worker reads the address from
    the vault at each attempt; retention keeps just that address after InvoiceIssued until the
    delivery is over), or recorded as failed at once. No e-mail given at intake: no delivery."""
    if facts is None or not facts.has_email:
        return False, None
    if not deps.email_enabled:
        # visible to the office ("SMTP ist nicht eingerichtet"); it can send it once SMTP is set
        # up, while retention keeps the address (the delivery hold)
        return True, SMTP_DISABLED
    return True, None


def _e_invoice(deps: BillingDeps, due: InvoiceDue, facts: RequestFacts | None,
               recipient: Recipient | None) -> bool:
    """EN 16931 e-invoice for B2B full invoices; a request not (yet) known counts as business,
    like intake's default (an XML never hurts a consumer, a missing one hurts a business)."""
    return (due.billable.kind is InvoiceKind.FULL and deps.issuer.can_issue_e_invoices
            and (facts is None or facts.customer_type is CustomerType.BUSINESS
                 or (recipient is not None and recipient.buyer_reference is not None)))


async def _issue(repo: BillingRepository, deps: BillingDeps, uow: UnitOfWork, case: BillingCase,
                 due: InvoiceDue, *, cause: Event, recipient: Recipient | None, facts: RequestFacts | None,
                 customer_number: str | None, tariff_sha256: str) -> InvoiceIssued:
    """The effects of issuing: number, document, archived copy, delivery. Raises
    :class:`IssuingFailed` (inside the caller's savepoint) when the document cannot be made."""
    # The number is drawn last, in this transaction: if anything fails, the counter rolls
    # back with the invoice, so numbers stay gapless and are never reused.
    year = invoice_year(uow.now)
    seq, work_note = await repo.next_invoice_seq_with_note(year, case.session_id)
    [issued] = decide(IssueInvoice(
        cause=cause, due=due, number=format_invoice_number(deps.number_format, year, seq), issued_at=uow.now,
        customer_number=customer_number, tariff_sha256=tariff_sha256), case)
    assert isinstance(issued, InvoiceIssued)
    document = issued_invoice_document(
        issued, issuer=deps.issuer, recipient=recipient.party() if recipient else None,
        e_invoice=_e_invoice(deps, due, facts, recipient),
        customer_name=recipient.customer_name if recipient else None,
        work_note=work_note)
    try:
        check_complete(document)
    except DocumentIncomplete as exc:
        raise IssuingFailed(BlockReason.ISSUING_FAILED, str(exc)) from None
    # CPU-bound (about 25 ms): off the event loop. The document is part of this transaction:
    # an invoice is never without its archived copy.
    try:
        rendered = await asyncio.to_thread(deps.renderer.render, document)
    except TRANSIENT:
        raise
    except Exception as exc:  # noqa: BLE001 - any render failure blocks the invoice with a reason
        # e.g. lxml refusing a character of old vault data; the message may quote the data
        raise IssuingFailed(BlockReason.DOCUMENT_RENDER_FAILED, type(exc).__name__) from None
    await repo.add_invoice(NewInvoice.of(issued, year=year, seq=seq, recipient=recipient,
                                         e_invoice=document.e_invoice))
    await repo.archive(issued.invoice_number, "invoice", year, rendered, uow.now)
    queued, problem = _delivery(deps, facts)
    if queued:
        await repo.add_delivery(issued.invoice_number, year, case.request_id, uow.now, failed_because=problem)
    return issued


async def on_customer_promoted(event: CustomerPromoted, uow: UnitOfWork, *, deps: BillingDeps) -> None:
    """Create the regular customer's account (unless the session's end already did)."""
    repo = deps.repository(uow.conn)
    await ensure_customer_account(repo, deps, request_id=event.request_id,
                                  session_id=event.session_id, uow=uow, cause=event)


async def ensure_customer_account(repo: BillingRepository, deps: BillingDeps, *,
                                  request_id: uuid.UUID, session_id: uuid.UUID, uow: UnitOfWork,
                                  cause: Event) -> str:
    """The account's customer number; creates the account from the vault if there is none.

    An existing account never touches the vault: by then the request's data may be erased.
    """
    await repo.lock_customer(request_id)
    existing = await repo.customer_number_for(request_id)
    if existing is not None:
        return existing
    entry = await deps.vault.get(request_id, purpose="customer_account")
    statement = entry.statement
    if statement is None:
        raise PromotionStatementMissing("promoted request has no statement in the vault")
    data = entry.data
    number = await repo.add_customer(NewCustomerAccount(
        request_id=request_id, session_id=session_id, company=data.company,
        contact_name=data.contact_name, phone=data.phone,
        email=str(data.email) if data.email is not None else None,
        address=data.address.model_dump(mode="json") if data.address is not None else None,
        statement=statement.text, stated_at=statement.stated_at, technician=statement.technician,
        created_at=uow.now))
    uow.emit(CustomerAccountCreated(**cause.caused(
        customer_number=number, request_id=request_id, session_id=session_id)))
    log.info("customer account created", extra={"customer_number": number, "request_id": str(request_id)})
    return number
