"""HTTP basics for every service: health, readiness, metrics, safe errors, security headers."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fw_contracts.address import ADDRESS_MESSAGES
from fw_contracts.text import TEXT_MESSAGES
from fw_platform import auth, metrics, parked
from fw_platform.handling import TRANSIENT
from fw_platform.runtime import Runtime

log = logging.getLogger(__name__)

#: Plain-language messages per pydantic error type: (German, English). Never the input value.
MESSAGES: dict[str, tuple[str, str]] = {
    "missing": ("Pflichtfeld fehlt.", "This field is required."),
    "string_too_short": ("Darf nicht leer sein.", "Must not be empty."),
    "string_too_long": ("Ist zu lang.", "Is too long."),
    "string_type": ("Muss Text sein.", "Must be text."),
    "string_pattern_mismatch": ("Hat nicht das erwartete Format.", "Has an unexpected format."),
    "bool_type": ("Muss ja oder nein sein.", "Must be true or false."),
    "bool_parsing": ("Muss ja oder nein sein.", "Must be true or false."),
    "uuid_parsing": ("Ist keine gültige Kennung.", "Is not a valid id."),
    "uuid_type": ("Ist keine gültige Kennung.", "Is not a valid id."),
    "value_error": ("Ist ungültig.", "Is invalid."),
    "literal_error": ("Ist kein erlaubter Wert.", "Is not an allowed value."),
    "enum": ("Ist kein erlaubter Wert.", "Is not an allowed value."),
    "extra_forbidden": ("Unbekanntes Feld.", "Unknown field."),
    "json_invalid": ("Die Anfrage ist kein gültiges JSON.", "The request body is not valid JSON."),
    "model_attributes_type": ("Muss ein Objekt sein.", "Must be an object."),
    "dict_type": ("Muss ein Objekt sein.", "Must be an object."),
    "int_parsing": ("Muss eine ganze Zahl sein.", "Must be a whole number."),
    "int_type": ("Muss eine ganze Zahl sein.", "Must be a whole number."),
    "datetime_parsing": ("Ist kein gültiger Zeitpunkt.", "Is not a valid time."),
    "timezone_aware": ("Zeitpunkt braucht eine Zeitzone.", "Time needs a time zone."),
    # the contracts' own value types (clean text, postal address), wherever an API takes them
    **TEXT_MESSAGES,
    **ADDRESS_MESSAGES,
}


_FIELD_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")


def field_errors(errors: list[dict[str, Any]], custom: dict[str, tuple[str, str]] | None = None) -> list[dict[str, str]]:
    """Turn pydantic errors into ``{field, code, message_de, message_en}`` without input values."""
    table = {**MESSAGES, **(custom or {})}
    out = []
    for e in errors:
        loc = [str(p) for p in e.get("loc", ()) if p != "body"]
        code = str(e.get("type", "value_error"))
        if code == "extra_forbidden" and loc and not _FIELD_NAME.fullmatch(loc[-1]):
            # the client's own key: kept only if it looks like a field name, since it may be
            # anything, even personal data used as a key
            loc[-1] = "*"
        de, en = table.get(code, MESSAGES["value_error"])
        out.append({"field": ".".join(loc) or "body", "code": code, "message_de": de, "message_en": en})
    return out


def problem(status: int, code: str, de: str, en: str, **extra: Any) -> JSONResponse:
    return JSONResponse(status_code=status, content={"code": code, "message_de": de, "message_en": en, **extra})


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes with 413, also when sent chunked.

    The body is read (up to the limit) before the app sees the request: raising from inside
    ``receive`` would be caught by the framework's body parser and turned into a 400.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await _too_large(send)
            return
        if scope.get("method") in ("GET", "HEAD", "OPTIONS", "DELETE") and declared is None:
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        seen = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            seen += len(message.get("body", b""))
            if seen > self.limit:
                await _too_large(send)
                return
            if not message.get("more_body", False):
                break
        buffered = iter(messages)

        async def replay() -> Message:
            try:
                return next(buffered)
            except StopIteration:
                return await receive()  # e.g. http.disconnect after the body

        await self.app(scope, replay, send)


class Observe:
    """Latency per route template (never the concrete ids) and the security headers on every
    response; plain ASGI (see :class:`fw_platform.auth.BearerAuth`)."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers") or [])
                present = {name.lower() for name, _ in headers}
                headers += [(k, v) for k, v in _SECURITY_HEADERS_RAW if k not in present]
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", "unmatched")
            metrics.HTTP_LATENCY.labels(self.service, path, scope["method"], str(status)).observe(
                time.perf_counter() - started)


async def _too_large(send: Send) -> None:
    resp = problem(413, "body_too_large", "Die Anfrage ist zu groß.", "The request body is too large.")
    for k, v in SECURITY_HEADERS.items():
        resp.headers[k] = v
    await send({"type": "http.response.start", "status": 413, "headers": resp.raw_headers})
    await send({"type": "http.response.body", "body": resp.body})


SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; base-uri 'none'",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
_SECURITY_HEADERS_RAW = tuple((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in SECURITY_HEADERS.items())


def install(app: FastAPI, runtime: Runtime, *, custom_messages: dict[str, tuple[str, str]] | None = None,
            public: list[tuple[str, str]] | None = None) -> None:
    """Add /healthz, /readyz, /metrics, the parked-messages list, safe validation errors,
    headers, body limit, latency, and bearer-token authentication for every route not listed in ``public``: exact
    ``(method, path template)`` pairs, e.g. ``("GET", "/api/terms/{version}")``.

    Call it before the service's routes are added: the check after routing
    (:func:`fw_platform.auth.require_token`) becomes a dependency of every route added later.
    """
    service = runtime.service
    keys = auth.parse_keys(runtime.settings.api_keys.get_secret_value() if runtime.settings.api_keys else None)
    # Added first, so it runs inside the latency/header middleware below.
    auth.protect(app, keys, public or [])

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(status_code=422, content={
            "code": "invalid_input",
            "message_de": "Bitte prüfen Sie die markierten Felder.",
            "message_en": "Please check the fields listed.",
            "errors": field_errors(list(exc.errors()), custom_messages),
        })

    async def _unavailable(_: Request, exc: Exception) -> JSONResponse:
        # A dependency (database, NATS, vault) is away for the moment: say so, retry-able,
        # instead of a bare 500. The exception text is not echoed (it may quote input).
        log.warning("dependency unavailable", extra={"error": type(exc).__name__, "service": service})
        resp = problem(503, "temporarily_unavailable",
                       "Der Dienst ist kurz nicht erreichbar. Bitte in einigen Sekunden erneut versuchen.",
                       "The service is briefly unavailable. Please try again in a few seconds.")
        resp.headers["Retry-After"] = "5"
        return resp

    for exc_type in TRANSIENT:
        app.add_exception_handler(exc_type, _unavailable)

    app.add_middleware(Observe, service=service)
    app.add_middleware(BodyLimit, limit=runtime.settings.max_body_bytes)

    @app.get("/healthz", tags=["ops"], summary="Liveness")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": service}

    @app.get("/readyz", tags=["ops"], summary="Readiness: NATS, PostgreSQL and consumers")
    async def readyz() -> JSONResponse:
        checks = await runtime.readiness()
        ok = all(checks.values())
        return JSONResponse(status_code=200 if ok else 503, content={
            "ready": ok, "checks": checks, "api_auth": "bearer" if keys else "off (loopback only)"})

    @app.get("/metrics", tags=["ops"], summary="Prometheus metrics")
    async def prom() -> Response:
        try:
            await asyncio.wait_for(parked.refresh_gauge(runtime.pool, service, [c.durable for c in runtime.consumers]),
                                   timeout=2.0)
        except Exception as exc:  # noqa: BLE001 - database away: the other metrics still answer
            log.warning("parked-messages gauge not refreshed", extra={"error": type(exc).__name__, "service": service})
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/api/parked-messages", tags=["ops"], response_model=parked.ParkedList,
             summary="Parked messages of this service's consumers (never their content)")
    async def parked_messages(include_resolved: bool = False,
                              limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> parked.ParkedList:
        items = await parked.list_parked(runtime.pool, include_resolved=include_resolved, limit=limit)
        counts = await parked.count_unresolved(runtime.pool)
        return parked.ParkedList(service=service, unresolved=sum(counts.values()), items=items)
