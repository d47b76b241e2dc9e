"""The report routes over a fake source: JSON shapes, CSV rendering, no formula injection."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import httpx
from fastapi import FastAPI

from fw_reporting.domain.figures import MonthSums, Report
from fw_reporting.entrypoints.http import install, report_csv


class FakeSource:
    async def invoiced(self, tz: str) -> list[MonthSums]:
        return [MonthSums("2026-01", 1, Decimal("10.00"), Decimal("1.90"), Decimal("11.90"))]

    async def cancelled(self, tz: str) -> list[MonthSums]:
        return []

    async def technicians(self) -> list[tuple[str, int, int, int, int]]:
        return []

    async def minutes(self, tz: str) -> list[tuple[str, int, int, int, int, int]]:
        return []

    async def session_lengths(self, tz: str) -> list[tuple[str, int, int]]:
        return []

    async def promotions(self, tz: str) -> list[tuple[str, int, int]]:
        return []

    async def erasure_delays(self) -> list[tuple[str, Decimal | None]]:
        return []

    async def parked(self) -> list[tuple[str, int, str, str | None, str, int, datetime, datetime | None]]:
        return [("reporting--events", 7, "fw.billing.invoice_issued.v1", None, "=HYPERLINK(1)", 5,
                 datetime(2026, 1, 1, tzinfo=UTC), None)]

    async def progress(self) -> tuple[int, int | None]:
        return 3, 9


def client() -> httpx.AsyncClient:
    app = FastAPI()
    install(app, FakeSource(), "Europe/Berlin")
    return httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t")


async def test_json_money_is_a_string_and_counts_are_numbers() -> None:
    async with client() as c:
        body = (await c.get("/api/reports/revenue")).json()
        assert body["rows"] == [{"month": "2026-01", "invoices": 1, "cancellations": 0, "net": "10.00",
                                 "vat": "1.90", "gross": "11.90", "cancelled_gross": "0.00"}]
        index = (await c.get("/api/reports")).json()
        assert (index["events_handled"], index["last_stream_seq"]) == (3, 9)
        assert [r["name"] for r in index["reports"]] == [
            "revenue", "technicians", "minutes", "session-length", "promotions", "erasure-delays", "parked"]
        assert (await c.get("/api/reports/session-length")).json()["rows"] == [
            {"month": "all", "sessions": 0, "total_seconds": 0, "average_seconds": None}]


async def test_csv_neutralises_formulas_and_writes_empty_cells_for_none() -> None:
    async with client() as c:
        text = (await c.get("/api/reports/parked.csv")).text
    assert text.splitlines()[1] == (
        "reporting--events,7,fw.billing.invoice_issued.v1,,'=HYPERLINK(1),5,2026-01-01T00:00:00+00:00,")


def test_negative_amounts_stay_numbers_in_csv() -> None:
    report = Report("x", "x", ("month", "net"), (("2026-03", Decimal("-50.00")),))
    assert report_csv(report) == "month,net\r\n2026-03,-50.00\r\n"
