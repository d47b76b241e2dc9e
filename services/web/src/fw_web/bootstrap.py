"""The composition root: settings → users, limiters, service clients, routes, the FastAPI app."""

from __future__ import annotations

import logging
import secrets
from contextlib import AsyncExitStack
from pathlib import Path

import httpx
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

import fw_web
from fw_platform.app import App, lifespan
from fw_platform.ratelimit import TokenBucket
from fw_web.adapters.backends import Backends
from fw_web.adapters.password_checks import PasswordChecks
from fw_web.adapters.queue_feed import QueueFeed
from fw_web.adapters.signins_file import SignInRecords
from fw_web.adapters.users_file import load_users, verify_password
from fw_web.domain.users import User
from fw_web.entrypoints import (
    download,
    errors,
    office,
    office_accounts,
    office_documents,
    office_pages,
    office_parked,
    ops,
    privacy,
    public,
    public_pages,
    signin,
    technician,
    technician_live,
    technician_notes,
    technician_pages,
)
from fw_web.entrypoints.web_session import CookieSettings, SessionMiddleware
from fw_web.settings import Settings

log = logging.getLogger(__name__)

STATIC = Path(fw_web.__file__).parent / "static"
#: ``docs/privacy`` of the source tree (services/web/src/fw_web → repository root).
_PARENTS = Path(fw_web.__file__).resolve().parents
SOURCE_PRIVACY_DOCS = _PARENTS[4] / "docs" / "privacy" if len(_PARENTS) > 4 else None


def build(settings: Settings, *, users: dict[str, User] | None = None,
          transport: httpx.AsyncBaseTransport | None = None) -> App[None]:
    """Wire the web app. ``users`` and ``transport`` (httpx) replace the file and the network in
    tests. Web has no runtime (no NATS, no database) and no application object of its own: it
    renders pages over the four services' JSON APIs."""
    if users is None:
        users = load_users(settings.users_file)
        if not users:
            log.warning("no users: nobody can sign in (FW_WEB_USERS_FILE, python -m fw_web add-user)")
    secret = settings.secret_key.get_secret_value() if settings.secret_key else None
    if secret is None:
        log.warning("FW_WEB_SECRET_KEY not set: a random key signs the cookies of this process only")
        secret = secrets.token_urlsafe(32)

    app = FastAPI(title="fernwartung web", version="1.0.0", lifespan=lifespan,
                  docs_url=None, redoc_url=None, openapi_url=None)  # pages, not an API
    app.state.settings = settings
    app.state.users = users
    app.state.form_limiter = TokenBucket(settings.form_rate_per_minute)
    app.state.login_limiter = TokenBucket(settings.login_rate_per_minute)
    app.state.global_login_limiter = TokenBucket(settings.login_global_rate_per_minute)
    app.state.signins = SignInRecords(settings.signins_path)
    app.state.download_limiter = TokenBucket(settings.download_rate_per_minute)
    app.state.privacy_docs = settings.privacy_docs_dir or SOURCE_PRIVACY_DOCS

    app.add_middleware(SessionMiddleware, settings=CookieSettings(
        secret=secret, max_age=settings.session_max_age_s, secure=settings.cookie_secure))
    ops.install(app, settings)
    errors.install(app)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for module in (public, download, signin, technician, office_accounts, office, office_documents, privacy,
                   office_parked, office_pages, public_pages, technician_pages, technician_notes,
                   technician_live):
        app.include_router(module.build_router())

    resources = AsyncExitStack()  # what the start opened, closed by the stop (empty before)

    async def open_backends() -> None:
        # One pool for all calls; redirects are never followed (a service answers, or it does not).
        # The services' APIs need this token when they are configured with API keys.
        headers = ({"Authorization": f"Bearer {settings.api_token.get_secret_value()}"}
                   if settings.api_token else {})
        client = await resources.enter_async_context(httpx.AsyncClient(
            timeout=settings.backend_timeout_s, transport=transport, follow_redirects=False, headers=headers))
        app.state.backends = Backends(client, {
            "intake": settings.intake_url, "session": settings.session_url,
            "billing": settings.billing_url, "retention": settings.retention_url})
        app.state.password_checks = checks = PasswordChecks(
            verify_password, concurrency=settings.login_concurrency, queue=settings.login_queue)
        resources.callback(checks.close)
        app.state.queue_feed = feed = QueueFeed(app.state.backends.queue_items, settings.queue_live_interval_s)
        resources.push_async_callback(feed.close)
        log.info("web started", extra={"count": len(users)})

    return App(http=app, service=None, on_start=[open_backends], on_stop=[resources.aclose])
