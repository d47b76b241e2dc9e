"""Helpers of the privacy tests: marker data, the office of real services, and the raw scans.

Markers are unique per request and per field; each contains a random token, so a find names the
field that leaked. Needles cover the encodings a value can take on its way into storage: as
typed and normalised (phone), upper/lower case, JSON escaping, URL encoding, hex (bytea in a
dump), base64 (bytes in JSON, NATS API replies) and UTF-16.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import secrets
import string
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import ahocorasick
import httpx

from fw_devenv import pg_bin_dir
from fw_devenv.provision import database_dsn
from fw_devenv.pytest_plugin import FwEnv, ServiceProcess, billing_tariff_env
from fw_devenv.testing import eventually

SERVICES = ("retention", "intake", "session", "billing")

#: Bills every session (no free threshold). One started 4-second interval costs 10 + 150 = 160
#: EUR net = 190.40 gross (a Kleinbetragsrechnung); two intervals = 368.90 gross (full invoice).
SCAN_TARIFF = """
version = "scan-1"
base_fee = 10.00
interval_seconds = 4
rate_per_interval = 150.00
min_billed_seconds = 1
free_threshold_seconds = 0
vat_rate = 0.19
timezone = "Europe/Berlin"
"""
#: A session this long is billed with two intervals (> 250 EUR gross): a full invoice.
LONG_SESSION_S = 5.5


def tariff_env(env: FwEnv) -> dict[str, str]:
    return billing_tariff_env(env.work_dir, SCAN_TARIFF)


def _token(n: int = 10) -> str:
    return "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(n))


@dataclass
class Markers:
    """One request's personal data, every field with its own random token."""

    label: str
    tokens: dict[str, str] = field(default_factory=lambda: {
        f: _token() for f in ("company", "contact_name", "email", "street", "city", "statement")})
    subscriber: str = field(default_factory=lambda: f"{secrets.randbelow(9 * 10**7) + 10**7:08d}")

    @property
    def company(self) -> str:
        return f"Zylinder{self.tokens['company']} GmbH"

    @property
    def contact_name(self) -> str:
        return f"Jürgen Müller{self.tokens['contact_name']}"

    @property
    def email(self) -> str:
        return f"post.{self.tokens['email'].lower()}@example.org"

    @property
    def street(self) -> str:
        return f"Ölweg{self.tokens['street']} 12"

    @property
    def city(self) -> str:
        return f"Stadt{self.tokens['city']}"

    @property
    def statement(self) -> str:
        return f"Ja, ich möchte Stammkunde werden {self.tokens['statement']}"

    @property
    def phone_typed(self) -> str:
        """As the caller types it (national, with spaces)."""
        return f"030 {self.subscriber[:4]} {self.subscriber[4:]}"

    @property
    def phone_e164(self) -> str:
        return f"+4930{self.subscriber}"

    def address(self) -> dict[str, str]:
        return {"street": self.street, "postal_code": "10115", "city": self.city, "country": "DE"}

    def body(self, *, address: bool = False, email: bool = True) -> dict[str, Any]:
        """The intake form."""
        out: dict[str, Any] = {"company": self.company, "contact_name": self.contact_name,
                               "phone": self.phone_typed, "terms_accepted": True, "terms_version": "2026-01"}
        if email:
            out["email"] = self.email
        if address:
            out["address"] = self.address()
        return out

    def values(self) -> dict[str, str]:
        """field -> the strings that must not appear (the phone in every form it can take)."""
        digits = self.phone_e164[1:]
        return {
            **{f"{f}_token": t for f, t in self.tokens.items()},
            "company": self.company, "contact_name": self.contact_name, "email": self.email,
            "street": self.street, "city": self.city, "statement": self.statement,
            "phone_e164": self.phone_e164, "phone_digits": digits, "phone_national": "030" + self.subscriber,
            "phone_typed": self.phone_typed, "phone_0049": "0049" + digits[2:],
        }


def needles(value: str) -> list[tuple[str, bytes, bool]]:
    """``(encoding, bytes, case_insensitive)`` forms of ``value`` to look for in raw storage."""
    raw = value.encode()
    out = [("plain", raw.lower(), True), ("json", json.dumps(value)[1:-1].encode().lower(), True),
           ("url", quote(value).encode().lower(), True), ("url+", quote_plus(value).encode().lower(), True),
           ("hex", raw.hex().encode(), True), ("utf16", value.lower().encode("utf-16-le"), True)]
    for shift in range(3):
        enc = base64.b64encode(b"\0" * shift + raw)
        # drop the quanta touched by the padding prefix and by the end: what stays is stable
        start, end = 4 * ((shift + 2) // 3), len(enc) - 4
        if end - start >= 8:
            out.append((f"base64/{shift}", enc[start:end], False))
    return out


class MarkerSearch:
    """Every needle of some markers in one pass over a blob (Aho-Corasick: ~900 needles for six
    markers; one ``needle in blob`` each took 7-12 s of CPU per 16 MB WAL segment). Bytes are
    searched as latin-1 text, one character per byte; case-insensitive needles in the
    ASCII-lowered blob, as ``bytes.lower`` lowers it."""

    def __init__(self, markers: Iterable[Markers]) -> None:
        self.hits: list[str] = []  # every label.field(encoding), in marker/field/encoding order
        self.automata = {True: ahocorasick.Automaton(), False: ahocorasick.Automaton()}
        for m in markers:
            for fld, value in m.values().items():
                for enc, needle, ci in needles(value):
                    if not needle:
                        continue
                    key = needle.decode("latin-1")
                    hit = f"{m.label}.{fld}({enc})"
                    self.hits.append(hit)
                    automaton = self.automata[ci]
                    if key in automaton:
                        automaton.get(key).append(hit)
                    else:
                        automaton.add_word(key, [hit])
        for automaton in self.automata.values():
            if len(automaton):
                automaton.make_automaton()

    def find(self, blob: bytes) -> list[str]:
        found: set[str] = set()
        for ci, automaton in self.automata.items():
            if len(automaton):
                for _, hits in automaton.iter((blob.lower() if ci else blob).decode("latin-1")):
                    found.update(hits)
        return [h for h in self.hits if h in found]


def find(blob: bytes, markers: Iterable[Markers]) -> list[str]:
    """``label.field(encoding)`` of every marker found in ``blob``."""
    return MarkerSearch(markers).find(blob)


def find_slow(blob: bytes, markers: Iterable[Markers]) -> list[str]:
    """:func:`find` one needle at a time: the reference its test compares it with."""
    lower = blob.lower()
    hits = []
    for m in markers:
        for fld, value in m.values().items():
            for enc, needle, ci in needles(value):
                if needle and needle in (lower if ci else blob):
                    hits.append(f"{m.label}.{fld}({enc})")
    return hits


@dataclass
class Office:
    """The four services as real processes, an HTTP client and the environment."""

    env: FwEnv
    procs: dict[str, ServiceProcess]
    http: httpx.AsyncClient
    extra: dict[str, dict[str, str]]
    retired_logs: list[Path] = field(default_factory=list)

    def url(self, service: str, path: str) -> str:
        return self.procs[service].url + path

    def restart(self, service: str, **extra: str) -> None:
        """Stop ``service`` and start it again with ``extra`` environment (its log is appended)."""
        self.procs[service].stop()
        env = {**self.extra.get(service, {}), **extra}
        self.procs[service] = ServiceProcess(service, self.env, extra=env).start(timeout=60)

    def stop(self, service: str) -> None:
        self.procs[service].stop()

    def log_files(self) -> list[Path]:
        return sorted({p.log_path for p in self.procs.values()} | {self.env.nats.log_file})


def start_office(env: FwEnv, extra: dict[str, dict[str, str]] | None = None) -> dict[str, ServiceProcess]:
    procs: dict[str, ServiceProcess] = {}
    try:
        for svc in SERVICES:
            procs[svc] = ServiceProcess(svc, env, extra=(extra or {}).get(svc)).start(timeout=60)
    except BaseException:
        for p in procs.values():
            p.stop()
        raise
    return procs


# ------------------------------------------------------------------ PostgreSQL tooling
def admin_db_dsn(env: FwEnv) -> str:
    return database_dsn(env.admin_dsn, env.database)


def pg_tool(tool: str, *args: str, stdin: bytes | None = None) -> bytes:
    """Run a client binary of the embedded PostgreSQL (clients may run as root); stdout."""
    proc = subprocess.run([str(pg_bin_dir() / tool), *args], input=stdin, capture_output=True, timeout=300,
                          env={k: v for k, v in os.environ.items() if not k.startswith("PG")}, check=False)
    if proc.returncode != 0:
        raise AssertionError(f"{tool} failed ({proc.returncode}): {proc.stderr.decode()[-2000:]}")
    return proc.stdout


def pg_dump(env: FwEnv, *extra: str) -> bytes:
    """A plain-SQL dump (as a backup would be taken) of the test database."""
    return pg_tool("pg_dump", f"--dbname={admin_db_dsn(env)}", *extra)


def psql(env: FwEnv, sql: bytes) -> None:
    pg_tool("psql", "--no-psqlrc", "--quiet", "--set=ON_ERROR_STOP=1", f"--dbname={admin_db_dsn(env)}", "-f", "-",
            stdin=sql)


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


# ------------------------------------------------------------------ lifecycle steps over HTTP
async def create_request(office: Office, m: Markers, **body: bool) -> str:
    r = await office.http.post(office.url("intake", "/api/support-requests"), json=m.body(**body))
    assert r.status_code == 201, r.text
    return str(r.json()["request_id"])


async def start_session(office: Office, request_id: str) -> str:
    async def queued() -> bool:
        q = await office.http.get(office.url("session", "/api/queue"))
        return q.status_code == 200 and any(x["request_id"] == request_id for x in q.json())

    await eventually(queued, what="request in the queue", timeout=30)
    r = await office.http.post(office.url("session", "/api/sessions"),
                               json={"request_id": request_id, "technician": "tech-01"})
    assert r.status_code == 201, r.text
    return str(r.json()["session_id"])


#: The technician the kit starts sessions as, named on every later call (session's ownership).
ACTING = {"Fw-Technician": "tech-01"}


async def end_session(office: Office, session_id: str, after_s: float = 0.0) -> None:
    await asyncio.sleep(after_s)
    r = await office.http.post(office.url("session", f"/api/sessions/{session_id}/end"), headers=ACTING)
    assert r.status_code == 200, r.text


async def invoice_of(office: Office, session_id: str) -> dict[str, Any]:
    async def found() -> list[dict[str, Any]]:
        r = await office.http.get(office.url("billing", "/api/invoices"), params={"session_id": session_id})
        assert r.status_code == 200, r.text  # an empty list until billing has issued it
        return list(r.json()["items"])

    [result] = await eventually(found, what="invoice issued", timeout=30)
    return result


async def status_of(office: Office, request_id: str) -> dict[str, Any]:
    r = await office.http.get(office.url("retention", f"/api/requests/{request_id}/status"))
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def wait_erased(office: Office, request_id: str, timeout: float = 30.0) -> dict[str, Any]:
    async def erased() -> dict[str, Any] | None:
        s = await status_of(office, request_id)
        return s if s["state"] == "erased" else None

    result: dict[str, Any] = await eventually(erased, timeout=timeout, what=f"request {request_id} erased")
    return result
