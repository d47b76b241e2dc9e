"""The technician console: live queue, start a session, promotion statement, end, the invoice.

Every call to session names the signed-in technician: a session belongs to the technician who
started it, and another technician sees a takeover button instead of the session (session
answers 403 until the takeover is recorded).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from fw_contracts.text import UncleanText, clean_text
from fw_web.adapters.backends import Reply
from fw_web.domain.formatting import parse_time
from fw_web.domain.users import Role, User
from fw_web.entrypoints.public import UNREACHABLE, backends
from fw_web.entrypoints.render import render, render_fragment
from fw_web.entrypoints.web_session import RECENT_SESSIONS, require_csrf, require_role, web_session

log = logging.getLogger(__name__)

Technician = Annotated[User, Depends(require_role(Role.TECHNICIAN))]
_GONE = "Diese Sitzung ist nicht bekannt."
NOT_YOURS = ("Diese Sitzung gehört einer anderen Technikerin oder einem anderen Techniker. Sie können sie "
              "erst bearbeiten, wenn Sie sie übernommen haben.")


def _problem(reply_message: str | None, fallback: str = UNREACHABLE) -> str:
    return reply_message or fallback


def _elapsed(session: dict[str, Any]) -> int:
    started = parse_time(session.get("started_at"))
    if started is None or started.tzinfo is None:
        return 0
    return max(0, int((datetime.now(UTC) - started).total_seconds()))


async def billing_state(request: Request, session_id: uuid.UUID) -> dict[str, Any]:
    """What billing says about an ended session: ``{"state": ..., "done": bool, ...}``."""
    api = backends(request)
    invoices = await api.invoices_for_session(session_id)
    if invoices.unreachable:
        return {"state": "unreachable", "done": False}
    items = invoices.data.get("items") if isinstance(invoices.data, dict) else None
    if invoices.ok and items:
        return {"state": "invoiced", "done": True, "invoice": items[0]}
    status = await api.billing_session(session_id)
    if status.ok and isinstance(status.data, dict):
        state = str(status.data.get("status"))
        # "invoiced" without an invoice in the list: the list was read a moment too early.
        out: dict[str, Any] = {"state": state, "done": state in ("not_billed", "blocked"), "billing": status.data}
        if state in ("blocked", "not_billed"):
            out.update(await _data_deadline(request, status.data.get("request_id")))
        return out
    return {"state": "pending", "done": False}


async def _data_deadline(request: Request, request_id: object) -> dict[str, Any]:
    """From retention (ids and times only): while billing waits for the address, when the data
    are erased (``erase_by``, the end of the billing hold); after a hold, that the claim is lost
    (``lost_claim``, ``erased_at``). Nothing when retention cannot say."""
    try:
        rid = uuid.UUID(str(request_id))
    except ValueError:
        return {}
    reply = await backends(request).request_data_status(rid)
    data = reply.data if reply.ok and isinstance(reply.data, dict) else {}
    if not data.get("billing_blocked_at"):
        return {}
    if data.get("state") == "stored":
        return {"erase_by": data.get("erase_by")}
    if data.get("state") == "erased":
        return {"lost_claim": True, "erased_at": data.get("erased_at")}
    return {}


def _items(reply: Reply) -> list[dict[str, Any]] | None:
    """The ``items`` of a session list answer; None when the service could not give them."""
    items = reply.data.get("items") if reply.ok and isinstance(reply.data, dict) else None
    return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else None


def with_company(items: list[dict[str, Any]] | None,
                 callers: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    """The running sessions with the caller's company (from the session service's contact list)."""
    if items is None:
        return None
    by_id = {str(c.get("session_id")): c for c in callers or []}
    return [{**i, "company": by_id.get(str(i.get("session_id")), {}).get("company"),
             "contact": by_id.get(str(i.get("session_id")), {}).get("contact", "unavailable")} for i in items]


async def own_session(request: Request, user: User, session_id: uuid.UUID, *,
                      back: str | None = None) -> dict[str, Any] | Response:
    """The session as the session service shows it to its own technician, or the page to answer
    instead: 404 unknown, 403 another technician's (with the take-over offer), 503 unreachable."""
    reply = await backends(request).session(session_id, user.username)
    way_back = {"back": back} if back else {}  # without it the page links the user's home
    if reply.status == 404:
        return render(request, "message.html", status_code=404, title="Sitzung", message=_GONE,
                      **way_back)
    if reply.status == 403:
        return render(request, "technician/not_yours.html", status_code=403, message=NOT_YOURS,
                      session_id=session_id)
    if not reply.ok or not isinstance(reply.data, dict):
        return render(request, "message.html", status_code=503, title="Sitzung", message=UNREACHABLE,
                      **way_back)
    return reply.data


async def session_page(request: Request, user: User, session_id: uuid.UUID, *,
                       note_draft: str | None = None, note_error: str | None = None) -> Response:
    """The session page; ``note_draft``/``note_error``: a refused work note comes back with its
    text and the reason (status 422), so nothing typed is lost."""
    data = await own_session(request, user, session_id)
    if isinstance(data, Response):
        return data
    api = backends(request)
    ticket = next((s.get("ticket") for s in web_session(request).data.get("sessions", [])
                   if isinstance(s, dict) and s.get("id") == str(session_id)), None)
    billing = await billing_state(request, session_id) if data.get("status") == "ended" else None
    contact, note_reply = await asyncio.gather(api.session_contact(session_id, user.username),
                                               api.work_note(session_id))
    caller = contact.data if contact.ok and isinstance(contact.data, dict) else {"contact": "unavailable"}
    ticket = ticket or caller.get("ticket")
    note = work_note_view(note_reply, billing, draft=note_draft, error=note_error)
    return render(request, "technician/session.html", status_code=422 if note_error else 200, s=data,
                  ticket=ticket, elapsed=_elapsed(data), billing=billing, caller=caller, note=note)


def work_note_view(reply: Reply, billing: dict[str, Any] | None, *, draft: str | None = None,
                   error: str | None = None) -> dict[str, Any]:
    """What the note panel shows: ``state`` open (form), frozen (on the issued invoice, read
    only), not_billed (no note kept) or unavailable (billing does not answer)."""
    data = reply.data if reply.ok and isinstance(reply.data, dict) else {}
    text = draft if draft is not None else data.get("note")
    state = str(data.get("state") or "open")
    billing_state_ = (billing or {}).get("state")
    if billing_state_ == "invoiced":
        state = "frozen"
    elif billing_state_ == "not_billed":
        state = "not_billed"
    elif reply.unreachable or (not reply.ok and reply.status != 404):
        state = "unavailable"
    if state != "open":
        text = data.get("note")  # a refused late change: show what is on the invoice, not the draft
    return {"state": state, "text": text or "", "written_at": data.get("written_at"), "error": error}


def build_router() -> APIRouter:
    """The technician's routes under ``/technik``."""
    router = APIRouter(prefix="/technik")

    @router.get("", summary="Technician console")
    async def console(request: Request, user: Technician) -> Response:
        api = backends(request)
        # The own sessions come from the session service, not from this browser's cookie: after
        # a new sign-in, in another browser, a running session is still found and can be ended.
        queue, running, ended, callers = await asyncio.gather(
            api.queue(), api.technician_sessions(user.username, "running"),
            api.technician_sessions(user.username, "ended", limit=RECENT_SESSIONS),
            api.running_sessions(user.username))
        running_items = with_company(_items(running), _items(callers))
        ended_items = _items(ended)
        return render(request, "technician/console.html", queue=queue.data if queue.ok else None,
                      queue_problem=None if queue.ok else _problem(queue.message_de),
                      running=[{**s, "elapsed": _elapsed(s)} for s in running_items or []],
                      running_problem=None if running_items is not None else _problem(running.message_de),
                      ended=ended_items or [],
                      ended_problem=None if ended_items is not None else _problem(ended.message_de))

    @router.get("/warteschlange", summary="The queue as an HTML fragment (polled)")
    async def queue_fragment(request: Request, user: Technician) -> Response:
        queue = await backends(request).queue()
        return render_fragment("technician/_queue.html", queue=queue.data if queue.ok else None,
                               queue_problem=None if queue.ok else _problem(queue.message_de),
                               csrf_token=web_session(request).csrf)

    @router.post("/sitzungen", dependencies=[Depends(require_csrf)], summary="Start a session")
    async def start(request: Request, user: Technician, request_id: Annotated[uuid.UUID, Form()],
                    ticket: Annotated[str, Form(max_length=16)] = "") -> Response:
        reply = await backends(request).start_session(request_id, user.username)
        session = web_session(request)
        if reply.status == 201 and isinstance(reply.data, dict):
            session_id = str(reply.data["session_id"])
            log.info("session started", extra={"session_id": session_id, "request_id": str(request_id)})
            session.remember_session(session_id, ticket or None)
            session.flash("Die Sitzung läuft.", "success")
            return RedirectResponse(f"/technik/sitzungen/{session_id}", status_code=303)
        session.flash(_problem(reply.message_de, "Die Sitzung konnte nicht gestartet werden."), "error")
        return RedirectResponse("/technik", status_code=303)

    @router.get("/sitzungen/{session_id}", summary="One session: timer, statement, note, end, invoice")
    async def show(request: Request, user: Technician, session_id: uuid.UUID) -> Response:
        return await session_page(request, user, session_id)

    @router.get("/sitzungen/{session_id}/abrechnung", summary="Billing of an ended session (polled fragment)")
    async def billing_fragment(request: Request, user: Technician, session_id: uuid.UUID) -> Response:
        own = await backends(request).session(session_id, user.username)
        if own.status in (403, 404):
            return Response(status_code=own.status)
        return render_fragment("technician/_billing.html", billing=await billing_state(request, session_id),
                               session_id=session_id)

    @router.post("/sitzungen/{session_id}/erklaerung", dependencies=[Depends(require_csrf)],
                 summary="Record the customer's promotion statement")
    async def promote(request: Request, user: Technician, session_id: uuid.UUID,
                      statement: Annotated[str, Form(max_length=2000)] = "") -> Response:
        session = web_session(request)
        try:
            # the session service checks the same; here the technician learns why in German
            statement = clean_text(statement, multiline=True) if statement.strip() else ""
        except UncleanText as exc:
            session.flash(f"Die Erklärung wurde nicht gespeichert. {exc.message_de}", "error")
            return RedirectResponse(f"/technik/sitzungen/{session_id}", status_code=303)
        if not statement:
            session.flash("Bitte tragen Sie die Erklärung der Kundin oder des Kunden im Wortlaut ein.", "error")
        else:
            reply = await backends(request).record_promotion(session_id, statement, user.username)
            if reply.ok:
                log.info("promotion recorded", extra={"session_id": str(session_id)})
                session.flash("Die Erklärung ist gespeichert. Ein Kundenkonto wird angelegt.", "success")
            else:
                session.flash(_problem(reply.message_de, "Die Erklärung konnte nicht gespeichert werden."), "error")
        return RedirectResponse(f"/technik/sitzungen/{session_id}", status_code=303)

    @router.post("/sitzungen/{session_id}/beenden", dependencies=[Depends(require_csrf)], summary="End the session")
    async def end(request: Request, user: Technician, session_id: uuid.UUID) -> Response:
        reply = await backends(request).end_session(session_id, user.username)
        session = web_session(request)
        if reply.ok:
            log.info("session ended", extra={"session_id": str(session_id)})
            session.flash("Die Sitzung ist beendet.", "success")
        else:
            session.flash(_problem(reply.message_de, "Die Sitzung konnte nicht beendet werden."), "error")
        return RedirectResponse(f"/technik/sitzungen/{session_id}", status_code=303)

    @router.post("/sitzungen/{session_id}/uebernehmen", dependencies=[Depends(require_csrf)],
                 summary="Take over another technician's running session (recorded)")
    async def take_over(request: Request, user: Technician, session_id: uuid.UUID) -> Response:
        reply = await backends(request).take_over_session(session_id, user.username)
        session = web_session(request)
        if reply.ok:
            log.info("session taken over", extra={"session_id": str(session_id)})
            session.flash("Sie haben die Sitzung übernommen.", "success")
            return RedirectResponse(f"/technik/sitzungen/{session_id}", status_code=303)
        session.flash(_problem(reply.message_de, "Die Sitzung konnte nicht übernommen werden."), "error")
        return RedirectResponse("/technik", status_code=303)

    return router
