"""``python -m fw_billing`` as a real process, configured only through ``FW_BILLING_*``."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from fw_contracts import InvoiceIssued
from fw_devenv.pytest_plugin import ServiceProcess


async def test_service_process_bills_and_logs_no_personal_data(harness: Any, ended: Any) -> None:
    await harness.start_vault()
    proc = ServiceProcess("billing", harness.env, extra={"FW_BILLING_ARCHIVE_KEY": harness.archive_key})
    await asyncio.to_thread(proc.start)
    try:
        event = ended(10 * 900)  # a full invoice: the recipient passes through the service
        harness.vault.store(event.request_id)
        await harness.publish(event)
        (issued,) = await harness.wait_for(InvoiceIssued)
        async with httpx.AsyncClient(base_url=proc.url) as client:
            assert (await client.get("/readyz")).json()["ready"] is True
            body = (await client.get(f"/api/invoices/{issued.invoice_number}")).json()
            assert body["recipient"]["company"] == "Beispiel AG"
            metrics = (await client.get("/metrics")).text
            assert 'fw_events_handled_total{consumer="billing--session_billing"' in metrics
    finally:
        await asyncio.to_thread(proc.stop)
    log = proc.log_path.read_text()
    assert issued.invoice_number in log  # it did log the issue, by ids
    for personal in ("Beispiel", "Max", "Ring 5", "80331", "+4989123456", "example.org"):
        assert personal not in log
