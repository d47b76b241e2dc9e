"""Destruction of the invoice archive once its retention period is over.

§147 Abs. 3 AO, §14b Abs. 1 UStG: 8 years from the end of the calendar year of issue; GDPR
Art. 5(1)(e): not longer. What goes: the archived documents (PDF, XML), the recipient copies,
any address still waiting in a delivery, and the year's archive key. What stays: the invoice
metadata (numbers, amounts, pseudonymous ids — no personal data) for the audit trail, and a
row in ``archive_destructions`` as proof.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from fw_billing.domain.archive_retention import expired_years, is_expired
from fw_platform.handling import UnitOfWork

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class YearDestroyed:
    year: int
    documents: int
    recipients: int


class ArchiveStore(Protocol):
    async def archive_years(self) -> list[int]:
        """Every year that still has archive rows or an archive key."""

    async def destroy_year(self, year: int, now: datetime) -> YearDestroyed:
        """Delete the year's archive rows, recipient copies, pending addresses and key."""


class RetentionNotOver(Exception):
    """Refused: the year is still within its retention period."""


async def destroy_expired_archive(now: datetime, *,
                                  unit_of_work: Callable[[], AbstractAsyncContextManager[UnitOfWork]],
                                  store: Callable[[Any], ArchiveStore],
                                  held: Iterable[int] = ()) -> list[YearDestroyed]:
    """Destroy every archive year whose retention period has ended at ``now`` (injectable
    clock), except ``held`` years. One transaction per year. The database refuses on its own
    clock as well, so a wrong ``now`` cannot delete anything younger than 8 years."""
    async with unit_of_work() as uow:
        years = await store(uow.conn).archive_years()
    done: list[YearDestroyed] = []
    for year in expired_years(years, now, held=held):
        if not is_expired(year, now):  # belt and braces: the rule is the domain's
            raise RetentionNotOver(str(year))
        async with unit_of_work() as uow:
            result = await store(uow.conn).destroy_year(year, now)
        log.info("archive year destroyed", extra={"year": year, "documents": result.documents,
                                                   "recipients": result.recipients})
        done.append(result)
    return done
