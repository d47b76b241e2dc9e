"""The technician's HTTP API. Routes only validate, call the service and map results/errors."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, FastAPI, Request, status
from fastapi.responses import JSONResponse
from fw_contracts.events import CustomerType, TechnicianId
from fw_contracts.vault import VaultError
from fw_platform.http import problem
from fw_platform.vault_client import VaultUnavailable
from pydantic import BaseModel, ConfigDict, StringConstraints

from fw_session.application.ports import ConcurrentChange, VaultRejected
from fw_session.application.service import SessionService
from fw_session.domain.errors import DomainError
from fw_session.domain.session import Session, SessionStatus

#: The customer's words, recorded as said (the vault's contract strips outer whitespace).
StatementText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StartSessionIn(_Body):
    request_id: uuid.UUID
    technician: TechnicianId


class PromotionIn(_Body):
    statement: StatementText


class QueueItemOut(BaseModel):
    request_id: uuid.UUID
    ticket: str | None
    customer_type: CustomerType | None
    created_at: datetime | None
    waiting_seconds: int
    company: str
    contact_name: str
    phone: str


class SessionStartedOut(BaseModel):
    session_id: uuid.UUID
    started_at: datetime


class SessionOut(BaseModel):
    session_id: uuid.UUID
    request_id: uuid.UUID
    technician: str
    status: SessionStatus
    started_at: datetime
    promoted: bool
    statement_sha256: str | None
    stated_at: datetime | None
    ended_at: datetime | None
    duration_seconds: int | None

    @classmethod
    def of(cls, s: Session) -> SessionOut:
        return cls(session_id=s.session_id, request_id=s.request_id, technician=s.technician,
                   status=s.status, started_at=s.started_at, promoted=s.promoted,
                   statement_sha256=s.statement_sha256, stated_at=s.stated_at, ended_at=s.ended_at,
                   duration_seconds=s.duration_seconds)


def build_router(service: SessionService) -> APIRouter:
    router = APIRouter(prefix="/api", tags=["technician"])

    @router.get("/queue", summary="Waiting support requests, oldest first")
    async def queue() -> list[QueueItemOut]:
        items = await service.queue()
        return [QueueItemOut(
            request_id=i.entry.request_id, ticket=i.entry.ticket, customer_type=i.entry.customer_type,
            created_at=i.entry.created_at, waiting_seconds=i.waiting_seconds,
            company=i.data.company, contact_name=i.data.contact_name, phone=i.data.phone)
            for i in items]

    @router.post("/sessions", status_code=status.HTTP_201_CREATED, summary="Start a session")
    async def start(body: StartSessionIn) -> SessionStartedOut:
        s = await service.start(body.request_id, body.technician)
        return SessionStartedOut(session_id=s.session_id, started_at=s.started_at)

    @router.post("/sessions/{session_id}/promotion", status_code=status.HTTP_201_CREATED,
                 summary="Record the customer's wish to become a regular customer")
    async def promote(session_id: uuid.UUID, body: PromotionIn) -> SessionOut:
        return SessionOut.of(await service.record_promotion(session_id, body.statement))

    @router.post("/sessions/{session_id}/end", summary="End a session")
    async def end(session_id: uuid.UUID) -> SessionOut:
        return SessionOut.of(await service.end(session_id))

    @router.get("/sessions/{session_id}", summary="A session's state")
    async def get(session_id: uuid.UUID) -> SessionOut:
        return SessionOut.of(await service.get(session_id))

    return router


_VAULT_GONE = ("request_data_erased",
               "Die Daten dieser Supportanfrage sind im Datentresor nicht mehr vorhanden.",
               "The data of this support request are no longer in the vault.")
_VAULT_MESSAGES: dict[VaultError, tuple[int, str, str, str]] = {
    VaultError.ERASED: (409, *_VAULT_GONE),
    VaultError.NOT_FOUND: (409, *_VAULT_GONE),
    VaultError.EXISTS: (409, "statement_exists",
                        "Für diese Supportanfrage ist bereits eine Erklärung gespeichert.",
                        "A statement is already stored for this support request."),
}


def install_error_handlers(app: FastAPI) -> None:
    """Map refusals to 404/409/503 problems with fixed texts (never input or personal data)."""

    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        code = 404 if exc.kind == "not_found" else 409
        return problem(code, exc.code, exc.message_de, exc.message_en)

    @app.exception_handler(ConcurrentChange)
    async def _concurrent(_: Request, __: ConcurrentChange) -> JSONResponse:
        return problem(409, "concurrent_change",
                       "Die Sitzung wurde gerade gleichzeitig geändert. Bitte erneut laden.",
                       "The session was changed at the same time. Please reload.")

    @app.exception_handler(VaultUnavailable)
    async def _vault_away(_: Request, __: VaultUnavailable) -> JSONResponse:
        return problem(503, "vault_unavailable",
                       "Der Datentresor ist gerade nicht erreichbar. Es wurde nichts gespeichert; "
                       "bitte in einem Moment erneut versuchen.",
                       "The personal-data vault cannot be reached right now. Nothing was stored; "
                       "please try again in a moment.",
                       )

    @app.exception_handler(VaultRejected)
    async def _vault_refused(_: Request, exc: VaultRejected) -> JSONResponse:
        status_code, code, de, en = _VAULT_MESSAGES.get(exc.error, (
            503, "vault_refused", "Der Datentresor hat die Anfrage abgelehnt. Es wurde nichts gespeichert.",
            "The personal-data vault refused the request. Nothing was stored."))
        return problem(status_code, code, de, en)
