"""API authentication: with keys configured, every non-public route needs the bearer token."""

from __future__ import annotations

import httpx
import pytest

from fw_devenv.pytest_plugin import FwEnv, ServiceProcess, start_all
from fw_platform.auth import parse_keys, token_hash

TOKEN = "test-token-for-the-web-front-end"
KEYS = f"web:{token_hash(TOKEN)}"

#: (service, method, path, public?) — one protected and, where there is one, one public route.
ROUTES = [
    ("intake", "POST", "/api/support-requests", True),
    ("intake", "GET", "/api/terms/current", True),
    ("session", "GET", "/api/queue", False),
    ("billing", "GET", "/api/customers", False),
    ("billing", "GET", "/api/invoices/FW-2026-000001", False),
    ("retention", "GET", "/api/erasures", False),
    ("retention", "GET", "/api/avv", True),
]


def test_key_entries_are_validated() -> None:
    assert parse_keys(KEYS) == {token_hash(TOKEN): "web"}
    assert parse_keys("") == {}
    with pytest.raises(ValueError, match="API key entries must be"):
        parse_keys("web:not-a-hash")


@pytest.fixture
def services(fw_env: FwEnv):
    procs = {}
    try:
        for svc in ("retention", "intake", "session", "billing"):
            procs[svc] = ServiceProcess(svc, fw_env, extra={f"FW_{svc.upper()}_API_KEYS": KEYS})
        start_all(list(procs.values()))
        yield procs
    finally:
        for p in procs.values():
            p.stop()


async def test_protected_routes_refuse_without_token_and_public_ones_do_not(services) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        for svc, method, path, public in ROUTES:
            url = services[svc].url + path
            body = {} if method == "POST" else None
            anon = await http.request(method, url, json=body)
            if public:
                assert anon.status_code != 401, (svc, path)
            else:
                assert anon.status_code == 401, (svc, path, anon.status_code)
                assert anon.headers["www-authenticate"] == "Bearer"
                wrong = await http.request(method, url, headers={"Authorization": "Bearer nope"})
                assert wrong.status_code == 401
                ok = await http.request(method, url, headers={"Authorization": f"Bearer {TOKEN}"})
                assert ok.status_code != 401, (svc, path)
        # probes stay open for the orchestrator
        for p in services.values():
            r = await http.get(p.url + "/readyz")
            assert r.status_code == 200 and r.json()["api_auth"] == "bearer"
