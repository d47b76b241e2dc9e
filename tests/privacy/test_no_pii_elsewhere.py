"""No personal data anywhere else (issue item 9): error responses, dead letters, metrics, NATS.

* Every route of every service (read from its OpenAPI document, so new routes are covered) gets
  marker values in path, query and body, as wrong types, too long, unknown fields and broken
  JSON: no response may echo a marker (pydantic's ``input``!).
* Poisoned messages carrying markers are published on every event subject: every consumer parks
  them, and neither ``dead_letters`` nor the logs contain a marker.
* During a whole lifecycle a wiretap on ``>`` records every NATS subject, reply subject and
  header (vault requests included): none carries a marker; nor do the stream's stored messages'
  subjects and headers, nor ``/metrics``, nor any log line.
"""

from __future__ import annotations

import json
from typing import Any

import asyncpg
import pytest
from privacy_kit import (
    SERVICES,
    Markers,
    Office,
    admin_db_dsn,
    create_request,
    end_session,
    find,
    invoice_of,
    start_session,
    wait_erased,
)

from fw_contracts import BY_SUBJECT, Header
from fw_devenv.pytest_plugin import FwEnv
from fw_devenv.testing import eventually
from fw_platform.bus import connect

pytestmark = pytest.mark.e2e

SCHEMAS = ("intake", "session", "billing", "retention")


def _schema(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    return _schema(spec, spec["components"]["schemas"][ref.rsplit("/", 1)[-1]]) if ref else node


def _marker_object(spec: dict[str, Any], schema: dict[str, Any], values: list[str], depth: int = 0) -> dict[str, Any]:
    """Every property set to a marker (nested objects too), plus unknown fields named by markers."""
    out: dict[str, Any] = {}
    for i, (name, prop) in enumerate(sorted(_schema(spec, schema).get("properties", {}).items())):
        options = [_schema(spec, o) for o in prop.get("anyOf", [prop])]
        if depth < 2 and any(o.get("properties") for o in options):
            out[name] = _marker_object(spec, next(o for o in options if o.get("properties")), values, depth + 1)
        else:
            out[name] = values[i % len(values)]
    out["unexpected"] = values[0]
    out[values[1]] = values[2]  # a marker as a key: "extra_forbidden" must not echo it either
    return out


def attacks(spec: dict[str, Any], m: Markers) -> list[tuple[str, str, dict[str, Any]]]:
    """``(method, path, httpx kwargs)`` for every operation, with markers everywhere."""
    values = [m.company, m.contact_name, m.email, m.phone_e164, m.street, m.statement]
    out = []
    for template, ops in spec["paths"].items():
        for method, op in ops.items():
            path = template
            for p in op.get("parameters", []):
                if p["in"] == "path":
                    path = path.replace("{" + p["name"] + "}", m.company.replace(" ", "%20"))
            query = {p["name"]: m.contact_name for p in op.get("parameters", []) if p["in"] == "query"}
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            variants: list[dict[str, Any]] = [{"params": query}]
            if body is not None or method in ("post", "put", "patch"):
                obj = _marker_object(spec, body or {}, values)
                variants += [{"params": query, "json": obj}, {"json": values}, {"json": m.statement * 50},
                             {"content": b'{"company": "' + m.company.encode() + b'",',
                              "headers": {"content-type": "application/json"}},
                             {"json": {k: {"nested": v} for k, v in obj.items() if isinstance(v, str)}}]
                # the same with the path's own ids valid-looking, so the body is what fails
                valid = template
                for p in op.get("parameters", []):
                    if p["in"] == "path":
                        valid = valid.replace("{" + p["name"] + "}", "00000000-0000-4000-8000-000000000000")
                out += [(method, valid, {"json": obj})]
            out += [(method, path, v) for v in variants]
    return out


async def test_no_response_echoes_input(office: Office) -> None:
    m = Markers("echo")
    findings: list[str] = []
    checked = 0
    for svc in SERVICES:
        spec = (await office.http.get(office.url(svc, "/openapi.json"))).json()
        for method, path, kwargs in attacks(spec, m):
            r = await office.http.request(method.upper(), office.url(svc, path), **kwargs)
            checked += 1
            blob = r.content + repr(sorted(r.headers.items())).encode()
            if hits := find(blob, [m]):
                findings.append(f"{svc} {method.upper()} {path} -> {r.status_code}: {sorted(set(hits))[:3]}")
            if r.status_code == 422:
                body = r.json()
                assert body["code"] == "invalid_input" and body["message_de"], (svc, path, body)
                assert all(set(e) == {"field", "code", "message_de", "message_en"} for e in body["errors"])
    assert checked > 100
    findings.extend(f"log {path.name}: {sorted(set(hits))[:3]}" for path in office.log_files()
                    if (hits := find(path.read_bytes(), [m])))
    assert not findings, "input echoed:\n" + "\n".join(findings)


async def poison(env: FwEnv, m: Markers) -> int:
    """Publish broken messages with markers on every event subject; returns how many."""
    nc = await connect(env.nats_url, name="poisoner")
    js = nc.jetstream()
    n = 0
    try:
        for subject, cls in BY_SUBJECT.items():
            bodies = [
                json.dumps({"event_type": cls.__name__, "schema_version": 1, "company": m.company,
                            m.contact_name: m.phone_e164}).encode(),
                json.dumps({"event_type": m.company.replace(" ", ""), "schema_version": 1}).encode(),
                json.dumps({"event_type": cls.__name__, "schema_version": m.street}).encode(),
                b"not json " + m.email.encode(),
            ]
            for body in bodies:
                await js.publish(subject, body, headers={Header.MSG_ID: f"poison-{n}"})
                n += 1
    finally:
        await nc.close()
    return n


async def test_dead_letters_metrics_nats_and_logs_hold_no_marker(office: Office, fw_env: FwEnv) -> None:
    m = Markers("wire")
    seen: list[tuple[str, str, dict[str, str]]] = []
    tap = await connect(fw_env.nats_url, name="wiretap")

    async def record(msg: Any) -> None:
        seen.append((msg.subject, msg.reply or "", dict(msg.headers or {})))

    await tap.subscribe(">", cb=record)
    await tap.flush()
    try:
        rid = await create_request(office, m, address=True)
        sid = await start_session(office, rid)
        r = await office.http.post(office.url("session", f"/api/sessions/{sid}/promotion"),
                                   json={"statement": m.statement}, headers={"Fw-Technician": "tech-01"})
        assert r.status_code == 201, r.text
        await end_session(office, sid)
        await invoice_of(office, sid)
        await wait_erased(office, rid)
        await office.http.get(office.url("retention", f"/api/requests/{rid}/export"))
        await tap.flush()
    finally:
        await tap.close()
    assert any(s.startswith("vault.v1.") for s, _, _ in seen), "the wiretap saw no vault traffic"
    wire_hits = [f"{s} {rp} {h}" for s, rp, h in seen if find(f"{s} {rp} {json.dumps(h)}".encode(), [m])]
    assert not wire_hits, wire_hits[:5]

    # poisoned messages: every consumer parks them, with a reason that holds no value
    sent = await poison(fw_env, m)
    admin = await asyncpg.connect(admin_db_dsn(fw_env))
    try:
        async def parked() -> dict[str, int] | None:
            counts = {s: await admin.fetchval(f"SELECT count(*) FROM {s}.dead_letters") for s in SCHEMAS}
            return counts if all(c >= 4 for c in counts.values()) else None

        counts = await eventually(parked, timeout=60, what="poisoned messages parked by every service")
        rows = [dict(r) for s in SCHEMAS for r in await admin.fetch(f"SELECT * FROM {s}.dead_letters")]
    finally:
        await admin.close()
    assert sent >= 4 and sum(counts.values()) >= 16
    assert not find(repr(rows).encode(), [m]), [r["reason"] for r in rows if find(repr(r).encode(), [m])]

    for svc in SERVICES:
        metrics = await office.http.get(office.url(svc, "/metrics"))
        assert metrics.status_code == 200 and "fw_http_request_seconds" in metrics.text
        assert not find(metrics.content, [m]), svc

    nc = await connect(fw_env.nats_url, name="stream-reader")
    try:
        js = nc.jetstream()
        info = await js.stream_info("FERNWARTUNG")
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            msg = await js.get_msg("FERNWARTUNG", seq)
            meta = f"{msg.subject} {json.dumps(msg.headers or {})}".encode()
            assert not find(meta, [m]), msg.subject
            if not (msg.headers or {}).get(Header.MSG_ID, "").startswith("poison-"):
                assert not find(msg.data or b"", [m]), msg.subject  # our own events: not even the body
    finally:
        await nc.close()

    for svc in list(office.procs):
        office.stop(svc)  # waits for the exit: every log line is written
    for path in office.log_files():
        assert not find(path.read_bytes(), [m]), path.name
