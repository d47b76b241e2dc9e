"""HTTP routes for data-subject access (Art. 15) and the AVV on request (Art. 28).

Thin: validate, call the application function in a unit of work, map the result. The export is
the only route of retention that returns personal data (to the office, for the data subject).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, StringConstraints

from fw_contracts.events import TicketCode
from fw_platform.http import problem
from fw_retention.adapters.avv import render_html
from fw_retention.adapters.crypto import DecryptionFailed
from fw_retention.application.avv import AvvChannel, AvvDocument, AvvRegister, record_request
from fw_retention.application.erasure import UnitOfWorkFactory
from fw_retention.application.export import RequestExport, export_request
from fw_retention.application.ports import Cipher, Clock, StoreFactory

log = logging.getLogger(__name__)

CustomerNumber = Annotated[str, StringConstraints(pattern=r"^K[0-9]{5,10}$")]


class AvvRequestIn(BaseModel):
    """A request for the AVV: how it came in and, optionally, whose (a pseudonymous reference)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    channel: AvvChannel
    customer_number: CustomerNumber | None = None
    ticket: TicketCode | None = None


class AvvRequestOut(BaseModel):
    id: uuid.UUID
    requested_at: datetime
    channel: AvvChannel
    customer_number: str | None
    ticket: str | None
    avv_version: str
    avv_sha256: str


def build_privacy_router(*, unit_of_work: UnitOfWorkFactory, store_for: StoreFactory, cipher: Cipher,
                         clock: Clock, abandon_after: timedelta, billing_hold: timedelta, avv: AvvDocument,
                         register_for: Callable[[Any], AvvRegister]) -> APIRouter:
    """The ``/api`` routes of the export and the AVV."""
    api = APIRouter(prefix="/api", tags=["privacy"])

    @api.get("/requests/{request_id}/export", response_model=RequestExport,
             summary="Art. 15 export: everything the vault holds about a request (recorded in the access log)",
             responses={404: {"description": "The vault knows nothing about this id"},
                        503: {"description": "The stored data cannot be decrypted (master key)"}})
    async def export(request_id: uuid.UUID) -> RequestExport | JSONResponse:
        try:
            async with unit_of_work() as uow:
                result = await export_request(store_for(uow.conn), cipher, request_id, clock(), abandon_after,
                                              billing_hold=billing_hold)
        except DecryptionFailed:
            log.error("export failed: data cannot be decrypted", extra={"request_id": str(request_id)})
            return problem(503, "vault_unreadable",
                           "Die gespeicherten Daten können nicht entschlüsselt werden (Schlüssel prüfen).",
                           "The stored data cannot be decrypted (check the master key).")
        if result.state == "unknown":
            return problem(404, "request_unknown",
                           "Zu dieser Kennung sind im Datentresor keine Daten und kein Löschvermerk gespeichert.",
                           "The vault holds neither data nor an erasure marker for this id.")
        return result

    @api.get("/avv", summary="The data-processing agreement (AVV, German template) as Markdown or HTML",
             response_class=Response,
             responses={200: {"content": {"text/markdown": {}, "text/html": {}}}})
    async def avv_document(format: Literal["markdown", "html"] = "markdown") -> Response:
        headers = {"X-Document-Version": avv.version, "ETag": f'"{avv.sha256}"',
                   "Content-Disposition": f'inline; filename="avv-{avv.version}.{"html" if format == "html" else "md"}"'}
        if format == "html":
            return Response(render_html(avv), media_type="text/html; charset=utf-8", headers=headers)
        return Response(avv.markdown, media_type="text/markdown; charset=utf-8", headers=headers)

    @api.post("/avv-requests", status_code=201, response_model=AvvRequestOut,
              summary="Record a request for the AVV (time, channel, optional customer number or ticket)")
    async def add_avv_request(body: AvvRequestIn) -> AvvRequestOut:
        async with unit_of_work() as uow:
            rec = await record_request(register_for(uow.conn), avv, channel=body.channel,
                                       customer_number=body.customer_number, ticket=body.ticket, now=clock())
        log.info("AVV request recorded", extra={"customer_number": rec.customer_number, "ticket": rec.ticket})
        return AvvRequestOut(**rec.__dict__)

    @api.get("/avv-requests", response_model=list[AvvRequestOut], summary="Recorded AVV requests, newest first")
    async def list_avv_requests(limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[AvvRequestOut]:
        async with unit_of_work() as uow:
            rows = await register_for(uow.conn).newest(limit)
        return [AvvRequestOut(**r.__dict__) for r in rows]

    return api
