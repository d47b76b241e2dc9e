"""Public API routes are exact (method, path template) pairs, checked before and after routing."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from fw_platform import auth

TOKEN = "route-auth-unit-token"


def _app(public: list[tuple[str, str]]) -> FastAPI:
    app = FastAPI()
    auth.protect(app, auth.parse_keys(f"web:{auth.token_hash(TOKEN)}"), public)

    # registered first, so the router resolves /api/items/export here, although the public
    # template /api/items/{item_id} matches the same path
    @app.get("/api/items/export")
    async def export() -> dict[str, str]:
        return {"what": "everything"}

    @app.get("/api/items/{item_id}")
    async def item(item_id: str) -> dict[str, str]:
        return {"id": item_id}

    @app.get("/api/items")
    async def items() -> list[str]:
        return []

    @app.post("/api/items/{item_id}")
    async def change(item_id: str) -> dict[str, str]:
        return {"changed": item_id}

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


async def _get(app: FastAPI, method: str, path: str, token: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://api") as http:
        return await http.request(method, path, headers=headers)


async def test_only_the_exact_public_route_is_open() -> None:
    app = _app([("GET", "/api/items/{item_id}")])
    assert (await _get(app, "GET", "/api/items/42")).json() == {"id": "42"}
    assert (await _get(app, "GET", "/healthz")).status_code == 200
    for method, path in [("GET", "/api/items"), ("GET", "/api/items/"), ("GET", "/api/items/42/more"),
                         ("POST", "/api/items/42"), ("GET", "/api/itemsx/1"), ("GET", "/nowhere")]:
        resp = await _get(app, method, path)
        assert resp.status_code == 401 and resp.headers["www-authenticate"] == "Bearer", (method, path)
        assert resp.json()["code"] == "unauthorized"
        assert (await _get(app, method, path, "wrong")).status_code == 401
    assert (await _get(app, "GET", "/api/items", TOKEN)).status_code == 200


async def test_a_route_that_shadows_the_public_template_stays_closed() -> None:
    """The path fits the public template, but the framework resolves another route: refused."""
    app = _app([("GET", "/api/items/{item_id}")])
    resp = await _get(app, "GET", "/api/items/export")
    assert resp.status_code == 401 and "everything" not in resp.text
    assert (await _get(app, "GET", "/api/items/export", TOKEN)).json() == {"what": "everything"}


async def test_without_keys_everything_is_open_and_public_entries_are_validated() -> None:
    app = FastAPI()
    auth.protect(app, {}, [("GET", "/api/x")])

    @app.get("/api/y")
    async def y() -> dict[str, str]:
        return {}

    assert (await _get(app, "GET", "/api/y")).status_code == 200  # local dev: loopback only, said in /readyz
    with pytest.raises(ValueError, match=r"public route must be \(METHOD, /path/template\)"):
        auth.BearerAuth(app, {}, [("get", "/api/x")])
    with pytest.raises(ValueError, match=r"public route must be \(METHOD, /path/template\)"):
        auth.BearerAuth(app, {}, [("GET", "api/x")])
