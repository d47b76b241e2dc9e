"""HTTP route of the current price list: ``GET /api/tariff`` (public facts, shown on the form)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from fastapi import APIRouter
from pydantic import BaseModel

from fw_billing.domain.tariff import TariffCatalog


class SurchargeOut(BaseModel):
    kind: str
    percent: Decimal
    description: str
    #: evening window (office time, HH:MM); none on a weekend surcharge
    start: str | None
    until: str | None


class TariffOut(BaseModel):
    """The tariff for sessions billed from now on: net prices and the gross price per interval."""

    version: str
    currency: str = "EUR"
    base_fee: Decimal
    interval_seconds: int
    rate_per_interval: Decimal
    #: ``rate_per_interval`` with VAT, rounded half-up to the cent (as an invoice line would be)
    rate_per_interval_gross: Decimal
    min_billed_seconds: int
    free_threshold_seconds: int
    vat_rate: Decimal
    surcharges: list[SurchargeOut]


def router(catalog: TariffCatalog) -> APIRouter:
    """``/api/tariff`` from ``catalog``."""
    api = APIRouter(prefix="/api", tags=["billing"])

    @api.get("/tariff", response_model=TariffOut, summary="The current tariff (prices of new sessions)")
    async def tariff() -> TariffOut:
        t = catalog.current
        gross = (t.rate_per_interval * (1 + t.vat_rate)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        return TariffOut(
            version=t.version, base_fee=t.base_fee, interval_seconds=t.interval_seconds,
            rate_per_interval=t.rate_per_interval, rate_per_interval_gross=gross,
            min_billed_seconds=t.min_billed_seconds, free_threshold_seconds=t.free_threshold_seconds,
            vat_rate=t.vat_rate,
            surcharges=[SurchargeOut(kind=s.kind, percent=s.percent, description=s.description,
                                     start=s.start, until=s.until) for s in t.surcharges])

    return api
