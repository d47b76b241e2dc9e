"""The customer's invoice, fetched with the download code given once at intake (issue 21).

The code never travels in a URL path or query (those are what logs keep): the thank-you page
links to ``/rechnung#<code>`` — a fragment stays in the browser — and the page's script (or the
customer, by typing it) puts the code into a POST form. Billing checks the code (one place) and
serves the archived PDF. A wrong or expired code gets one neutral answer; every attempt counts
against a per-address rate limit, before the form is even read.
"""

from __future__ import annotations

import logging
import re

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from fw_platform.ratelimit import TokenBucket
from fw_web.entrypoints.public import UNREACHABLE, FormRateLimited, backends, client_address
from fw_web.entrypoints.render import render
from fw_web.entrypoints.web_session import require_csrf

log = logging.getLogger(__name__)

NOT_FOUND = ("Zu diesem Abrufcode gibt es keine Rechnung (mehr). Bitte prüfen Sie den Code; ein Code "
             "gilt 30 Tage nach der Rechnung. Sprechen Sie uns sonst gern am Telefon an.")
_NUMBER = re.compile(r"^[A-Z0-9][A-Z0-9-]{2,31}$")
#: The page holds the code in a form field: not to be cached or sent on as a referrer.
PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


async def limit_download(request: Request) -> None:
    """Runs before the CSRF check and the form parsing, so every attempt counts."""
    limiter: TokenBucket = request.app.state.download_limiter
    wait = limiter.take(client_address(request))
    if wait is not None:
        raise FormRateLimited(wait)


def _code(raw: object) -> str:
    return raw.strip() if isinstance(raw, str) else ""


def _private(response: Response) -> Response:
    response.headers.update(PRIVATE)
    return response


def _not_found(request: Request) -> Response:
    return _private(render(request, "message.html", status_code=404, title="Rechnung nicht gefunden",
                           message=NOT_FOUND, back="/rechnung"))


def build_router() -> APIRouter:
    """The download routes (public)."""
    router = APIRouter()

    @router.get("/rechnung", summary="Enter (or bring in the link's) download code")
    async def form(request: Request) -> Response:
        return _private(render(request, "download.html", code=None, documents=None))

    @router.post("/rechnung", dependencies=[Depends(limit_download), Depends(require_csrf)],
                 summary="The invoice documents a download code opens")
    async def documents(request: Request) -> Response:
        code = _code((await request.form()).get("code"))
        if not code:
            return _not_found(request)
        reply = await backends(request).download(code)
        if reply.status == 404 or (reply.ok and not isinstance(reply.data, dict)):
            log.info("download code refused")
            return _not_found(request)
        if not reply.ok:
            return render(request, "message.html", status_code=503, title="Rechnung", message=UNREACHABLE)
        return _private(render(request, "download.html", code=code, documents=reply.data.get("documents") or [],
                               expires_at=reply.data.get("expires_at")))

    @router.post("/rechnung/pdf", dependencies=[Depends(limit_download), Depends(require_csrf)],
                 summary="One archived PDF a download code opens")
    async def pdf(request: Request) -> Response:
        form = await request.form()
        code, number = _code(form.get("code")), _code(form.get("number"))
        if not code or not _NUMBER.fullmatch(number):
            return _not_found(request)
        reply = await backends(request).download_document(code, number)
        if reply.status == 404:
            log.info("download code refused")
            return _not_found(request)
        if not reply.ok:
            return render(request, "message.html", status_code=503, title="Rechnung", message=UNREACHABLE)
        log.info("invoice downloaded", extra={"invoice_number": number})
        return Response(reply.content, media_type="application/pdf", headers={
            **PRIVATE, "Content-Disposition": f'attachment; filename="{number}.pdf"'})

    return router
