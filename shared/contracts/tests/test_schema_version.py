"""One version number per event type: ``schema_version``, declared once, read everywhere."""

from __future__ import annotations

import json
import uuid
from typing import Literal

import pytest

from fw_contracts import ALL_EVENTS, decode
from fw_contracts.base import Event
from fw_contracts.events import SupportRequestCreated


@pytest.mark.parametrize("cls", ALL_EVENTS, ids=lambda c: c.__name__)
def test_the_class_body_and_subject_name_the_same_version(cls: type[Event]) -> None:
    version = cls.current_schema_version()
    assert cls.subject().endswith(f".v{version}")
    assert cls.model_fields["schema_version"].default == version
    assert not hasattr(cls, "version"), "the old second name is gone"


def test_a_class_declaring_two_numbers_is_refused() -> None:
    with pytest.raises(TypeError, match="schema_version: Literal"):
        class Broken(Event):
            producer = "test"
            event_type: Literal["Broken"] = "Broken"
            schema_version: Literal[2] = 1  # type: ignore[assignment]
    with pytest.raises(TypeError, match="schema_version: Literal"):
        class Loose(Event):
            producer = "test"
            event_type: Literal["Loose"] = "Loose"
            schema_version: int = 1


def test_stored_bodies_of_every_version_still_decode() -> None:
    """The wire field keeps its name: a v1 body as stored in the stream before any bump."""
    stored_v1 = {
        "event_type": "SupportRequestCreated", "schema_version": 1, "event_id": str(uuid.uuid4()),
        "occurred_at": "2026-01-05T09:00:00Z", "correlation_id": str(uuid.uuid4()), "causation_id": None,
        "request_id": str(uuid.uuid4()), "ticket": "K7MX-3QP", "customer_type": "business",
        "terms": {"terms_version": "2026-01", "terms_sha256": "a" * 64, "accepted_at": "2026-01-05T09:00:00Z"},
        "has_billing_address": False, "has_email": False}
    event = decode(json.dumps(stored_v1).encode(), "fw.intake.support_request_created.v1")
    assert isinstance(event, SupportRequestCreated)
    assert event.schema_version == SupportRequestCreated.current_schema_version() == 2
    assert event.download_sha256 is None
    # written again, it names the current version under the same wire name
    assert json.loads(event.to_json())["schema_version"] == 2
