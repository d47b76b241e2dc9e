"""HTTP hardening of every API service, on the real processes: body limit, headers, no echo."""

from __future__ import annotations

import httpx

from fw_platform.http import SECURITY_HEADERS

MARKER = "Zq9MarkerXy"
#: A route of each service that takes a JSON body (to be refused before it is read).
BODY_ROUTES = {
    "intake": "/api/support-requests",
    "session": "/api/sessions",
    "billing": "/api/invoices/RE-2026-00001/cancel",
    "retention": "/api/avv-requests",
    "reporting": "/api/reports",
}
#: A body that fails validation and carries the marker in every field it can.
INVALID_BODIES = {
    "intake": {"company": MARKER, "contact_name": MARKER, "phone": MARKER, "email": MARKER,
               "terms_accepted": MARKER, "terms_version": MARKER, MARKER: MARKER},
    "session": {"request_id": MARKER, "technician": MARKER, MARKER: MARKER},
    "billing": {"reason_code": MARKER, "reason": MARKER, MARKER: MARKER},
    "retention": {"company": MARKER, MARKER: MARKER},
}


async def test_a_body_over_the_limit_is_refused_with_413(api_procs) -> None:
    wrong: list[tuple[str, str, int]] = []
    async with httpx.AsyncClient(timeout=10) as http:
        for svc, path in BODY_ROUTES.items():
            url = api_procs[svc].url + path
            big = b'{"x": "' + b"a" * (64 * 1024 + 10) + b'"}'
            r = await http.post(url, content=big, headers={"content-type": "application/json"})
            if r.status_code != 413 or r.json().get("code") != "body_too_large":
                wrong.append((svc, "content-length", r.status_code))

            async def chunks():  # no Content-Length: the limit must hold while streaming too
                for _ in range(80):
                    yield b"a" * 1024

            r = await http.post(url, content=chunks(), headers={"content-type": "application/json"})
            if r.status_code != 413:
                wrong.append((svc, "chunked", r.status_code))
    assert not wrong, wrong


async def test_security_headers_on_every_answer(api_procs) -> None:
    missing: list[tuple[str, str, str]] = []
    async with httpx.AsyncClient(timeout=10) as http:
        for svc, proc in api_procs.items():
            for path in ("/healthz", "/readyz", "/openapi.json", "/api/does-not-exist"):
                r = await http.get(proc.url + path)
                missing += [(svc, path, n) for n, v in SECURITY_HEADERS.items() if r.headers.get(n) != v]
            r = await http.post(proc.url + BODY_ROUTES[svc], content=b"x" * (64 * 1024 + 1))  # the 413
            missing += [(svc, "413", n) for n, v in SECURITY_HEADERS.items() if r.headers.get(n) != v]
    assert not missing, missing


async def test_validation_errors_never_echo_the_input(api_procs) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        for svc, body in INVALID_BODIES.items():
            r = await http.post(api_procs[svc].url + BODY_ROUTES[svc], json=body)
            assert r.status_code in (404, 422), (svc, r.status_code, r.text[:200])
            assert MARKER not in r.text, svc
            assert MARKER.lower() not in r.text.lower(), svc
            # also in query and path parameters
            r = await http.get(api_procs[svc].url + f"/api/{MARKER}", params={"q": MARKER})
            assert MARKER not in r.text, svc
        r = await http.get(api_procs["billing"].url + "/api/invoices", params={"session_id": MARKER})
        assert r.status_code == 422 and MARKER not in r.text
