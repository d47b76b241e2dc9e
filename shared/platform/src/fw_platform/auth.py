"""Service API authentication: bearer tokens, stored only as SHA-256 hashes.

The JSON APIs are internal: people use the web pages (sign-in there), and the web front end
calls the APIs with its own token. Configure ``FW_<SVC>_API_KEYS`` as comma-separated
``<caller>:<sha256-hex of the token>`` entries (``python -m fw_platform.auth`` makes a token
and its entry). When keys are configured, every route that is not explicitly public needs
``Authorization: Bearer <token>``; the deployment (``deploy/``) always configures them. Without
keys (local ``make run``, tests) the APIs listen on 127.0.0.1 only and say so in ``/readyz``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import sys
from collections.abc import Iterable

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.routing import compile_path
from starlette.types import ASGIApp, Receive, Scope, Send

#: Routes every caller may use without a token: probes, metrics and the API description
#: (``GET`` and ``HEAD``, these exact paths). A service adds its own with ``public=``.
ALWAYS_PUBLIC = ("/healthz", "/readyz", "/metrics", "/docs", "/openapi.json", "/docs/oauth2-redirect")
#: The scope key where :class:`BearerAuth` leaves the public route it let through without a token.
_PUBLIC_KEY = "fw.public_route"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def parse_keys(spec: str | None) -> dict[str, str]:
    """``"web:ab12…,auditor:cd34…"`` -> ``{hash: caller}``; refuses malformed entries."""
    keys: dict[str, str] = {}
    for entry in (spec or "").split(","):
        entry = entry.strip()
        if not entry:
            continue
        caller, _, digest = entry.partition(":")
        if not caller or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise ValueError("API key entries must be <caller>:<64 hex chars of sha256(token)>")
        keys[digest] = caller
    return keys


class Unauthorized(Exception):
    """No valid token for a route that needs one (raised after routing by :func:`require_token`)."""


def unauthorized_response() -> JSONResponse:
    """The one 401 answer of every service API."""
    return JSONResponse(status_code=401, headers={"WWW-Authenticate": "Bearer"}, content={
        "code": "unauthorized", "message_de": "Anmeldung erforderlich.",
        "message_en": "Authentication required."})


def _public_patterns(public: Iterable[tuple[str, str]]) -> tuple[tuple[str, str, re.Pattern[str]], ...]:
    out = []
    for method, template in public:
        if method != method.upper() or not template.startswith("/"):
            raise ValueError(f"public route must be (METHOD, /path/template): {method!r} {template!r}")
        out.append((method, template, compile_path(template)[0]))
    return tuple(out)


class BearerAuth:
    """ASGI middleware enforcing the keys; ``public`` lists exact (method, path template) pairs
    such as ``("GET", "/api/support-requests/{request_id}")``.

    Two checks, both exact, so that a public route never opens a neighbour (``/api/avv`` once
    opened ``/api/avv-requests`` as a prefix): before routing, a request without a valid token
    passes only if its path matches a public template as a whole (Starlette's own path
    compiler) with the same method; after routing, :func:`require_token` (a dependency of every
    API route, added by :func:`fw_platform.http.install`) checks that the route the framework
    actually resolved is that public route. A route added without the dependency (a plain
    Starlette route, a mount) is still covered by the first check, which fails closed.

    Plain ASGI rather than Starlette's ``BaseHTTPMiddleware``, which costs a task and a memory
    stream per request (measured in ``make bench``).
    """

    def __init__(self, app: ASGIApp, keys: dict[str, str], public: Iterable[tuple[str, str]] = ()) -> None:
        self.app = app
        self.keys = keys
        self.open_routes = _public_patterns(public)

    def _caller(self, scope: Scope) -> str | None:
        header = b""
        for name, value in scope.get("headers") or ():
            if name == b"authorization":
                header = value
                break
        scheme, _, token = header.decode("latin-1").partition(" ")
        caller = None
        if scheme.lower() == "bearer" and token:
            digest = token_hash(token.strip())
            # constant-time comparison against every configured hash
            for known, who in self.keys.items():
                if hmac.compare_digest(known, digest):
                    caller = who
        return caller

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.keys:
            await self.app(scope, receive, send)
            return
        scope["fw.auth_on"] = True
        path, method = scope["path"], scope["method"]
        caller = self._caller(scope)
        if caller is not None:
            scope.setdefault("state", {})["caller"] = caller  # request.state.caller
            await self.app(scope, receive, send)
            return
        if method in ("GET", "HEAD") and path in ALWAYS_PUBLIC:
            scope[_PUBLIC_KEY] = (method, path)  # a fixed path is its own template
            await self.app(scope, receive, send)
            return
        for m, template, pattern in self.open_routes:
            if m == method and pattern.fullmatch(path):
                scope[_PUBLIC_KEY] = (method, template)  # checked again after routing
                await self.app(scope, receive, send)
                return
        await unauthorized_response()(scope, receive, send)


async def require_token(request: Request) -> None:
    """After routing: a request without a token must have reached exactly the public route it
    was let through for (the resolved route's method and template), nothing else."""
    scope = request.scope
    if not scope.get("fw.auth_on") or scope.get("state", {}).get("caller") is not None:
        return
    route = scope.get("route")
    if scope.get(_PUBLIC_KEY) != (request.method, getattr(route, "path", None)):
        raise Unauthorized


def protect(app: FastAPI, keys: dict[str, str], public: Iterable[tuple[str, str]]) -> None:
    """Require a token on every route of ``app`` except ``public`` (exact method and template):
    the middleware before routing, :func:`require_token` after it for every route added from now
    on, and the 401 answer for both."""
    app.add_middleware(BearerAuth, keys=keys, public=public)
    app.router.dependencies.append(Depends(require_token))

    async def _unauthorized(_: Request, __: Exception) -> JSONResponse:
        return unauthorized_response()

    app.add_exception_handler(Unauthorized, _unauthorized)


def main(argv: list[str]) -> int:
    caller = argv[1] if len(argv) > 1 else "web"
    token = secrets.token_urlsafe(32)
    print(f"token (give to the caller):  {token}")
    print(f"entry (FW_<SVC>_API_KEYS):   {caller}:{token_hash(token)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
