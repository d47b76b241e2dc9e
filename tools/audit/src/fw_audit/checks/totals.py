"""Every invoice total recomputes from its session and tariff version.

Arithmetic (always): each line's net = round_half_up(quantity × unit price); lines sum to
``net_total``; ``vat_total = round_half_up(net_total × vat_rate, 2)``; ``gross = net + vat``;
``billed_seconds >= raw_seconds``; ``raw_seconds`` equals the ``SessionEnded.duration_seconds``
of the invoiced session. A cancellation's amounts equal (up to sign) the invoice it cancels.

Re-pricing, from the stream alone: the invoice must equal the reference pricing
(:func:`fw_contracts.pricing.price`) of ``raw_seconds`` (a corrected invoice: its
``priced_seconds``) at the session's start, under the invoice's tax case (reverse charge and not
taxable carry no VAT), by the tariff the stream published (``TariffPublished``) for the version
and hash the invoice names, line by line.
An older history without ``TariffPublished`` falls back to ``--tariff-dir`` files (see
:mod:`fw_audit.checks.reference`); the notes say which invoices were priced from which source.

A session not billed with reason ``recipient_data_erased`` (a lost claim: billing waited for the
address, the data were erased at the end of retention's billing hold) needs a
``PersonalDataErased`` of its request somewhere in the history; the notes count lost claims.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from fw_audit.checks import Seen
from fw_audit.checks.reference import StreamReference
from fw_audit.model import CheckResult
from fw_contracts.events import (
    InvoiceCancelled,
    InvoiceIssued,
    InvoiceKind,
    NotBilledReason,
    PersonalDataErased,
    SessionEnded,
    SessionNotBilled,
)
from fw_contracts.pricing import price
from fw_contracts.reference import IssuerDetailsChanged, TariffContent, TariffPublished

NAME = "invoice_totals"
TITLE = "Invoice totals recompute from session and tariff"

CENT = Decimal("0.01")
#: §33 UStDV: up to this gross amount an invoice is a Kleinbetragsrechnung.
SMALL_INVOICE_LIMIT = Decimal("250.00")


def round_cents(amount: Decimal) -> Decimal:
    """Half-up to cents, the rounding billing uses."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class _Session:
    seq: int
    duration: int
    started_at: datetime


class TotalsCheck:
    """Recomputes every invoice (and cancellation) against its session."""

    def __init__(self, tariff_files: dict[str, TariffContent] | None = None, files_note: str = "") -> None:
        #: The tariffs and issuer details in the stream (with the --tariff-dir fallback).
        self.reference = StreamReference(files=dict(tariff_files or {}), files_note=files_note)
        self._sessions: dict[uuid.UUID, _Session] = {}
        self._invoices: dict[str, InvoiceIssued] = {}
        self.res = CheckResult(NAME, TITLE)
        self._repriced = 0
        #: Lost claims (SessionNotBilled recipient_data_erased): (seq, session id, request id).
        self._lost: list[tuple[int, uuid.UUID, uuid.UUID]] = []
        self._erased: set[uuid.UUID] = set()

    def feed(self, seen: Seen) -> None:
        """Check one decoded event (sessions are remembered for the invoices after them)."""
        e = seen.event
        if isinstance(e, (TariffPublished, IssuerDetailsChanged)):
            self.reference.feed(seen, self.res)
        elif isinstance(e, SessionEnded):
            self._sessions.setdefault(e.session_id, _Session(seen.seq, e.duration_seconds, e.started_at))
        elif isinstance(e, InvoiceIssued):
            self.res.checked += 1
            self._invoices.setdefault(e.invoice_number, e)
            if problems := self._invoice_problems(e):
                self.res.fail(f"{e.invoice_number}: {'; '.join(problems)}", seen.seq,
                              invoice_number=e.invoice_number, session_id=e.session_id)
        elif isinstance(e, SessionNotBilled):
            self.res.checked += 1
            if problems := self._not_billed_problems(e):
                self.res.fail(f"not billed: {'; '.join(problems)}", seen.seq, session_id=e.session_id)
            if e.reason is NotBilledReason.RECIPIENT_DATA_ERASED:
                self._lost.append((seen.seq, e.session_id, e.request_id))
        elif isinstance(e, PersonalDataErased):
            self._erased.add(e.request_id)
        elif isinstance(e, InvoiceCancelled):
            self.res.checked += 1
            if problems := self._cancel_problems(e):
                self.res.fail(f"{e.cancellation_number}: {'; '.join(problems)}", seen.seq,
                              number=e.cancellation_number)

    def _invoice_problems(self, e: InvoiceIssued) -> list[str]:
        out = []
        for i, line in enumerate(e.lines, 1):
            if round_cents(line.quantity * line.unit_price) != line.net:
                out.append(f"line {i}: quantity × unit price != net {line.net}")
        lines_sum = sum((line.net for line in e.lines), Decimal(0))
        if lines_sum != e.net_total:
            out.append(f"lines sum to {lines_sum}, net_total is {e.net_total}")
        vat = round_cents(e.net_total * e.vat_rate)
        if vat != e.vat_total:
            out.append(f"vat_total {e.vat_total} != round(net × {e.vat_rate}) = {vat}")
        if e.net_total + e.vat_total != e.gross_total:
            out.append(f"gross_total {e.gross_total} != net + vat = {e.net_total + e.vat_total}")
        # §33 S. 3 UStDV: reverse charge (and a business abroad) always gets a full invoice.
        small = e.gross_total <= SMALL_INVOICE_LIMIT and not e.tax_case.zero_rated
        if e.tax_case.zero_rated and (e.vat_rate != 0 or e.vat_total != 0):
            out.append(f"tax case {e.tax_case.value} shows German VAT {e.vat_total} (§14c UStG)")
        if small != (e.kind is InvoiceKind.SMALL):
            out.append(f"kind {e.kind.value} does not fit gross {e.gross_total} "
                       f"(limit {SMALL_INVOICE_LIMIT}, §33 UStDV)")
        priced = e.priced_seconds if e.priced_seconds is not None else e.raw_seconds
        if e.billed_seconds < priced:
            out.append(f"billed_seconds {e.billed_seconds} < {'priced' if e.priced_seconds is not None else 'raw'}"
                       f"_seconds {priced}")
        if e.priced_seconds is not None and e.corrects is None:
            out.append("priced_seconds set on an invoice that corrects nothing")
        session = self._sessions.get(e.session_id)
        if session is None:
            out.append("no SessionEnded for the invoiced session before the invoice")
            return out
        if session.duration != e.raw_seconds:
            out.append(f"raw_seconds {e.raw_seconds} != SessionEnded.duration_seconds {session.duration} "
                       f"(seq {session.seq})")
        out += self._reprice(e, session)
        return out

    def _reprice(self, e: InvoiceIssued, session: _Session) -> list[str]:
        tariff, problem = self.reference.tariff(e.tariff_version, e.tariff_sha256)
        if tariff is None:
            return [problem or "cannot re-price"]
        # A corrected invoice (LEGAL.md L18) is priced by the corrected duration it names; the
        # tax case (reverse charge, not taxable) removes the VAT, as billing does.
        seconds = e.priced_seconds if e.priced_seconds is not None else session.duration
        p = price(seconds, session.started_at, tariff, e.tax_case)
        self._repriced += 1
        if p.free:
            return [f"tariff {e.tariff_version} prices this session as free (not billable)"]
        out = [f"re-priced {name} {getattr(p, name)} != invoiced {getattr(e, name)}"
               for name in ("billed_seconds", "net_total", "vat_rate", "vat_total", "gross_total")
               if getattr(p, name) != getattr(e, name)]
        if p.lines != e.lines:
            out.append("re-priced invoice lines differ from the invoiced lines")
        return out

    def _not_billed_problems(self, e: SessionNotBilled) -> list[str]:
        session = self._sessions.get(e.session_id)
        if session is None:
            return ["no SessionEnded for the session before it"]
        if session.duration != e.raw_seconds:
            return [f"raw_seconds {e.raw_seconds} != SessionEnded.duration_seconds {session.duration}"]
        if e.reason.value == "free_threshold":
            tariff, problem = self.reference.tariff(e.tariff_version, None)
            if tariff is None:
                return [problem or "cannot re-price"]
            if not price(session.duration, session.started_at, tariff).free:
                return [f"tariff {e.tariff_version} bills this session, but it was not billed as free"]
        return []

    def _cancel_problems(self, e: InvoiceCancelled) -> list[str]:
        out = []
        if e.net_total + e.vat_total != e.gross_total:
            out.append("gross_total != net_total + vat_total")
        original = self._invoices.get(e.invoice_number)
        if original is not None:
            out.extend(f"{name} does not match the cancelled invoice {e.invoice_number}"
                       for name in ("net_total", "vat_total", "gross_total")
                       if abs(getattr(e, name)) != abs(getattr(original, name)))
        return out  # a missing original is the numbering check's finding

    def result(self) -> CheckResult:
        """The verdict over everything fed."""
        for seq, session_id, request_id in self._lost:
            if request_id not in self._erased:
                # The erasure may be published a moment after billing's answer; it must exist.
                self.res.fail("not billed as recipient_data_erased, but the request's data were never erased",
                              seq, session_id=session_id, request_id=request_id)
        if self._lost:
            self.res.notes.append(f"{len(self._lost)} sessions not billed because the recipient's data were "
                                  "erased before the address came (lost claims, billing hold ended)")
        self.res.notes.append(f"{self._repriced} invoices re-priced with the reference pricing "
                              "(fw_contracts.pricing)")
        self.res.notes.extend(self.reference.notes())
        return self.res
