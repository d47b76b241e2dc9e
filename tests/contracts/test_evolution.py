"""Contract evolution, worked example: ``SessionEnded`` v2 adds ``billable_hint``.

Test-only: the v2 model and its upcaster exist only inside these tests (registered in the live
registry with ``monkeypatch``), so no producer emits v2. ``docs/contract-evolution.md`` is the
procedure for doing it for real; this file shows that it holds:

* an old v1 message still decodes, upcast to v2;
* consumers written for v1 keep working: reporting's real fact extraction, unchanged, and every
  declared consumer's recorded expectations against the v2 schema;
* a mixed v1/v2 history replays and validates — through the platform's real durable consumer on
  a real stream into reporting's real projection;
* and what goes wrong if the rollout order is not kept (a v2 message at a v1-only build).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import pytest

from fw_contracts import BY_TYPE, Event, Header, UndecodableEvent, decode, registry
from fw_contracts.events import SessionEnded, SessionStarted
from fw_contracts.schemas import schema_file_name
from fw_contracts_docs import compat
from fw_contracts_docs.services import load_contracts
from fw_devenv.pytest_plugin import FwEnv
from fw_devenv.testing import eventually
from fw_platform.bus import connect
from fw_platform.consumer import EventConsumer
from fw_platform.db import create_pool, migrate
from fw_reporting.adapters.sql import SqlFactStore, SqlReportSource
from fw_reporting.application.projections import handlers as reporting_handlers
from fw_reporting.application.reports import build_report
from fw_reporting.bootstrap import MIGRATIONS
from fw_reporting.domain.facts import SessionEndFact, facts_of

EXPECTATIONS = Path(__file__).resolve().parent / "consumer_expectations.json"


class SessionEndedV2(SessionEnded):
    """v2: adds ``billable_hint`` — the technician's view whether the session should be billed.

    ``None`` = not given; every event recorded before v2 is upcast with ``None`` (v1 did not ask),
    never with a guessed value.
    """

    schema_version: Literal[2] = 2  # type: ignore[assignment]
    billable_hint: bool | None = None


# Same name as the class it replaces: subject and event_type stay "session_ended"/"SessionEnded".
SessionEndedV2.__name__ = SessionEndedV2.__qualname__ = "SessionEnded"


def upcast_session_ended_v1(data: dict[str, Any]) -> dict[str, Any]:
    """v1 -> v2: the hint did not exist; say so (None) rather than invent one."""
    return {**data, "schema_version": 2, "billable_hint": None}


@pytest.fixture
def v2_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    """The registry as it would be after the bump (only for the duration of one test)."""
    monkeypatch.setitem(registry.BY_TYPE, "SessionEnded", SessionEndedV2)
    monkeypatch.setitem(registry.BY_SUBJECT, SessionEndedV2.subject(), SessionEndedV2)
    monkeypatch.setitem(registry.UPCASTERS, ("SessionEnded", 1), upcast_session_ended_v1)


T0 = datetime(2026, 4, 1, 8, 0, tzinfo=UTC)


def v1(n: int, seconds: int) -> SessionEnded:
    start = T0 + timedelta(hours=n)
    return SessionEnded(session_id=uuid.uuid4(), request_id=uuid.uuid4(), technician="tech-01",
                        started_at=start, ended_at=start + timedelta(seconds=seconds),
                        duration_seconds=seconds, occurred_at=start + timedelta(seconds=seconds))


def v2(n: int, seconds: int, hint: bool) -> SessionEndedV2:
    old = v1(n, seconds)
    return SessionEndedV2(**{k: v for k, v in old.__dict__.items() if k != "schema_version"}, billable_hint=hint)


def test_the_example_keeps_subject_and_type(v2_registered: None) -> None:
    assert SessionEndedV2.subject() == "fw.session.session_ended.v2"
    assert SessionEnded.subject() == "fw.session.session_ended.v1"
    assert BY_TYPE["SessionEnded"] is SessionEndedV2


def test_an_old_v1_message_decodes_upcast_to_v2(v2_registered: None) -> None:
    old = v1(0, 1200)
    event = decode(old.to_json(), SessionEnded.subject())
    assert isinstance(event, SessionEndedV2) and event.schema_version == 2
    assert event.billable_hint is None
    assert {k: getattr(event, k) for k in old.__dict__ if k != "schema_version"} == \
        {k: v for k, v in old.__dict__.items() if k != "schema_version"}


def test_a_consumer_written_for_v1_reads_v2_unchanged(v2_registered: None) -> None:
    # reporting's real code (``case SessionEnded()``, v1 fields only) on an upcast and a native v2
    for event in (decode(v1(0, 600).to_json()), v2(1, 900, hint=False)):
        [fact] = facts_of(event)
        assert isinstance(fact, SessionEndFact) and fact.duration_seconds == event.duration_seconds


def test_every_declared_consumer_still_gets_what_it_relies_on_from_v2() -> None:
    schemas = compat.committed_schemas()
    del schemas[schema_file_name(SessionEnded)]
    v2_schema = SessionEndedV2.model_json_schema(mode="serialization")
    schemas[schema_file_name(SessionEndedV2)] = {**v2_schema, "$id": f"urn:fernwartung:event:{SessionEndedV2.subject()}"}
    types = {**BY_TYPE, "SessionEnded": SessionEndedV2}
    expectations = compat.load_expectations(EXPECTATIONS)
    contracts = load_contracts().values()
    assert compat.check(contracts, schemas, expectations, types) == []
    # ... whereas a v2 that renamed a relied-on field would be stopped, naming its consumers
    broken = json.loads(json.dumps(schemas[schema_file_name(SessionEndedV2)]))
    broken["properties"]["duration_s"] = broken["properties"].pop("duration_seconds")
    schemas[schema_file_name(SessionEndedV2)] = broken
    assert {(b.consumer, b.field) for b in compat.check(contracts, schemas, expectations, types)} == {
        ("billing", "duration_seconds"), ("reporting", "duration_seconds")}


def test_a_mixed_history_replays_and_validates(v2_registered: None) -> None:
    history: list[tuple[str, bytes]] = []
    for n in range(6):
        e: Event = v1(n, 60 * (n + 1)) if n % 2 == 0 else v2(n, 60 * (n + 1), hint=n > 2)
        history.append((type(e).subject(), e.to_json()))
    decoded = [decode(body, subject) for subject, body in history]
    assert all(isinstance(e, SessionEndedV2) for e in decoded)
    assert [e.billable_hint for e in decoded] == [None, False, None, True, None, True]  # type: ignore[attr-defined]
    assert sum(e.duration_seconds for e in decoded) == 60 * 21  # type: ignore[attr-defined]


def test_rollout_order_matters_a_v2_message_is_undecodable_for_a_v1_build() -> None:
    # Without the registration (a consumer not yet upgraded), v2 is "from the future": the
    # platform parks it. Hence: consumers first, producers last (docs/contract-evolution.md).
    with pytest.raises(UndecodableEvent, match="newer than this build"):
        decode(v2(0, 60, hint=True).to_json(), SessionEndedV2.subject())


async def test_a_mixed_history_replays_through_the_real_consumer_into_reporting(
        v2_registered: None, fw_env: FwEnv) -> None:
    started = [SessionStarted(session_id=uuid.uuid4(), request_id=uuid.uuid4(), technician="tech-09",
                              started_at=T0)]
    ended: list[Event] = [v1(0, 600), v2(1, 1200, hint=True), v1(2, 300), v2(3, 900, hint=False)]
    nc = await connect(fw_env.nats_url, name="evolution-test")
    pool = await create_pool(fw_env.dsn("reporting"), "reporting")
    try:
        js = nc.jetstream()
        for e in [*started, *ended]:
            await js.publish(type(e).subject(), e.to_json(), headers={Header.MSG_ID: str(e.event_id)})
        await migrate(pool, "reporting", MIGRATIONS)
        table = reporting_handlers(SqlFactStore)
        table[SessionEndedV2] = table.pop(SessionEnded)  # the class edited in place, as for real
        consumer = EventConsumer(service="reporting", name="events", pool=pool, js=js,
                                handlers=table, stream="FERNWARTUNG", idle_poll=0.5)
        task = asyncio.create_task(consumer.run())
        try:
            await eventually(lambda: consumer.outcome.handled + consumer.outcome.parked, until=lambda n: n >= 5)
        finally:
            consumer.stop()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        assert (consumer.outcome.handled, consumer.outcome.parked) == (5, 0)
        report = await build_report("session-length", SqlReportSource(lambda: pool), "Europe/Berlin")
        # 600 + 1200 + 300 + 900 = 3000 s over 4 sessions, all in April 2026
        assert report.records() == [
            {"month": "2026-04", "sessions": 4, "total_seconds": 3000, "average_seconds": Decimal("750.00")},
            {"month": "all", "sessions": 4, "total_seconds": 3000, "average_seconds": Decimal("750.00")},
        ]
    finally:
        await pool.close()
        await nc.close()
