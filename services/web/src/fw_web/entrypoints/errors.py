"""Refusals as pages in plain German (never echoing input), or short answers for polled fragments."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from fw_web.entrypoints.public import RATE_LIMITED, FormRateLimited, retry_after
from fw_web.entrypoints.render import ENV, render
from fw_web.entrypoints.web_session import BadCsrf, NeedsSignIn, WrongRole, web_session

#: Sent by our script when it polls a fragment: such a request wants no redirect, just a status.
FRAGMENT_HEADER = "x-fw-fragment"
SIGNED_OUT = "Ihre Anmeldung ist abgelaufen. Bitte melden Sie sich erneut an."


def _fragment(request: Request) -> bool:
    return request.headers.get(FRAGMENT_HEADER) == "1"


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""

    @app.exception_handler(NeedsSignIn)
    async def _sign_in(request: Request, _: NeedsSignIn) -> Response:
        if _fragment(request):
            return HTMLResponse(ENV.get_template("_signed_out.html").render(), status_code=401)
        if request.method != "GET":
            web_session(request).flash(SIGNED_OUT, "error")
            return RedirectResponse("/anmelden", status_code=303)
        return RedirectResponse("/anmelden?weiter=" + quote(request.url.path, safe="/"), status_code=303)

    @app.exception_handler(WrongRole)
    async def _wrong_role(request: Request, exc: WrongRole) -> Response:
        return render(request, "message.html", status_code=403, title="Kein Zugriff",
                      message=(f"Diese Seite gehört nicht zu Ihrem Bereich ({exc.user.role.label_de})."),
                      back=exc.user.role.home)

    @app.exception_handler(BadCsrf)
    async def _csrf(request: Request, _: BadCsrf) -> Response:
        return render(request, "message.html", status_code=403, title="Formular abgelaufen",
                      message=("Das Formular war nicht mehr gültig (zum Beispiel nach langer Pause oder "
                               "einer neuen Anmeldung). Bitte laden Sie die Seite neu und senden Sie es erneut."),
                      back=request.url.path if request.url.path.startswith("/") else "/")

    @app.exception_handler(FormRateLimited)
    async def _limited(request: Request, exc: FormRateLimited) -> Response:
        resp = render(request, "message.html", status_code=429, title="Bitte einen Moment warten",
                      message=RATE_LIMITED, back="/")
        resp.headers["Retry-After"] = retry_after(exc.retry_after)
        return resp

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, _: RequestValidationError) -> Response:
        # Only our own links and forms reach these routes; a bad value is a stale or edited link.
        return render(request, "message.html", status_code=422, title="Ungültige Angabe",
                      message="Diese Adresse oder Eingabe ist ungültig. Bitte gehen Sie zurück und versuchen Sie es erneut.")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return render(request, "message.html", status_code=404, title="Seite nicht gefunden",
                          message="Diese Seite gibt es nicht.")
        if exc.status_code == 405:
            return render(request, "message.html", status_code=405, title="Nicht möglich",
                          message="Diese Aktion ist hier nicht möglich.")
        return render(request, "message.html", status_code=exc.status_code, title="Fehler",
                      message="Die Anfrage konnte nicht bearbeitet werden.")
