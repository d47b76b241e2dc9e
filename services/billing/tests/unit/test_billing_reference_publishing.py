"""Billing publishes each tariff version once, refuses a changed published version, and
publishes the issuer details whenever they differ from the last published."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from fw_billing.adapters.tariff_files import shipped_tariffs
from fw_billing.application.reference import publish_issuer, publish_reference_data, publish_tariff
from fw_billing.domain.issuer import EXAMPLE_ISSUER
from fw_contracts.reference import IssuerDetailsChanged, TariffPublished
from fw_platform.handling import PermanentError, UnitOfWork

NOW = datetime(2026, 3, 2, 9, tzinfo=UTC)


class FakeLedger:
    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str]] = []

    async def published(self, kind: str, key: str) -> set[str]:
        return {sha for k, kk, sha in self.rows if (k, kk) == (kind, key)}

    async def last(self, kind: str) -> str | None:
        return next((sha for k, _, sha in reversed(self.rows) if k == kind), None)

    async def record(self, kind: str, key: str, sha256: str, event_id: uuid.UUID, now: datetime) -> bool:
        if (kind, key, sha256) in self.rows:
            return False
        self.rows.append((kind, key, sha256))
        return True


def uow() -> UnitOfWork:
    return UnitOfWork(conn=None, now=NOW)  # type: ignore[arg-type]


async def test_each_tariff_and_the_issuer_are_published_once() -> None:
    ledger, first, second = FakeLedger(), uow(), uow()
    await publish_reference_data(ledger, first, shipped_tariffs(), EXAMPLE_ISSUER)
    await publish_reference_data(ledger, second, shipped_tariffs(), EXAMPLE_ISSUER)
    assert [type(e) for e in first.emitted] == [TariffPublished] * len(shipped_tariffs()) + [IssuerDetailsChanged]
    assert second.emitted == []


async def test_the_start_records_in_the_invoices_order_tariffs_by_version_then_the_issuer() -> None:
    """One lock order for every transaction that records reference rows: an invoice records its
    tariff, then the issuer; the start all tariffs by ascending version, then the issuer. (The
    start recorded the issuer first and deadlocked against a first invoice; see the real
    PostgreSQL test in ``test_billing_concurrency``.)"""
    ledger = FakeLedger()
    (shipped,) = shipped_tariffs()
    tariffs = [shipped.model_copy(update={"version": v}) for v in ("2027-01", "2026-01", "2025-07")]
    await publish_reference_data(ledger, uow(), tariffs, EXAMPLE_ISSUER)
    assert [(kind, key) for kind, key, _ in ledger.rows] == (
        [("tariff", "2025-07"), ("tariff", "2026-01"), ("tariff", "2027-01"), ("issuer", "-")])


async def test_a_published_version_with_other_content_is_refused() -> None:
    ledger = FakeLedger()
    (tariff,) = [t for t in shipped_tariffs() if t.version == "2026-01"]
    await publish_tariff(ledger, uow(), tariff)
    changed = tariff.model_copy(update={"rate_per_interval": Decimal("30.00")})
    with pytest.raises(PermanentError, match="published with other content"):
        await publish_tariff(ledger, uow(), changed)


async def test_changed_issuer_details_are_published_again_also_when_changed_back() -> None:
    ledger = FakeLedger()
    moved = EXAMPLE_ISSUER.model_copy(update={"street": "Neue Straße 2"})
    emitted = []
    for issuer in (EXAMPLE_ISSUER, moved, moved, EXAMPLE_ISSUER):
        unit = uow()
        await publish_issuer(ledger, unit, issuer)
        emitted += unit.emitted
    assert [e.issuer.street for e in emitted] == ["Beispielstraße 1", "Neue Straße 2", "Beispielstraße 1"]
    assert emitted[1].previous_sha256 == emitted[0].issuer_sha256
    assert emitted[2].previous_sha256 == emitted[1].issuer_sha256 and emitted[2].event_id != emitted[0].event_id


async def test_tariffs_known_committed_need_no_look_up_and_other_content_is_still_refused() -> None:
    class CountingLedger(FakeLedger):
        look_ups = 0

        async def published(self, kind: str, key: str) -> set[str]:
            self.look_ups += 1
            return await super().published(kind, key)

    ledger = CountingLedger()
    known = await publish_reference_data(ledger, uow(), shipped_tariffs(), EXAMPLE_ISSUER)
    assert {version for version, _ in known} == {t.version for t in shipped_tariffs()}
    (tariff,) = [t for t in shipped_tariffs() if t.version == "2026-01"]
    before = ledger.look_ups
    again = uow()
    assert (tariff.version, await publish_tariff(ledger, again, tariff, known)) in known
    assert ledger.look_ups == before and again.emitted == []
    changed = tariff.model_copy(update={"rate_per_interval": Decimal("30.00")})
    with pytest.raises(PermanentError, match="published with other content"):
        await publish_tariff(ledger, uow(), changed, known)
