"""Reporting over a real stream and database: backfill a scripted history, follow it live.

The history is published into the stream (as admin) before reporting first starts; reporting
runs with its own NATS user and database role. Every expected figure is worked out by hand
from the comments in ``reporting_history.py``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
from fastapi import FastAPI
from reporting_history import backfill_history, live_history

from fw_contracts import STREAM_NAME, Event, Header
from fw_contracts.events import InvoiceIssued
from fw_devenv.pytest_plugin import FwEnv
from fw_devenv.testing import eventually
from fw_platform.bus import connect
from fw_reporting.bootstrap import build
from fw_reporting.settings import Settings

#: Events of the backfill that reporting's consumer receives (all but SupportRequestCreated).
BACKFILL_USED = 23


async def publish(env: FwEnv, events: list[Event], *, raw: list[tuple[str, bytes, str]] | None = None) -> None:
    nc = await connect(env.nats_url, name="test-publisher")
    try:
        js = nc.jetstream()
        for e in events:
            await js.publish(e.subject(), e.to_json(), headers={Header.MSG_ID: str(e.event_id),
                                                               Header.EVENT_TYPE: e.event_type})
        for subject, body, msg_id in raw or []:
            await js.publish(subject, body, headers={Header.MSG_ID: msg_id})
    finally:
        await nc.close()


def settings(env: FwEnv) -> Settings:
    user, password = env.nats_credentials("reporting")
    return Settings(nats_url=env.nats_plain_url, nats_user=user, nats_password=password,  # type: ignore[arg-type]
                    database_url=env.dsn("reporting"), http_port=0)


@contextlib.asynccontextmanager
async def running(env: FwEnv) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = build(settings(env)).http
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app), base_url="http://t") as client:
        yield app, client


async def wait_handled(client: httpx.AsyncClient, count: int, parked: int = 0, timeout: float = 20.0) -> None:
    """Wait until ``count`` events are handled and ``parked`` parked; then exactly those numbers."""
    async def progress() -> tuple[int, int]:
        index = (await client.get("/api/reports")).json()
        return int(index["events_handled"]), len((await client.get("/api/reports/parked")).json()["rows"])

    done = await eventually(progress, until=lambda p: p[0] >= count and p[1] >= parked, timeout=timeout,
                            what=f"{count} events handled, {parked} parked")
    assert done == (count, parked)


async def consumer_idle(env: FwEnv) -> None:
    """Reporting's durable consumer has every message delivered and acknowledged: nothing more
    can be handled (or counted twice) after this."""
    nc = await connect(env.nats_url, name="test-consumer-info")
    try:
        js = nc.jetstream()
        await eventually(lambda: js.consumer_info(STREAM_NAME, "reporting--events"),
                         until=lambda i: i.num_pending == 0 and i.num_ack_pending == 0,
                         what="reporting--events idle")
    finally:
        await nc.close()


async def rows(client: httpx.AsyncClient, name: str) -> list[dict[str, Any]]:
    resp = await client.get(f"/api/reports/{name}")
    assert resp.status_code == 200
    return resp.json()["rows"]


def revenue(month: str, invoices: int, cancellations: int, net: str, vat: str, gross: str,
            cancelled_gross: str) -> dict[str, Any]:
    return {"month": month, "invoices": invoices, "cancellations": cancellations, "net": net, "vat": vat,
            "gross": gross, "cancelled_gross": cancelled_gross}


def delays(reason: str, erasures: int, measured: int, median: str | None, p95: str | None,
           maximum: str | None) -> dict[str, Any]:
    return {"reason": reason, "erasures": erasures, "measured": measured, "median_seconds": median,
            "p95_seconds": p95, "max_seconds": maximum}


async def test_backfill_then_live_gives_the_figures_worked_out_by_hand(fw_env: FwEnv) -> None:
    await publish(fw_env, backfill_history())
    async with running(fw_env) as (app, client):
        await wait_handled(client, BACKFILL_USED)
        assert app.state.runtime.bus_errors.permission_denied() == []

        # INV-1 100/19/119 in January; INV-2 issued 00:30 Berlin on 1 Feb; March: INV-3
        # 50/9.50/59.50 minus the Storno of INV-1 (119 gross), booked in March
        assert await rows(client, "revenue") == [
            revenue("2026-01", 1, 0, "100.00", "19.00", "119.00", "0.00"),
            revenue("2026-02", 1, 0, "200.00", "38.00", "238.00", "0.00"),
            revenue("2026-03", 1, 1, "-50.00", "-9.50", "-59.50", "119.00"),
        ]
        # tech-01: s1 1200 s, s3 30 s, s5 running; tech-02: s2 3600 s (promoted), s4 900 s
        assert await rows(client, "technicians") == [
            {"technician": "tech-01", "sessions_started": 3, "sessions_ended": 2, "total_seconds": 1230,
             "average_seconds": "615.00", "promotions": 0},
            {"technician": "tech-02", "sessions_started": 2, "sessions_ended": 2, "total_seconds": 4500,
             "average_seconds": "2250.00", "promotions": 1},
        ]
        assert await rows(client, "minutes") == [
            {"month": "2026-01", "invoices": 1, "raw_seconds": 1200, "billed_seconds": 1800,
             "raw_minutes": "20.00", "billed_minutes": "30.00", "not_billed_sessions": 0,
             "not_billed_raw_minutes": "0.00"},
            {"month": "2026-02", "invoices": 1, "raw_seconds": 3600, "billed_seconds": 3600,
             "raw_minutes": "60.00", "billed_minutes": "60.00", "not_billed_sessions": 1,
             "not_billed_raw_minutes": "0.50"},
            {"month": "2026-03", "invoices": 1, "raw_seconds": 900, "billed_seconds": 900,
             "raw_minutes": "15.00", "billed_minutes": "15.00", "not_billed_sessions": 0,
             "not_billed_raw_minutes": "0.00"},
        ]
        # by the month the session ended (Berlin): s2 ends at 00:00 on 1 Feb
        assert await rows(client, "session-length") == [
            {"month": "2026-01", "sessions": 1, "total_seconds": 1200, "average_seconds": "1200.00"},
            {"month": "2026-02", "sessions": 2, "total_seconds": 3630, "average_seconds": "1815.00"},
            {"month": "2026-03", "sessions": 1, "total_seconds": 900, "average_seconds": "900.00"},
            {"month": "all", "sessions": 4, "total_seconds": 5730, "average_seconds": "1432.50"},
        ]
        # stated 23:30 Berlin on 31 Jan; account created 00:00:01 Berlin on 1 Feb
        assert await rows(client, "promotions") == [
            {"month": "2026-01", "promotions": 1, "customer_accounts": 0},
            {"month": "2026-02", "promotions": 0, "customer_accounts": 1},
        ]
        # invoice_issued: 0.5, 2, 4 -> median 2, p95 at rank 1.9: 2 + 0.9 * (4 - 2) = 3.8
        # all: 0.5, 1, 2, 4, 10 -> median 2, p95 at rank 3.8: 4 + 0.8 * (10 - 4) = 8.8
        assert await rows(client, "erasure-delays") == [
            delays("abandoned", 1, 0, None, None, None),
            delays("invoice_issued", 3, 3, "2.000", "3.800", "4.000"),
            delays("not_billed", 1, 1, "1.000", "1.000", "1.000"),
            delays("withdrawn", 1, 1, "10.000", "10.000", "10.000"),
            delays("all", 6, 5, "2.000", "8.800", "10.000"),
        ]
        assert await rows(client, "parked") == []

        # ---- live: the running session ends and is invoiced; one event arrives twice (another
        # message id, so JetStream stores both) and one message is garbage
        live = live_history()
        inv4 = next(e for e in live if isinstance(e, InvoiceIssued))
        await publish(fw_env, live, raw=[(inv4.subject(), inv4.to_json(), "redelivered-inv4"),
                                         (InvoiceIssued.subject(), b"{not json", "garbage-1")])
        await wait_handled(client, BACKFILL_USED + len(live), parked=1)

        # March: 50 + 150 - 100 = 100 net, 9.50 + 28.50 - 19 = 19 VAT, 59.50 + 178.50 - 119 = 119
        assert (await rows(client, "revenue"))[-1] == revenue("2026-03", 2, 1, "100.00", "19.00", "119.00",
                                                              "119.00")
        assert (await rows(client, "technicians"))[0] == {
            "technician": "tech-01", "sessions_started": 3, "sessions_ended": 3, "total_seconds": 3930,
            "average_seconds": "1310.00", "promotions": 0}
        assert (await rows(client, "minutes"))[-1]["billed_minutes"] == "60.00"
        assert (await rows(client, "session-length"))[-2:] == [
            {"month": "2026-03", "sessions": 2, "total_seconds": 3600, "average_seconds": "1800.00"},
            {"month": "all", "sessions": 5, "total_seconds": 8430, "average_seconds": "1686.00"},
        ]
        # invoice_issued: 0.5, 2, 3, 4 -> median 2.5, p95 at rank 2.85: 3 + 0.85 = 3.85
        # all: 0.5, 1, 2, 3, 4, 10 -> median 2.5, p95 at rank 4.75: 4 + 0.75 * 6 = 8.5
        erasure_rows = await rows(client, "erasure-delays")
        assert erasure_rows[1] == delays("invoice_issued", 4, 4, "2.500", "3.850", "4.000")
        assert erasure_rows[-1] == delays("all", 7, 6, "2.500", "8.500", "10.000")
        [parked] = await rows(client, "parked")
        assert parked["consumer"] == "reporting--events" and parked["subject"] == InvoiceIssued.subject()
        assert parked["reason"] == "body is not valid JSON" and parked["event_id"] is None

        csv_body = (await client.get("/api/reports/revenue.csv"))
        assert csv_body.headers["content-type"].startswith("text/csv")
        assert csv_body.text.splitlines() == [
            "month,invoices,cancellations,net,vat,gross,cancelled_gross",
            "2026-01,1,0,100.00,19.00,119.00,0.00",
            "2026-02,1,0,200.00,38.00,238.00,0.00",
            "2026-03,2,1,100.00,19.00,119.00,119.00",
        ]
        before = {name: await rows(client, name) for name in ("revenue", "technicians", "erasure-delays")}

    # ---- a restart resumes the durable consumer: nothing is counted twice
    async with running(fw_env) as (_, client):
        await consumer_idle(fw_env)
        await wait_handled(client, BACKFILL_USED + len(live_history()), parked=1)
        assert {name: await rows(client, name) for name in before} == before


async def test_every_report_has_a_csv_export_with_its_columns(fw_env: FwEnv) -> None:
    async with running(fw_env) as (_, client):
        index = (await client.get("/api/reports")).json()
        assert index["events_handled"] == 0 and index["timezone"] == "Europe/Berlin"
        for entry in index["reports"]:
            as_json = (await client.get(entry["json"])).json()
            as_csv = await client.get(entry["csv"])
            assert as_csv.status_code == 200
            assert as_csv.headers["content-disposition"] == f'attachment; filename="{entry["name"]}.csv"'
            assert as_csv.text.splitlines()[0] == ",".join(as_json["columns"])
        assert (await client.get("/api/reports/nope")).status_code == 404
