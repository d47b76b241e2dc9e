"""The sign-in cookie is ``Secure`` whenever the request came over https: directly, or as
``X-Forwarded-Proto: https`` from the proxy web is configured to trust (Caddy in deploy/) — and
not for plain http, nor when an untrusted client sends that header. Real web process, loopback."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from fw_devenv.pytest_plugin import FwEnv
from fw_devenv.web_process import WebProcess

PROXY = "127.0.0.1"
OTHER = "127.0.0.2"


@pytest.fixture
def web(fw_env: FwEnv) -> Iterator[WebProcess]:
    # the pages' sign-in form needs no service; FW_WEB_COOKIE_SECURE stays off (plain dev setting)
    proc = WebProcess(fw_env, {}, users={}, ready_path="/healthz", name="web-scheme",
                      extra={"FW_WEB_FORWARDED_ALLOW_IPS": PROXY}).start()
    try:
        yield proc
    finally:
        proc.stop()


def _cookie(web: WebProcess, source: str, headers: dict[str, str]) -> str:
    transport = httpx.HTTPTransport(local_address=source)
    with httpx.Client(transport=transport, base_url=web.url, timeout=10) as http:
        resp = http.get("/anmelden", headers=headers)  # the form's CSRF token starts a session cookie
    assert resp.status_code == 200
    cookie = resp.headers["set-cookie"]
    assert cookie.startswith("fw_web=") and "HttpOnly" in cookie
    return cookie


def test_secure_only_for_https_through_the_trusted_proxy(web: WebProcess) -> None:
    assert "; Secure" in _cookie(web, PROXY, {"X-Forwarded-Proto": "https"})
    assert "Secure" not in _cookie(web, PROXY, {})  # plain http (development)
    assert "Secure" not in _cookie(web, PROXY, {"X-Forwarded-Proto": "http"})
    assert "Secure" not in _cookie(web, OTHER, {"X-Forwarded-Proto": "https"})  # not our proxy: ignored
