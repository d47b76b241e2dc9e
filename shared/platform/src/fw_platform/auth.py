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
import secrets
import sys
from collections.abc import Iterable

from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

#: Routes every caller may use without a token (the customer's form, terms, probes, metrics).
ALWAYS_PUBLIC = ("/healthz", "/readyz", "/metrics", "/docs", "/openapi.json", "/docs/oauth2-redirect")


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


class BearerAuth:
    """ASGI middleware enforcing the keys; ``public`` lists (method, path-prefix) pairs.

    Plain ASGI rather than Starlette's ``BaseHTTPMiddleware``, which costs a task and a memory
    stream per request (measured in ``make bench``).
    """

    def __init__(self, app: ASGIApp, keys: dict[str, str], public: Iterable[tuple[str, str]] = ()) -> None:
        self.app = app
        self.keys = keys
        self.open_routes = tuple(public)

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
        path, method = scope["path"], scope["method"]
        if path in ALWAYS_PUBLIC or any(method == m and path.startswith(p) for m, p in self.open_routes):
            await self.app(scope, receive, send)
            return
        caller = self._caller(scope)
        if caller is None:
            response = JSONResponse(status_code=401, headers={"WWW-Authenticate": "Bearer"}, content={
                "code": "unauthorized", "message_de": "Anmeldung erforderlich.",
                "message_en": "Authentication required."})
            await response(scope, receive, send)
            return
        scope.setdefault("state", {})["caller"] = caller  # request.state.caller
        await self.app(scope, receive, send)


def main(argv: list[str]) -> int:
    caller = argv[1] if len(argv) > 1 else "web"
    token = secrets.token_urlsafe(32)
    print(f"token (give to the caller):  {token}")
    print(f"entry (FW_<SVC>_API_KEYS):   {caller}:{token_hash(token)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
