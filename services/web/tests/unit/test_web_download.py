"""The customer's invoice download with the code given once at intake (issue 21): thank-you page,
``/rechnung`` (code in a POST body, never in a URL), neutral 404, rate limit — and the code in no
log, not even uvicorn's access log."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import socket
from typing import Any

import httpx
import pytest
import uvicorn

from fw_devenv.testing import eventually

#: What the fake intake hands out (see conftest.FakeServices.download_code).
DOWNLOAD_CODE = "Zk3v9Qx2LmN8pR4sT6uW1yA5cE7gI0kO3qS5uX8zB2d"
DOCS = [{"number": "FW-2026-000007", "document_type": "invoice", "issued_at": "2026-05-04T10:00:00Z"},
        {"number": "FW-S-2026-000001", "document_type": "cancellation", "issued_at": "2026-05-05T10:00:00Z"}]
FORM = {"customer_type": "business", "company": "Muster GmbH", "contact_name": "Erika Muster",
        "phone": "0170 1234567", "email": "", "street": "", "postal_code": "", "city": "", "country": "DE",
        "terms_version": "2026-01", "terms_accepted": "on"}


def _csrf(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "no CSRF token in the page"
    return m.group(1)


async def _send_request(client: httpx.AsyncClient) -> httpx.Response:
    page = await client.get("/")
    sent = await client.post("/", data={**FORM, "csrf_token": _csrf(page.text)})
    assert sent.status_code == 303, sent.text
    return await client.get(sent.headers["location"])


async def test_thank_you_page_gives_the_code_and_a_link_that_keeps_it_out_of_urls(web) -> None:
    assert web.services.download_code == DOWNLOAD_CODE
    thanks = await _send_request(web.client)
    assert thanks.status_code == 200
    assert f'href="/rechnung#{DOWNLOAD_CODE}"' in thanks.text and DOWNLOAD_CODE in thanks.text
    assert thanks.headers["cache-control"] == "no-store" and thanks.headers["referrer-policy"] == "no-referrer"
    form = await web.client.get("/rechnung")
    assert form.status_code == 200 and "data-download-code" in form.text and DOWNLOAD_CODE not in form.text


async def test_a_code_shows_the_documents_and_serves_the_archived_pdf(web) -> None:
    web.services.downloads[DOWNLOAD_CODE] = DOCS
    page = await web.client.get("/rechnung")
    shown = await web.client.post("/rechnung", data={"code": f"  {DOWNLOAD_CODE} ", "csrf_token": _csrf(page.text)})
    assert shown.status_code == 200 and shown.headers["cache-control"] == "no-store"
    assert "Rechnung FW-2026-000007" in shown.text and "Stornorechnung FW-S-2026-000001" in shown.text
    pdf = await web.client.post("/rechnung/pdf", data={"code": DOWNLOAD_CODE, "number": "FW-S-2026-000001",
                                                       "csrf_token": _csrf(shown.text)})
    assert pdf.status_code == 200 and pdf.content == b"%PDF-1.7 FW-S-2026-000001"
    assert pdf.headers["content-type"] == "application/pdf" and "attachment" in pdf.headers["content-disposition"]
    # the code went to billing in request bodies only
    to_billing = [r for r in web.services.seen if r.url.port == 8083]
    assert to_billing and all(DOWNLOAD_CODE not in str(r.url) for r in to_billing)


async def test_before_the_invoice_the_page_says_so(web) -> None:
    web.services.downloads[DOWNLOAD_CODE] = []
    page = await web.client.get("/rechnung")
    shown = await web.client.post("/rechnung", data={"code": DOWNLOAD_CODE, "csrf_token": _csrf(page.text)})
    assert shown.status_code == 200 and "liegt noch nicht vor" in shown.text


@pytest.mark.parametrize("code", ["wrong-but-well-formed-code-000000000000000", "", "x" * 300])
async def test_wrong_or_expired_code_is_a_neutral_404(web, code: str) -> None:
    web.services.downloads[DOWNLOAD_CODE] = DOCS
    page = await web.client.get("/rechnung")
    token = _csrf(page.text)
    for action, extra in (("/rechnung", {}), ("/rechnung/pdf", {"number": "FW-2026-000007"})):
        refused = await web.client.post(action, data={"code": code, "csrf_token": token, **extra})
        assert refused.status_code == 404 and "keine Rechnung (mehr)" in refused.text
    other = await web.client.post("/rechnung/pdf", data={"code": DOWNLOAD_CODE, "number": "FW-2026-999999",
                                                         "csrf_token": token})
    assert other.status_code == 404 and "keine Rechnung (mehr)" in other.text


async def test_download_attempts_are_rate_limited_per_address(web) -> None:
    client = await web.make_client(download_rate_per_minute=3)
    page = await client.get("/rechnung")
    token = _csrf(page.text)
    answers = [(await client.post("/rechnung", data={"code": f"guess{i:040d}", "csrf_token": token})).status_code
               for i in range(5)]
    assert answers[:3] == [404, 404, 404] and answers[3:] == [429, 429]
    web.services.downloads[DOWNLOAD_CODE] = DOCS
    limited = await client.post("/rechnung", data={"code": DOWNLOAD_CODE, "csrf_token": token})
    assert limited.status_code == 429 and "Retry-After" in limited.headers  # a right code waits too


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_the_code_is_in_no_log_not_even_uvicorns_access_log(make_client: Any, web,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    """The web app under a real uvicorn with its access log switched ON: the whole path — form,
    thank-you page, link, documents, PDF, a wrong code — leaves no trace of a code in any log."""
    caplog.set_level(logging.DEBUG)
    web.services.downloads[DOWNLOAD_CODE] = DOCS
    asgi = (await make_client())._transport.app  # the app the fixtures built (fake services behind it)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(asgi, host="127.0.0.1", port=port, access_log=True, log_config=None,
                                           lifespan="off"))
    task = asyncio.create_task(server.serve())
    try:
        await eventually(lambda: server.started, what="uvicorn started")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            thanks = await _send_request(client)
            assert DOWNLOAD_CODE in thanks.text
            page = await client.get("/rechnung")
            shown = await client.post("/rechnung", data={"code": DOWNLOAD_CODE, "csrf_token": _csrf(page.text)})
            assert "FW-2026-000007" in shown.text
            pdf = await client.post("/rechnung/pdf", data={"code": DOWNLOAD_CODE, "number": "FW-2026-000007",
                                                           "csrf_token": _csrf(shown.text)})
            assert pdf.status_code == 200
            wrong = "Wr0ngC0deWr0ngC0deWr0ngC0deWr0ngC0deWr0ngC0"
            refused = await client.post("/rechnung", data={"code": wrong, "csrf_token": _csrf(page.text)})
            assert refused.status_code == 404
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await task
    access = [r for r in caplog.records if r.name == "uvicorn.access"]
    assert any("/rechnung/pdf" in r.getMessage() for r in access), "the access log was not captured"
    everything = "\n".join(f"{r.name} {r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert DOWNLOAD_CODE not in everything and wrong not in everything
