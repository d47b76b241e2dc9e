"""fernwartung public contracts: events, subjects, headers. No business logic lives here."""

from fw_contracts.base import Event, utcnow
from fw_contracts.events import *  # noqa: F403
from fw_contracts.registry import ALL_EVENTS, BY_SUBJECT, BY_TYPE, UndecodableEvent, decode
from fw_contracts.wire import STREAM_NAME, STREAM_SUBJECTS, Header, VaultCaller, VaultSubject, vault_subject

__all__ = [
    "ALL_EVENTS",
    "BY_SUBJECT",
    "BY_TYPE",
    "STREAM_NAME",
    "STREAM_SUBJECTS",
    "Event",
    "Header",
    "UndecodableEvent",
    "VaultCaller",
    "VaultSubject",
    "decode",
    "utcnow",
    "vault_subject",
]
