"""The privacy page: erasures pending and done, the Art. 30 record, AVV requests. No personal data."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path as FsPath
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from fw_web.domain.formatting import parse_time
from fw_web.domain.users import Role, User
from fw_web.entrypoints.public import DOC_CSP, UNREACHABLE, backends
from fw_web.entrypoints.render import render
from fw_web.entrypoints.web_session import require_csrf, require_role, web_session

PrivacyUser = Annotated[User, Depends(require_role(Role.PRIVACY))]
#: retention's channels of an AVV request, in German.
AVV_CHANNELS = {"phone": "Telefon", "email": "E-Mail", "letter": "Brief", "web": "Webseite", "in_person": "Persönlich"}


def record_documents(folder: FsPath | None) -> list[FsPath]:
    """The ``*.html`` files of the Art. 30 record, by name (empty when there are none)."""
    if folder is None or not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("*.html") if p.is_file())


def with_overdue(items: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """Mark each pending erasure whose deadline has passed (the sweep should have caught it)."""
    out = []
    for item in items:
        deadline = parse_time(item.get("deadline"))
        out.append({**item, "overdue": bool(deadline and deadline.tzinfo and deadline < now)})
    return out


def build_router() -> APIRouter:
    """The privacy officer's routes under ``/datenschutz``."""
    router = APIRouter(prefix="/datenschutz")

    @router.get("", summary="Privacy overview")
    async def overview(request: Request, user: PrivacyUser) -> Response:
        api = backends(request)
        pending, done, avv = await api.pending_erasures(), await api.erasures(), await api.avv_requests()
        avv_items = None
        if avv.ok:
            avv_items = avv.data.get("items", []) if isinstance(avv.data, dict) else avv.data or []
        return render(
            request, "privacy/overview.html",
            pending=with_overdue(pending.data, datetime.now(UTC)) if pending.ok and isinstance(pending.data, list) else None,
            erasures=done.data if done.ok and isinstance(done.data, list) else None,
            retention_problem=None if pending.ok and done.ok else UNREACHABLE,
            avv_items=avv_items, avv_available=avv.ok, channels=AVV_CHANNELS,
            documents=[p.name for p in record_documents(request.app.state.privacy_docs)],
        )

    @router.get("/verzeichnis/{name}", summary="One document of the Art. 30 record")
    async def document(request: Request, user: PrivacyUser,
                       name: Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,100}\.html$")]) -> Response:
        docs = {p.name: p for p in record_documents(request.app.state.privacy_docs)}
        path = docs.get(name)  # only listed files: no path from the URL reaches the file system
        if path is None:
            return render(request, "message.html", status_code=404, title="Verzeichnis",
                          message="Dieses Dokument gibt es nicht.", back="/datenschutz")
        return HTMLResponse(path.read_text(encoding="utf-8"), headers={"Content-Security-Policy": DOC_CSP})

    @router.post("/avv-anfragen", dependencies=[Depends(require_csrf)], summary="Record an AVV request")
    async def record_avv_request(request: Request, user: PrivacyUser,
                                 channel: Annotated[str, Form(max_length=16)] = "",
                                 customer_number: Annotated[str, Form(max_length=16)] = "",
                                 ticket: Annotated[str, Form(max_length=16)] = "") -> Response:
        session = web_session(request)
        if channel not in AVV_CHANNELS:
            session.flash("Bitte wählen Sie, auf welchem Weg der AVV angefragt wurde.", "error")
            return RedirectResponse("/datenschutz#avv", status_code=303)
        reply = await backends(request).record_avv_request(
            channel, customer_number.strip().upper() or None, ticket.strip().upper() or None)
        if reply.ok:
            session.flash("Die AVV-Anfrage ist vermerkt.", "success")
        elif reply.status == 422:
            session.flash("Kundennummer (z. B. K00001) oder Vorgangsnummer (z. B. K7MQ-3XA) hat nicht das "
                          "erwartete Format.", "error")
        else:
            session.flash(reply.message_de or UNREACHABLE, "error")
        return RedirectResponse("/datenschutz#avv", status_code=303)

    return router
