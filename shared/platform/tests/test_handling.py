"""The handler API's unit of work: repositories on the transaction, emitted events."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from fw_contracts.events import SupportRequestWithdrawn
from fw_platform.handling import StatementUnitOfWork, UnitOfWork


class Things:
    def __init__(self, conn: Any) -> None:
        self.conn = conn


class Others(Things):
    pass


def test_a_repository_is_built_once_per_unit_of_work_on_its_connection() -> None:
    conn = object()
    uow = UnitOfWork(conn=conn, now=datetime(2026, 1, 2, tzinfo=UTC))  # type: ignore[arg-type]
    things = uow.repository(Things)
    assert things.conn is conn and uow.repository(Things) is things
    assert uow.repository(Others) is not things
    other = UnitOfWork(conn=object(), now=uow.now)  # type: ignore[arg-type]
    assert other.repository(Things) is not things


def test_emit_keeps_the_order() -> None:
    uow = UnitOfWork(conn=None, now=datetime(2026, 1, 2, tzinfo=UTC))  # type: ignore[arg-type]
    a, b, c = (SupportRequestWithdrawn(request_id=uuid.uuid4()) for _ in range(3))
    uow.emit(a)
    uow.emit(b, c)
    assert uow.emitted == [a, b, c]


def test_a_one_statement_unit_of_work_refuses_emit() -> None:
    """Its events are written by the statement itself; a queued one would never be written."""
    uow = StatementUnitOfWork(conn=None, now=datetime(2026, 1, 2, tzinfo=UTC))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="with_events"):
        uow.emit(SupportRequestWithdrawn(request_id=uuid.uuid4()))
    assert uow.emitted == []
