"""Public pages: the support-request form, the ticket, the terms of use and the AVV download."""

from __future__ import annotations

import logging
import math
import re
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup

from fw_platform.ratelimit import TokenBucket
from fw_web.adapters.backends import Backends, Reply
from fw_web.domain.formatting import simple_markdown
from fw_web.domain.prices import price_text
from fw_web.domain.support_form import (
    FIELDS,
    LABELS,
    FormInput,
    field_messages,
    in_page_order,
    intake_body,
    read_form,
)
from fw_web.entrypoints.render import render
from fw_web.entrypoints.web_session import current_user, require_csrf, web_session

log = logging.getLogger(__name__)

UNREACHABLE = ("Unser System ist gerade nicht erreichbar. Bitte versuchen Sie es in einigen Minuten "
               "erneut oder nennen Sie uns Ihre Angaben am Telefon.")
RATE_LIMITED = ("Von Ihrem Anschluss kamen gerade sehr viele Anfragen. Bitte warten Sie einen Moment "
                "und senden Sie das Formular dann erneut.")
ERROR_SUMMARY = "Bitte prüfen Sie die markierten Angaben."
#: Documents rendered by another service (AVV, Art. 30 record): may style themselves, run nothing.
DOC_CSP = ("default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
           "frame-ancestors 'none'; base-uri 'none'; form-action 'none'")


class FormRateLimited(Exception):
    def __init__(self, retry_after: float) -> None:
        super().__init__("rate limited")
        self.retry_after = retry_after


def client_address(request: Request) -> str:
    """The client's address (uvicorn puts a trusted proxy's X-Forwarded-For here)."""
    return request.client.host if request.client else "unknown"


def backends(request: Request) -> Backends:
    result: Backends = request.app.state.backends
    return result


async def limit_form(request: Request) -> None:
    """Runs before the CSRF check and the form parsing, so every attempt counts."""
    limiter: TokenBucket = request.app.state.form_limiter
    wait = limiter.take(client_address(request))
    if wait is not None:
        raise FormRateLimited(wait)


def _empty_form() -> FormInput:
    return FormInput(dict.fromkeys(FIELDS, "") | {"customer_type": "business", "country": "DE"})


async def _form_page(request: Request, form: FormInput, *, status_code: int = 200,
                     problem: str | None = None, terms: Reply | None = None) -> Response:
    terms = terms or await backends(request).current_terms()
    if not terms.ok:
        # Without the terms there is nothing the customer could accept: say so instead of a form.
        return render(request, "support_form.html", status_code=503, terms=None, form=form,
                      problem=UNREACHABLE, labels=LABELS, errors=[])
    tariff = await backends(request).tariff()
    return render(request, "support_form.html", status_code=status_code, terms=terms.data, form=form,
                  problem=problem, labels=LABELS, errors=in_page_order(form.errors),
                  price=price_text(tariff.data) if tariff.ok and isinstance(tariff.data, dict) else None)


_BODY = re.compile(rb"<body[^>]*>(.*)</body>", re.DOTALL)


def avv_body(page: bytes) -> Markup | None:
    """The body of retention's AVV page (rendered there from its own Markdown with raw HTML
    disabled), or None when the page has none."""
    found = _BODY.search(page)
    if found is None:
        return None
    try:
        return Markup(found.group(1).decode("utf-8"))
    except UnicodeDecodeError:
        return None


def build_router() -> APIRouter:
    """The public routes."""
    router = APIRouter()

    @router.get("/", summary="Support request form")
    async def form_page(request: Request) -> Response:
        return await _form_page(request, _empty_form())

    @router.post("/", dependencies=[Depends(limit_form), Depends(require_csrf)], summary="Send the form")
    async def submit(request: Request) -> Response:
        raw = await request.form()
        form = read_form(raw)
        version = raw.get("terms_version")
        version = version.strip() if isinstance(version, str) else ""
        if form.errors:
            return await _form_page(request, form, status_code=422, problem=ERROR_SUMMARY)
        reply = await backends(request).create_request(intake_body(form, version), client_address(request))
        if reply.status == 201 and isinstance(reply.data, dict):
            ticket, request_id = reply.data.get("ticket"), reply.data.get("request_id")
            log.info("support request sent", extra={"ticket": ticket, "request_id": request_id})
            # the download code is shown on the thank-you page (this browser only; never logged)
            web_session(request).set("ticket", {"ticket": ticket, "request_id": request_id,
                                                "download_code": reply.data.get("download_code")})
            return RedirectResponse("/danke", status_code=303)
        if reply.status == 422 and isinstance(reply.data, dict):
            form.errors = field_messages(reply.data.get("errors") or [])
            return await _form_page(request, form, status_code=422, problem=ERROR_SUMMARY)
        if reply.status == 429:
            return await _form_page(request, form, status_code=429, problem=reply.message_de or RATE_LIMITED)
        log.warning("support request refused", extra={"status": reply.status})
        return await _form_page(request, form, status_code=503 if reply.status in (0, 503) else 502,
                                problem=reply.message_de or UNREACHABLE)

    @router.get("/danke", summary="The ticket of the request just sent")
    async def thanks(request: Request) -> Response:
        sent = web_session(request).data.get("ticket")
        if not isinstance(sent, dict) or not sent.get("ticket"):
            return RedirectResponse("/", status_code=303)
        code = sent.get("download_code")
        response = render(request, "thanks.html", ticket=sent["ticket"],
                          download_code=code if isinstance(code, str) else None)
        response.headers.update({"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})
        return response

    @router.get("/nutzungsbedingungen/{version}", summary="One version of the terms of use")
    async def terms(request: Request, version: Annotated[str, Path(pattern=r"^[0-9A-Za-z._-]{1,32}$")]) -> Response:
        reply = await backends(request).terms(version)
        if reply.status == 404:
            return render(request, "message.html", status_code=404, title="Nicht gefunden",
                          message="Diese Fassung der Nutzungsbedingungen gibt es nicht.")
        if not reply.ok or not isinstance(reply.data, dict):
            return render(request, "message.html", status_code=503, title="Nicht erreichbar", message=UNREACHABLE)
        return render(request, "terms.html", terms=reply.data, body=simple_markdown(str(reply.data.get("text", ""))))

    @router.get("/avv", summary="The data-processing agreement (AVV), from retention")
    async def avv(request: Request, download: bool = False) -> Response:
        api = backends(request)
        reply = await api.avv()
        if reply.ok:
            session = web_session(request)
            if not session.data.get("avv") and current_user(request) is None:  # staff reading it is no request
                # Art. 28 paper trail: who asked for the AVV, pseudonymously (the ticket, if this
                # browser just sent a request), once per browser session.
                sent = session.data.get("ticket")
                ticket = sent.get("ticket") if isinstance(sent, dict) else None
                recorded = await api.record_avv_request("web", None, ticket)
                if recorded.ok:
                    session.set("avv", True)
            if not download:  # read on the site: inside the pages' layout, with a way back
                body = avv_body(reply.content)
                if body is not None:
                    user = current_user(request)
                    return render(request, "document.html", title="Auftragsverarbeitungsvertrag (AVV)",
                                  body=body, back=user.role.home if user else "/",
                                  back_label="Zurück" if user else "Zurück zur Supportanfrage",
                                  download="/avv?download=1", download_label="AVV herunterladen")
            disposition = reply.headers.get("content-disposition", 'inline; filename="avv.html"')
            if download:
                disposition = disposition.replace("inline", "attachment", 1)
            # The page is retention's own rendering: styles allowed, scripts and everything else not.
            return Response(reply.content, media_type=reply.headers.get("content-type", "text/html; charset=utf-8"),
                            headers={"Content-Disposition": disposition, "Content-Security-Policy": DOC_CSP})
        if reply.status in (404, 405):
            return render(request, "message.html", status_code=404, title="Auftragsverarbeitungsvertrag",
                          message=("Der Auftragsverarbeitungsvertrag (AVV) steht hier noch nicht zum "
                                   "Herunterladen bereit. Wir senden ihn Ihnen gern zu — sprechen Sie "
                                   "uns am Telefon darauf an."))
        return render(request, "message.html", status_code=503, title="Auftragsverarbeitungsvertrag",
                      message=UNREACHABLE)

    return router


def retry_after(seconds: float) -> str:
    """The Retry-After header value (whole seconds, at least 1)."""
    return str(max(1, math.ceil(seconds)))
