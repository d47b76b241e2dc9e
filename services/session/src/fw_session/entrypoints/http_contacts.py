"""HTTP routes of whom a technician helps: one session's caller, and every running session (lead).

The answers hold personal data read from the vault (like ``GET /api/queue``); they are never
logged or stored. An erased request says so, with the time."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel

from fw_contracts.events import TechnicianId
from fw_session.application.contacts import SessionContact, SessionContacts
from fw_session.entrypoints.http import Acting


class ContactOut(BaseModel):
    session_id: uuid.UUID
    request_id: uuid.UUID
    ticket: str | None
    technician: str
    started_at: datetime
    ended_at: datetime | None
    #: ``available``: the fields below are set; ``erased``: the vault no longer has them
    #: (``erased_at`` when known); ``unavailable``: the vault could not be asked just now.
    contact: Literal["available", "erased", "unavailable"]
    erased_at: datetime | None
    company: str | None
    contact_name: str | None
    phone: str | None

    @classmethod
    def of(cls, c: SessionContact) -> ContactOut:
        r, d = c.ref, c.data
        return cls(session_id=r.session_id, request_id=r.request_id, ticket=r.ticket, technician=r.technician,
                   started_at=r.started_at, ended_at=r.ended_at, contact=c.state,  # type: ignore[arg-type]
                   erased_at=r.erased_at, company=d.company if d else None,
                   contact_name=d.contact_name if d else None, phone=d.phone if d else None)


class TicketOut(BaseModel):
    request_id: uuid.UUID
    ticket: str


class TicketsOut(BaseModel):
    items: list[TicketOut]


class RunningOut(BaseModel):
    items: list[ContactOut]


def router(contacts: SessionContacts) -> APIRouter:
    api = APIRouter(prefix="/api", tags=["technician"])

    @api.get("/sessions/{session_id}/contact", response_model=ContactOut,
             summary="The session's caller (company, contact, phone) while the vault has them")
    async def contact(session_id: uuid.UUID, acting: Acting) -> ContactOut:
        return ContactOut.of(await contacts.contact(session_id, acting))

    @api.get("/running-sessions", response_model=RunningOut,
             summary="Running sessions, oldest first, with the caller (all technicians, or one)")
    async def running(technician: Annotated[TechnicianId | None, Query()] = None,
                      limit: Annotated[int, Query(ge=1, le=200)] = 100) -> RunningOut:
        return RunningOut(items=[ContactOut.of(c) for c in await contacts.running(technician, limit)])

    @api.get("/tickets", response_model=TicketsOut,
             summary="Ticket codes of requests (pseudonymous), for lists that would otherwise show ids")
    async def tickets(request_id: Annotated[list[uuid.UUID], Query(max_length=500)]) -> TicketsOut:
        found = await contacts.tickets(request_id)
        return TicketsOut(items=[TicketOut(request_id=k, ticket=v) for k, v in found.items()])

    return api
