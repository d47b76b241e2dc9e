"""Events -> facts -> handlers, with a fake store; and the reporting contract is the truth.

``facts_of`` is run on events that hold ONLY the fields ``fw_reporting.contract`` declares (plus
the envelope): reading any other field fails, so the declaration cannot fall behind the code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from reporting_history import backfill_history, live_history

from fw_contracts import ALL_EVENTS, Event
from fw_contracts.catalog import ENVELOPE_FIELDS
from fw_platform.handling import UnitOfWork
from fw_reporting.application.projections import handlers
from fw_reporting.contract import CONTRACT
from fw_reporting.domain.facts import Fact, facts_of

HISTORY = [*backfill_history(), *live_history()]


@dataclass
class FakeStore:
    facts: set[Fact] = field(default_factory=set)

    async def record_many(self, facts: list[Fact]) -> None:
        self.facts.update(facts)


def test_the_history_uses_every_consumed_event_class() -> None:
    assert set(CONTRACT.consumes) <= {type(e) for e in HISTORY}


@pytest.mark.parametrize("event", HISTORY, ids=lambda e: type(e).__name__)
def test_facts_are_built_from_the_declared_fields_only(event: Event) -> None:
    cls = type(event)
    if cls not in CONTRACT.consumes:
        assert facts_of(event) == ()
        return
    keep = CONTRACT.relied_on(cls)
    only_declared = cls.model_construct(**{k: v for k, v in event.__dict__.items() if k in keep})
    for name in set(only_declared.__dict__) - keep:  # also the defaults model_construct filled in
        del only_declared.__dict__[name]
    assert facts_of(only_declared) == facts_of(event)  # AttributeError if it read anything else


def test_one_batched_handler_takes_every_class_so_a_chunk_is_one_run() -> None:
    table = handlers(lambda conn: FakeStore())
    assert len({id(h) for h in table.values()}) == 1
    assert getattr(next(iter(table.values())), "batched", False)


def test_reporting_consumes_what_its_handlers_handle() -> None:
    assert set(handlers(lambda conn: FakeStore())) == set(CONTRACT.consumes)
    assert set(CONTRACT.consumes) <= set(ALL_EVENTS) and CONTRACT.publishes == ()
    assert CONTRACT.relied_on(next(iter(CONTRACT.consumes))) >= ENVELOPE_FIELDS


async def test_handlers_are_idempotent_by_state() -> None:
    store = FakeStore()
    table = handlers(lambda conn: store)
    uow = UnitOfWork(conn=Any, now=datetime.now(UTC))  # type: ignore[arg-type]
    for event in HISTORY + HISTORY:  # everything twice
        if type(event) in table:
            await table[type(event)]([event], uow)  # type: ignore[arg-type]  # a batched handler
    expected = {f for e in HISTORY for f in facts_of(e)}
    assert store.facts == expected and uow.emitted == []
