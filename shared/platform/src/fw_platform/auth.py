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
from collections.abc import Awaitable, Callable, Iterable

from fastapi import Request
from fastapi.responses import JSONResponse, Response

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


def middleware(keys: dict[str, str], public: Iterable[tuple[str, str]] = ()
               ) -> Callable[[Request, Callable[[Request], Awaitable[Response]]], Awaitable[Response]]:
    """An HTTP middleware enforcing the keys; ``public`` lists (method, path-prefix) pairs."""
    open_routes = tuple(public)

    async def check(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        path = request.url.path
        if not keys or path in ALWAYS_PUBLIC or any(
                request.method == m and path.startswith(p) for m, p in open_routes):
            return await call_next(request)
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        caller = None
        if scheme.lower() == "bearer" and token:
            digest = token_hash(token.strip())
            # constant-time comparison against every configured hash
            for known, who in keys.items():
                if hmac.compare_digest(known, digest):
                    caller = who
        if caller is None:
            return JSONResponse(status_code=401, headers={"WWW-Authenticate": "Bearer"}, content={
                "code": "unauthorized", "message_de": "Anmeldung erforderlich.",
                "message_en": "Authentication required."})
        request.state.caller = caller
        return await call_next(request)

    return check


def main(argv: list[str]) -> int:
    caller = argv[1] if len(argv) > 1 else "web"
    token = secrets.token_urlsafe(32)
    print(f"token (give to the caller):  {token}")
    print(f"entry (FW_<SVC>_API_KEYS):   {caller}:{token_hash(token)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
