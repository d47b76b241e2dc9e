"""The deadline sweep as a background loop: sweep, prune the protocol rows, wait, again."""

from __future__ import annotations

import asyncio
import logging

from fw_retention.application.service import RetentionService

log = logging.getLogger(__name__)


async def sweep_forever(service: RetentionService, interval_s: float) -> None:
    """Until cancelled; a failed round (database away) is logged (type only) and tried again."""
    while True:
        try:
            await service.sweep()
            await service.prune_records()
        except Exception as exc:  # noqa: BLE001 - a failed round must not end the loop; logged, tried again
            log.warning("deadline sweep failed", extra={"error": type(exc).__name__})
        await asyncio.sleep(interval_s)
