"""decode's fast path (one pydantic-core parse on the current subject) gives exactly what the
general path gives, and never lets through what the general path refuses."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from fw_contracts import UndecodableEvent, decode, registry
from fw_contracts.events import SessionEnded, SessionStarted


def _started() -> SessionStarted:
    return SessionStarted(session_id=uuid.uuid4(), request_id=uuid.uuid4(), technician="tech-01",
                          started_at=datetime.now(UTC))


def test_the_current_subject_is_parsed_in_one_step(monkeypatch: pytest.MonkeyPatch) -> None:
    event = _started()

    def no_json(*_: object, **__: object) -> None:
        raise AssertionError("the general path was taken")

    monkeypatch.setattr(registry.json, "loads", no_json)
    assert decode(event.to_json(), event.subject()) == event


def test_a_body_of_another_type_on_a_subject_is_refused_with_the_general_reason() -> None:
    body = _started().to_json()
    with pytest.raises(UndecodableEvent, match="subject does not match"):
        decode(body, SessionEnded.subject())


@pytest.mark.parametrize("body", [b"not json", b"[1]", b"\xff\xfe", b"{}"])
def test_bad_bodies_on_a_current_subject_get_the_general_reasons(body: bytes) -> None:
    with pytest.raises(UndecodableEvent) as exc:
        decode(body, SessionStarted.subject())
    with pytest.raises(UndecodableEvent) as general:
        decode(body)
    assert exc.value.reason == general.value.reason


def test_an_extra_field_is_refused_on_both_paths() -> None:
    data = json.loads(_started().to_json())
    data["name"] = "x"
    body = json.dumps(data).encode()
    with pytest.raises(UndecodableEvent):
        decode(body, SessionStarted.subject())
    with pytest.raises(UndecodableEvent):
        decode(body)
