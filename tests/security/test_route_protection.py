"""Every route of every service, called without a token and with a wrong one: exactly the
reviewed public routes answer, every other one is refused (401 for the APIs; for the web pages a
redirect to the sign-in, 401 for a fragment, or 403).

The routes come from the services' own apps (OpenAPI, plus ``app.routes`` for those not in the
schema), so a new route is covered the day it is added: it is protected unless someone adds it
to the short lists below — which is the review.
"""

from __future__ import annotations

import inspect
import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from security_kit import StartServices

from fw_devenv.pytest_plugin import FwEnv
from fw_devenv.run import SERVICES as RUN_SERVICES
from fw_platform.auth import token_hash

TOKEN = "route-protection-test-token"

#: The reviewed public routes, (method, path template), per service. Probes and the API
#: description are public on every service (fw_platform.auth.ALWAYS_PUBLIC).
PROBES = {("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics"), ("GET", "/docs"),
          ("GET", "/openapi.json"), ("GET", "/docs/oauth2-redirect")}
PUBLIC: dict[str, set[tuple[str, str]]] = {
    # the customer's form, their own request (the unguessable id is the capability), the terms
    "intake": {("POST", "/api/support-requests"), ("GET", "/api/support-requests/{request_id}"),
               ("POST", "/api/support-requests/{request_id}/withdraw"), ("GET", "/api/terms/current"),
               ("GET", "/api/terms/{version}")},
    "session": set(),
    "billing": set(),
    # the AVV itself (GDPR Art. 28), not the list of who asked for it
    "retention": {("GET", "/api/avv")},
    "reporting": set(),
}
SERVICES = tuple(PUBLIC)
#: Reviewed routes that carry personal data or staff actions and must stay protected: they have
#: to exist (so the check below really calls them) and must not be public. The work note is free
#: text (billing), the acting office user rides on Storno and correction.
PROTECTED: dict[str, set[tuple[str, str]]] = {
    "billing": {("PUT", "/api/sessions/{session_id}/work-note"), ("GET", "/api/sessions/{session_id}/work-note"),
                ("POST", "/api/invoices/{number}/cancel"), ("POST", "/api/invoices/{number}/correction")},
}


def test_every_service_has_a_reviewed_list() -> None:
    """A new service (``make run`` starts it) must get its entry above: the review is not skipped."""
    # the checkpoint job (fw_platform.checkpointer) has no HTTP port: nothing to protect
    assert set(PUBLIC) == {spec.name for spec in RUN_SERVICES if spec.port} - {"web"}


def _flatten(routes: list[Any]) -> Iterator[Any]:
    """The app's routes, also those inside included routers (newer FastAPI keeps those lazily)."""
    for route in routes:
        if hasattr(route, "path"):
            yield route
        elif hasattr(route, "original_router"):
            yield from _flatten(list(route.original_router.routes))
        else:
            raise AssertionError(f"unknown route type {type(route).__name__}: extend the enumeration")


def enumerate_routes(app: Any) -> set[tuple[str, str]]:
    """Every (method, path template) of ``app``: the OpenAPI operations and every other route."""
    found = {(method.upper(), path) for path, ops in app.openapi().get("paths", {}).items()
             for method in ops if method.upper() in {"GET", "POST", "PUT", "PATCH", "DELETE"}}
    for route in _flatten(list(app.routes)):
        for method in getattr(route, "methods", None) or {"GET"}:
            if method != "HEAD":  # HEAD is GET without the body
                found.add((method, route.path))
    return found


def threaded(app: Any) -> set[str]:
    """The plain-``def`` endpoints and dependencies of ``app``'s routes: FastAPI runs each in a
    worker thread per request (a thread hop of CPU and latency for what never blocks)."""
    found: set[str] = set()

    def walk(dependant: Any, route: str) -> None:
        for sub in dependant.dependencies:
            if sub.call is not None and not inspect.iscoroutinefunction(sub.call):
                found.add(f"{route}: {getattr(sub.call, '__qualname__', sub.call)}")
            walk(sub, route)

    for route in _flatten(list(app.routes)):
        dependant = getattr(route, "dependant", None)
        if dependant is None:
            continue
        if not inspect.iscoroutinefunction(dependant.call):
            found.add(f"{route.path}: endpoint {dependant.call.__qualname__}")
        walk(dependant, route.path)
    return found


def concrete(template: str) -> str:
    """A path for ``template`` with a fresh value for each parameter (``{id}``, ``{p:path}``)."""
    return re.sub(r"\{[^}]+\}", lambda _: str(uuid.uuid4()), template)


def _refused_api(resp: httpx.Response) -> bool:
    return resp.status_code == 401 and resp.headers.get("www-authenticate") == "Bearer"


@pytest.fixture
def api_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for svc in SERVICES:
        monkeypatch.setenv(f"FW_{svc.upper()}_API_KEYS", f"web:{token_hash(TOKEN)}")


async def test_only_the_reviewed_routes_of_each_service_answer_without_a_token(
        fw_env: FwEnv, api_keys: None, start_services: StartServices) -> None:
    running = await start_services(*SERVICES)
    for svc, service in running.items():
        routes = enumerate_routes(service.app)
        assert threaded(service.app) == set(), svc
        assert PUBLIC[svc] <= routes, (f"{svc}: a reviewed public route does not exist", PUBLIC[svc] - routes)
        assert PROTECTED.get(svc, set()) <= routes - PUBLIC[svc], (svc, PROTECTED.get(svc, set()) - routes)
        opened: set[tuple[str, str]] = set()
        transport = httpx.ASGITransport(service.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
            for method, template in sorted(routes):
                url = concrete(template)
                body = {} if method in {"POST", "PUT", "PATCH"} else None
                anon = await http.request(method, url, json=body)
                wrong = await http.request(method, url, json=body, headers={"Authorization": "Bearer wrong"})
                malformed = await http.request(method, url, json=body, headers={"Authorization": TOKEN})
                right = await http.request(method, url, json=body, headers={"Authorization": f"Bearer {TOKEN}"})
                assert right.status_code != 401, (svc, method, template, "refused with the right token")
                refused = [_refused_api(r) for r in (anon, wrong, malformed)]
                assert len(set(refused)) == 1, (svc, method, template, anon.status_code, wrong.status_code)
                if not refused[0]:
                    assert anon.status_code != 403, (svc, method, template)
                    opened.add((method, template))
        assert opened == (PUBLIC[svc] | PROBES) & routes, (
            f"{svc}: routes open without a token differ from the reviewed list",
            "open but not listed:", opened - PUBLIC[svc] - PROBES,
            "listed but refused:", ((PUBLIC[svc] | PROBES) & routes) - opened)


async def test_the_avv_list_is_not_opened_by_the_public_avv(
        fw_env: FwEnv, api_keys: None, start_services: StartServices) -> None:
    """The finding itself: GET /api/avv is public, GET /api/avv-requests (who asked) is not."""
    running = await start_services("retention")
    app = running["retention"].app
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://api") as http:
        assert (await http.get("/api/avv")).status_code == 200
        for path in ("/api/avv-requests", "/api/avv-requests/", "/api/avv/", "/api/avvx"):
            assert _refused_api(await http.get(path)), path
        assert _refused_api(await http.post("/api/avv-requests", json={}))
        listed = await http.get("/api/avv-requests", headers={"Authorization": f"Bearer {TOKEN}"})
        assert listed.status_code == 200


# ---------------------------------------------------------------------------------------------
# web: the pages. Protection there is the sign-in cookie (and a role), not a bearer token.

#: The reviewed public pages of web.
WEB_PUBLIC = {("GET", "/"), ("POST", "/"), ("GET", "/danke"), ("GET", "/avv"), ("GET", "/anmelden"),
              ("GET", "/nutzungsbedingungen/{version}"), ("GET", "/healthz"), ("GET", "/readyz"),
              ("GET", "/metrics"), ("GET", "/static"),
              # the legal pages every visitor must reach
              ("GET", "/impressum"), ("GET", "/datenschutzhinweise"),
              # the customer's invoice download: the code in the page's fragment is posted, never
              # in a URL; a wrong code gets the same neutral 404 (rate-limited per address)
              ("GET", "/rechnung"), ("POST", "/rechnung"), ("POST", "/rechnung/pdf")}
#: Reviewed signed-in-only pages with personal data or live data: they must exist (and so are
#: called below, without a sign-in, and refused). The technician's note (free text) and the live
#: queue (server-sent events) are the technician's only.
WEB_PROTECTED = {("POST", "/technik/sitzungen/{session_id}/notiz"), ("GET", "/technik/warteschlange/live"),
                 ("GET", "/buero/druck/rechnungen/{number}")}
#: Signing in and out: public by nature, and their answers look like a refusal (the form again
#: with 401, a redirect to the sign-in), so they are checked for what they do instead.
WEB_SIGN_IN = {("POST", "/anmelden"), ("POST", "/abmelden")}


def _web_routes(app: Any) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for route in _flatten(list(app.routes)):
        methods = getattr(route, "methods", None)
        if methods is None:  # the /static mount
            found.add(("GET", route.path))
            continue
        found |= {(m, route.path) for m in methods if m != "HEAD"}
    return found


def _web_refused(resp: httpx.Response) -> bool:
    if resp.status_code in (401, 403):
        return True
    return resp.status_code == 303 and resp.headers["location"].startswith("/anmelden")


async def test_only_the_reviewed_web_pages_answer_without_a_sign_in(tmp_path: Any) -> None:
    from itsdangerous import URLSafeTimedSerializer

    from fw_web.adapters.users_file import hash_password
    from fw_web.bootstrap import build
    from fw_web.domain.users import Role, User
    from fw_web.settings import Settings

    secret = "route-test-secret-0123456789"
    # The services answer 404 to everything: the point here is who reaches a page, not its content.
    backends = httpx.MockTransport(lambda r: httpx.Response(404, json={"code": "not_found"}))
    settings = Settings(secret_key=secret, users_file=tmp_path / "users.toml",
                        signins_file=tmp_path / "signins.json", login_failure_delay_s=0)
    users = {"buero": User("buero", Role.OFFICE, hash_password("buero-passwort-123"))}
    app = build(settings, users=users, transport=backends).http
    routes = _web_routes(app)
    assert threaded(app) == set()
    assert routes >= WEB_PUBLIC | WEB_SIGN_IN, (WEB_PUBLIC | WEB_SIGN_IN) - routes
    assert routes - WEB_PUBLIC >= WEB_PROTECTED, WEB_PROTECTED - routes
    session = {"user": "buero", "role": "office", "csrf": "x" * 43}
    cookies = {
        "no cookie": None,
        "signed with another key": URLSafeTimedSerializer("another-key-0123456789", salt="fw-web-session").dumps(
            {**session, "sid": "x" * 43}),
        "signed, but its sign-in is not open (signed out)": URLSafeTimedSerializer(
            secret, salt="fw-web-session").dumps({**session, "sid": "x" * 43}),
    }
    async with app.router.lifespan_context(app):
        for what, cookie in cookies.items():
            opened: set[tuple[str, str]] = set()
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://web") as http:
                if cookie:
                    http.cookies.set("fw_web", cookie)
                page = await http.get("/anmelden")
                csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
                assert csrf, "no CSRF token on the sign-in page"
                for method, template in sorted(routes - WEB_SIGN_IN):
                    url = concrete(template) if template != "/static" else "/static/app.css"
                    data = {"csrf_token": csrf.group(1)} if method == "POST" else None
                    resp = await http.request(method, url, data=data)
                    if not _web_refused(resp):
                        opened.add((method, template))
                # signing in without a password shows the form again; signing out leads to it
                wrong = await http.post("/anmelden", data={"csrf_token": csrf.group(1), "username": "buero"})
                assert wrong.status_code == 401 and 'name="password"' in wrong.text
                out = await http.post("/abmelden", data={"csrf_token": csrf.group(1)})
                assert out.status_code == 303 and out.headers["location"] == "/anmelden"
            assert opened == WEB_PUBLIC, (what, "open but not listed:", opened - WEB_PUBLIC,
                                          "listed but refused:", WEB_PUBLIC - opened)
