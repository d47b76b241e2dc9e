"""HTTP routes of retention: erasure log, request state, upcoming erasures, restore safety.

Thin: validate, call the application function in a unit of work, map the result. No route
returns personal data.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterable, Callable
from datetime import datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from fw_contracts.events import BillingBlocked, ErasureReason, ErasureScope, PersonalDataErased
from fw_platform.http import problem
from fw_retention.application import queries
from fw_retention.application.erasure import UnitOfWorkFactory
from fw_retention.application.ports import StoreFactory
from fw_retention.application.restore import reapply_erasure_log, restore_billing_holds

log = logging.getLogger(__name__)

Limit = Annotated[int, Query(ge=1, le=1000)]


class ErasureOut(BaseModel):
    request_id: uuid.UUID
    reason: ErasureReason
    erased_at: datetime
    trigger_event_id: uuid.UUID | None
    had_data: bool
    #: What this step erased: all, all_but_delivery_email (the e-mail for the invoice is kept until
    #: ``delivery_hold_until`` at the latest) or delivery_email (the second step).
    scope: ErasureScope = ErasureScope.ALL
    delivery_hold_until: datetime | None = None


class StatusOut(BaseModel):
    request_id: uuid.UUID
    state: Literal["stored", "erased", "unknown"]
    stored_at: datetime | None = None
    #: While stored: when the data are erased at the latest if no invoice, unbilled session or
    #: withdrawal erases them before (the end of the billing hold while billing waits).
    erase_by: datetime | None = None
    #: Billing waits for the recipient's address since then (BillingBlocked): the billing hold.
    billing_blocked_at: datetime | None = None
    erased_at: datetime | None = None
    reason: ErasureReason | None = None


class PendingOut(BaseModel):
    request_id: uuid.UUID
    stored_at: datetime
    deadline: datetime
    #: Set while billing waits for the recipient's address: ``deadline`` is then the hold's end.
    billing_blocked_at: datetime | None = None


class ReapplyOut(BaseModel):
    #: Requests whose vault rows were deleted again.
    count: int
    #: Markers missing in the database and restored from the stream's PersonalDataErased events.
    markers_restored: int
    #: Billing holds missing in the database and restored from the stream's BillingBlocked events.
    holds_restored: int = 0


def build_router(*, unit_of_work: UnitOfWorkFactory, store_for: StoreFactory, abandon_after: timedelta,
                 billing_hold: timedelta,
                 erasure_history: Callable[[], AsyncIterable[PersonalDataErased]],
                 billing_block_history: Callable[[], AsyncIterable[BillingBlocked]] | None = None) -> APIRouter:
    """The ``/api`` routes, bound to the runtime's unit of work and the store."""
    api = APIRouter(prefix="/api", tags=["retention"])

    @api.get("/erasures", response_model=list[ErasureOut], summary="Erasure log (newest first)")
    async def erasures(limit: Limit = 100) -> list[dict[str, object]]:
        async with unit_of_work() as uow:
            return await queries.list_erasures(store_for(uow.conn), limit)

    @api.get("/requests/{request_id}/status", response_model=StatusOut, response_model_exclude_none=True,
             summary="Whether a request's personal data are stored (and until when), erased or unknown")
    async def status(request_id: uuid.UUID) -> dict[str, object]:
        async with unit_of_work() as uow:
            return await queries.request_status(store_for(uow.conn), request_id, abandon_after=abandon_after,
                                                billing_hold=billing_hold)

    @api.get("/pending-erasures", response_model=list[PendingOut],
             summary="Stored entries with the deadline of their automatic erasure (oldest first)")
    async def pending(limit: Limit = 100) -> list[dict[str, object]]:
        async with unit_of_work() as uow:
            return await queries.pending_erasures(store_for(uow.conn), limit, abandon_after,
                                                  billing_hold=billing_hold)

    @api.post("/erasure-log/reapply", response_model=ReapplyOut,
              summary="After restoring a backup: delete vault rows of every erased request again "
                      "(and take the billing holds from the stream)",
              responses={503: {"description": "The event stream cannot be read"}})
    async def reapply(from_stream: bool = True) -> ReapplyOut | JSONResponse:
        history: list[PersonalDataErased] = []
        blocks: list[BillingBlocked] = []
        if from_stream:
            try:
                history = [e async for e in erasure_history()]
                if billing_block_history is not None:
                    blocks = [b async for b in billing_block_history()]
            except Exception as exc:  # noqa: BLE001 - the stream is unreadable: 503
                log.error("erasure history unreadable", extra={"error": type(exc).__name__})
                return problem(503, "stream_unavailable",
                               "Der Ereignisstrom ist nicht erreichbar; nichts wurde geändert.",
                               "The event stream cannot be read; nothing was changed.")
        result = await reapply_erasure_log(unit_of_work, store_for, history)
        holds = await restore_billing_holds(unit_of_work, store_for, blocks) if blocks else 0
        return ReapplyOut(count=result.requests_purged, markers_restored=result.markers_restored,
                          holds_restored=holds)

    return api
