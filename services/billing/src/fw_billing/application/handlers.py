"""Event handlers of billing. Each runs inside the consumer's transaction (``uow.conn``) and
emits through the outbox, so state, idempotency record and events commit together.

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
    SessionRecord,
)
from fw_billing.application.reference import publish_issuer, publish_tariff, tariff_hash
from fw_billing.domain.delivery import SMTP_DISABLED
from fw_billing.domain.documents import DocumentIncomplete, check_complete, invoice_document
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


async def on_support_request_created(event: SupportRequestCreated, uow: UnitOfWork, *,
                                     deps: BillingDeps) -> None:
    """Remember whether the request is B2B and whether it gave an e-mail (no personal data), and
    the hash of the customer's download code (the capability checked by ``/api/downloads``)."""
    await deps.repository(uow.conn).record_request(RequestFacts(
        request_id=event.request_id, customer_type=event.customer_type, has_email=event.has_email,
        has_billing_address=event.has_billing_address, recorded_at=uow.now,
        download_sha256=event.download_sha256, ticket=event.ticket))


async def on_session_ended(event: SessionEnded, uow: UnitOfWork, *, deps: BillingDeps) -> None:
    """Price the session; then not billed, blocked (address missing) or invoiced."""
    repo = deps.repository(uow.conn)
    record = await repo.claim_session(SessionRecord(
        session_id=event.session_id, request_id=event.request_id, started_at=event.started_at,
        ended_at=event.ended_at, raw_seconds=event.duration_seconds, promoted=event.promoted,
        tariff_version=deps.tariffs.current.version, status=SessionStatus.PENDING,
        source_event_id=event.event_id))
    if record.status.final:
        log.info("session already decided; event ignored", extra={
            "session_id": str(record.session_id), "event_id": str(event.event_id)})
        return
    await _bill(repo, deps, uow, record, cause=event, promoted=record.promoted or event.promoted)


async def on_billing_address_provided(event: BillingAddressProvided, uow: UnitOfWork, *,
                                      deps: BillingDeps) -> None:
    """The technician added the address a full invoice was missing: bill the blocked session now.

    Rides on the ``session_ended`` consumer, so it is never seen before the session's end.
    """
    repo = deps.repository(uow.conn)
    record = await repo.find_session(event.session_id)
    if record is None or record.status is not SessionStatus.BLOCKED:
        # e.g. the session was closed as not billed because the data were erased at the end of
        # retention's billing hold: too late, and nothing to retry (not a poison message)
        log.info("recipient details provided for a session that is not blocked; nothing to do",
                 extra={"session_id": str(event.session_id), "event_id": str(event.event_id),
                        "status": record.status.value if record else "unknown"})
        return
    await _bill(repo, deps, uow, record, cause=event, promoted=record.promoted)


async def on_personal_data_erased(event: PersonalDataErased, uow: UnitOfWork, *, deps: BillingDeps) -> None:
    """The request's personal data are gone: a session still blocked for want of the recipient's
    address can never be invoiced. Close it as not billed (``recipient_data_erased``), so the
    office sees a lost claim instead of a session blocked for ever.

    Typically retention's billing hold ended (reason ``abandoned``); any erasure of the request
    has the same effect. Sessions already invoiced or not billed are left alone (a redelivery
    finds nothing blocked). The ``SessionNotBilled`` makes retention erase the request, which
    already carries its marker: a no-op there, no second ``PersonalDataErased``.
    """
    repo = deps.repository(uow.conn)
    for record in await repo.blocked_sessions_for(event.request_id):
        await _close_lost_claim(repo, uow, record, cause=event)


async def _close_lost_claim(repo: BillingRepository, uow: UnitOfWork, record: SessionRecord, *,
                            cause: Event) -> None:
    """Not billed: the recipient's data, needed for the full invoice, were erased."""
    await repo.set_status(record.session_id, SessionStatus.NOT_BILLED, uow.now)
    uow.emit(SessionNotBilled(**cause.caused(
        session_id=record.session_id, request_id=record.request_id,
        reason=NotBilledReason.RECIPIENT_DATA_ERASED, tariff_version=record.tariff_version,
        raw_seconds=record.raw_seconds)))
    log.warning("session not billed: recipient data erased before the invoice (claim lost)", extra={
        "session_id": str(record.session_id), "request_id": str(record.request_id),
        "event_id": str(cause.event_id), "reason": NotBilledReason.RECIPIENT_DATA_ERASED.value})


async def _bill(repo: BillingRepository, deps: BillingDeps, uow: UnitOfWork, record: SessionRecord, *,
                cause: Event, promoted: bool) -> None:
    """Decide a claimed, undecided session: not billed, blocked (address missing) or invoiced."""
    event = cause
    ids = {"session_id": str(record.session_id), "request_id": str(record.request_id)}
    try:
        # The version first used for this session, also when a blocked session is retried later.
        tariff = deps.tariffs.get(record.tariff_version)
    except TariffError as exc:
        raise PermanentError(str(exc)) from None

    # Before anything that lets retention erase the request's data (InvoiceIssued,
    # SessionNotBilled): the account is built from that data.
    customer_number: str | None
    if promoted:
        customer_number = await ensure_customer_account(
            repo, deps, request_id=record.request_id, session_id=record.session_id, uow=uow, cause=event)
    else:
        customer_number = await repo.customer_number_for(record.request_id)

    facts = await repo.request_facts(record.request_id)
    decision = assess(record.raw_seconds, record.started_at, tariff)
    # The tariff (and the issuer) go into the stream before the first event that names them.
    await _publish_reference(deps, uow, tariff)
    entry: VaultEntry | None = None
    if isinstance(decision, Billable) and (decision.needs_recipient or _may_be_abroad(facts)):
        # The tax case needs the billing address's country and the VAT id (vault only).
        try:
            entry = await deps.vault.get(record.request_id, purpose="billing")
        except RecipientDataErased:
            if decision.needs_recipient:
                # erased before billing got here (e.g. the address came just as the hold ended)
                await _close_lost_claim(repo, uow, record, cause=event)
                return
        except RecipientDataMissing:
            if decision.needs_recipient:
                raise
            # nothing known about the recipient: as without an address (domestic, small)
        try:
            decision = _with_tax_case(decision, record, tariff, facts, entry)
        except PermanentError:
            # a VAT id that bypassed intake's check: a recorded block, not a parked message
            await _block(repo, uow, record, cause=event, reason=BlockReason.ISSUING_FAILED)
            return
    if isinstance(decision, NotBilled):
        await repo.set_status(record.session_id, SessionStatus.NOT_BILLED, uow.now)
        uow.emit(SessionNotBilled(**event.caused(
            session_id=record.session_id, request_id=record.request_id, reason=decision.reason,
            tariff_version=tariff.version, raw_seconds=record.raw_seconds)))
        log.info("session not billed", extra={**ids, "reason": decision.reason.value})
        return

    recipient: Recipient | None = None
    if decision.needs_recipient:
        assert entry is not None  # read above for every decision that needs the recipient
        if entry.data.address is None:
            await _block(repo, uow, record, cause=event, reason=BlockReason.BILLING_ADDRESS_MISSING)
            return
        recipient = Recipient.from_personal_data(
            entry.data, customer_name=await repo.customer_name(customer_number) if customer_number else None)
    email, email_problem = await _delivery_address(deps, facts, entry, record.request_id)
    # EN 16931 e-invoice for B2B full invoices; a request not (yet) known counts as business,
    # like intake's default (an XML never hurts a consumer, a missing one hurts a business).
    e_invoice = (decision.kind is InvoiceKind.FULL and deps.issuer.can_issue_e_invoices
                 and (facts is None or facts.customer_type is CustomerType.BUSINESS
                      or (recipient is not None and recipient.buyer_reference is not None)))
    try:
        # A savepoint: should issuing fail for good, the drawn number, the invoice row and the
        # archived copy roll back (numbers stay gapless) while the block below commits with
        # this transaction, so the message is acked and nothing is parked.
        async with repo.savepoint():
            await _issue(repo, deps, uow, event, record, decision, recipient, customer_number,
                         e_invoice=e_invoice, email=email, email_problem=email_problem,
                         tariff_sha256=tariff_hash(tariff))
    except PermanentError as exc:
        # any other permanent failure while issuing: a recorded block, not a parked message
        log.error("invoice could not be issued; billing blocked", extra={
            **ids, "reason": BlockReason.ISSUING_FAILED.value, "error": str(exc)})
        await _block(repo, uow, record, cause=event, reason=BlockReason.ISSUING_FAILED)
    except IssuingFailed as exc:
        log.error("invoice could not be issued; billing blocked", extra={
            **ids, "reason": exc.reason.value, "error": str(exc)})
        await _block(repo, uow, record, cause=event, reason=exc.reason)


async def _block(repo: BillingRepository, uow: UnitOfWork, record: SessionRecord, *, cause: Event,
                 reason: BlockReason) -> None:
    """BLOCKED with ``reason``, announced once per reason (not on every retry of the same one).

    Retention then holds the request's data for its bounded billing hold and erases them; billing
    closes the session as a lost claim on that erasure (:func:`on_personal_data_erased`).
    """
    # a row blocked before reasons were recorded was blocked for the address
    before = (record.block_reason or BlockReason.BILLING_ADDRESS_MISSING
              if record.status is SessionStatus.BLOCKED else None)
    if before is not reason:
        uow.emit(BillingBlocked(**cause.caused(
            session_id=record.session_id, request_id=record.request_id, reason=reason,
            missing=("billing_address",) if reason is BlockReason.BILLING_ADDRESS_MISSING else ())))
    await repo.block(record.session_id, reason, uow.now)
    log.info("billing blocked", extra={"session_id": str(record.session_id),
                                       "request_id": str(record.request_id), "reason": reason.value})


def _may_be_abroad(facts: RequestFacts | None) -> bool:
    """Whether the request gave an address, hence maybe one abroad (intake takes a VAT id or a
    Leitweg-ID only with an address): then the vault decides the tax case even of a small sum."""
    return facts is not None and facts.has_billing_address


def _with_tax_case(decision: Billable, record: SessionRecord, tariff: Tariff, facts: RequestFacts | None,
                   entry: VaultEntry | None) -> Billable:
    """The decision re-assessed under the tax case of the recipient (domain/tax.py)."""
    data = entry.data if entry is not None else None
    try:
        case = decide_tax_case(
            customer_type=facts.customer_type if facts is not None else None,
            country=data.address.country if data is not None and data.address is not None else None,
            vat_id=data.vat_id if data is not None else None, tariff_vat_rate=tariff.vat_rate)
    except InvalidVatId:
        # Only a value that bypassed intake's check gets here; no number is drawn.
        raise PermanentError("recipient VAT id invalid for the tax case") from None
    again = assess(record.raw_seconds, record.started_at, tariff, case)
    assert isinstance(again, Billable)  # the tax case never makes a session free
    return again


async def _publish_reference(deps: BillingDeps, uow: UnitOfWork, tariff: Tariff) -> None:
    if deps.reference is not None:
        ledger = uow.repository(deps.reference)
        await publish_tariff(ledger, uow, tariff)
        await publish_issuer(ledger, uow, deps.issuer)


async def _delivery_address(deps: BillingDeps, facts: RequestFacts | None, entry: VaultEntry | None,
                            request_id: uuid.UUID) -> tuple[str | None, str | None]:
    """``(queue, problem)`` for e-mailing the invoice: ``("vault", None)`` queues it (the worker
    reads the address from the vault at each attempt; retention keeps just that address after
    InvoiceIssued until the delivery is over). No e-mail given at intake: ``(None, None)``."""
    if facts is None or not facts.has_email:
        return None, None
    if not deps.email_enabled:
        # visible to the office ("SMTP ist nicht eingerichtet"); it can send it once SMTP is set
        # up, while retention keeps the address (the delivery hold)
        return None, SMTP_DISABLED
    return "vault", None


async def _issue(repo: BillingRepository, deps: BillingDeps, uow: UnitOfWork, event: Event,
                 record: SessionRecord, decision: Billable, recipient: Recipient | None,
                 customer_number: str | None, *, e_invoice: bool, email: str | None,
                 email_problem: str | None, tariff_sha256: str) -> None:
    # The number is drawn last, in this transaction: if anything fails, the counter rolls
    # back with the invoice, so numbers stay gapless and are never reused.
    year = invoice_year(uow.now)
    seq = await repo.next_invoice_seq(year)
    number = format_invoice_number(deps.number_format, year, seq)
    p = decision.pricing
    issued = InvoiceIssued(**event.caused(
        invoice_number=number, session_id=record.session_id, request_id=record.request_id,
        kind=decision.kind, issued_at=uow.now, service_date=record.ended_at,
        tariff_version=p.tariff_version, raw_seconds=p.raw_seconds, billed_seconds=p.billed_seconds,
        lines=p.lines, net_total=p.net_total, vat_rate=p.vat_rate, vat_total=p.vat_total,
        gross_total=p.gross_total, customer_number=customer_number, tax_case=decision.tax_case,
        tariff_sha256=tariff_sha256))
    document = invoice_document(
        kind=decision.kind, number=number, issued_at=uow.now, service_date=record.ended_at,
        issuer=deps.issuer, recipient=recipient.party() if recipient else None, lines=p.lines,
        net_total=p.net_total, vat_rate=p.vat_rate, vat_total=p.vat_total, gross_total=p.gross_total,
        customer_number=customer_number, raw_seconds=p.raw_seconds, billed_seconds=p.billed_seconds,
        tariff_version=p.tariff_version, e_invoice=e_invoice, tax_case=decision.tax_case,
        customer_name=recipient.customer_name if recipient else None)
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
    await repo.add_invoice(NewInvoice(
        number=number, year=year, seq=seq, session_id=record.session_id,
        request_id=record.request_id, kind=decision.kind, issued_at=uow.now,
        service_date=record.ended_at, tariff_version=p.tariff_version, raw_seconds=p.raw_seconds,
        billed_seconds=p.billed_seconds, lines=p.lines, net_total=p.net_total,
        vat_rate=p.vat_rate, vat_total=p.vat_total, gross_total=p.gross_total,
        customer_number=customer_number, event_id=issued.event_id, recipient=recipient,
        e_invoice=document.e_invoice, tax_case=decision.tax_case))
    await repo.archive(number, "invoice", year, rendered, uow.now)
    if email is not None or email_problem is not None:
        await repo.add_delivery(number, year, record.request_id, uow.now, failed_because=email_problem)
    await repo.set_status(record.session_id, SessionStatus.INVOICED, uow.now)
    uow.emit(issued)
    log.info("invoice issued", extra={"invoice_number": number, "session_id": str(record.session_id),
                                      "request_id": str(record.request_id), "kind": decision.kind.value,
                                      "e_invoice": document.e_invoice})


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
