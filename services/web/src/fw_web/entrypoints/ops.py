"""Health, readiness, metrics, security headers and the body limit of the web app."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from fw_platform import metrics
from fw_platform.http import SECURITY_HEADERS, BodyLimit
from fw_web import SERVICE
from fw_web.adapters.backends import Backends
from fw_web.settings import Settings

#: Pages load scripts, styles and images from this service only; forms post only here.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")


def install(app: FastAPI, settings: Settings) -> None:
    """Add /healthz, /readyz, /metrics, the headers on every answer and the body limit."""

    @app.middleware("http")
    async def _headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = getattr(request.scope.get("route"), "path", "unmatched")  # template, never ids
        metrics.HTTP_LATENCY.labels(SERVICE, route, request.method, str(response.status_code)).observe(
            time.perf_counter() - started)
        if request.url.path.startswith("/static/"):
            response.headers["Cache-Control"] = "public, max-age=3600"
        response.headers.setdefault("Content-Security-Policy", CSP)
        for key, value in SECURITY_HEADERS.items():
            response.headers.setdefault(key, value)
        if settings.cookie_secure:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response

    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)

    @app.get("/healthz", tags=["ops"], summary="Liveness")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": SERVICE}

    @app.get("/readyz", tags=["ops"], summary="Readiness: the four services answer /healthz")
    async def readyz(request: Request) -> JSONResponse:
        api: Backends = request.app.state.backends
        checks = await api.health()
        ok = all(checks.values())
        return JSONResponse(status_code=200 if ok else 503, content={"ready": ok, "checks": checks})

    @app.get("/metrics", tags=["ops"], summary="Prometheus metrics")
    async def prom() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
