"""The billing case, given/when/then: given billing's events so far, when a command, then the
events (or the invoice due). Every decision path, the idempotent repeat, and the fold the audit
shares (``fw_contracts.billing_case``)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from fw_billing.domain.billing_case import (
    BillingCase,
    BillSession,
    CloseLostClaim,
    Command,
    Decision,
    InvoiceDue,
    IssueInvoice,
    RecipientData,
    RecordIssuingFailure,
    decide,
    evolve,
    open_case,
    replay,
)
from fw_billing.domain.invoicing import Billable, NotBilled, assess
from fw_billing.domain.tariff import Tariff
from fw_contracts.billing_case import BillingOutcome, BillingStatus, next_outcome, session_outcomes
from fw_contracts.events import (
    BillingAddressProvided,
    BillingBlocked,
    BlockReason,
    ErasureReason,
    InvoiceCancelled,
    InvoiceIssued,
    InvoiceKind,
    NotBilledReason,
    PersonalDataErased,
    SessionEnded,
    SessionNotBilled,
    TaxCase,
)

STARTED = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)  # Tuesday 10:00 in Berlin
ISSUED_AT = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
SMALL_SECONDS = 1800  # 2 intervals * 24.00 = 48.00 net, 57.12 gross
FULL_SECONDS = 10 * 900  # 240.00 net, 285.60 gross > 250
TARIFF = Tariff.model_validate({
    "version": "test-1", "base_fee": Decimal("0.00"), "interval_seconds": 900,
    "rate_per_interval": Decimal("24.00"), "min_billed_seconds": 900, "free_threshold_seconds": 120,
    "vat_rate": Decimal("0.19"), "surcharges": ()})


def session_end(seconds: int) -> SessionEnded:
    return SessionEnded(session_id=uuid.uuid4(), request_id=uuid.uuid4(), technician="tech-07",
                        started_at=STARTED, ended_at=STARTED + timedelta(seconds=seconds),
                        duration_seconds=seconds, promoted=False)


class Scenario:
    """given(events) → when(command) → then(decisions); the state is the fold of the givens."""

    def __init__(self, seconds: int = SMALL_SECONDS) -> None:
        self.ended = session_end(seconds)
        self.case = open_case(self.ended, TARIFF.version)

    def given(self, *events: Decision) -> Scenario:
        self.case = replay(events, self.case)
        return self

    def when(self, command: Command) -> list[Decision]:
        return decide(command, self.case)

    def assessed(self, tax_case: TaxCase = TaxCase.DOMESTIC) -> NotBilled | Billable:
        return assess(self.case.raw_seconds, self.case.started_at, TARIFF, tax_case)

    def bill(self, recipient: RecipientData = RecipientData.NOT_READ, *, cause: Any = None,
             tax_case: TaxCase = TaxCase.DOMESTIC) -> BillSession:
        return BillSession(cause or self.ended, self.assessed(tax_case), recipient)

    def issue(self, number: str = "FW-2026-000001", **changes: Any) -> IssueInvoice:
        [due] = self.when(self.bill(RecipientData.ADDRESS))
        assert isinstance(due, InvoiceDue)
        return IssueInvoice(**{"cause": self.ended, "due": due, "number": number, "issued_at": ISSUED_AT,
                               "customer_number": None, "tariff_sha256": "c" * 64, **changes})

    def blocked(self, reason: BlockReason) -> BillingBlocked:
        [event] = decide(RecordIssuingFailure(self.ended, reason), self.case)
        assert isinstance(event, BillingBlocked)
        return event

    def issued(self) -> InvoiceIssued:
        [event] = self.when(self.issue())
        assert isinstance(event, InvoiceIssued)
        return event


def caused_by(event: Any, cause: Any) -> bool:
    return (event.correlation_id, event.causation_id) == (cause.correlation_id, cause.event_id)


# ------------------------------------------------------------------ opening
def test_a_session_end_opens_a_pending_case_priced_by_the_given_tariff() -> None:
    ended = session_end(SMALL_SECONDS)
    case = open_case(ended, "test-1")
    assert (case.session_id, case.request_id, case.raw_seconds, case.tariff_version) == (
        ended.session_id, ended.request_id, SMALL_SECONDS, "test-1")
    assert case.status is BillingStatus.PENDING and case.outcome == BillingOutcome()
    assert case.source_event_id == ended.event_id


# ------------------------------------------------------------------ not billed
def test_below_the_free_threshold_the_session_is_not_billed() -> None:
    s = Scenario(seconds=119)
    [event] = s.when(s.bill())
    assert isinstance(event, SessionNotBilled) and event.reason is NotBilledReason.FREE_THRESHOLD
    assert (event.session_id, event.tariff_version, event.raw_seconds) == (s.case.session_id, "test-1", 119)
    assert caused_by(event, s.ended)
    assert evolve(s.case, event).status is BillingStatus.NOT_BILLED


def test_a_full_invoice_whose_recipient_was_erased_is_a_lost_claim() -> None:
    s = Scenario(seconds=FULL_SECONDS)
    [event] = s.when(s.bill(RecipientData.ERASED))
    assert isinstance(event, SessionNotBilled) and event.reason is NotBilledReason.RECIPIENT_DATA_ERASED
    assert evolve(s.case, event).status is BillingStatus.NOT_BILLED


# ------------------------------------------------------------------ invoice due and issued
def test_a_kleinbetrag_is_due_without_reading_the_recipient() -> None:
    s = Scenario(seconds=SMALL_SECONDS)
    [due] = s.when(s.bill(RecipientData.NOT_READ))
    assert isinstance(due, InvoiceDue)
    assert due.billable.kind is InvoiceKind.SMALL and not due.billable.needs_recipient
    assert due.billable.pricing.gross_total == Decimal("57.12")
    assert evolve(s.case, due) == s.case  # the decision to issue changes nothing yet


def test_a_kleinbetrag_is_due_even_when_the_recipient_data_are_gone() -> None:
    s = Scenario(seconds=SMALL_SECONDS)
    [due] = s.when(s.bill(RecipientData.ERASED))
    assert isinstance(due, InvoiceDue) and due.billable.kind is InvoiceKind.SMALL


def test_a_full_invoice_is_due_with_the_recipient_address() -> None:
    s = Scenario(seconds=FULL_SECONDS)
    [due] = s.when(s.bill(RecipientData.ADDRESS))
    assert isinstance(due, InvoiceDue)
    assert due.billable.kind is InvoiceKind.FULL and due.billable.pricing.gross_total == Decimal("285.60")


def test_issuing_states_the_pricing_once_in_the_event() -> None:
    s = Scenario(seconds=FULL_SECONDS)
    command = s.issue(customer_number="K00001")
    [event] = s.when(command)
    p = command.due.billable.pricing
    assert isinstance(event, InvoiceIssued)
    assert (event.invoice_number, event.kind, event.issued_at, event.service_date) == (
        "FW-2026-000001", InvoiceKind.FULL, ISSUED_AT, s.case.ended_at)
    assert (event.lines, event.net_total, event.vat_rate, event.vat_total, event.gross_total) == (
        p.lines, p.net_total, p.vat_rate, p.vat_total, p.gross_total)
    assert (event.tariff_version, event.raw_seconds, event.billed_seconds) == ("test-1", FULL_SECONDS, 9000)
    assert (event.customer_number, event.tax_case, event.tariff_sha256) == ("K00001", TaxCase.DOMESTIC, "c" * 64)
    assert caused_by(event, s.ended)
    assert evolve(s.case, event).status is BillingStatus.INVOICED


def test_a_reverse_charge_invoice_carries_its_tax_case_and_no_vat() -> None:
    s = Scenario(seconds=SMALL_SECONDS)
    [due] = s.when(s.bill(RecipientData.ADDRESS, tax_case=TaxCase.REVERSE_CHARGE))
    assert isinstance(due, InvoiceDue)
    assert due.billable.kind is InvoiceKind.FULL  # names the recipient whatever the sum
    assert (due.billable.tax_case, due.billable.pricing.vat_total) == (TaxCase.REVERSE_CHARGE, Decimal("0.00"))


# ------------------------------------------------------------------ blocked
@pytest.mark.parametrize("recipient", [RecipientData.NO_ADDRESS, RecipientData.NOT_READ])
def test_a_full_invoice_without_an_address_is_blocked_for_it(recipient: RecipientData) -> None:
    s = Scenario(seconds=FULL_SECONDS)
    [event] = s.when(s.bill(recipient))
    assert isinstance(event, BillingBlocked)
    assert (event.reason, event.missing) == (BlockReason.BILLING_ADDRESS_MISSING, ("billing_address",))
    after = evolve(s.case, event)
    assert (after.status, after.block_reason) == (BillingStatus.BLOCKED, BlockReason.BILLING_ADDRESS_MISSING)


def test_a_vat_id_no_tax_case_can_be_decided_for_blocks_issuing() -> None:
    s = Scenario(seconds=FULL_SECONDS)
    [event] = s.when(BillSession(s.ended, None, RecipientData.ADDRESS))
    assert isinstance(event, BillingBlocked)
    assert (event.reason, event.missing) == (BlockReason.ISSUING_FAILED, ())


@pytest.mark.parametrize("reason", [BlockReason.DOCUMENT_RENDER_FAILED, BlockReason.ISSUING_FAILED])
def test_a_failed_issue_is_a_block_with_its_reason(reason: BlockReason) -> None:
    s = Scenario(seconds=FULL_SECONDS)
    [event] = s.when(RecordIssuingFailure(s.ended, reason))
    assert isinstance(event, BillingBlocked) and (event.reason, event.missing) == (reason, ())
    assert evolve(s.case, event).outcome == BillingOutcome(BillingStatus.BLOCKED, reason)


def test_a_block_is_announced_once_per_reason() -> None:
    s = Scenario(seconds=FULL_SECONDS)
    s.given(s.blocked(BlockReason.BILLING_ADDRESS_MISSING))
    assert s.when(s.bill(RecipientData.NO_ADDRESS)) == []
    [other] = s.when(RecordIssuingFailure(s.ended, BlockReason.DOCUMENT_RENDER_FAILED))
    assert isinstance(other, BillingBlocked) and other.reason is BlockReason.DOCUMENT_RENDER_FAILED


def test_a_block_stored_before_reasons_counts_as_the_missing_address() -> None:
    s = Scenario(seconds=FULL_SECONDS)
    legacy = BillingCase(**{**vars(s.case), "status": BillingStatus.BLOCKED, "block_reason": None})
    assert decide(s.bill(RecipientData.NO_ADDRESS), legacy) == []


def test_the_address_provided_bills_the_blocked_case() -> None:
    s = Scenario(seconds=FULL_SECONDS)
    s.given(s.blocked(BlockReason.BILLING_ADDRESS_MISSING))
    provided = BillingAddressProvided(session_id=s.case.session_id, request_id=s.case.request_id)
    [due] = s.when(s.bill(RecipientData.ADDRESS, cause=provided))
    assert isinstance(due, InvoiceDue)
    [event] = s.when(IssueInvoice(provided, due, "FW-2026-000002", ISSUED_AT, None, None))
    assert isinstance(event, InvoiceIssued) and caused_by(event, provided)
    after = evolve(s.case, event)
    assert after.outcome == BillingOutcome(BillingStatus.INVOICED)  # no reason in the outcome …
    assert after.block_reason is BlockReason.BILLING_ADDRESS_MISSING  # … the case remembers the last block


# ------------------------------------------------------------------ lost claim
def test_an_erasure_closes_a_blocked_case_as_a_lost_claim() -> None:
    s = Scenario(seconds=FULL_SECONDS)
    s.given(s.blocked(BlockReason.BILLING_ADDRESS_MISSING))
    erased = PersonalDataErased(request_id=s.case.request_id, reason=ErasureReason.ABANDONED, erased_at=ISSUED_AT)
    [event] = s.when(CloseLostClaim(erased))
    assert isinstance(event, SessionNotBilled) and event.reason is NotBilledReason.RECIPIENT_DATA_ERASED
    assert caused_by(event, erased)
    closed = evolve(s.case, event)
    assert closed.outcome == BillingOutcome(BillingStatus.NOT_BILLED)
    assert closed.block_reason is BlockReason.BILLING_ADDRESS_MISSING  # the office sees why it was blocked


def test_an_erasure_leaves_a_case_that_is_not_blocked_alone() -> None:
    s = Scenario(seconds=SMALL_SECONDS)
    erased = PersonalDataErased(request_id=s.case.request_id, reason=ErasureReason.INVOICE_ISSUED, erased_at=ISSUED_AT)
    assert s.when(CloseLostClaim(erased)) == []  # pending
    s.given(s.issued())
    assert s.when(CloseLostClaim(erased)) == []  # invoiced


# ------------------------------------------------------------------ idempotent repeat
@pytest.mark.parametrize("outcome", ["invoiced", "not_billed"])
def test_a_decided_case_decides_nothing_again(outcome: str) -> None:
    s = Scenario(seconds=SMALL_SECONDS)
    if outcome == "invoiced":
        s.given(s.issued())
    else:
        s.given(SessionNotBilled(session_id=s.case.session_id, request_id=s.case.request_id,
                                 reason=NotBilledReason.GOODWILL, tariff_version="test-1",
                                 raw_seconds=SMALL_SECONDS))
    assert s.case.status.final
    for command in (s.bill(RecipientData.ADDRESS), RecordIssuingFailure(s.ended, BlockReason.ISSUING_FAILED),
                    CloseLostClaim(s.ended)):
        assert s.when(command) == []


def test_issuing_a_decided_case_again_issues_nothing() -> None:
    s = Scenario(seconds=SMALL_SECONDS)
    command = s.issue()
    s.given(s.issued())
    assert s.when(command) == []


# ------------------------------------------------------------------ corrections and cancellations
def test_a_corrected_invoice_keeps_the_case_invoiced_and_a_cancellation_changes_nothing() -> None:
    s = Scenario(seconds=SMALL_SECONDS)
    original = s.issued()
    s.given(original)
    cancelled = InvoiceCancelled(
        cancellation_number="FW-S-2026-000001", invoice_number=original.invoice_number,
        request_id=original.request_id, cancelled_at=ISSUED_AT, reason_code="wrong_amount",
        net_total=-original.net_total, vat_total=-original.vat_total, gross_total=-original.gross_total)
    assert next_outcome(s.case.outcome, cancelled) == s.case.outcome
    corrected = original.model_copy(update={"invoice_number": "FW-2026-000002", "corrects": original.invoice_number,
                                            "event_id": uuid.uuid4()})
    assert evolve(s.case, corrected).status is BillingStatus.INVOICED


# ------------------------------------------------------------------ the shared fold
def test_the_audit_fold_of_the_stream_equals_the_cases() -> None:
    """``session_outcomes`` (what the audit rebuilds billing's rows with) folds the same events
    to the same outcome as each case's own ``evolve``."""
    small, full, lost, other = (Scenario(SMALL_SECONDS), Scenario(FULL_SECONDS), Scenario(FULL_SECONDS),
                                Scenario(FULL_SECONDS))
    stream: list[Any] = [small.ended, full.ended, lost.ended, other.ended]
    plays: list[tuple[Scenario, list[Callable[[Scenario], Any]]]] = [
        (small, [lambda s: s.issued()]),
        (full, [lambda s: s.when(s.bill(RecipientData.NO_ADDRESS))[0], lambda s: s.issued()]),
        (lost, [lambda s: s.when(s.bill(RecipientData.NO_ADDRESS))[0],
                lambda s: s.when(CloseLostClaim(s.ended))[0]]),
        (other, [lambda s: s.blocked(BlockReason.DOCUMENT_RENDER_FAILED)]),
    ]
    for scenario, steps in plays:
        for step in steps:
            event = step(scenario)
            scenario.given(event)
            stream.append(event)
    rebuilt = session_outcomes(stream)
    assert rebuilt == {
        s.case.session_id: s.case.outcome for s in (small, full, lost, other)}
    assert [rebuilt[s.case.session_id].status for s in (small, full, lost, other)] == [
        BillingStatus.INVOICED, BillingStatus.INVOICED, BillingStatus.NOT_BILLED, BillingStatus.BLOCKED]
