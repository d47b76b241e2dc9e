"""The technician's HTTP API. Routes only validate, call the service and map results/errors."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, StringConstraints

from fw_contracts.address import ADDRESS_MESSAGES, PostalAddress
from fw_contracts.events import CustomerType, TechnicianId
from fw_contracts.text import TEXT_MESSAGES, clean_validator
from fw_contracts.vault import VaultError
from fw_platform.http import problem
from fw_platform.vault_client import VaultUnavailable
from fw_session.application.billing import BillingAddressService, SessionView
from fw_session.application.ports import ConcurrentChange, VaultRejected
from fw_session.application.service import SessionService
from fw_session.domain.billing import BlockState
from fw_session.domain.errors import DomainError
from fw_session.domain.session import Session, SessionStatus, SessionSummary

#: The customer's words, recorded as said (the vault's contract strips outer whitespace); clean
#: text (NFC, no control or format characters), but line breaks are fine.
StatementText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000),
                          clean_validator(multiline=True, max_length=2000)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StartSessionIn(_Body):
    request_id: uuid.UUID
    technician: TechnicianId


class PromotionIn(_Body):
    statement: StatementText


class TakeOverIn(_Body):
    """Whom the session goes to: by default the acting technician (``Fw-Technician``) themself."""

    to_technician: TechnicianId | None = None


#: The acting (signed-in) technician on every call about an existing session. The front end
#: that signed the person in sets it; only the session's technician may act on it.
TECHNICIAN_HEADER = "Fw-Technician"
_TECHNICIAN = re.compile(r"^[a-z0-9][a-z0-9_-]{1,31}$")  # fw_contracts.events.TechnicianId


class ActingTechnicianMissing(Exception):
    """The call does not say which technician acts (or not as a staff handle)."""


async def acting_technician(fw_technician: Annotated[str | None, Header(
        alias=TECHNICIAN_HEADER, description="The acting technician's staff handle, e.g. `tech-07` "
        "(required: only the session's own technician may read or change it)")] = None) -> str:
    """The acting technician from the ``Fw-Technician`` header; refuses a call without one.
    (``async``: FastAPI runs a plain ``def`` dependency in a worker thread, twice a lifecycle.)"""
    if fw_technician is None or not _TECHNICIAN.fullmatch(fw_technician):
        raise ActingTechnicianMissing
    return fw_technician


Acting = Annotated[str, Depends(acting_technician)]


#: (German, English) texts of this API's own validation codes, for ``fw_platform.http.install``.
MESSAGES: dict[str, tuple[str, str]] = {
    **ADDRESS_MESSAGES,
    "greater_than_equal": ("Ist zu klein.", "Is too small."),
    "less_than_equal": ("Ist zu groß.", "Is too large."),
    **TEXT_MESSAGES,
}
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
    #: Billing waits for data the technician has to ask the customer for (``missing``).
    billing_blocked: bool = False
    missing: list[str] = []
    billing_address_provided_at: datetime | None = None
    #: What became of billing's block, if billing ever blocked the session: ``waiting``,
    #: ``address_provided``, ``invoiced``, or ``closed_data_erased`` (the request's data were
    #: erased before an invoice, e.g. at the end of retention's billing hold: not billed).
    billing_block_state: BlockState | None = None
    #: When the request's personal data were erased (shown with a closed block).
    request_data_erased_at: datetime | None = None

    @classmethod
    def of(cls, s: Session, view: SessionView | None = None) -> SessionOut:
        block = view.block if view else None
        state = view.block_state if view else None
        waiting = state is BlockState.WAITING
        return cls(session_id=s.session_id, request_id=s.request_id, technician=s.technician,
                   status=s.status, started_at=s.started_at, promoted=s.promoted,
                   statement_sha256=s.statement_sha256, stated_at=s.stated_at, ended_at=s.ended_at,
                   duration_seconds=s.duration_seconds,
                   billing_blocked=waiting,
                   missing=list(block.missing) if block and waiting else [],
                   billing_address_provided_at=block.address_provided_at if block else None,
                   billing_block_state=state,
                   request_data_erased_at=view.request.erased_at if view and view.request and block else None)


class SessionSummaryOut(BaseModel):
    """One of a technician's sessions: ids, ticket, times (no personal data)."""

    session_id: uuid.UUID
    request_id: uuid.UUID
    ticket: str | None
    technician: str
    status: SessionStatus
    started_at: datetime
    ended_at: datetime | None
    #: Whole seconds, once the session has ended.
    duration_seconds: int | None

    @classmethod
    def of(cls, s: SessionSummary) -> SessionSummaryOut:
        return cls(session_id=s.session_id, request_id=s.request_id, ticket=s.ticket, technician=s.technician,
                   status=s.status, started_at=s.started_at, ended_at=s.ended_at,
                   duration_seconds=s.duration_seconds)


class TechnicianSessionsOut(BaseModel):
    technician: str
    status: SessionStatus
    limit: int
    items: list[SessionSummaryOut]


def build_router(service: SessionService, billing: BillingAddressService | None = None) -> APIRouter:
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
    async def promote(session_id: uuid.UUID, body: PromotionIn, technician: Acting) -> SessionOut:
        return SessionOut.of(await service.record_promotion(session_id, body.statement, technician))

    @router.post("/sessions/{session_id}/end", summary="End a session")
    async def end(session_id: uuid.UUID, technician: Acting) -> SessionOut:
        return SessionOut.of(await service.end(session_id, technician))

    @router.post("/sessions/{session_id}/takeover", summary="Take over another technician's running session",
                 description="Recorded as `SessionTakenOver` (from, to, who acted, when); from then on the "
                             "session belongs to `to_technician` (default: the acting technician) and its "
                             "former technician gets 403 like everybody else.")
    async def take_over(session_id: uuid.UUID, technician: Acting, body: TakeOverIn | None = None) -> SessionOut:
        to = body.to_technician if body else None
        return SessionOut.of(await service.take_over(session_id, technician, to))

    @router.get("/sessions", summary="A technician's running sessions (or the most recent ended ones)",
                description="For the technician's console, independent of any browser: `status=running` "
                            "(default) lists the running sessions of `technician`, oldest first, so a "
                            "forgotten one can be found and ended; `status=ended` the ended ones, most "
                            "recent first. At most `limit` (1-200, default 20) each. Ids, ticket and times "
                            "only, no personal data.")
    async def of_technician(technician: Annotated[TechnicianId, Query()],
                            state: Annotated[SessionStatus, Query(alias="status")] = SessionStatus.RUNNING,
                            limit: Annotated[int, Query(ge=1, le=200)] = 20) -> TechnicianSessionsOut:
        items = await service.of_technician(technician, state, limit)
        return TechnicianSessionsOut(technician=technician, status=state, limit=limit,
                                     items=[SessionSummaryOut.of(i) for i in items])

    @router.get("/sessions/{session_id}", summary="A session's state (and whether billing waits for an address)")
    async def get(session_id: uuid.UUID, technician: Acting) -> SessionOut:
        if billing is None:
            return SessionOut.of(await service.get(session_id, technician))
        view = await billing.view(session_id, technician)
        return SessionOut.of(view.session, view)

    if billing is not None:
        @router.post("/sessions/{session_id}/billing-address",
                     summary="Provide the billing address billing is waiting for (stored in the vault only)")
        async def billing_address(session_id: uuid.UUID, body: PostalAddress, technician: Acting) -> SessionOut:
            view = await billing.provide(session_id, body, technician)
            return SessionOut.of(view.session, view)

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
        code = {"not_found": 404, "forbidden": 403}.get(exc.kind, 409)
        return problem(code, exc.code, exc.message_de, exc.message_en)

    @app.exception_handler(ActingTechnicianMissing)
    async def _no_technician(_: Request, __: ActingTechnicianMissing) -> JSONResponse:
        return problem(400, "acting_technician_required",
                       f"Es fehlt, welche Technikerin oder welcher Techniker handelt (Kopfzeile {TECHNICIAN_HEADER}).",
                       f"The acting technician is missing (header {TECHNICIAN_HEADER}).")

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
