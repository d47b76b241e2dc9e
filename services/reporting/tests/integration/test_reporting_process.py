"""``python -m fw_reporting`` as a real process, configured like ``make run`` configures it."""

from __future__ import annotations

import httpx
from reporting_history import backfill_history

from fw_contracts import Header
from fw_devenv.pytest_plugin import FwEnv, ServiceProcess
from fw_devenv.testing import eventually
from fw_platform.bus import connect


async def test_the_process_backfills_and_serves_json_and_csv(fw_env: FwEnv) -> None:
    history = backfill_history()[:5]  # created, started, ended, invoice 1, its erasure
    nc = await connect(fw_env.nats_url, name="test-publisher")
    try:
        for e in history:
            await nc.jetstream().publish(e.subject(), e.to_json(), headers={Header.MSG_ID: str(e.event_id)})
    finally:
        await nc.close()
    proc = ServiceProcess("reporting", fw_env).start()
    try:
        async with httpx.AsyncClient(base_url=proc.url, timeout=5) as client:
            async def events_handled() -> int:
                return int((await client.get("/api/reports")).json()["events_handled"])

            # four of the five events are reporting's (the erasure is not): fails if never reached
            await eventually(events_handled, until=lambda n: n == 4, what="the backfill handled 4 events")
            assert (await client.get("/readyz")).json()["ready"] is True
            revenue = await client.get("/api/reports/revenue.csv")
            assert revenue.text.splitlines()[1] == "2026-01,1,0,100.00,19.00,119.00,0.00"
            assert (await client.get("/api/reports/erasure-delays")).json()["rows"][0]["median_seconds"] == "0.500"
    finally:
        proc.stop()
    assert "Permissions Violation" not in proc.log_path.read_text()
