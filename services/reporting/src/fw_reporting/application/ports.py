"""What the application needs from the outside: a store for facts and a source of aggregates."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from fw_reporting.domain.facts import Fact
from fw_reporting.domain.figures import MonthSums


class FactStore(Protocol):
    async def record_many(self, facts: Sequence[Fact]) -> None:
        """Store facts; one already there (a repeated event) is left as it is."""


#: Builds a fact store on the handler's transaction connection (``uow.conn``).
FactStoreFactory = Callable[[Any], FactStore]


class ReportSource(Protocol):
    """Aggregates over the facts; months are ``YYYY-MM`` in the time zone ``tz``."""

    async def invoiced(self, tz: str) -> list[MonthSums]: ...
    async def cancelled(self, tz: str) -> list[MonthSums]: ...
    async def technicians(self) -> list[tuple[str, int, int, int, int]]: ...
    async def minutes(self, tz: str) -> list[tuple[str, int, int, int, int, int]]: ...
    async def session_lengths(self, tz: str) -> list[tuple[str, int, int]]: ...
    async def promotions(self, tz: str) -> list[tuple[str, int, int]]: ...
    async def erasure_delays(self) -> list[tuple[str, Decimal | None]]: ...
    async def parked(self) -> list[tuple[str, int, str, str | None, str, int, datetime, datetime | None]]: ...
    async def progress(self) -> tuple[int, int | None]: ...
