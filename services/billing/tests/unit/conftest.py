"""Fakes for handler tests: an in-memory repository, a vault stub and a unit of work."""

from __future__ import annotations

import copy
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from fw_billing.adapters.rendering import PdfRenderer
from fw_billing.application.ports import (
    BillingDeps,
    NewCancellation,
    NewCustomerAccount,
    NewInvoice,
    RecipientDataErased,
    RecipientDataMissing,
    RenderedDocument,
    RequestFacts,
    SessionRecord,
    StoredInvoice,
)
from fw_billing.domain.invoicing import (
    DEFAULT_CANCELLATION_FORMAT,
    DEFAULT_NUMBER_FORMAT,
    SessionStatus,
)
from fw_billing.domain.issuer import EXAMPLE_ISSUER
from fw_billing.domain.tariff import Tariff, TariffCatalog
from fw_contracts import Event
from fw_contracts.events import BlockReason
from fw_contracts.vault import Address, PersonalData, PromotionStatement, VaultEntry
from fw_platform.vault_client import VaultUnavailable

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


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

    async def claim_session(self, record: SessionRecord) -> SessionRecord:
        return self.sessions.setdefault(record.session_id, record)

    async def find_session(self, session_id: uuid.UUID) -> SessionRecord | None:
        return self.sessions.get(session_id)

    async def blocked_sessions_for(self, request_id: uuid.UUID) -> list[SessionRecord]:
        return sorted((r for r in self.sessions.values()
                       if r.request_id == request_id and r.status is SessionStatus.BLOCKED),
                      key=lambda r: r.session_id)

    async def set_status(self, session_id: uuid.UUID, status: SessionStatus, at: datetime) -> None:
        self.sessions[session_id] = replace(self.sessions[session_id], status=status)

    async def block(self, session_id: uuid.UUID, reason: BlockReason, at: datetime) -> None:
        self.sessions[session_id] = replace(self.sessions[session_id], status=SessionStatus.BLOCKED,
                                            block_reason=reason)

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


    async def record_request(self, facts: RequestFacts) -> None:
        self.facts.setdefault(facts.request_id, facts)

    async def request_facts(self, request_id: uuid.UUID) -> RequestFacts | None:
        return self.facts.get(request_id)

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
            corrects_issued_at=self.invoices[i.corrects].issued_at if i.corrects else None)

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


class FakeVault:
    """Answers from ``entries``; ``erased`` ids refuse, ``down`` makes every call transient."""

    def __init__(self) -> None:
        self.entries: dict[uuid.UUID, VaultEntry] = {}
        self.erased: set[uuid.UUID] = set()
        self.down = False
        self.calls: list[tuple[uuid.UUID, str]] = []

    async def get(self, request_id: uuid.UUID, purpose: str) -> VaultEntry:
        self.calls.append((request_id, purpose))
        if self.down:
            raise VaultUnavailable("NoRespondersError")
        if request_id in self.erased:
            raise RecipientDataErased(f"vault refused ({purpose}): erased")  # as the NATS adapter
        if request_id not in self.entries:
            raise RecipientDataMissing(f"vault refused ({purpose}): not_found")  # as the NATS adapter
        return self.entries[request_id]

    def store(self, request_id: uuid.UUID, *, address: bool = True, statement: bool = False,
              country: str = "DE", vat_id: str | None = None, buyer_reference: str | None = None) -> None:
        postal = "10115" if country == "DE" else "1010"
        data = PersonalData(
            company="Muster GmbH", contact_name="Erika Mustermann", phone="+4930123456",
            email="erika@example.org", vat_id=vat_id, buyer_reference=buyer_reference,
            address=Address(street="Hauptstr. 1", postal_code=postal, city="Berlin" if country == "DE" else "Wien",
                            country=country) if address else None)
        stmt = PromotionStatement(text="Ja, ich möchte Stammkunde werden.", technician="tech-07",
                                  stated_at=NOW) if statement else None
        self.entries[request_id] = VaultEntry(request_id=request_id, data=data, statement=stmt,
                                              stored_at=NOW)


@dataclass
class FakeUow:
    now: datetime = NOW
    conn: Any = None
    emitted: list[Event] = field(default_factory=list)

    def emit(self, *events: Event) -> None:
        self.emitted.extend(events)


def make_tariff(**changes: Any) -> Tariff:
    base: dict[str, Any] = {
        "version": "test-1", "base_fee": Decimal("0.00"), "interval_seconds": 900,
        "rate_per_interval": Decimal("24.00"), "min_billed_seconds": 900,
        "free_threshold_seconds": 120, "vat_rate": Decimal("0.19"), "surcharges": ()}
    return Tariff.model_validate({**base, **changes})


@dataclass
class World:
    repo: FakeRepository
    vault: FakeVault
    deps: BillingDeps

    def uow(self, now: datetime = NOW) -> FakeUow:
        return FakeUow(now=now)


@pytest.fixture
def world() -> World:
    repo = FakeRepository()
    vault = FakeVault()
    catalog = TariffCatalog([make_tariff(), make_tariff(version="test-2", rate_per_interval=Decimal("60.00"))],
                            selected="test-1")
    deps = BillingDeps(tariffs=catalog, vault=vault, repository=lambda _conn: repo,
                       number_format=DEFAULT_NUMBER_FORMAT, issuer=EXAMPLE_ISSUER, renderer=PdfRenderer(),
                       cancellation_format=DEFAULT_CANCELLATION_FORMAT, email_enabled=True)
    return World(repo=repo, vault=vault, deps=deps)


@pytest.fixture
def tariff_factory() -> Any:
    return make_tariff
