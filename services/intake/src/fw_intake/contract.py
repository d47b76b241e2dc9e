"""Intake's use of the public contracts (see ``fw_contracts.catalog``); read by tests and docs only.

Consumed fields, from ``application/events.py`` and ``domain/request.py`` (``evolve``): both
events move the request's status by ``request_id`` and stamp ``updated_at`` with ``occurred_at``.
"""

from __future__ import annotations

from fw_contracts.catalog import ServiceContract
from fw_contracts.events import (
    PersonalDataErased,
    SessionStarted,
    SupportRequestCreated,
    SupportRequestWithdrawn,
)
from fw_contracts.reference import TermsPublished
from fw_contracts.wire import VaultSubject

CONTRACT = ServiceContract(
    service="intake",
    publishes=[SupportRequestCreated, SupportRequestWithdrawn, TermsPublished],
    consumes={
        SessionStarted: {"request_id", "occurred_at"},
        PersonalDataErased: {"request_id", "occurred_at"},
    },
    vault_requests=[VaultSubject.PUT, VaultSubject.CLAIM],
)
