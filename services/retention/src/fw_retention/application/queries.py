"""Read-only views for the office: the erasure log, a request's state, upcoming erasures.

None of them returns personal data: ids, reasons and times only.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from fw_retention.application.ports import VaultStore
from fw_retention.domain.rules import deadline


async def list_erasures(store: VaultStore, limit: int) -> list[dict[str, Any]]:
    """The newest ``limit`` entries of the erasure log."""
    return [
        {"request_id": r.request_id, "reason": r.reason.value, "erased_at": r.erased_at,
         "trigger_event_id": r.trigger_event_id, "had_data": r.had_data}
        for r in await store.list_erasures(limit)
    ]


async def request_status(store: VaultStore, request_id: uuid.UUID) -> dict[str, Any]:
    """``stored`` (with ``stored_at``), ``erased`` (with ``erased_at``, ``reason``) or ``unknown``."""
    marker = await store.erasure(request_id)
    if marker is not None:
        return {"request_id": request_id, "state": "erased", "erased_at": marker.erased_at,
                "reason": marker.reason.value}
    stored_at = await store.stored_at(request_id)
    if stored_at is not None:
        return {"request_id": request_id, "state": "stored", "stored_at": stored_at}
    return {"request_id": request_id, "state": "unknown"}


async def pending_erasures(store: VaultStore, limit: int, abandon_after: timedelta) -> list[dict[str, Any]]:
    """Stored entries, oldest first, each with the deadline of its automatic erasure."""
    return [
        {"request_id": r.request_id, "stored_at": r.stored_at,
         "deadline": deadline(r.stored_at, abandon_after)}
        for r in await store.pending(limit)
    ]
