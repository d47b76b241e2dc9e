"""The guarantees a chaos run checks, read from the stream and the databases (as admin)."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from nats.aio.client import Client

from fw_contracts import STREAM_NAME

SCHEMAS = ("intake", "session", "billing", "retention")


async def read_stream(nc: Client) -> list[dict[str, Any]]:
    """Every event in the stream, decoded as plain JSON (an ordered consumer, as admin)."""
    js = nc.jetstream()
    info = await js.stream_info(STREAM_NAME)
    out: list[dict[str, Any]] = []
    if info.state.messages == 0:
        return out
    sub = await js.subscribe("fw.>", ordered_consumer=True)
    try:
        while len(out) < info.state.messages:
            msg = await sub.next_msg(timeout=10)
            out.append(json.loads(msg.data))
    finally:
        await sub.unsubscribe()
    return out


async def consumers_idle(nc: Client) -> bool:
    """No durable consumer has anything pending or unacknowledged."""
    for info in await nc.jetstream().consumers_info(STREAM_NAME):
        if (info.num_pending or 0) or (info.num_ack_pending or 0):
            return False
    return True


@dataclass
class Report:
    """What the stream and the databases say, and which guarantees are broken."""

    counts: dict[str, int] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)
    parked: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations

    def fail(self, text: str) -> None:
        if len(self.violations) < 50:
            self.violations.append(text)


def _by(events: list[dict[str, Any]], event_type: str, key: str) -> Counter[str]:
    return Counter(e[key] for e in events if e["event_type"] == event_type)


async def check(events: list[dict[str, Any]], conn: asyncpg.Connection, *, accepted: set[str],
                sessions: dict[str, str]) -> Report:
    """``accepted``: request ids answered 201; ``sessions``: session id -> request id (started+ended)."""
    r = Report()
    types = Counter(e["event_type"] for e in events)
    r.counts.update({f"events.{t}": n for t, n in sorted(types.items())})
    ids = Counter(e["event_id"] for e in events)
    if dup := [i for i, n in ids.items() if n > 1]:
        r.fail(f"{len(dup)} event ids appear more than once in the stream, e.g. {dup[0]}")

    created = _by(events, "SupportRequestCreated", "request_id")
    for rid in accepted:
        if created[rid] != 1:
            r.fail(f"accepted request {rid}: {created[rid]} SupportRequestCreated")
    for rid, n in created.items():
        if n > 1:
            r.fail(f"request {rid}: {n} SupportRequestCreated")
    r.counts["requests.accepted_201"] = len(accepted)
    r.counts["requests.created_without_201_seen"] = len(set(created) - accepted)

    started = _by(events, "SessionStarted", "session_id")
    ended = _by(events, "SessionEnded", "session_id")
    invoiced = _by(events, "InvoiceIssued", "session_id")
    not_billed = _by(events, "SessionNotBilled", "session_id")
    # the first erasure step of each request (a kept delivery e-mail goes in a second step)
    erased = _by([e for e in events if e.get("scope") != "delivery_email"], "PersonalDataErased", "request_id")
    for sid, rid in sessions.items():
        if started[sid] != 1 or ended[sid] != 1:
            r.fail(f"session {sid}: {started[sid]} SessionStarted, {ended[sid]} SessionEnded")
        if invoiced[sid] + not_billed[sid] != 1:
            r.fail(f"session {sid}: {invoiced[sid]} InvoiceIssued + {not_billed[sid]} SessionNotBilled")
        if erased[rid] != 1:
            r.fail(f"request {rid} of ended session {sid}: {erased[rid]} PersonalDataErased")
    for name, counter in (("SessionStarted", started), ("SessionEnded", ended), ("InvoiceIssued", invoiced),
                          ("SessionNotBilled", not_billed), ("PersonalDataErased", erased)):
        if extra := [k for k, n in counter.items() if n > 1]:
            r.fail(f"{len(extra)} x {name} more than once, e.g. {extra[0]}")
    if unknown := set(started) - set(sessions):
        r.fail(f"{len(unknown)} sessions started that the driver never learned of")
    r.counts["sessions.ended"] = len(sessions)

    await _check_invoices(events, conn, r)
    await _check_erasures(conn, set(sessions.values()), r)
    await _check_infrastructure(conn, r)
    return r


async def _check_invoices(events: list[dict[str, Any]], conn: asyncpg.Connection, r: Report) -> None:
    numbers = [e["invoice_number"] for e in events if e["event_type"] == "InvoiceIssued"]
    if len(numbers) != len(set(numbers)):
        r.fail("an invoice number was issued twice in the stream")
    rows = await conn.fetch("SELECT number, year, seq FROM billing.invoices ORDER BY year, seq")
    if {x["number"] for x in rows} != set(numbers):
        r.fail(f"billing.invoices ({len(rows)}) and InvoiceIssued events ({len(numbers)}) differ")
    per_year: dict[int, list[int]] = defaultdict(list)
    for x in rows:
        per_year[x["year"]].append(x["seq"])
    counters = {x["year"]: x["last_seq"] for x in await conn.fetch("SELECT year, last_seq FROM billing.invoice_counters")}
    for year, seqs in per_year.items():
        if seqs != list(range(1, len(seqs) + 1)):
            r.fail(f"invoice numbers of {year} are not 1..{len(seqs)} without gaps")
        if counters.get(year) != len(seqs):
            r.fail(f"invoice counter of {year} is {counters.get(year)}, {len(seqs)} invoices exist")
    r.counts["invoices"] = len(rows)


async def _check_erasures(conn: asyncpg.Connection, due: set[str], r: Report) -> None:
    erased = {str(x["request_id"]) for x in await conn.fetch("SELECT request_id FROM retention.erasures")}
    if missing := due - erased:
        r.fail(f"{len(missing)} due erasures not recorded by retention, e.g. {next(iter(missing))}")
    left = await conn.fetchval("SELECT count(*) FROM retention.vault_entries WHERE request_id = ANY($1::uuid[])",
                               list(due))
    if left:
        r.fail(f"{left} vault entries still hold personal data of erased requests")
    r.counts["erasures.recorded"] = len(erased)


async def _check_infrastructure(conn: asyncpg.Connection, r: Report) -> None:
    for schema in SCHEMAS:
        depth = await conn.fetchval(f"SELECT count(*) FROM {schema}.outbox")
        if depth:
            r.fail(f"{schema}.outbox still holds {depth} events")
        for row in await conn.fetch(f"SELECT consumer, reason FROM {schema}.dead_letters"):
            r.parked.append((row["consumer"], row["reason"]))
            if not (row["reason"] or "").strip():
                r.fail(f"{schema}: a parked message without a reason ({row['consumer']})")
    r.counts["parked"] = len(r.parked)
