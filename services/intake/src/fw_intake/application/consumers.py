"""Intake's handler table: which durable consumer hands which event to which handler."""

from __future__ import annotations

from functools import partial

from fw_contracts.events import PersonalDataErased, SessionStarted
from fw_intake.application.events import on_personal_data_erased, on_session_started
from fw_intake.application.ports import SupportRequestsFactory
from fw_platform.app import Consumers
from fw_platform.handling import batched


def consumers(requests: SupportRequestsFactory) -> Consumers:
    """``{durable name: {event class: handler}}``, registered by bootstrap."""
    return {
        "session_started": {SessionStarted: batched(partial(on_session_started, requests=requests))},
        "personal_data_erased": {PersonalDataErased: batched(partial(on_personal_data_erased, requests=requests))},
    }
