"""Intake's HTTP API: thin routes that validate, call a use case and map its outcome."""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from fw_contracts.vault import PersonalData, VaultError
from fw_intake.application.commands import (
    CreateSupportRequest,
    RequestNotFound,
    create_support_request,
    get_support_request,
    withdraw_support_request,
)
from fw_intake.application.ports import PersonalDataVault, SupportRequestsFactory, UnitOfWorkFactory
from fw_intake.domain.request import SupportRequest, WithdrawRefused
from fw_intake.domain.terms import TermsCatalog, TermsDocument
from fw_intake.domain.ticket import generate_ticket
from fw_intake.entrypoints.schemas import CreatedOut, ProblemOut, StatusOut, SupportRequestIn, TermsOut
from fw_platform.handling import TRANSIENT
from fw_platform.http import problem
from fw_platform.ratelimit import TokenBucket as RateLimiter
from fw_platform.vault_client import VaultRefused, VaultUnavailable

log = logging.getLogger(__name__)

REQUESTS_PATH = "/api/support-requests"
_ERRORS: dict[int | str, dict[str, Any]] = {c: {"model": ProblemOut} for c in (404, 409, 429, 500, 503)}

_NOT_FOUND = ("request_not_found", "Diese Anfrage ist uns nicht bekannt.", "This request is unknown.")
_REFUSED = {
    "already_withdrawn": ("Diese Anfrage wurde bereits zurückgezogen.", "This request was already withdrawn."),
    "session_started": (
        ("Die Fernwartung hat bereits begonnen; die Anfrage kann nicht mehr zurückgezogen werden."),
        ("The remote session has already started; the request can no longer be withdrawn.")),
    "request_closed": ("Diese Anfrage ist abgeschlossen.", "This request is closed."),
}
_VAULT_DOWN = (
    ("Ihre Anfrage konnte gerade nicht angenommen werden, weil unser Datenspeicher nicht erreichbar "
     "ist. Es wurde nichts gespeichert. Bitte versuchen Sie es in einigen Minuten erneut oder sagen "
     "Sie es uns am Telefon."),
    ("Your request could not be accepted right now because our data store cannot be reached. "
     "Nothing was stored. Please try again in a few minutes or tell us on the phone."))


_WITHDRAW_VAULT_DOWN = (
    ("Ihre Anfrage konnte gerade nicht zurückgezogen werden, weil unser Datenspeicher nicht erreichbar ist. "
     "Es wurde nichts geändert. Bitte versuchen Sie es in einigen Minuten erneut oder sagen Sie es uns am "
     "Telefon."),
    ("Your request could not be withdrawn right now because our data store cannot be reached. Nothing was "
     "changed. Please try again in a few minutes or tell us on the phone."))


@dataclass(frozen=True)
class IntakeDeps:
    """Everything the routes need; built by ``bootstrap`` (or by a test with fakes)."""

    terms: TermsCatalog
    vault: PersonalDataVault
    unit_of_work: UnitOfWorkFactory
    requests: SupportRequestsFactory
    limiter: RateLimiter
    new_ticket: Callable[[], str] = generate_ticket
    #: For the create, which is one statement: a connection without a transaction
    #: (``runtime.single_statement``); None: ``unit_of_work``.
    single_statement: UnitOfWorkFactory | None = None


class RateLimited(Exception):
    def __init__(self, retry_after: float) -> None:
        super().__init__("rate limited")
        self.retry_after = retry_after


def _status(state: SupportRequest) -> StatusOut:
    return StatusOut(request_id=state.request_id, ticket=state.ticket, status=state.status,
                     created_at=state.created_at)


def _terms(doc: TermsDocument) -> TermsOut:
    return TermsOut(version=doc.version, sha256=doc.sha256, text=doc.text)


def _personal_data(body: SupportRequestIn) -> PersonalData:
    return PersonalData(company=body.company, contact_name=body.contact_name, phone=body.phone,
                        email=body.email, address=body.address, vat_id=body.vat_id,
                        buyer_reference=body.buyer_reference)


def _unknown_terms() -> RequestValidationError:
    # Raised like any other field error so the client gets one consistent 422 shape.
    return RequestValidationError([{"type": "terms_version_unknown", "loc": ("body", "terms_version"),
                                    "msg": "unknown terms version", "input": None}])


def build_router(deps: IntakeDeps) -> APIRouter:
    """The routes of intake, bound to ``deps``."""
    router = APIRouter(tags=["intake"])
    uow, requests = deps.unit_of_work, deps.requests

    async def rate_limit(request: Request) -> None:
        # A dependency runs before the body is validated, so spam with bad bodies counts too.
        client = request.client.host if request.client else "unknown"
        wait = deps.limiter.take(client)
        if wait is not None:
            raise RateLimited(wait)

    @router.post(REQUESTS_PATH, status_code=201, response_model=CreatedOut, responses=_ERRORS,
                 dependencies=[Depends(rate_limit)], summary="Create a support request")
    async def create(body: SupportRequestIn) -> JSONResponse:
        terms = deps.terms.get(body.terms_version)
        if terms is None:
            raise _unknown_terms()
        try:
            personal_data = _personal_data(body)
        except ValidationError as exc:
            # Our form rules are at least as strict as the vault contract; should they ever
            # drift apart, answer 422 the safe way instead of a 500 with a traceback.
            raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]) from None
        cmd = CreateSupportRequest(personal_data=personal_data, customer_type=body.customer_type,
                                   terms=terms, withdrawal_waiver=body.withdrawal_waiver)
        try:
            created = await create_support_request(cmd, vault=deps.vault,
                                                   unit_of_work=deps.single_statement or uow,
                                                   requests=requests, new_ticket=deps.new_ticket)
        except VaultUnavailable:
            log.warning("vault unavailable; request refused", extra={"error": "VaultUnavailable"})
            return _with_retry(problem(503, "vault_unavailable", *_VAULT_DOWN), 30)
        except VaultRefused as exc:
            return _vault_refused(exc.error)
        except TRANSIENT as exc:
            log.warning("storage unavailable", extra={"error": type(exc).__name__})
            return _with_retry(problem(
                503, "service_unavailable",
                "Der Dienst ist vorübergehend nicht erreichbar. Bitte versuchen Sie es in einigen Minuten erneut.",
                "The service is temporarily unavailable. Please try again in a few minutes."), 30)
        url = f"{REQUESTS_PATH}/{created.request_id}"
        out = CreatedOut(request_id=created.request_id, ticket=created.ticket, status_url=url,
                         download_code=created.download_code)
        return JSONResponse(status_code=201, content=out.model_dump(mode="json"), headers={"Location": url})

    @router.get(REQUESTS_PATH + "/{request_id}", response_model=StatusOut, responses=_ERRORS,
                summary="Status of a support request")
    async def status(request_id: uuid.UUID) -> StatusOut | JSONResponse:
        try:
            return _status(await get_support_request(request_id, unit_of_work=uow, requests=requests))
        except RequestNotFound:
            return problem(404, *_NOT_FOUND)

    @router.post(REQUESTS_PATH + "/{request_id}/withdraw", response_model=StatusOut, responses=_ERRORS,
                 summary="Withdraw an open support request")
    async def withdraw(request_id: uuid.UUID) -> StatusOut | JSONResponse:
        try:
            return _status(await withdraw_support_request(request_id, unit_of_work=uow, requests=requests,
                                                          vault=deps.vault))
        except RequestNotFound:
            return problem(404, *_NOT_FOUND)
        except WithdrawRefused as exc:
            return problem(409, exc.code, *_REFUSED[exc.code], request_status=exc.status.value)
        except VaultUnavailable:
            # the vault decides withdraw vs start: without it nothing is recorded
            log.warning("vault unavailable; withdrawal refused", extra={"error": "VaultUnavailable"})
            return _with_retry(problem(503, "vault_unavailable", *_WITHDRAW_VAULT_DOWN), 30)
        except VaultRefused as exc:
            return _vault_refused(exc.error)

    @router.get("/api/terms/current", response_model=TermsOut, summary="The terms of use shown to new customers")
    async def terms_current() -> TermsOut:
        return _terms(deps.terms.current)

    @router.get("/api/terms/{version}", response_model=TermsOut, responses=_ERRORS,
                summary="One version of the terms of use, exactly as accepted")
    async def terms_version(version: Annotated[str, Path(max_length=32)]) -> TermsOut | JSONResponse:
        doc = deps.terms.get(version)
        if doc is None:
            return problem(404, "terms_version_unknown", "Diese Fassung der Nutzungsbedingungen gibt es nicht.",
                           "There is no such version of the terms of use.")
        return _terms(doc)

    return router


def _with_retry(resp: JSONResponse, seconds: float) -> JSONResponse:
    resp.headers["Retry-After"] = str(max(1, math.ceil(seconds)))
    return resp


def _vault_refused(error: VaultError) -> JSONResponse:
    log.error("vault refused the request", extra={"error": error.value})
    if error in (VaultError.EXISTS, VaultError.ERASED):
        # Only possible for a reused request id; a new attempt draws a new one.
        return problem(409, "vault_conflict",
                       "Ihre Anfrage konnte nicht gespeichert werden. Bitte senden Sie sie erneut.",
                       "Your request could not be stored. Please send it again.")
    return problem(500, "vault_error",
                   "Ihre Anfrage konnte wegen eines internen Fehlers nicht angenommen werden. Es wurde "
                   "nichts gespeichert. Bitte rufen Sie uns an.",
                   "Your request could not be accepted because of an internal error. Nothing was "
                   "stored. Please call us.")


def install(app: FastAPI, deps: IntakeDeps) -> None:
    """Add intake's routes and its 429 answer to ``app``."""
    app.include_router(build_router(deps))

    @app.exception_handler(RateLimited)
    async def _limited(_: Request, exc: RateLimited) -> JSONResponse:
        return _with_retry(problem(
            429, "rate_limited",
            "Zu viele Anfragen von Ihrem Anschluss. Bitte warten Sie einen Moment und versuchen Sie es erneut.",
            "Too many requests from your connection. Please wait a moment and try again."), exc.retry_after)
