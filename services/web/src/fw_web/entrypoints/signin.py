"""Sign-in and sign-out of the internal pages."""

from __future__ import annotations

import asyncio
import logging
import re

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from fw_platform.ratelimit import TokenBucket
from fw_web.adapters.password_checks import ChecksBusy, PasswordChecks
from fw_web.adapters.signins_file import SignInRecords
from fw_web.domain.users import User
from fw_web.entrypoints.public import client_address, retry_after
from fw_web.entrypoints.render import render
from fw_web.entrypoints.web_session import current_user, require_csrf, web_session

log = logging.getLogger(__name__)

WRONG = "Benutzername oder Passwort ist falsch."
TOO_MANY = "Zu viele Anmeldeversuche. Bitte warten Sie eine Minute und versuchen Sie es dann erneut."
#: All sign-ins together are limited (and so are the password checks waiting): said in both
#: languages, since it may be an automated client that reads it.
BUSY = ("Die Anmeldung ist gerade ausgelastet. Bitte versuchen Sie es in einigen Sekunden erneut. "
        "(Sign-in is busy right now. Please try again in a few seconds.)")
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
        state = request.app.state
        limiter: TokenBucket = state.login_limiter
        global_limiter: TokenBucket = state.global_login_limiter
        wait = limiter.take(client_address(request))
        if wait is not None:
            log.warning("sign-in rate limited")
            return _too_many(request, target, username, TOO_MANY, wait)
        wait = global_limiter.take("*")
        if wait is not None:
            log.warning("sign-in rate limited (all addresses)")
            return _too_many(request, target, username, BUSY, wait)
        users: dict[str, User] = state.users
        user = users.get(username)
        checks: PasswordChecks = state.password_checks
        try:
            # In a thread, bounded; an unknown name costs one hash too: same time, same answer.
            ok = bool(password) and await checks.verify(user, password) and user is not None
        except ChecksBusy as busy:
            log.warning("sign-in refused: password checks busy")
            return _too_many(request, target, username, BUSY, busy.retry_after)
        if not ok or user is None:
            log.info("sign-in failed")  # no name: a mistyped password is often a password
            await asyncio.sleep(request.app.state.settings.login_failure_delay_s)
            return render(request, "signin.html", status_code=401, next=target or "", error=WRONG,
                          username=username)
        signins: SignInRecords = state.signins
        session = web_session(request)
        before = session.data.get("sid")
        if isinstance(before, str):  # signing in again in this browser ends the sign-in before
            await asyncio.to_thread(signins.close, before)
        signin_id = await asyncio.to_thread(signins.open, user.username, state.settings.session_max_age_s)
        session.sign_in(user, signin_id)
        log.info("signed in", extra={"kind": user.role.value})
        home = user.role.home
        return RedirectResponse(target if target and target.startswith(home) else home, status_code=303)

    @router.post("/abmelden", dependencies=[Depends(require_csrf)], summary="Sign out")
    async def signout(request: Request) -> Response:
        session = web_session(request)
        signin_id = session.data.get("sid")
        if isinstance(signin_id, str) and current_user(request) is not None:
            # Server-side: this sign-in ends, so the cookie (and any copy of it) stops working.
            signins: SignInRecords = request.app.state.signins
            await asyncio.to_thread(signins.close, signin_id)
        session.sign_out()
        session.flash("Sie sind abgemeldet.")
        return RedirectResponse("/anmelden", status_code=303)

    return router


def _too_many(request: Request, target: str | None, username: str, message: str, wait: float) -> Response:
    resp = render(request, "signin.html", status_code=429, next=target or "", error=message, username=username)
    resp.headers["Retry-After"] = retry_after(wait)
    return resp
