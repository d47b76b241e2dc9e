"""The data-processing agreement (AVV, Art. 28 GDPR) on request, and the register of requests.

The document is a versioned German Markdown file shipped with the service; its SHA-256 is
recorded with every request, so the office can later prove which text a customer was offered.
A request record holds no free text: time, channel and an optional pseudonymous reference
(customer number or ticket) only.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from fw_retention.domain.rules import records_cutoff


class AvvChannel(StrEnum):
    """How the customer asked for the AVV."""

    PHONE = "phone"
    EMAIL = "email"
    LETTER = "letter"
    WEB = "web"
    IN_PERSON = "in_person"


@dataclass(frozen=True)
class AvvDocument:
    """One version of the AVV template (German Markdown)."""

    version: str
    sha256: str
    markdown: str


@dataclass(frozen=True)
class AvvRequest:
    """A recorded request for the AVV (no personal data beyond a pseudonymous reference)."""

    id: uuid.UUID
    requested_at: datetime
    channel: AvvChannel
    customer_number: str | None
    ticket: str | None
    avv_version: str
    avv_sha256: str


class AvvRegister(Protocol):
    """Persistence of the AVV requests, inside one transaction."""

    async def add(self, request: AvvRequest) -> None: ...

    async def newest(self, limit: int) -> list[AvvRequest]:
        """The newest ``limit`` requests, newest first."""

    async def prune(self, before: datetime) -> int:
        """Delete requests older than ``before``; returns how many."""


async def record_request(register: AvvRegister, document: AvvDocument, *, channel: AvvChannel,
                         customer_number: str | None, ticket: str | None, now: datetime) -> AvvRequest:
    """Record that the AVV (this version) was requested, and return the record."""
    request = AvvRequest(id=uuid.uuid4(), requested_at=now, channel=channel,
                         customer_number=customer_number, ticket=ticket,
                         avv_version=document.version, avv_sha256=document.sha256)
    await register.add(request)
    return request


async def prune_requests(register: AvvRegister, *, now: datetime, keep_years: int) -> int:
    """Delete AVV request records past their deletion date (end of the ``keep_years``-th year)."""
    return await register.prune(records_cutoff(now, keep_years))
