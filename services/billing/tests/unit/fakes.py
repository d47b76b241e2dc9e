"""billing's in-memory repository for handler tests; ``integration/test_billing_repository_contract.py``
runs the same contract test against it and against :class:`SqlBillingRepository` on PostgreSQL."""

from __future__ import annotations

import copy
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from fw_billing.application.ports import (
    NewCancellation,
    NewCustomerAccount,
    NewInvoice,
    RenderedDocument,
    RequestFacts,
    SessionRecord,
    StoredInvoice,
)
from fw_billing.domain.invoicing import SessionStatus


class FakeRepository:
    """The same contract as SqlBillingRepository, in memory (without transactions)."""

    def __init__(self) -> None:
        self.sessions: dict[uuid.UUID, SessionRecord] = {}
        self.counters: dict[int, int] = {}
        self.invoices: dict[str, NewInvoice] = {}
        self.customers: dict[str, NewCustomerAccount] = {}
        self.customer_seq = 0
        self.locked: list[uuid.UUID] = []
        self.facts: dict[uuid.UUID, RequestFacts] = {}
        self.archived: dict[str, tuple[str, int, RenderedDocument]] = {}
        self.deliveries: dict[str, tuple[uuid.UUID, str | None]] = {}
        self.cancellations: dict[str, NewCancellation] = {}
        self.cancel_counters: dict[int, int] = {}
        #: session id -> the technician's work note (as migration 023: erased when not billed)
        self.work_notes: dict[uuid.UUID, str] = {}

    async def claim_session(self, record: SessionRecord) -> SessionRecord:
        return self.sessions.setdefault(record.session_id, record)

    async def find_session(self, session_id: uuid.UUID) -> SessionRecord | None:
        return self.sessions.get(session_id)

    async def blocked_sessions_for(self, request_ids: Sequence[uuid.UUID]) -> list[SessionRecord]:
        return sorted((r for r in self.sessions.values()
                       if r.request_id in request_ids and r.status is SessionStatus.BLOCKED),
                      key=lambda r: r.session_id)

    async def save_case(self, case: SessionRecord, at: datetime) -> None:
        assert case.session_id in self.sessions
        self.sessions[case.session_id] = case
        if case.status is SessionStatus.NOT_BILLED:
            self.work_notes.pop(case.session_id, None)  # the trigger of migration 023

    def issuing(self, session_id: uuid.UUID) -> Any:
        return self.savepoint()

    async def next_invoice_seq_with_note(self, year: int, session_id: uuid.UUID) -> tuple[int, str | None]:
        return await self.next_invoice_seq(year), self.work_notes.get(session_id)

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """Like a SAVEPOINT: what the block changed is undone when it raises."""
        saved = {name: copy.copy(value) for name, value in vars(self).items() if isinstance(value, dict)}
        saved_ints = {name: value for name, value in vars(self).items() if isinstance(value, int)}
        try:
            yield
        except BaseException:
            for name, value in {**saved, **saved_ints}.items():
                setattr(self, name, value)
            raise

    async def next_invoice_seq(self, year: int) -> int:
        self.counters[year] = self.counters.get(year, 0) + 1
        return self.counters[year]

    async def add_invoice(self, invoice: NewInvoice) -> None:
        assert invoice.number not in self.invoices
        # one original per session; each invoice corrected at most once (as the unique indexes)
        assert invoice.corrects is not None or all(
            i.session_id != invoice.session_id or i.corrects is not None for i in self.invoices.values())
        assert invoice.corrects is None or all(i.corrects != invoice.corrects for i in self.invoices.values())
        self.invoices[invoice.number] = invoice

    async def lock_customer(self, request_id: uuid.UUID) -> None:
        self.locked.append(request_id)

    async def customer_number_for(self, request_id: uuid.UUID) -> str | None:
        return next((n for n, c in self.customers.items() if c.request_id == request_id), None)

    async def customer_name(self, customer_number: str) -> str | None:
        account = self.customers.get(customer_number)
        return account.company if account is not None else None

    async def add_customer(self, account: NewCustomerAccount) -> str:
        self.customer_seq += 1
        number = f"K{self.customer_seq:05d}"
        self.customers[number] = account
        return number


    async def record_requests(self, facts: Sequence[RequestFacts]) -> None:
        for f in facts:
            self.facts.setdefault(f.request_id, f)

    async def request_facts(self, request_id: uuid.UUID) -> RequestFacts | None:
        return self.facts.get(request_id)

    async def billing_inputs(self, request_id: uuid.UUID) -> tuple[str | None, RequestFacts | None]:
        return await self.customer_number_for(request_id), await self.request_facts(request_id)

    async def archive(self, number: str, document_type: str, year: int, rendered: RenderedDocument,
                      at: datetime) -> None:
        assert number not in self.archived
        self.archived[number] = (document_type, year, rendered)

    async def add_delivery(self, number: str, year: int, request_id: uuid.UUID, at: datetime, *,
                           failed_because: str | None = None) -> None:
        self.deliveries[number] = (request_id, failed_because)

    async def has_delivery(self, number: str) -> bool:
        return number in self.deliveries

    async def invoice_for_cancellation(self, number: str) -> StoredInvoice | None:
        i = self.invoices.get(number)
        if i is None:
            return None
        return StoredInvoice(
            number=i.number, year=i.year, request_id=i.request_id, kind=i.kind, issued_at=i.issued_at,
            service_date=i.service_date, tariff_version=i.tariff_version, raw_seconds=i.raw_seconds,
            billed_seconds=i.billed_seconds, lines=i.lines, net_total=i.net_total, vat_rate=i.vat_rate,
            vat_total=i.vat_total, gross_total=i.gross_total, customer_number=i.customer_number,
            e_invoice=i.e_invoice, recipient=i.recipient, tax_case=i.tax_case, session_id=i.session_id,
            corrects=i.corrects, priced_seconds=i.priced_seconds, correction_reason=i.correction_reason,
            corrects_issued_at=self.invoices[i.corrects].issued_at if i.corrects else None,
            work_note=self.work_notes.get(i.session_id))

    async def correction_of(self, invoice_number: str) -> str | None:
        return next((i.number for i in self.invoices.values() if i.corrects == invoice_number), None)

    async def is_cancellation(self, number: str) -> bool:
        return number in self.cancellations

    async def cancellation_of(self, invoice_number: str) -> str | None:
        return next((c.number for c in self.cancellations.values() if c.invoice_number == invoice_number), None)

    async def next_cancellation_seq(self, year: int) -> int:
        self.cancel_counters[year] = self.cancel_counters.get(year, 0) + 1
        return self.cancel_counters[year]

    async def add_cancellation(self, cancellation: NewCancellation) -> None:
        assert cancellation.number not in self.cancellations
        self.cancellations[cancellation.number] = cancellation
