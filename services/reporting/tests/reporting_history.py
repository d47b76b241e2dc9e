"""A scripted history of the office, as the four services would have published it.

Times are UTC; the office's months are Europe/Berlin (CET = UTC+1 in January to March 2026
before the 29th of March). The expected figures in the tests are worked out by hand from the
comments here.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from fw_contracts import Event
from fw_contracts.events import (
    CustomerAccountCreated,
    CustomerPromoted,
    CustomerType,
    ErasureReason,
    InvoiceCancelled,
    InvoiceIssued,
    InvoiceKind,
    InvoiceLine,
    NotBilledReason,
    PersonalDataErased,
    SessionEnded,
    SessionNotBilled,
    SessionStarted,
    SupportRequestCreated,
    SupportRequestWithdrawn,
    TermsAcceptance,
)

R = [uuid.uuid4() for _ in range(8)]  # R[1]..R[7]: support requests
S = [uuid.uuid4() for _ in range(6)]  # S[1]..S[5]: sessions


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def started(s: int, r: int, tech: str, when: str) -> SessionStarted:
    return SessionStarted(session_id=S[s], request_id=R[r], technician=tech, started_at=at(when),
                          occurred_at=at(when))


def ended(s: int, r: int, tech: str, start: str, seconds: int, promoted: bool = False) -> SessionEnded:
    end = at(start) + timedelta(seconds=seconds)
    return SessionEnded(session_id=S[s], request_id=R[r], technician=tech, started_at=at(start),
                        ended_at=end, duration_seconds=seconds, promoted=promoted, occurred_at=end)


def invoice(number: str, s: int, r: int, when: str, raw: int, billed: int, net: str, vat: str) -> InvoiceIssued:
    n, v = Decimal(net), Decimal(vat)
    return InvoiceIssued(
        invoice_number=number, session_id=S[s], request_id=R[r], kind=InvoiceKind.SMALL,
        issued_at=at(when), service_date=at(when), tariff_version="2026-01", raw_seconds=raw,
        billed_seconds=billed,
        lines=(InvoiceLine(description="Fernwartung", quantity=Decimal(1), unit="C62", unit_price=n, net=n),),
        net_total=n, vat_rate=Decimal("0.19"), vat_total=v, gross_total=n + v, occurred_at=at(when))


def erased(r: int, reason: ErasureReason, trigger: Event | None, when: str) -> PersonalDataErased:
    return PersonalDataErased(request_id=R[r], reason=reason,
                              trigger_event_id=trigger.event_id if trigger else None,
                              erased_at=at(when), occurred_at=at(when))


def backfill_history() -> list[Event]:
    """Everything that happened before reporting was first started (24 events, 23 used)."""
    created = SupportRequestCreated(
        request_id=R[1], ticket="K7MQ-3XA", customer_type=CustomerType.BUSINESS,
        terms=TermsAcceptance(terms_version="2026-01", terms_sha256="a" * 64,
                              accepted_at=at("2026-01-10T08:59:00")),
        occurred_at=at("2026-01-10T08:59:00"))
    # January: tech-01, 20 min, billed 30 min; erased 0.5 s after the invoice
    inv1 = invoice("FW-2026-000001", 1, 1, "2026-01-10T09:20:05", 1200, 1800, "100.00", "19.00")
    # 31 Jan 23:00 to 1 Feb 00:00 Berlin: the session ends in February, the promotion is
    # stated in January (23:30 Berlin), the account and the invoice are February's
    inv2 = invoice("FW-2026-000002", 2, 2, "2026-01-31T23:30:00", 3600, 3600, "200.00", "38.00")
    # February: a 30 s aborted connection, not billed; erased 1 s later
    not_billed = SessionNotBilled(session_id=S[3], request_id=R[3], reason=NotBilledReason.FREE_THRESHOLD,
                                  tariff_version="2026-01", raw_seconds=30,
                                  occurred_at=at("2026-02-05T10:00:31"))
    withdrawn = SupportRequestWithdrawn(request_id=R[4], occurred_at=at("2026-02-06T08:00:00"))
    # March: tech-02, 15 min; the January invoice is cancelled in March
    inv3 = invoice("FW-2026-000003", 4, 6, "2026-03-02T08:15:10", 900, 900, "50.00", "9.50")
    storno = InvoiceCancelled(cancellation_number="FW-S-2026-000001", invoice_number=inv1.invoice_number,
                              request_id=R[1], cancelled_at=at("2026-03-03T12:00:00"), reason_code="goodwill",
                              net_total=Decimal("100.00"), vat_total=Decimal("19.00"),
                              gross_total=Decimal("119.00"), occurred_at=at("2026-03-03T12:00:00"))
    return [
        created,
        started(1, 1, "tech-01", "2026-01-10T09:00:00"),
        ended(1, 1, "tech-01", "2026-01-10T09:00:00", 1200),
        inv1,
        erased(1, ErasureReason.INVOICE_ISSUED, inv1, "2026-01-10T09:20:05.500000"),
        started(2, 2, "tech-02", "2026-01-31T22:00:00"),
        CustomerPromoted(session_id=S[2], request_id=R[2], technician="tech-02", statement_sha256="b" * 64,
                         stated_at=at("2026-01-31T22:30:00"), occurred_at=at("2026-01-31T22:30:00")),
        ended(2, 2, "tech-02", "2026-01-31T22:00:00", 3600, promoted=True),
        CustomerAccountCreated(customer_number="K00001", request_id=R[2], session_id=S[2],
                               occurred_at=at("2026-01-31T23:00:01")),
        inv2,
        erased(2, ErasureReason.INVOICE_ISSUED, inv2, "2026-01-31T23:30:02"),
        started(3, 3, "tech-01", "2026-02-05T10:00:00"),
        ended(3, 3, "tech-01", "2026-02-05T10:00:00", 30),
        not_billed,
        erased(3, ErasureReason.NOT_BILLED, not_billed, "2026-02-05T10:00:32"),
        withdrawn,
        erased(4, ErasureReason.WITHDRAWN, withdrawn, "2026-02-06T08:00:10"),
        # abandoned: the deadline is not an event, so this erasure is counted, not measured
        erased(5, ErasureReason.ABANDONED, None, "2026-02-20T00:00:00"),
        started(4, 6, "tech-02", "2026-03-02T08:00:00"),
        ended(4, 6, "tech-02", "2026-03-02T08:00:00", 900),
        inv3,
        erased(6, ErasureReason.INVOICE_ISSUED, inv3, "2026-03-02T08:15:14"),
        storno,
        # still running when reporting starts
        started(5, 7, "tech-01", "2026-03-04T09:00:00"),
    ]


def live_history() -> list[Event]:
    """What happens while reporting runs: the running session ends and is invoiced."""
    inv4 = invoice("FW-2026-000004", 5, 7, "2026-03-04T09:45:03", 2700, 2700, "150.00", "28.50")
    return [
        ended(5, 7, "tech-01", "2026-03-04T09:00:00", 2700),
        inv4,
        erased(7, ErasureReason.INVOICE_ISSUED, inv4, "2026-03-04T09:45:06"),
    ]
