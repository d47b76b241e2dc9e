"""The browser session: one signed cookie (itsdangerous) with the sign-in, CSRF token and notes.

The cookie is signed, not encrypted: it holds only the user name, role, the sign-in id, the
CSRF token, a one-time notice and ids (session ids, ticket) — never personal data of a
customer. It counts only while the server's record of its sign-in is open: signing out closes
the record, so a copy of the cookie is worthless afterwards.
Cookies are HttpOnly and SameSite=Strict; ``Secure`` behind TLS. Every form carries the
session's CSRF token, and every POST is checked against it (``require_csrf``).
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fw_web.adapters.signins_file import SignInRecords
from fw_web.domain.users import Role, User

COOKIE = "fw_web"
CSRF_FIELD = "csrf_token"
#: How many ended sessions the console lists ("Zuletzt beendet", from the session service), and
#: how many session ids the cookie remembers (for the ticket shown on a session's page).
RECENT_SESSIONS = 8


class WebSession:
    """The decoded cookie. Changes mark it ``modified`` so the middleware sends a new cookie."""

    def __init__(self, data: dict[str, Any] | None = None) -> None:
        self.data: dict[str, Any] = dict(data or {})
        self.modified = False

    @property
    def csrf(self) -> str:
        """This session's CSRF token (created on first use)."""
        token = self.data.get("csrf")
        if not isinstance(token, str) or len(token) < 32:
            token = secrets.token_urlsafe(32)
            self.data["csrf"] = token
            self.modified = True
        return token

    def csrf_ok(self, sent: object) -> bool:
        """Whether ``sent`` is this session's token (compared in constant time)."""
        token = self.data.get("csrf")
        return (isinstance(sent, str) and isinstance(token, str) and bool(token)
                and hmac.compare_digest(sent.encode(), token.encode()))

    @property
    def username(self) -> str | None:
        name = self.data.get("user")
        return name if isinstance(name, str) else None

    def sign_in(self, user: User, signin_id: str) -> None:
        """A new session for ``user``: fresh CSRF token, nothing from before (no fixation).

        ``signin_id`` names the server's record of this sign-in; the cookie counts only while
        that record exists (see ``fw_web.adapters.signins_file``).
        """
        self.data = {"user": user.username, "role": user.role.value, "at": int(time.time()),
                     "sid": signin_id, "csrf": secrets.token_urlsafe(32)}
        self.modified = True

    def sign_out(self) -> None:
        self.data = {"csrf": secrets.token_urlsafe(32)}
        self.modified = True

    def flash(self, message: str, kind: str = "info") -> None:
        """A notice shown once on the next page (fixed texts only, never input)."""
        self.data["flash"] = {"m": message, "k": kind}
        self.modified = True

    def pop_flash(self) -> dict[str, str] | None:
        note = self.data.pop("flash", None)
        if note is not None:
            self.modified = True
        return note if isinstance(note, dict) else None

    def set(self, key: str, value: Any) -> None:
        self.data[key] = value
        self.modified = True

    def remember_session(self, session_id: str, ticket: str | None) -> None:
        """Remember a session started in this browser with its ticket (shown on the session's page;
        the console's lists come from the session service, not from here)."""
        recent = [s for s in self.data.get("sessions", []) if isinstance(s, dict) and s.get("id") != session_id]
        self.data["sessions"] = [{"id": session_id, "ticket": ticket}, *recent][:RECENT_SESSIONS]
        self.modified = True


@dataclass(frozen=True)
class CookieSettings:
    secret: str
    max_age: int
    secure: bool


class SessionMiddleware:
    """Loads the cookie into ``scope["state"]["web_session"]`` and writes it back when changed."""

    def __init__(self, app: ASGIApp, settings: CookieSettings) -> None:
        self.app = app
        self.settings = settings
        self.serializer = URLSafeTimedSerializer(settings.secret, salt="fw-web-session")

    def _load(self, scope: Scope) -> WebSession:
        raw = None
        for name, value in scope.get("headers") or []:
            if name == b"cookie":
                for part in value.decode("latin-1").split(";"):
                    key, _, val = part.strip().partition("=")
                    if key == COOKIE:
                        raw = val
        if not raw:
            return WebSession()
        try:
            data = self.serializer.loads(raw, max_age=self.settings.max_age)
        except BadSignature:  # also SignatureExpired: an old sign-in simply ends
            return WebSession()
        return WebSession(data if isinstance(data, dict) else None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        session = self._load(scope)
        scope.setdefault("state", {})["web_session"] = session
        secure = self.settings.secure or scope.get("scheme") == "https"

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start" and session.modified:
                value = self.serializer.dumps(session.data)
                cookie = (f"{COOKIE}={value}; Path=/; Max-Age={self.settings.max_age}; HttpOnly; "
                          f"SameSite=Strict" + ("; Secure" if secure else ""))
                message.setdefault("headers", []).append((b"set-cookie", cookie.encode("latin-1")))
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def web_session(request: Request) -> WebSession:
    """The session of this request (set by ``SessionMiddleware``)."""
    session = request.state.web_session
    assert isinstance(session, WebSession)
    return session


class NeedsSignIn(Exception):
    """Not signed in (or the user no longer exists): pages redirect, fragments answer 401."""


class WrongRole(Exception):
    """Signed in, but this page belongs to another role."""

    def __init__(self, user: User) -> None:
        super().__init__("wrong role")
        self.user = user


class BadCsrf(Exception):
    """A POST without this session's CSRF token."""


def current_user(request: Request) -> User | None:
    """The signed-in user, if the cookie names one that still exists with that role and its
    sign-in is still open on the server (not signed out since)."""
    session = web_session(request)
    users: dict[str, User] = request.app.state.users
    user = users.get(session.username or "")
    if user is None or session.data.get("role") != user.role.value:
        return None
    signins: SignInRecords = request.app.state.signins
    if not signins.is_open(session.data.get("sid"), user.username):
        return None
    return user


def require_role(role: Role) -> Callable[[Request], Awaitable[User]]:
    """A dependency: the signed-in user of ``role``, else ``NeedsSignIn`` / ``WrongRole``
    (``async``: FastAPI runs a plain ``def`` dependency in a worker thread, on every page)."""

    async def dependency(request: Request) -> User:
        user = current_user(request)
        if user is None:
            raise NeedsSignIn
        if user.role is not role:
            raise WrongRole(user)
        return user

    return dependency


async def require_csrf(request: Request) -> None:
    """A dependency for every POST: the form's ``csrf_token`` must be this session's."""
    form = await request.form()  # cached by Starlette: the route's Form fields read it again
    if not web_session(request).csrf_ok(form.get(CSRF_FIELD)):
        raise BadCsrf
