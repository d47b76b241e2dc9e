"""The office's people, through Caddy over HTTPS: a customer fills in the form, a technician
takes the request from the queue and ends the session, the office downloads the invoice PDF,
the privacy/office desk erases a customer account -- the pages and forms web serves."""

from __future__ import annotations

import collections
import re
import secrets
import ssl
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from deployment import Deployment
from engine import log

from fw_devenv.testing import eventually_sync

BASE = "https://localhost"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def markers() -> dict[str, str]:
    """Unique personal data for one customer (searched for in the volumes later)."""
    tag = secrets.token_hex(4).upper()
    return {
        "company": f"Depfirma{tag} GmbH",
        "contact_name": f"Erika{tag} Musterfrau",
        "phone": f"030{secrets.randbelow(10**8):08d}",
        "email": f"erika{tag.lower()}@example.org",
        "street": f"Teststrasse{tag} 1",
    }


def needles(m: dict[str, str]) -> list[bytes]:
    """What a raw scan looks for: the unique parts of the markers."""
    return [m["company"].encode(), m["contact_name"].encode(), m["street"].encode(), m["email"].encode(),
            m["phone"][3:].encode()]


def csrf_of(html: str) -> str:
    m = _CSRF.search(html)
    assert m, "no csrf_token in the page"
    return m.group(1)


@dataclass
class Browser:
    """One person's cookie jar against https://localhost (Caddy's internal CA)."""

    ca: Path
    client: httpx.Client | None = None

    def __post_init__(self) -> None:
        self.client = httpx.Client(base_url=BASE, verify=ssl.create_default_context(cafile=str(self.ca)), timeout=30, follow_redirects=False)

    @property
    def http(self) -> httpx.Client:
        assert self.client is not None
        return self.client

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.http.get(path, **kw)

    def post_form(self, page: str, action: str, data: dict[str, str]) -> httpx.Response:
        html = self.get(page).text
        return self.http.post(action, data={**data, "csrf_token": csrf_of(html)})

    def sign_in(self, username: str, password: str) -> None:
        r = self.post_form("/anmelden", "/anmelden", {"username": username, "password": password})
        assert r.status_code == 303, (r.status_code, r.text[:500])

    def close(self) -> None:
        self.http.close()


def send_form(ca: Path, m: dict[str, str]) -> str:
    """The customer's form; returns the ticket shown on /danke."""
    customer = Browser(ca)
    try:
        page = customer.get("/")
        assert page.status_code == 200, page.text[:500]
        terms = re.search(r'name="terms_version" value="([^"]+)"', page.text)
        assert terms, "the form shows no terms version"
        data = {"company": m["company"], "contact_name": m["contact_name"], "phone": m["phone"],
                "email": m["email"], "street": m["street"], "postal_code": "10115", "city": "Berlin",
                "country": "DE", "customer_type": "business", "terms_accepted": "on",
                "terms_version": terms.group(1), "csrf_token": csrf_of(page.text)}
        r = customer.http.post("/", data=data)
        for _ in range(5):
            # 503: a dependency was briefly away (e.g. the NATS node the vault's connection used was
            # killed); nothing was stored, and the customer sends the form again, as the page asks.
            # A request stored despite the 503 would show as a double in the exactly-once checks.
            if r.status_code != 503:
                break
            log("form answered 503 (nothing stored): sending it again in 3 s")
            time.sleep(3)
            page = customer.get("/")
            data["csrf_token"] = csrf_of(page.text)
            r = customer.http.post("/", data=data)
        assert r.status_code == 303 and r.headers["location"] == "/danke", (r.status_code, r.text[:800])
        thanks = customer.get("/danke").text
        ticket = re.search(r'id="ticket"[^>]*>(?:<span[^>]*>[^<]*</span>)?\s*([^<\s]+)\s*</p>', thanks)
        assert ticket, f"no ticket on /danke: {thanks[:1500]}"
        return ticket.group(1)
    finally:
        customer.close()


@dataclass
class Lifecycle:
    ticket: str
    request_id: str
    session_id: str
    invoice: str


def take_from_queue(tech: Browser, ticket: str, timeout: float = 90) -> tuple[str, str]:
    """Start the session of ``ticket`` from the queue; ``(request_id, session_id)``."""

    def queued() -> str | None:
        r = tech.get("/technik/warteschlange")
        assert r.status_code == 200, (r.status_code, r.text[:300])
        m = re.search(r'name="request_id" value="([0-9a-f-]{36})">\s*<input type="hidden" name="ticket" value="'
                      + re.escape(ticket) + '"', r.text)
        return m.group(1) if m else None

    request_id = eventually_sync(queued, timeout=timeout, what=f"ticket {ticket} in the queue")
    r = tech.post_form("/technik", "/technik/sitzungen", {"request_id": request_id, "ticket": ticket})
    assert r.status_code == 303 and "/technik/sitzungen/" in r.headers["location"], (r.status_code, r.text[:500])
    return request_id, r.headers["location"].rsplit("/", 1)[1]


def end_session(tech: Browser, session_id: str, *, statement: str | None = None) -> None:
    page = f"/technik/sitzungen/{session_id}"
    if statement:
        r = tech.post_form(page, f"{page}/erklaerung", {"statement": statement})
        assert r.status_code == 303, (r.status_code, r.text[:500])
    r = tech.post_form(page, f"{page}/beenden", {})
    assert r.status_code == 303, (r.status_code, r.text[:500])


def wait_invoice(tech: Browser, session_id: str, timeout: float = 120) -> str:
    def invoiced() -> str | None:
        r = tech.get(f"/technik/sitzungen/{session_id}/abrechnung")
        m = re.search(r'id="invoice-number">([^<]+)<', r.text)
        assert "Nicht abgerechnet" not in r.text, r.text
        return m.group(1).strip() if m else None

    return eventually_sync(invoiced, timeout=timeout, what=f"invoice of session {session_id}")


def download_pdf(desk: Browser, number: str) -> bytes:
    page = desk.get(f"/buero/rechnungen/{number}")
    assert page.status_code == 200 and number in page.text, (page.status_code, page.text[:500])
    r = desk.get(f"/buero/rechnungen/{number}/pdf")
    assert r.status_code == 200, (r.status_code, r.text[:500])
    assert r.headers["content-type"].startswith("application/pdf") and r.content.startswith(b"%PDF-")
    return r.content


def lifecycle(ca: Path, tech: Browser, desk: Browser, m: dict[str, str], *,
              statement: str | None = None) -> Lifecycle:
    """form -> queue -> session -> end -> invoice (PDF downloaded by the office)."""
    ticket = send_form(ca, m)
    request_id, session_id = take_from_queue(tech, ticket)
    end_session(tech, session_id, statement=statement)
    number = wait_invoice(tech, session_id)
    download_pdf(desk, number)
    return Lifecycle(ticket, request_id, session_id, number)


def customer_number(desk: Browser, invoice: str) -> str:
    """The customer account an invoice names (a promoted customer's)."""
    page = desk.get(f"/buero/rechnungen/{invoice}").text
    m = re.search(r'href="/buero/kunden/(K[0-9]+)"', page)
    assert m, f"invoice {invoice} names no customer account"
    return m.group(1)


def erase_customer(desk: Browser, number: str) -> None:
    """The office erases a customer account (GDPR Art. 17) on its page."""
    page = desk.get(f"/buero/kunden/{number}")
    assert page.status_code == 200, (page.status_code, page.text[:300])
    reason = re.search(r'<option value="([a-z_]+)">', page.text)
    assert reason, "no erasure reason offered"
    r = desk.http.post(f"/buero/kunden/{number}/loeschen",
                       data={"reason": reason.group(1), "confirmed": "on", "csrf_token": csrf_of(page.text)})
    assert r.status_code == 303, (r.status_code, r.text[:300])
    after = desk.get(r.headers["location"]).text
    assert "sind gelöscht" in after, after[:1500]


#: Event types one lifecycle produces exactly once.
ONCE = ("SupportRequestCreated", "SessionStarted", "SessionEnded", "InvoiceIssued", "PersonalDataErased")


class Office:
    """The running deployment plus the people using it."""

    def __init__(self, dep: Deployment, ca: Path) -> None:
        self.dep = dep
        self.ca = ca
        self.tls = ssl.create_default_context(cafile=str(ca))
        self.tech = Browser(ca)
        self.desk = Browser(ca)
        self.signed_in = False
        self.done: list[Lifecycle] = []
        self.marks: list[dict[str, str]] = []

    def sign_in(self) -> None:
        self.tech = Browser(self.ca)
        self.desk = Browser(self.ca)
        self.tech.sign_in("tech-01", self.dep.passwords["tech-01"])
        self.desk.sign_in("buero", self.dep.passwords["buero"])

    def run_lifecycle(self, **kw: str) -> Lifecycle:
        return self.lifecycle_for(markers(), **kw)

    def lifecycle_for(self, m: dict[str, str], **kw: str) -> Lifecycle:
        lc = lifecycle(self.ca, self.tech, self.desk, m, **kw)
        self.done.append(lc)
        self.marks.append(m)
        return lc

    def events_by_type(self) -> dict[str, list[dict]]:
        out: dict[str, list[dict]] = collections.defaultdict(list)
        for ev in self.dep.stream_events():
            out[ev["body"]["event_type"]].append(ev)
        return out

    def assert_each_lifecycle_once(self) -> None:
        """Every lifecycle's events exactly once; no message id twice in the stream."""
        events = self.dep.stream_events()
        ids = [e["msg_id"] for e in events]
        dupes = [i for i, n in collections.Counter(ids).items() if n > 1]
        assert not dupes, f"message ids twice in the stream: {dupes[:5]}"
        for lc in self.done:
            mine = [e["body"]["event_type"] for e in events
                    if e["body"].get("request_id") == lc.request_id or e["body"].get("session_id") == lc.session_id]
            counts = collections.Counter(mine)
            for t in ONCE:
                assert counts[t] == 1, (lc, t, counts)

    def wait_erased(self, lc: Lifecycle) -> None:
        def erased() -> bool:
            status, body = self.dep.api("retention", "GET", f"/api/requests/{lc.request_id}/status")
            return status == 200 and isinstance(body, dict) and body.get("state") == "erased"

        eventually_sync(erased, timeout=60, what=f"request {lc.request_id} erased")
