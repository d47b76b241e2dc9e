"""Sign-in and sign-out of the internal pages."""

from __future__ import annotations

import asyncio
import logging
import re

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from fw_web.adapters.users_file import verify_password
from fw_platform.ratelimit import TokenBucket
from fw_web.domain.users import User
from fw_web.entrypoints.public import client_address, retry_after
from fw_web.entrypoints.render import render
from fw_web.entrypoints.web_session import current_user, require_csrf, web_session

log = logging.getLogger(__name__)

WRONG = "Benutzername oder Passwort ist falsch."
TOO_MANY = "Zu viele Anmeldeversuche. Bitte warten Sie eine Minute und versuchen Sie es dann erneut."
#: Only our own pages may be the target after signing in (no open redirect).
_LOCAL_PATH = re.compile(r"^/(?!/)[A-Za-z0-9/_.\-]*$")


def safe_next(target: object) -> str | None:
    """``target`` if it is a path on this site, else None."""
    return target if isinstance(target, str) and _LOCAL_PATH.fullmatch(target) and "\\" not in target else None


def build_router() -> APIRouter:
    """The sign-in routes."""
    router = APIRouter()

    @router.get("/anmelden", summary="Sign-in page")
    async def signin_page(request: Request, weiter: str | None = None) -> Response:
        user = current_user(request)
        if user is not None and safe_next(weiter) is None:
            return RedirectResponse(user.role.home, status_code=303)
        return render(request, "signin.html", next=safe_next(weiter) or "", error=None, username="")

    @router.post("/anmelden", dependencies=[Depends(require_csrf)], summary="Sign in")
    async def signin(request: Request) -> Response:
        form = await request.form()
        username = str(form.get("username") or "").strip().lower()
        password = str(form.get("password") or "")
        target = safe_next(form.get("next"))
        limiter: TokenBucket = request.app.state.login_limiter
        wait = limiter.take(client_address(request))
        if wait is not None:
            log.warning("sign-in rate limited")
            resp = render(request, "signin.html", status_code=429, next=target or "", error=TOO_MANY,
                          username=username)
            resp.headers["Retry-After"] = retry_after(wait)
            return resp
        users: dict[str, User] = request.app.state.users
        user = users.get(username)
        # verify_password hashes also for an unknown name: same cost, same answer.
        if not password or not verify_password(user, password) or user is None:
            log.info("sign-in failed")  # no name: a mistyped password is often a password
            await asyncio.sleep(request.app.state.settings.login_failure_delay_s)
            return render(request, "signin.html", status_code=401, next=target or "", error=WRONG,
                          username=username)
        web_session(request).sign_in(user)
        log.info("signed in", extra={"kind": user.role.value})
        home = user.role.home
        return RedirectResponse(target if target and target.startswith(home) else home, status_code=303)

    @router.post("/abmelden", dependencies=[Depends(require_csrf)], summary="Sign out")
    async def signout(request: Request) -> Response:
        session = web_session(request)
        session.sign_out()
        session.flash("Sie sind abgemeldet.")
        return RedirectResponse("/anmelden", status_code=303)

    return router
