"""``python -m fw_session`` starts as the real process, gets ready and logs JSON."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx

from fw_devenv.pytest_plugin import ServiceProcess


async def test_process_starts_ready_and_logs_json(fw_env: Any) -> None:
    proc = ServiceProcess("session", fw_env)
    await asyncio.to_thread(proc.start)
    try:
        async with httpx.AsyncClient(base_url=proc.url) as client:
            assert (await client.get("/healthz")).json() == {"status": "ok", "service": "session"}
            ready = (await client.get("/readyz")).json()
            assert ready["ready"] and ready["checks"] == {"nats": True, "postgres": True, "consumers": True}
            assert (await client.get("/api/queue")).json() == []
    finally:
        await asyncio.to_thread(proc.stop)
    lines = [line for line in proc.log_path.read_text().splitlines() if line.strip()]
    assert lines and all(json.loads(line)["service"] == "session" for line in lines)
