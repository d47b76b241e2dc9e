"""Publishing the reference data that decide an invoice: tariffs and the issuer's details.

Each ``TariffPublished`` goes out once per version (on first use in the transaction of the
invoice, so it always comes before the invoice in the stream; and for every known version at
start); ``IssuerDetailsChanged`` whenever the configured issuer differs from the last published.
Both go through the outbox with a content-derived event id; billing's ``published_reference``
table makes a re-publication after the duplicate window impossible.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from datetime import datetime
from functools import lru_cache
from typing import Protocol

from fw_billing.domain.issuer import Issuer
from fw_billing.domain.tariff import Tariff
from fw_contracts.reference import (
    IssuerDetails,
    IssuerDetailsChanged,
    TariffContent,
    TariffPublished,
    issuer_sha256,
    tariff_sha256,
)
from fw_platform.handling import PermanentError, UnitOfWork

log = logging.getLogger(__name__)


class ReferenceLedger(Protocol):
    """What billing has published (hashes only)."""

    async def published(self, kind: str, key: str) -> set[str]: ...

    async def last(self, kind: str) -> str | None: ...

    async def record(self, kind: str, key: str, sha256: str, event_id: uuid.UUID, now: datetime) -> bool: ...


def tariff_content(tariff: Tariff) -> TariffContent:
    """Billing's tariff as the public contract's content (the same values)."""
    return TariffContent.model_validate(tariff.model_dump())


def issuer_details(issuer: Issuer) -> IssuerDetails:
    """The issuer fields printed on invoices, as the public contract's details."""
    return IssuerDetails.model_validate(issuer.model_dump(include=set(IssuerDetails.model_fields)))


@lru_cache(maxsize=64)
def tariff_hash(tariff: Tariff) -> str:
    """The hash an invoice priced with ``tariff`` names (``InvoiceIssued.tariff_sha256``);
    kept per tariff (frozen, hashable): every invoice asks."""
    return tariff_sha256(tariff_content(tariff))


@lru_cache(maxsize=8)
def issuer_hash(issuer: Issuer) -> str:
    """``issuer_sha256`` of the issuer's details, kept per (frozen) issuer."""
    return issuer_sha256(issuer_details(issuer))


async def publish_tariff(ledger: ReferenceLedger, uow: UnitOfWork, tariff: Tariff,
                         known: set[tuple[str, str]] | None = None) -> str:
    """Emit ``TariffPublished`` for ``tariff`` unless done before; returns its hash. ``known``:
    ``(version, sha256)`` pairs whose publication is committed (no look-up needed).

    A version once published with other content is refused (:class:`PermanentError`): invoices
    already name that version, and a published tariff never changes.
    """
    sha = tariff_hash(tariff)
    if known is not None and (tariff.version, sha) in known:
        return sha  # published and committed before (a published version never changes)
    event = TariffPublished.of(tariff_content(tariff), occurred_at=uow.now)
    earlier = await ledger.published("tariff", tariff.version)
    if earlier - {event.tariff_sha256}:
        raise PermanentError(f"tariff {tariff.version!r} was published with other content: a published "
                             "version never changes (give the new prices a new version)")
    if not earlier and await ledger.record("tariff", tariff.version, event.tariff_sha256, event.event_id, uow.now):
        uow.emit(event)
        log.info("tariff published", extra={"tariff_version": tariff.version, "sha256": event.tariff_sha256})
    return event.tariff_sha256


async def publish_issuer(ledger: ReferenceLedger, uow: UnitOfWork, issuer: Issuer) -> str:
    """Emit ``IssuerDetailsChanged`` when ``issuer`` differs from the last published; its hash."""
    sha = issuer_hash(issuer)
    # Always looked up: another instance (a rolling update with new details) may have published
    # other details since; the invoice must follow its own issuer's details in the stream.
    previous = await ledger.last("issuer")
    if previous != sha:
        event = IssuerDetailsChanged.of(issuer_details(issuer), previous, occurred_at=uow.now)
        if await ledger.record("issuer", previous or "-", sha, event.event_id, uow.now):
            uow.emit(event)
            log.info("issuer details published", extra={"sha256": sha})
    return sha


async def publish_reference_data(ledger: ReferenceLedger, uow: UnitOfWork, tariffs: Iterable[Tariff],
                                 issuer: Issuer) -> set[tuple[str, str]]:
    """At start: every known tariff version and the current issuer details. Returns the
    tariffs' ``(version, sha256)``: published once this transaction commits.

    Rows are recorded in the one order every transaction keeps: tariffs by ascending version,
    then the issuer (an invoice and a correction record their one tariff, then the issuer). Two
    transactions inserting the same uncommitted rows in opposite orders deadlock in PostgreSQL:
    this start once ran issuer-first beside another instance's first invoice and did not start.
    """
    published = {(tariff.version, await publish_tariff(ledger, uow, tariff))
                 for tariff in sorted(tariffs, key=lambda t: t.version)}
    await publish_issuer(ledger, uow, issuer)
    return published
