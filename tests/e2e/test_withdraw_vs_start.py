"""Finding 8: a customer's withdrawal and a technician's start sent at the same moment both
succeeded (data erased, work not billed). Now exactly one wins, decided in one place: the
vault's claim on the request's outcome (docs/reliability.md, "Withdraw vs start").

Real processes (retention = the vault, intake, session) on a private NATS + PostgreSQL with the
per-service NATS users; 50 requests, each raced by a start and a withdrawal sent together.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from fw_devenv.pytest_plugin import FwEnv, ServiceProcess, start_all
from fw_devenv.testing import eventually
from fw_platform.bus import connect

RACES = 50
#: Both losers' codes are fixed texts with German and English messages. A start that lost may
#: also find the withdrawal's consequence already done: the request's data erased.
START_LOST = {"request_withdrawn", "request_erased"}
WITHDRAW_LOST = {"session_started"}


@pytest.fixture
def race_procs(fw_env: FwEnv) -> Iterator[dict[str, ServiceProcess]]:
    # 50 requests from one address in a moment: above intake's default per-address limit; and a
    # vault timeout that two busy cores cannot hit, so that every answer is a decision, not a 503.
    extra = {"FW_INTAKE_RATE_LIMIT_PER_MINUTE": "1000", "FW_INTAKE_VAULT_TIMEOUT_S": "20",
             "FW_SESSION_VAULT_TIMEOUT": "20"}
    procs = {svc: ServiceProcess(svc, fw_env, extra=extra) for svc in ("retention", "intake", "session")}
    try:
        start_all(list(procs.values()))
        yield procs
    finally:
        for p in procs.values():
            p.stop()


async def outcome_events(env: FwEnv) -> list[dict[str, Any]]:
    """SessionStarted and SupportRequestWithdrawn in the stream (read as admin)."""
    nc = await connect(env.nats_url, name="race-reader")
    try:
        js = nc.jetstream()
        info = await js.stream_info("FERNWARTUNG")
        out: list[dict[str, Any]] = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            msg = await js.get_msg("FERNWARTUNG", seq)
            if msg.subject in ("fw.session.session_started.v1", "fw.intake.support_request_withdrawn.v1"):
                out.append(json.loads(msg.data))
        return out
    finally:
        await nc.close()


async def test_withdraw_and_start_at_the_same_moment_never_both_succeed(
        fw_env: FwEnv, race_procs: dict[str, ServiceProcess]) -> None:
    intake, session = race_procs["intake"].url, race_procs["session"].url
    async with httpx.AsyncClient(timeout=60) as http:
        ids: list[str] = []
        for n in range(RACES):
            r = await http.post(intake + "/api/support-requests", json={
                "company": f"Wettlauf {n} GmbH", "contact_name": f"Erika Rennt{n}", "phone": f"+49301234{n:04d}",
                "terms_accepted": True, "terms_version": "2026-01"})
            assert r.status_code == 201, r.text
            ids.append(r.json()["request_id"])

        async def all_queued() -> bool:
            q = await http.get(session + "/api/queue")
            return q.status_code == 200 and set(ids) <= {x["request_id"] for x in q.json()}

        await eventually(all_queued, timeout=60, interval=0.2)

        async def race(n: int, request_id: str) -> tuple[httpx.Response, httpx.Response]:
            start = http.post(session + "/api/sessions", json={"request_id": request_id, "technician": "tech-01"})
            withdraw = http.post(intake + f"/api/support-requests/{request_id}/withdraw")
            # alternate which one is sent first: neither side may win by its place in the code
            if n % 2:
                w, s = await asyncio.gather(withdraw, start)
            else:
                s, w = await asyncio.gather(start, withdraw)
            return s, w

        results = await asyncio.gather(*(race(n, rid) for n, rid in enumerate(ids)))

    won = Counter()
    for rid, (start, withdraw) in zip(ids, results, strict=True):
        started, withdrawn = start.status_code == 201, withdraw.status_code == 200
        assert started != withdrawn, (rid, start.status_code, start.text, withdraw.status_code, withdraw.text)
        loser = withdraw if started else start
        assert loser.status_code == 409, loser.text
        body = loser.json()
        assert body["code"] in (WITHDRAW_LOST if started else START_LOST), body
        assert body["message_de"] and body["message_en"]
        assert "Wettlauf" not in loser.text and "Erika" not in loser.text
        won["start" if started else "withdraw"] += 1
    assert sum(won.values()) == RACES

    # the history agrees: per request exactly one outcome, the one that was answered
    async def all_outcomes() -> list[dict[str, Any]] | None:
        events = await outcome_events(fw_env)
        return events if len(events) >= RACES else None

    events = await eventually(all_outcomes, timeout=60, interval=0.2)
    per_request = Counter(e["request_id"] for e in events)
    assert set(per_request) == set(ids) and set(per_request.values()) == {1}, per_request
    starts = {e["request_id"] for e in events if e["event_type"] == "SessionStarted"}
    assert starts == {rid for rid, (s, _) in zip(ids, results, strict=True) if s.status_code == 201}
