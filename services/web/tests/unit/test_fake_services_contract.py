"""The fake services of web's tests answer like the real ones: the same checks run against the
fake (``FakeServices``) and against the four real services (processes on fixture NATS and
PostgreSQL). A route whose status, error code or answer fields drift in a service fails here,
not first in production.

The checks use what both sides have at the start: the real databases are empty, so they ask for
absent things (error codes) and for the envelopes of lists (their field names).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest_asyncio

from fw_devenv.pytest_plugin import FwEnv, ServiceProcess, start_all

SERVICES = ("intake", "session", "billing", "retention")
FAKE_PORTS = {"intake": 8081, "session": 8082, "billing": 8083, "retention": 8084}
NOBODY = str(uuid.UUID(int=999))


@dataclass(frozen=True)
class Check:
    """One request and what both sides must answer: the status, and the error ``code`` or the
    answer's top-level field names (an answer that is a list: ``fields`` is ``"list"``)."""

    service: str
    method: str
    path: str
    status: int
    code: str | None = None
    fields: frozenset[str] | str | None = None
    params: dict[str, str] | None = None
    body: dict[str, Any] | None = None
    headers: dict[str, str] | None = None

    def __str__(self) -> str:
        return f"{self.service} {self.method} {self.path}"


def fields(*names: str) -> frozenset[str]:
    return frozenset(names)


PAGE = fields("items", "total", "limit", "offset")
CHECKS = [
    Check("intake", "GET", "/api/terms/current", 200, fields=fields("version", "sha256", "text")),
    Check("intake", "GET", "/api/terms/1999-01", 404, code="terms_version_unknown"),
    Check("intake", "POST", "/api/support-requests", 201,
          fields=fields("request_id", "ticket", "status_url", "download_code"),
          body={"company": "Vertrag GmbH", "contact_name": "Erika Vertrag", "phone": "030 1234 5678",
                "terms_accepted": True, "terms_version": "2026-01"}),
    Check("session", "GET", "/api/queue", 200, fields="list"),
    Check("session", "GET", "/api/tickets", 200, fields=fields("items"), params={"request_id": NOBODY}),
    Check("session", "GET", "/api/running-sessions", 200, fields=fields("items"), params={"technician": "tech-01"}),
    Check("session", "GET", "/api/sessions", 200, fields=fields("technician", "status", "limit", "items"),
          params={"technician": "tech-01"}),
    Check("session", "GET", f"/api/sessions/{NOBODY}/contact", 404, code="session_not_found",
          headers={"Fw-Technician": "tech-01"}),
    Check("billing", "GET", "/api/invoices", 200, fields=fields("items"), params={"session_id": NOBODY}),
    Check("billing", "GET", "/api/invoices/FW-2026-999999", 404, code="invoice_not_found"),
    Check("billing", "GET", "/api/cancellations/FW-S-2026-999999", 404, code="cancellation_not_found"),
    Check("billing", "GET", f"/api/sessions/{NOBODY}", 404, code="session_not_found"),
    Check("billing", "GET", "/api/customers", 200, fields=PAGE),
    Check("billing", "GET", "/api/customers/K99999", 404, code="customer_not_found"),
    Check("billing", "POST", "/api/customers/search", 200, fields=PAGE, body={"q": "niemand"}),
    Check("billing", "POST", "/api/downloads", 404, code="download_not_found",
          body={"code": "Zk3v9Qx2LmN8pR4sT6uW1yA5cE7gI0kO3qS5uX8zB2d"}),
    Check("billing", "GET", "/api/deliveries", 200, fields=fields("items", "limit", "offset")),
    *(Check(svc, "GET", "/api/parked-messages", 200, fields=fields("service", "unresolved", "items"))
      for svc in SERVICES),
]


async def observe(client: httpx.AsyncClient, check: Check) -> tuple[int, str | None, frozenset[str] | str | None]:
    """What a side answered, in the terms of a :class:`Check`."""
    resp = await client.request(check.method, check.path, params=check.params, json=check.body,
                                headers=check.headers)
    body = resp.json()
    if check.code is not None:
        return resp.status_code, body.get("code") if isinstance(body, dict) else None, None
    shape = "list" if isinstance(body, list) else frozenset(body)
    return resp.status_code, None, shape


Clients = Callable[[str], httpx.AsyncClient]


@pytest_asyncio.fixture
async def fake_side(services: Any) -> AsyncIterator[Clients]:
    services.deliveries = []  # the fake has the delivery routes when a test gives it deliveries
    transport = httpx.MockTransport(services.handler)
    clients = {svc: httpx.AsyncClient(transport=transport, base_url=f"http://svc:{port}")
               for svc, port in FAKE_PORTS.items()}
    yield clients.__getitem__
    for client in clients.values():
        await client.aclose()


@pytest_asyncio.fixture
async def real_side(fw_env: FwEnv) -> AsyncIterator[Clients]:
    procs = {svc: ServiceProcess(svc, fw_env) for svc in SERVICES}
    try:
        start_all(list(procs.values()))
        clients = {svc: httpx.AsyncClient(base_url=p.url, timeout=10) for svc, p in procs.items()}
        try:
            yield clients.__getitem__
        finally:
            for c in clients.values():
                await c.aclose()
    finally:
        for p in procs.values():
            p.stop()


async def run_checks(side: Clients) -> list[str]:
    drift = []
    for check in CHECKS:
        got = await observe(side(check.service), check)
        wanted = (check.status, check.code, check.fields)
        if got != wanted:
            drift.append(f"{check}: wanted {wanted}, got {got}")
    return drift


async def test_the_fake_services_answer_as_the_contract_says(fake_side: Clients) -> None:
    assert await run_checks(fake_side) == []


async def test_the_real_services_answer_as_the_contract_says(real_side: Clients) -> None:
    assert await run_checks(real_side) == []
