"""Fakes for handler tests: an in-memory repository, a vault stub and a unit of work."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from fw_billing.adapters.rendering import PdfRenderer
from fw_billing.application.ports import (
    BillingDeps,
    RecipientDataErased,
    RecipientDataMissing,
)
from fw_billing.domain.invoicing import (
    DEFAULT_CANCELLATION_FORMAT,
    DEFAULT_NUMBER_FORMAT,
)
from fw_billing.domain.issuer import EXAMPLE_ISSUER
from fw_billing.domain.tariff import Tariff, TariffCatalog
from fw_contracts import Event
from fw_contracts.vault import Address, PersonalData, PromotionStatement, VaultEntry
from fw_platform.vault_client import VaultUnavailable

from .fakes import FakeRepository

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)

__all__ = ["FakeRepository", "FakeUow", "FakeVault", "World", "make_tariff"]


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
    #: what would go with the COMMIT (the fake repository writes at once and sends nothing here)
    at_commit: list[str] = field(default_factory=list)

    def emit(self, *events: Event) -> None:
        self.emitted.extend(events)

    def write_at_commit(self, statement: str) -> None:
        self.at_commit.append(statement)


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
    deps = BillingDeps(tariffs=catalog, vault=vault, repository=lambda _conn, **_: repo,
                       number_format=DEFAULT_NUMBER_FORMAT, issuer=EXAMPLE_ISSUER, renderer=PdfRenderer(),
                       cancellation_format=DEFAULT_CANCELLATION_FORMAT, email_enabled=True)
    return World(repo=repo, vault=vault, deps=deps)


@pytest.fixture
def tariff_factory() -> Any:
    return make_tariff
