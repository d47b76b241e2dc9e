"""Every event type with its subject, and decoding of stored messages (with upcasting)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from fw_contracts import events as ev
from fw_contracts import reference as ref
from fw_contracts.base import Event

ALL_EVENTS: tuple[type[Event], ...] = (
    ev.SupportRequestCreated,
    ev.SupportRequestWithdrawn,
    ev.SessionStarted,
    ev.CustomerPromoted,
    ev.SessionEnded,
    ev.SessionTakenOver,
    ev.BillingAddressProvided,
    ev.InvoiceIssued,
    ev.InvoiceCancelled,
    ev.SessionNotBilled,
    ev.BillingBlocked,
    ev.InvoiceDelivered,
    ev.InvoiceDeliveryFailed,
    ev.CustomerAccountCreated,
    ev.CustomerAccountErased,
    ev.CustomerAccountChanged,
    ev.PersonalDataErased,
    ev.AuditCheckpoint,
    # reference data in the stream (tariffs, terms, issuer): see fw_contracts.reference
    ref.TariffPublished,
    ref.TermsPublished,
    ref.IssuerDetailsChanged,
)

BY_TYPE: dict[str, type[Event]] = {cls.__name__: cls for cls in ALL_EVENTS}
BY_SUBJECT: dict[str, type[Event]] = {cls.subject(): cls for cls in ALL_EVENTS}

#: (event_type, from_version) -> function turning a dict of that version into the next one.
#: Old versions stay readable forever: an upcaster is added whenever a version is bumped.
UPCASTERS: dict[tuple[str, int], Callable[[dict[str, Any]], dict[str, Any]]] = {}


def _session_not_billed_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """v2 only adds the reason ``recipient_data_erased``: a v1 body is a valid v2 body."""
    return {**data, "schema_version": 2}


UPCASTERS[("SessionNotBilled", 1)] = _session_not_billed_v1_to_v2


def _billing_blocked_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """v1 was published only for a missing billing address: v2 names that reason."""
    return {**data, "schema_version": 2, "reason": "billing_address_missing"}


UPCASTERS[("BillingBlocked", 1)] = _billing_blocked_v1_to_v2


def _personal_data_erased_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """A v1 erasure always erased everything: scope ``all``, no delivery hold."""
    return {**data, "schema_version": 2, "scope": "all", "delivery_hold_until": None}


UPCASTERS[("PersonalDataErased", 1)] = _personal_data_erased_v1_to_v2


def _support_request_created_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """A v1 request had no download code."""
    return {**data, "schema_version": 2, "download_sha256": None}


UPCASTERS[("SupportRequestCreated", 1)] = _support_request_created_v1_to_v2
def _invoice_issued_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """v2 adds ``tariff_sha256``; a v1 invoice predates the published tariffs: not known."""
    return {**data, "schema_version": 2, "tariff_sha256": None}


UPCASTERS[("InvoiceIssued", 1)] = _invoice_issued_v1_to_v2


def _invoice_issued_v2_to_v3(data: dict[str, Any]) -> dict[str, Any]:
    """v3 writes the small invoice's kind ``small`` (v2: ``kleinbetrag``); nothing else changed."""
    kind = data.get("kind")
    return {**data, "schema_version": 3, "kind": "small" if kind == "kleinbetrag" else kind}


UPCASTERS[("InvoiceIssued", 2)] = _invoice_issued_v2_to_v3


class UndecodableEvent(Exception):
    """A message that is not a valid event. ``reason`` never contains field values."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


_FIELD_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")


def _safe_errors(exc: ValidationError) -> str:
    # pydantic's messages can echo input values; keep only location and error type. An unknown
    # field's name is input too: it is kept only if it looks like a field name (snake_case),
    # anything else (a name, a phone number, an address used as a key) becomes "*".
    parts = []
    for e in exc.errors():
        loc = [str(p) for p in e["loc"]]
        if e["type"] == "extra_forbidden" and loc and not _FIELD_NAME.fullmatch(loc[-1]):
            loc[-1] = "*"
        parts.append(f"{'.'.join(loc)}:{e['type']}")
    return "invalid fields: " + ", ".join(parts[:10])


def upcast(data: dict[str, Any]) -> dict[str, Any]:
    """Apply upcasters until the current version of the event type is reached."""
    etype = data.get("event_type")
    cls = BY_TYPE.get(str(etype))
    if cls is None:
        # never the value itself: a broken producer could have put anything there
        raise UndecodableEvent("unknown event type")
    version = data.get("schema_version")
    if not isinstance(version, int):
        raise UndecodableEvent("schema_version missing or not an integer")
    current = cls.current_schema_version()
    if version > current:
        raise UndecodableEvent(
            f"schema version {version} of {cls.__name__} is newer than this build ({current})"
        )
    while version < current:
        step = UPCASTERS.get((cls.__name__, version))
        if step is None:
            raise UndecodableEvent(f"no upcaster for {cls.__name__} v{version}")
        data = step(data)
        version = data["schema_version"]
    return data


def decode(payload: bytes, subject: str | None = None) -> Event:
    """Parse a message body into its event class; raises :class:`UndecodableEvent`.

    Fast path: a message on the current version's subject is parsed and validated in one step
    by pydantic-core (``model_validate_json``; the class's ``event_type`` and ``schema_version``
    literals check that the body is that event). Anything that fails there (an older version
    to upcast, bad input) takes the general path below, which also gives the exact reason.
    """
    cls_for_subject = BY_SUBJECT.get(subject) if subject is not None else None
    if cls_for_subject is not None and BY_TYPE.get(cls_for_subject.__name__) is cls_for_subject:
        try:
            return cls_for_subject.model_validate_json(payload)
        except ValidationError:
            pass
    try:
        data = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        raise UndecodableEvent("body is not valid JSON") from None
    if not isinstance(data, dict):
        raise UndecodableEvent("body is not a JSON object")
    data = upcast(data)
    cls = BY_TYPE[data["event_type"]]
    if subject is not None and subject.rsplit(".", 1)[0] != cls.subject().rsplit(".", 1)[0]:
        raise UndecodableEvent(f"subject does not match event type {cls.__name__}")
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        raise UndecodableEvent(_safe_errors(exc)) from None
