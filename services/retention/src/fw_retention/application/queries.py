"""Read-only views for the office: the erasure log, a request's state, upcoming erasures.

None of them returns personal data: ids, reasons and times only.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from fw_retention.application.ports import VaultStore
from fw_retention.domain.rules import erasure_deadline


async def list_erasures(store: VaultStore, limit: int) -> list[dict[str, Any]]:
    """The newest ``limit`` entries of the erasure log."""
    return [
        {"request_id": r.request_id, "reason": r.reason.value, "erased_at": r.erased_at,
         "trigger_event_id": r.trigger_event_id, "had_data": r.had_data, "scope": r.scope.value,
         "delivery_hold_until": r.delivery_hold_until}
        for r in await store.list_erasures(limit)
    ]


async def request_status(store: VaultStore, request_id: uuid.UUID, *, abandon_after: timedelta,
                         billing_hold: timedelta) -> dict[str, Any]:
    """``stored`` (with ``stored_at`` and ``erase_by``, the latest erasure date; with
    ``billing_blocked_at`` while billing waits for the address), ``erased`` (with ``erased_at``,
    ``reason``) or ``unknown``."""
    marker = await store.erasure(request_id)
    blocked_at = await store.billing_blocked_at(request_id)
    if marker is not None:
        return {"request_id": request_id, "state": "erased", "erased_at": marker.erased_at,
                "reason": marker.reason.value, "billing_blocked_at": blocked_at}
    stored_at = await store.stored_at(request_id)
    if stored_at is not None:
        return {"request_id": request_id, "state": "stored", "stored_at": stored_at,
                "billing_blocked_at": blocked_at,
                "erase_by": erasure_deadline(stored_at, abandon_after, billing_blocked_at=blocked_at,
                                             billing_hold=billing_hold)}
    return {"request_id": request_id, "state": "unknown"}


async def pending_erasures(store: VaultStore, limit: int, abandon_after: timedelta, *,
                           billing_hold: timedelta) -> list[dict[str, Any]]:
    """Stored entries, oldest first, each with the deadline of its automatic erasure (the end of
    the billing hold for a request billing waits on, marked by ``billing_blocked_at``)."""
    return [
        {"request_id": r.request_id, "stored_at": r.stored_at, "billing_blocked_at": r.billing_blocked_at,
         "deadline": erasure_deadline(r.stored_at, abandon_after, billing_blocked_at=r.billing_blocked_at,
                                      billing_hold=billing_hold)}
        for r in await store.pending(limit)
    ]
