"""Publishing the terms of use into the stream (``TermsPublished``), once per version.

A support request names the accepted terms by version and hash; with the text in the stream an
auditor can read exactly what the customer accepted without intake's package.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from fw_contracts.reference import TermsPublished
from fw_intake.application.ports import UnitOfWorkFactory
from fw_intake.domain.terms import TermsCatalog
from fw_platform.handling import UnitOfWork

log = logging.getLogger(__name__)


class TermsLedger(Protocol):
    async def record(self, version: str, sha256: str, event_id: uuid.UUID, now: datetime) -> bool: ...


async def publish_terms(ledger: TermsLedger, uow: UnitOfWork, catalog: TermsCatalog) -> int:
    """Emit ``TermsPublished`` for every shipped version not published before; how many."""
    count = 0
    for version in catalog.versions():
        doc = catalog.get(version)
        assert doc is not None
        event = TermsPublished.of(doc.version, doc.text, occurred_at=uow.now)
        if event.terms_sha256 != doc.sha256:  # the text is the shipped bytes decoded: same hash
            raise ValueError(f"terms {version!r}: text does not reproduce the shipped hash")
        if await ledger.record(doc.version, doc.sha256, event.event_id, uow.now):
            uow.emit(event)
            count += 1
            log.info("terms published", extra={"terms_version": doc.version, "sha256": doc.sha256})
    return count


async def publish_terms_at_start(unit_of_work: UnitOfWorkFactory, ledger: Callable[[Any], TermsLedger],
                                 catalog: TermsCatalog) -> int:
    """The terms' text into the stream in one transaction at start (once per version): the
    auditor reads what was accepted."""
    async with unit_of_work() as uow:
        return await publish_terms(uow.repository(ledger), uow, catalog)
