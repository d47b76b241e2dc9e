"""The four services' JSON APIs, over httpx. Every call answers a ``Reply``; nothing raises.

A service that cannot be reached gives ``Reply(status=0)``, so every page can say so in plain
German instead of failing. Logs carry the service, the route template and the status only —
never a body (request bodies hold the customer's data, answers may too).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

log = logging.getLogger(__name__)

SERVICES = ("intake", "session", "billing", "retention")
#: Session's header naming the acting (signed-in) technician on every call about a session.
TECHNICIAN_HEADER = "Fw-Technician"


@dataclass(frozen=True)
class Reply:
    """One answer: ``status`` 0 means the service could not be reached."""

    status: int
    data: Any = None
    content: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def unreachable(self) -> bool:
        return self.status == 0

    @property
    def message_de(self) -> str | None:
        """The service's own German message of a problem answer, if it sent one."""
        if isinstance(self.data, dict) and isinstance(self.data.get("message_de"), str):
            return str(self.data["message_de"])
        return None


class Backends:
    """Calls to intake, session, billing and retention with one shared connection pool."""

    def __init__(self, client: httpx.AsyncClient, urls: Mapping[str, str]) -> None:
        self._client = client
        self._urls = {name: urls[name].rstrip("/") for name in SERVICES}

    async def _call(self, service: str, method: str, path: str, route: str, *,
                    json: Any = None, params: Mapping[str, str | int] | None = None,
                    headers: Mapping[str, str] | None = None, binary: bool = False) -> Reply:
        url = self._urls[service] + path
        try:
            resp = await self._client.request(method, url, json=json, params=params, headers=headers)
        except httpx.HTTPError as exc:
            log.warning("service unreachable", extra={"kind": service, "route": route,
                                                       "error": type(exc).__name__})
            return Reply(0)
        data: Any = None
        if not binary and resp.headers.get("content-type", "").startswith("application/json"):
            try:
                data = resp.json()
            except ValueError:
                data = None
        if resp.status_code >= 500:
            log.warning("service error", extra={"kind": service, "route": route,
                                                 "status": resp.status_code})
        return Reply(resp.status_code, data, resp.content if binary else b"", dict(resp.headers))

    # ---- intake -------------------------------------------------------------------------
    async def current_terms(self) -> Reply:
        return await self._call("intake", "GET", "/api/terms/current", "/api/terms/current")

    async def terms(self, version: str) -> Reply:
        return await self._call("intake", "GET", f"/api/terms/{quote(version, safe='')}", "/api/terms/{version}")

    async def create_request(self, body: dict[str, Any], client_ip: str | None) -> Reply:
        # intake rate-limits per client: pass the customer's address on (intake trusts it only
        # when its FW_INTAKE_FORWARDED_ALLOW_IPS names this service).
        headers = {"X-Forwarded-For": client_ip} if client_ip else None
        return await self._call("intake", "POST", "/api/support-requests", "/api/support-requests",
                                json=body, headers=headers)

    # ---- session ------------------------------------------------------------------------
    async def queue(self) -> Reply:
        return await self._call("session", "GET", "/api/queue", "/api/queue")

    async def queue_items(self) -> tuple[bool, list[dict[str, Any]]]:
        """``(reachable, items)`` of the queue, for the live-queue watcher."""
        reply = await self.queue()
        if not reply.ok or not isinstance(reply.data, list):
            return False, []
        return True, [i for i in reply.data if isinstance(i, dict)]

    async def start_session(self, request_id: uuid.UUID, technician: str) -> Reply:
        return await self._call("session", "POST", "/api/sessions", "/api/sessions",
                                json={"request_id": str(request_id), "technician": technician})

    async def record_promotion(self, session_id: uuid.UUID, statement: str, technician: str) -> Reply:
        return await self._call("session", "POST", f"/api/sessions/{session_id}/promotion",
                                "/api/sessions/{id}/promotion", json={"statement": statement},
                                headers={TECHNICIAN_HEADER: technician})

    async def end_session(self, session_id: uuid.UUID, technician: str) -> Reply:
        return await self._call("session", "POST", f"/api/sessions/{session_id}/end", "/api/sessions/{id}/end",
                                headers={TECHNICIAN_HEADER: technician})

    async def take_over_session(self, session_id: uuid.UUID, technician: str) -> Reply:
        """``technician`` takes another technician's running session over (recorded by session)."""
        return await self._call("session", "POST", f"/api/sessions/{session_id}/takeover",
                                "/api/sessions/{id}/takeover", headers={TECHNICIAN_HEADER: technician})

    async def session(self, session_id: uuid.UUID, technician: str) -> Reply:
        """The session as ``technician`` may see it (403 when it is another technician's)."""
        return await self._call("session", "GET", f"/api/sessions/{session_id}", "/api/sessions/{id}",
                                headers={TECHNICIAN_HEADER: technician})

    async def technician_sessions(self, technician: str, status: str, limit: int = 20) -> Reply:
        """The technician's ``running`` (oldest first) or ``ended`` (most recent first) sessions,
        from the session service: ids, ticket and times, no personal data."""
        return await self._call("session", "GET", "/api/sessions", "/api/sessions?technician",
                                params={"technician": technician, "status": status, "limit": limit})

    async def session_contact(self, session_id: uuid.UUID, technician: str) -> Reply:
        """The session's caller (company, contact, phone) while the vault has them, else
        ``contact`` = erased / unavailable; only for the session's own technician (403 else)."""
        return await self._call("session", "GET", f"/api/sessions/{session_id}/contact",
                                "/api/sessions/{id}/contact", headers={TECHNICIAN_HEADER: technician})

    async def running_sessions(self, technician: str | None = None) -> Reply:
        """Running sessions (all, or one technician's), oldest first, with the caller's company."""
        params: dict[str, str | int] = {"limit": 200}
        if technician:
            params["technician"] = technician
        return await self._call("session", "GET", "/api/running-sessions", "/api/running-sessions", params=params)

    async def tickets(self, request_ids: list[str]) -> Reply:
        """The ticket codes of requests (session's ``GET /api/tickets``; pseudonymous)."""
        return await self._call("session", "GET", "/api/tickets", "/api/tickets",
                                params=httpx.QueryParams([("request_id", r) for r in request_ids[:500]]))

    # ---- billing ------------------------------------------------------------------------
    async def invoices_for_session(self, session_id: uuid.UUID) -> Reply:
        return await self._call("billing", "GET", "/api/invoices", "/api/invoices?session_id",
                                params={"session_id": str(session_id)})

    async def invoice_list(self, params: Mapping[str, str | int] | None = None) -> Reply:
        """A page of invoices, newest first, filtered (``/api/invoice-list``: ids, numbers,
        amounts, status; never recipient data)."""
        return await self._call("billing", "GET", "/api/invoice-list", "/api/invoice-list",
                                params=params or {"limit": 50})

    async def work_note(self, session_id: uuid.UUID) -> Reply:
        """The technician's "work done" note of a session (404: none); personal data, staff only."""
        return await self._call("billing", "GET", f"/api/sessions/{session_id}/work-note",
                                "/api/sessions/{id}/work-note")

    async def write_work_note(self, session_id: uuid.UUID, note: str, technician: str) -> Reply:
        """Write the note (billing refuses with 409 once the invoice is issued); the text goes in
        the body only. Call it only after the session service confirmed the session is
        ``technician``'s own."""
        return await self._call("billing", "PUT", f"/api/sessions/{session_id}/work-note",
                                "/api/sessions/{id}/work-note", json={"note": note, "written_by": technician})

    async def tariff(self) -> Reply:
        """The current tariff (public prices for the form)."""
        return await self._call("billing", "GET", "/api/tariff", "/api/tariff")

    async def billing_session(self, session_id: uuid.UUID) -> Reply:
        return await self._call("billing", "GET", f"/api/sessions/{session_id}", "/api/sessions/{id}")

    async def invoice(self, number: str) -> Reply:
        return await self._call("billing", "GET", f"/api/invoices/{quote(number, safe='')}", "/api/invoices/{n}")

    async def invoice_file(self, number: str, ext: str) -> Reply:
        """The archived invoice document (``pdf`` or ``xml``) as bytes."""
        return await self._call("billing", "GET", f"/api/invoices/{quote(number, safe='')}.{ext}",
                                f"/api/invoices/{{n}}.{ext}", binary=True)

    async def cancel_invoice(self, number: str, reason_code: str, acted_by: str) -> Reply:
        """Storno: billing issues a cancellation document with its own number and keeps who
        (``acted_by``: the signed-in office user's id) made it."""
        return await self._call("billing", "POST", f"/api/invoices/{quote(number, safe='')}/cancel",
                                "/api/invoices/{n}/cancel", json={"reason_code": reason_code, "acted_by": acted_by})

    async def correct_invoice(self, number: str, body: dict[str, Any], acted_by: str) -> Reply:
        """Rechnungskorrektur: billing issues the corrected invoice of a cancelled one (new number)
        and keeps who (``acted_by``: the signed-in office user's id) made it."""
        return await self._call("billing", "POST", f"/api/invoices/{quote(number, safe='')}/correction",
                                "/api/invoices/{n}/correction", json={**body, "acted_by": acted_by})

    async def cancellation(self, number: str) -> Reply:
        return await self._call("billing", "GET", f"/api/cancellations/{quote(number, safe='')}",
                                "/api/cancellations/{n}")

    async def retry_delivery(self, delivery_id: int) -> Reply:
        return await self._call("billing", "POST", f"/api/deliveries/{delivery_id}/retry",
                                "/api/deliveries/{id}/retry")

    async def export(self, name: str, params: Mapping[str, str] | None = None) -> Reply:
        """One of billing's CSV exports (``invoices`` with from/to, ``customers``) as bytes."""
        return await self._call("billing", "GET", f"/api/exports/{name}.csv", f"/api/exports/{name}.csv",
                                params=params, binary=True)

    async def customers(self, limit: int = 100, offset: int = 0) -> Reply:
        return await self._call("billing", "GET", "/api/customers", "/api/customers",
                                params={"limit": limit, "offset": offset})

    async def customer(self, number: str) -> Reply:
        return await self._call("billing", "GET", f"/api/customers/{quote(number, safe='')}", "/api/customers/{n}")

    async def search_customers(self, words: str, limit: int = 50) -> Reply:
        """billing's account search; the words go in the body (they may be a name)."""
        return await self._call("billing", "POST", "/api/customers/search", "/api/customers/search",
                                json={"q": words, "limit": limit})

    async def change_customer(self, number: str, changes: dict[str, Any], changed_by: str) -> Reply:
        """Change an open account's e-mail and/or address (only the keys in ``changes``)."""
        return await self._call("billing", "PATCH", f"/api/customers/{quote(number, safe='')}",
                                "/api/customers/{n}", json={**changes, "changed_by": changed_by})

    async def erase_customer(self, number: str, reason: str, requested_by: str) -> Reply:
        """GDPR Art. 17: billing erases the account's personal fields (the number stays)."""
        return await self._call("billing", "POST", f"/api/customers/{quote(number, safe='')}/erasure",
                                "/api/customers/{n}/erasure", json={"reason": reason, "requested_by": requested_by})

    async def failed_deliveries(self) -> Reply:
        return await self._call("billing", "GET", "/api/deliveries", "/api/deliveries?status=failed",
                                params={"status": "failed"})

    async def pending_deliveries(self) -> Reply:
        return await self._call("billing", "GET", "/api/deliveries", "/api/deliveries?status=pending",
                                params={"status": "pending"})

    async def mark_delivered(self, delivery_id: int) -> Reply:
        """Handed over by hand: billing records InvoiceDelivered (channel manual)."""
        return await self._call("billing", "POST", f"/api/deliveries/{delivery_id}/delivered",
                                "/api/deliveries/{id}/delivered")

    async def download(self, code: str) -> Reply:
        """The documents the customer's download code opens (billing checks it; the code goes in
        the body, never in a path or a log)."""
        return await self._call("billing", "POST", "/api/downloads", "/api/downloads", json={"code": code})

    async def download_document(self, code: str, number: str) -> Reply:
        """One archived PDF the download code opens (bytes)."""
        return await self._call("billing", "POST", "/api/downloads/document", "/api/downloads/document",
                                json={"code": code, "number": number}, binary=True)

    # ---- retention ----------------------------------------------------------------------
    async def pending_erasures(self, limit: int = 200) -> Reply:
        return await self._call("retention", "GET", "/api/pending-erasures", "/api/pending-erasures",
                                params={"limit": limit})

    async def request_data_status(self, request_id: uuid.UUID) -> Reply:
        """Whether the request's data are stored (and until when: ``erase_by``) or erased; ids and
        times only (``billing_blocked_at``: retention holds them while billing waits)."""
        return await self._call("retention", "GET", f"/api/requests/{request_id}/status",
                                "/api/requests/{id}/status")

    async def erasures(self, limit: int = 200) -> Reply:
        return await self._call("retention", "GET", "/api/erasures", "/api/erasures", params={"limit": limit})

    async def avv(self) -> Reply:
        """The AVV as a standalone HTML page (retention renders it from its Markdown template)."""
        return await self._call("retention", "GET", "/api/avv", "/api/avv", params={"format": "html"}, binary=True)

    async def record_avv_request(self, channel: str, customer_number: str | None, ticket: str | None) -> Reply:
        body = {"channel": channel, "customer_number": customer_number or None, "ticket": ticket or None}
        return await self._call("retention", "POST", "/api/avv-requests", "/api/avv-requests", json=body)

    async def avv_requests(self) -> Reply:
        return await self._call("retention", "GET", "/api/avv-requests", "/api/avv-requests")

    # ---- health -------------------------------------------------------------------------
    async def health(self) -> dict[str, bool]:
        """``/healthz`` of every service, asked at the same time."""
        async def one(service: str) -> bool:
            reply = await self._call(service, "GET", "/healthz", "/healthz")
            return reply.ok

        results = await asyncio.gather(*(one(s) for s in SERVICES))
        return dict(zip(SERVICES, results, strict=True))

    # ---- parked messages ----------------------------------------------------------------
    async def parked_messages(self) -> dict[str, Reply]:
        """Every service's ``/api/parked-messages`` (ids and reason codes, never payloads), asked
        at the same time."""
        replies = await asyncio.gather(*(self._call(s, "GET", "/api/parked-messages", "/api/parked-messages")
                                         for s in SERVICES))
        return dict(zip(SERVICES, replies, strict=True))
