"""The web app against fake services (an httpx MockTransport): no network, no processes."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
import pytest_asyncio

from fw_web.adapters.users_file import hash_password
from fw_web.bootstrap import build
from fw_web.domain.users import Role, User
from fw_web.settings import Settings

PASSWORDS = {"technik": "technik-passwort-1", "buero": "buero-passwort-12", "datenschutz": "datenschutz-pw-1"}
ROLES = {"technik": Role.TECHNICIAN, "buero": Role.OFFICE, "datenschutz": Role.PRIVACY}
#: Hashing is slow on purpose; the users are the same in every test.
USERS = {name: User(name, ROLES[name], hash_password(pw)) for name, pw in PASSWORDS.items()}

TERMS = {"version": "2026-01", "sha256": "a" * 64, "text": "# Nutzungsbedingungen\n\nFassung 2026-01\n\n## 1. Gegenstand\n\nText."}
INVOICE = {
    "number": "FW-2026-000001", "kind": "kleinbetrag", "issued_at": "2026-05-04T10:00:00Z",
    "service_date": "2026-05-04T09:59:00Z", "session_id": str(uuid.UUID(int=7)), "request_id": str(uuid.UUID(int=8)),
    "tariff_version": "e2e-1", "raw_seconds": 2, "billed_seconds": 900,
    "lines": [{"description": "Grundgebühr", "quantity": "1", "unit": "C62", "unit_price": "10.00", "net": "10.00"}],
    "net_total": "34.00", "vat_rate": "0.19", "vat_total": "6.46", "gross_total": "40.46", "currency": "EUR",
    "customer_number": None, "recipient": None, "e_invoice": False,
}
CUSTOMER = {
    "customer_number": "K00001", "status": "open", "request_id": str(uuid.UUID(int=1)),
    "session_id": str(uuid.UUID(int=2)), "company": "=Beispiel GmbH", "contact_name": "Erika Musterfrau",
    "phone": "+4930123456", "email": None, "address": None, "statement": "Ja.",
    "stated_at": "2026-05-04T09:59:30Z", "technician": "technik", "created_at": "2026-05-04T10:00:00Z",
    "closed_at": None, "closure_reason": None, "closed_by": None,
}


#: Fields of billing's single invoice that its list leaves out.
LIST_HIDES = ("recipient", "lines", "tariff_version", "raw_seconds", "billed_seconds", "vat_rate",
              "correction_reason", "tax_case")

#: The download code the fake intake gives (43 URL-safe characters, like secrets.token_urlsafe(32)).
DOWNLOAD_CODE = "Zk3v9Qx2LmN8pR4sT6uW1yA5cE7gI0kO3qS5uX8zB2d"


@dataclass
class FakeServices:
    """Answers like the four services; tests change the fields to steer it."""

    #: the code intake gives at POST /api/support-requests
    download_code: ClassVar[str] = DOWNLOAD_CODE

    queue: list[dict[str, Any]] = field(default_factory=list)
    created: list[dict[str, Any]] = field(default_factory=list)
    intake_reply: tuple[int, dict[str, Any]] | None = None
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    invoices: dict[str, dict[str, Any]] = field(default_factory=lambda: {INVOICE["number"]: INVOICE})
    pdf: bytes | None = b"%PDF-1.7 fake"
    avv: bytes | None = None
    avv_requests: list[dict[str, Any]] | None = None
    cancelled: dict[str, str] = field(default_factory=dict)
    deliveries: list[dict[str, Any]] | None = None
    retried: list[int] = field(default_factory=list)
    customers: dict[str, dict[str, Any]] = field(default_factory=lambda: {"K00001": dict(CUSTOMER)})
    #: The bodies billing got at POST /api/customers/{n}/erasure.
    erasures: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    #: billing's GET /api/sessions/{id} by session id (404 when absent)
    billing_sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: retention's GET /api/requests/{id}/status by request id (404 when absent)
    request_status: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: retention's GET /api/pending-erasures (None: the default single row)
    pending: list[dict[str, Any]] | None = None
    #: billing's download codes: code -> the documents it opens (absent: 404)
    downloads: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: deliveries marked as handed over by hand
    marked: list[int] = field(default_factory=list)
    down: set[str] = field(default_factory=set)
    seen: list[httpx.Request] = field(default_factory=list)
    #: each service's GET /api/parked-messages items by service (empty list when absent)
    parked: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: the bodies billing got at PATCH /api/customers/{n}
    changes: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    #: session's GET /api/tickets: request id -> ticket code
    tickets: dict[str, str] = field(default_factory=dict)
    #: the caller of each started request (request id -> company, contact_name, phone)
    callers: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: requests whose vault data are erased (the contact answer says so)
    erased_requests: set[str] = field(default_factory=set)
    #: billing's GET /api/tariff (None: 404, as a billing without the route)
    tariff: dict[str, Any] | None = None
    #: the query parameters of every GET /api/invoice-list
    list_queries: list[dict[str, str]] = field(default_factory=list)
    #: the bodies billing got at POST /api/invoices/{n}/correction, by invoice number
    corrections: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    #: billing's next answer to POST /api/invoices/{n}/correction (None: checks like billing, 201)
    correction_reply: tuple[int, dict[str, Any]] | None = None
    #: who cancelled each invoice (``acted_by`` of POST /api/invoices/{n}/cancel), by invoice number
    cancelled_by_user: dict[str, str] = field(default_factory=dict)
    #: billing's work notes by session id (``note``, ``written_by``, ``state``)
    work_notes: dict[str, dict[str, Any]] = field(default_factory=dict)

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        service = {8081: "intake", 8082: "session", 8083: "billing", 8084: "retention"}[request.url.port]
        if service in self.down:
            raise httpx.ConnectError("down")
        if request.url.path == "/api/parked-messages":
            items = self.parked.get(service, [])
            return httpx.Response(200, json={"service": service, "unresolved": len(items), "items": items})
        route = getattr(self, service)
        return route(request, request.method, request.url.path)

    def contact_of(self, s: dict[str, Any]) -> dict[str, Any]:
        """session's answer about a session's caller: from the queue item it was started from,
        unless the test marked the request erased (``erased_requests``)."""
        data = self.callers.get(s["request_id"])
        erased = s["request_id"] in self.erased_requests
        return {"session_id": s["session_id"], "request_id": s["request_id"], "ticket": s.get("ticket"),
                "technician": s["technician"], "started_at": s["started_at"], "ended_at": s.get("ended_at"),
                "contact": "erased" if erased else "available" if data else "unavailable",
                "erased_at": "2026-05-04T10:00:05Z" if erased else None,
                **{k: (None if erased or not data else data.get(k)) for k in ("company", "contact_name", "phone")}}

    def intake(self, request: httpx.Request, method: str, path: str) -> httpx.Response:
        if path == "/healthz":
            return httpx.Response(200, json={"status": "ok"})
        if path in ("/api/terms/current", "/api/terms/2026-01"):
            return httpx.Response(200, json=TERMS)
        if path.startswith("/api/terms/"):
            return httpx.Response(404, json={"code": "terms_version_unknown", "message_de": "x", "message_en": "x"})
        if method == "POST" and path == "/api/support-requests":
            body = json.loads(request.content)
            self.created.append(body)
            if self.intake_reply:
                return httpx.Response(self.intake_reply[0], json=self.intake_reply[1])
            return httpx.Response(201, json={"request_id": str(uuid.uuid4()), "ticket": "K7MQ-3XA", "status_url": "/x",
                                             "download_code": DOWNLOAD_CODE})
        return httpx.Response(404, json={})

    def session(self, request: httpx.Request, method: str, path: str) -> httpx.Response:
        if path == "/healthz":
            return httpx.Response(200, json={"status": "ok"})
        if path == "/api/queue":
            return httpx.Response(200, json=self.queue)
        if method == "POST" and path == "/api/sessions":
            body = json.loads(request.content)
            for item in self.queue:  # the caller's data, as the vault would still have them
                if item.get("request_id") == body["request_id"]:
                    self.callers[body["request_id"]] = {k: item.get(k) for k in ("company", "contact_name", "phone")}
            sid = str(uuid.uuid4())
            self.sessions[sid] = {"session_id": sid, "request_id": body["request_id"], "technician": body["technician"],
                                  "status": "running", "started_at": "2026-05-04T09:59:00Z", "promoted": False,
                                  "statement_sha256": None, "stated_at": None, "ended_at": None, "duration_seconds": None}
            return httpx.Response(201, json={"session_id": sid, "started_at": "2026-05-04T09:59:00Z"})
        if method == "GET" and path == "/api/tickets":
            wanted = request.url.params.get_list("request_id")
            return httpx.Response(200, json={"items": [{"request_id": r, "ticket": self.tickets[r]}
                                                       for r in wanted if r in self.tickets]})
        if method == "GET" and path == "/api/running-sessions":
            tech = request.url.params.get("technician")
            items = [self.contact_of(s) for s in self.sessions.values()
                     if s["status"] == "running" and tech in (None, s["technician"])]
            return httpx.Response(200, json={"items": items})
        m = re.fullmatch(r"/api/sessions/([0-9a-f-]+)/contact", path)
        if m and method == "GET":
            if m.group(1) not in self.sessions:
                return httpx.Response(404, json={"code": "session_not_found", "message_de": "x", "message_en": "x"})
            return httpx.Response(200, json=self.contact_of(self.sessions[m.group(1)]))
        if method == "GET" and path == "/api/sessions":  # a technician's sessions, from "the database"
            tech, status = request.url.params["technician"], request.url.params.get("status", "running")
            limit = int(request.url.params.get("limit", "20"))
            own = [s for s in self.sessions.values() if s["technician"] == tech and s["status"] == status]
            items = [{k: s.get(k) for k in ("session_id", "request_id", "ticket", "technician", "status",
                                            "started_at", "ended_at", "duration_seconds")}
                     for s in (own if status == "running" else own[::-1])][:limit]
            return httpx.Response(200, json={"technician": tech, "status": status, "limit": limit, "items": items})
        m = re.fullmatch(r"/api/sessions/([0-9a-f-]+)(/end|/promotion|/takeover)?", path)
        if m and m.group(1) in self.sessions:
            s = self.sessions[m.group(1)]
            # like session: every call names the acting technician; only the session's may act
            acting = request.headers.get("Fw-Technician")
            if not acting:
                return httpx.Response(400, json={"code": "acting_technician_required", "message_de": "x",
                                                 "message_en": "x"})
            if m.group(2) == "/takeover":
                if s["status"] != "running":
                    return httpx.Response(409, json={"code": "session_ended", "message_en": "x",
                                                     "message_de": "Die Sitzung ist bereits beendet."})
                s["technician"] = acting
                return httpx.Response(200, json=s)
            if acting != s["technician"]:
                return httpx.Response(403, json={"code": "session_of_another_technician", "message_en": "x",
                                                 "message_de": "Diese Sitzung gehört jemand anderem."})
            if m.group(2) == "/end":
                s.update(status="ended", ended_at="2026-05-04T10:00:00Z", duration_seconds=60)
            elif m.group(2) == "/promotion":
                s.update(promoted=True, stated_at="2026-05-04T09:59:30Z")
                return httpx.Response(201, json=s)
            return httpx.Response(200, json=s)
        return httpx.Response(404, json={"code": "session_not_found", "message_de": "Sitzung unbekannt.", "message_en": "x"})

    def billing(self, request: httpx.Request, method: str, path: str) -> httpx.Response:
        if path == "/healthz":
            return httpx.Response(200, json={"status": "ok"})
        if path == "/api/tariff" and self.tariff is not None:
            return httpx.Response(200, json=self.tariff)
        if path == "/api/invoice-list":
            return self.invoice_list(request.url.params)
        m = re.fullmatch(r"/api/sessions/([0-9a-f-]+)/work-note", path)
        if m:
            return self.work_note(m.group(1), method, request)
        if path == "/api/invoices":
            sid = request.url.params.get("session_id")
            if sid is None:
                return httpx.Response(422, json={"code": "invalid_input"})
            return httpx.Response(200, json={"items": [i for i in self.invoices.values() if i["session_id"] == sid]})
        m = re.fullmatch(r"/api/invoices/([A-Z0-9-]+)(\.pdf)?", path)
        if m:
            inv = self.invoices.get(m.group(1))
            if inv is None or (m.group(2) and self.pdf is None):
                return httpx.Response(404, json={"code": "invoice_not_found", "message_de": "x", "message_en": "x"})
            if m.group(2):
                return httpx.Response(200, content=self.pdf, headers={"content-type": "application/pdf"})
            return httpx.Response(200, json=self.invoice_state(inv))
        m = re.fullmatch(r"/api/invoices/([A-Z0-9-]+)/correction", path)
        if m and method == "POST":
            return self.correct(m.group(1), json.loads(request.content))
        m = re.fullmatch(r"/api/invoices/([A-Z0-9-]+)/cancel", path)
        if m and method == "POST":
            if m.group(1) in self.cancelled:
                return httpx.Response(409, json={"code": "already_cancelled", "message_en": "x",
                                                 "message_de": "Diese Rechnung wurde bereits storniert."})
            storno = "FW-S-2026-000001"
            self.cancelled[m.group(1)] = storno
            if json.loads(request.content).get("acted_by"):
                self.cancelled_by_user[m.group(1)] = json.loads(request.content)["acted_by"]
            return httpx.Response(201, json={"cancellation_number": storno, "invoice_number": m.group(1),
                                             "reason_code": json.loads(request.content)["reason_code"],
                                             "net_total": "-34.00", "vat_total": "-6.46", "gross_total": "-40.46"})
        m = re.fullmatch(r"/api/cancellations/([A-Z0-9-]+)", path)
        if m:
            for inv, storno in self.cancelled.items():
                if storno == m.group(1):
                    return httpx.Response(200, json={
                        "number": storno, "invoice_number": inv, "reason_code": "duplicate",
                        "issued_at": "2026-05-05T10:00:00Z", "lines": [], "net_total": "-34.00", "vat_rate": "0.19",
                        "vat_total": "-6.46", "gross_total": "-40.46", "currency": "EUR", "e_invoice": False})
            return httpx.Response(404, json={"code": "cancellation_not_found", "message_de": "x", "message_en": "x"})
        if path == "/api/deliveries" and self.deliveries is not None:
            status = request.url.params.get("status")
            items = [d for d in self.deliveries if status is None or d.get("status", "failed") == status]
            return httpx.Response(200, json={"items": items, "limit": 100, "offset": 0})
        m = re.fullmatch(r"/api/deliveries/(\d+)/delivered", path)
        if m and self.deliveries is not None:
            self.marked.append(int(m.group(1)))
            return httpx.Response(200, json={"id": int(m.group(1)), "status": "sent", "channel": "manual"})
        if method == "POST" and path in ("/api/downloads", "/api/downloads/document"):
            body = json.loads(request.content)
            docs = self.downloads.get(body["code"])
            refused = httpx.Response(404, json={
                "code": "download_not_found", "message_en": "x",
                "message_de": "Zu diesem Code gibt es nichts (mehr) zum Herunterladen."})
            if docs is None:
                return refused
            if path == "/api/downloads":
                return httpx.Response(200, json={"documents": docs, "expires_at": "2026-06-04T10:00:00Z"})
            if body["number"] not in {d["number"] for d in docs}:
                return refused
            return httpx.Response(200, content=b"%PDF-1.7 " + body["number"].encode(),
                                  headers={"content-type": "application/pdf"})
        m = re.fullmatch(r"/api/deliveries/(\d+)/retry", path)
        if m and self.deliveries is not None:
            self.retried.append(int(m.group(1)))
            return httpx.Response(202, json={"id": int(m.group(1)), "status": "pending"})
        if path == "/api/exports/invoices.csv" and self.deliveries is not None:
            return httpx.Response(200, content=b"\xef\xbb\xbfNummer;Brutto\r\n", headers={"content-type": "text/csv"})
        if path.startswith("/api/sessions/"):
            found = self.billing_sessions.get(path.rsplit("/", 1)[1])
            if found is not None:
                return httpx.Response(200, json=found)
            return httpx.Response(404, json={"code": "session_not_found", "message_de": "x", "message_en": "x"})
        if path == "/api/customers/search" and method == "POST":
            words = json.loads(request.content)["q"].casefold()
            found = [c for c in self.customers.values()
                     if any(words in str(c.get(k) or "").casefold() for k in ("customer_number", "company", "contact_name"))]
            return httpx.Response(200, json={"items": found, "total": len(found), "limit": 50, "offset": 0})
        m = re.fullmatch(r"/api/customers/(K[0-9]+)", path)
        if m and method == "PATCH" and m.group(1) in self.customers:
            body = json.loads(request.content)
            self.changes.append((m.group(1), body))
            c = self.customers[m.group(1)]
            if c["status"] == "closed":
                return httpx.Response(409, json={"code": "account_closed", "message_de": "geschlossen", "message_en": "x"})
            c.update({k: v for k, v in body.items() if k in ("email", "address")})
            return httpx.Response(200, json=c)
        if path == "/api/customers":
            return httpx.Response(200, json={"items": list(self.customers.values()), "total": len(self.customers),
                                             "limit": 100, "offset": 0})
        m = re.fullmatch(r"/api/customers/(K[0-9]+)(/erasure)?", path)
        if m:
            c = self.customers.get(m.group(1))
            if c is None:
                return httpx.Response(404, json={"code": "customer_not_found", "message_en": "x",
                                                 "message_de": "Diese Kundennummer ist nicht bekannt."})
            if not m.group(2):
                return httpx.Response(200, json=c)
            body = json.loads(request.content)
            self.erasures.append((m.group(1), body))
            if c["status"] == "closed":
                return httpx.Response(409, json={
                    "code": "already_erased", "message_en": "x", "erased_at": c["closed_at"],
                    "reason": c["closure_reason"], "message_de": "Die personenbezogenen Daten dieses Kundenkontos "
                                                                "wurden bereits gelöscht; es wurde nichts geändert."})
            c.update(dict.fromkeys(("company", "contact_name", "phone", "email", "address", "statement", "stated_at")))
            c.update(status="closed", closed_at="2026-05-06T08:00:00Z", closure_reason=body["reason"],
                     closed_by=body["requested_by"])
            return httpx.Response(200, json={"customer_number": m.group(1), "status": "closed",
                                             "reason": body["reason"], "erased_at": c["closed_at"]})
        return httpx.Response(404, json={})

    def work_note(self, sid: str, method: str, request: httpx.Request) -> httpx.Response:
        """Like billing: frozen once an invoice of the session exists; the text only in bodies."""
        frozen = any(i["session_id"] == sid for i in self.invoices.values())
        if method == "PUT":
            if frozen:
                return httpx.Response(409, json={"code": "work_note_frozen", "message_en": "x", "message_de":
                                                 "Die Rechnung dieser Sitzung ist bereits ausgestellt; die Notiz "
                                                 "steht darauf und kann nicht mehr geändert werden."})
            body = json.loads(request.content)
            self.work_notes[sid] = {"session_id": sid, "note": body["note"].strip(), "written_by": body["written_by"],
                                    "written_at": "2026-05-04T10:00:00Z", "state": "open"}
            return httpx.Response(200, json=self.work_notes[sid])
        note = self.work_notes.get(sid)
        if note is None:
            return httpx.Response(404, json={"code": "work_note_not_found", "message_de": "x", "message_en": "x"})
        return httpx.Response(200, json={**note, "state": "frozen" if frozen else "open"})

    def invoice_state(self, inv: dict[str, Any]) -> dict[str, Any]:
        """``inv`` with its Storno and correction as billing's GET /api/invoices/{n} shows them."""
        corrected_by = next((n for n, i in self.invoices.items() if i.get("corrects") == inv["number"]), None)
        return {**inv, "cancelled_by": self.cancelled.get(inv["number"]) or inv.get("cancelled_by"),
                "corrects": inv.get("corrects"), "corrected_by": corrected_by or inv.get("corrected_by"),
                "cancelled_by_user": self.cancelled_by_user.get(inv["number"])}

    def correct(self, number: str, body: dict[str, Any]) -> httpx.Response:
        """billing's POST /api/invoices/{n}/correction: refusals as billing words them, else a new invoice."""
        self.corrections.append((number, body))
        if self.correction_reply is not None:
            return httpx.Response(self.correction_reply[0], json=self.correction_reply[1])
        inv = self.invoices.get(number)
        if inv is None:
            return httpx.Response(404, json={"code": "invoice_not_found", "message_en": "There is no invoice with this number.",
                                             "message_de": "Diese Rechnungsnummer ist nicht bekannt."})
        state = self.invoice_state(inv)
        if not state["cancelled_by"]:
            return httpx.Response(409, json={
                "code": "not_cancelled", "message_en": "The invoice is still valid: cancel it first, then correct it.",
                "message_de": "Die Rechnung ist noch gültig: bitte zuerst stornieren, dann korrigieren."})
        if state["corrected_by"]:
            return httpx.Response(409, json={
                "code": "already_corrected", "correction_number": state["corrected_by"],
                "message_en": "This invoice was already replaced by a corrected invoice.",
                "message_de": "Diese Rechnung wurde bereits durch eine korrigierte Rechnung ersetzt."})
        new = f"FW-2026-{len(self.invoices) + 1:06d}"
        self.invoices[new] = {**inv, "number": new, "issued_at": "2026-05-06T10:00:00Z", "corrects": number,
                              "correction_reason": body["reason_code"], "cancelled_by": None, "corrected_by": None,
                              "billed_seconds": body.get("billed_seconds", inv["billed_seconds"]),
                              "issued_by_user": body.get("acted_by")}
        return httpx.Response(201, json={
            "invoice_number": new, "corrects": number, "reason_code": body["reason_code"], "kind": inv["kind"],
            "tax_case": "domestic", "net_total": inv["net_total"], "vat_total": inv["vat_total"],
            "gross_total": inv["gross_total"]})

    def invoice_list(self, params: Any) -> httpx.Response:
        """billing's /api/invoice-list over ``invoices`` (Storno state from ``cancelled``)."""
        self.list_queries.append(dict(params))
        rows = []
        for inv in sorted(self.invoices.values(), key=lambda i: (i["issued_at"], i["number"]), reverse=True):
            state = self.invoice_state(inv)
            storno, corrected_by = state["cancelled_by"], state["corrected_by"]
            status = "corrected" if storno and corrected_by else "cancelled" if storno else "issued"
            row = {**{k: v for k, v in inv.items() if k not in LIST_HIDES},
                   "status": status, "cancelled_by": storno, "cancelled_at": "2026-05-05T10:00:00Z" if storno else None,
                   "corrects": inv.get("corrects"), "corrected_by": corrected_by,
                   "cancelled_by_user": state["cancelled_by_user"], "issued_by_user": inv.get("issued_by_user"),
                   "ticket": inv.get("ticket"), "e_invoice": inv.get("e_invoice", False)}
            day = inv["issued_at"][:10]
            q = params.get("q")
            if (params.get("status") not in (None, row["status"])
                    or params.get("kind") not in (None, inv["kind"])
                    or params.get("customer_number") not in (None, inv["customer_number"])
                    or params.get("ticket") not in (None, row["ticket"])
                    or (params.get("from") and day < params["from"]) or (params.get("to") and day > params["to"])
                    or (q and q not in (inv["number"], storno, row["ticket"], inv["customer_number"])
                        and not inv["number"].endswith(q))):
                continue
            rows.append(row)
        limit, offset = int(params.get("limit", 50)), int(params.get("offset", 0))
        return httpx.Response(200, json={"items": rows[offset:offset + limit], "total": len(rows),
                                         "limit": limit, "offset": offset})

    def retention(self, request: httpx.Request, method: str, path: str) -> httpx.Response:
        if path == "/healthz":
            return httpx.Response(200, json={"status": "ok"})
        if path == "/api/pending-erasures":
            if self.pending is not None:
                return httpx.Response(200, json=self.pending)
            return httpx.Response(200, json=[{"request_id": str(uuid.UUID(int=3)), "stored_at": "2026-05-01T10:00:00Z",
                                              "deadline": "2026-05-15T10:00:00Z"}])
        m = re.fullmatch(r"/api/requests/([0-9a-f-]+)/status", path)
        if m and m.group(1) in self.request_status:
            return httpx.Response(200, json=self.request_status[m.group(1)])
        if path == "/api/erasures":
            return httpx.Response(200, json=[
                {"request_id": str(uuid.UUID(int=5)), "reason": "invoice_delivered",
                 "erased_at": "2026-05-04T10:07:00Z", "trigger_event_id": None, "had_data": True,
                 "scope": "delivery_email", "delivery_hold_until": None},
                {"request_id": str(uuid.UUID(int=5)), "reason": "invoice_issued", "erased_at": "2026-05-04T10:00:02Z",
                 "trigger_event_id": None, "had_data": True, "scope": "all_but_delivery_email",
                 "delivery_hold_until": "2026-05-18T10:00:00Z"},
                {"request_id": str(uuid.UUID(int=4)), "reason": "invoice_issued",
                 "erased_at": "2026-05-04T10:00:01Z", "trigger_event_id": None, "had_data": True}])
        if path == "/api/avv" and self.avv is not None:
            return httpx.Response(200, content=self.avv, headers={
                "content-type": "text/html; charset=utf-8", "content-disposition": 'inline; filename="avv-2026-01.html"'})
        if path == "/api/avv-requests" and self.avv_requests is not None:
            if method == "POST":
                body = json.loads(request.content)
                if body["ticket"] and not re.fullmatch(r"[A-Z0-9]{4}-[A-Z0-9]{3}", body["ticket"]):
                    return httpx.Response(422, json={"code": "invalid_input", "errors": []})
                self.avv_requests.append({**body, "id": str(uuid.uuid4()), "requested_at": "2026-05-04T10:00:00Z",
                                          "avv_version": "2026-01", "avv_sha256": "b" * 64})
                return httpx.Response(201, json=self.avv_requests[-1])
            return httpx.Response(200, json=self.avv_requests)
        return httpx.Response(404, json={"code": "not_found", "message_de": "x", "message_en": "x"})


def settings(**overrides: Any) -> Settings:
    base: dict[str, Any] = {"login_failure_delay_s": 0, "secret_key": "test-secret-key-0123456789"}
    return Settings(**(base | overrides))


@pytest.fixture
def services() -> FakeServices:
    return FakeServices()


AppFactory = Callable[..., Any]


@pytest_asyncio.fixture
async def make_client(services: FakeServices, tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    """``await make_client(**settings)``: an httpx client on a fresh app (lifespan running);
    ``base_url`` picks the scheme the requests arrive with. The apps of one test share their
    sign-in generations file (like instances behind one proxy)."""
    opened: list[Any] = []

    async def make(base_url: str = "http://testserver", **overrides: Any) -> httpx.AsyncClient:
        app = build(settings(signins_file=tmp_path / "web-signins.json", **overrides), users=dict(USERS),
                    transport=httpx.MockTransport(services.handler)).http
        ctx = app.router.lifespan_context(app)
        await ctx.__aenter__()
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url=base_url)
        opened.append((ctx, client))
        return client

    yield make
    for ctx, client in reversed(opened):
        await client.aclose()
        await ctx.__aexit__(None, None, None)


@pytest_asyncio.fixture
async def client(make_client: Callable[..., Any]) -> httpx.AsyncClient:
    result: httpx.AsyncClient = await make_client()
    return result


def csrf_of(html: str) -> str:
    """The CSRF token in a rendered page."""
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "no CSRF token in the page"
    return m.group(1)


@dataclass
class Web:
    """A test's handle: the client, the fake services and the usual steps."""

    client: httpx.AsyncClient
    services: FakeServices
    make_client: Callable[..., Any]

    csrf_of = staticmethod(csrf_of)
    passwords = PASSWORDS

    async def sign_in(self, username: str, password: str | None = None,
                      client: httpx.AsyncClient | None = None) -> httpx.Response:
        c = client or self.client
        page = await c.get("/anmelden")
        return await c.post("/anmelden", data={"username": username, "password": password or PASSWORDS[username],
                                               "csrf_token": csrf_of(page.text)})

    async def post_form(self, page_url: str, action: str, data: dict[str, str]) -> httpx.Response:
        """Load ``page_url`` for its CSRF token, then post ``data`` to ``action``."""
        page = await self.client.get(page_url)
        return await self.client.post(action, data={**data, "csrf_token": csrf_of(page.text)})


@pytest_asyncio.fixture
async def web(client: httpx.AsyncClient, services: FakeServices, make_client: Callable[..., Any]) -> Web:
    return Web(client, services, make_client)
