"""BillingBlocked v2 (issue 14): a reason code; every v1 event still decodes, upcast to the
address reason it was published for."""

from __future__ import annotations

import json
import uuid

from fw_contracts import decode
from fw_contracts.events import BillingBlocked, BlockReason
from fw_contracts.schemas import SCHEMA_DIR


def _v1_body() -> dict[str, object]:
    return {"event_id": str(uuid.uuid4()), "occurred_at": "2026-03-10T10:00:00Z",
            "correlation_id": str(uuid.uuid4()), "causation_id": None, "event_type": "BillingBlocked",
            "schema_version": 1, "session_id": str(uuid.uuid4()), "request_id": str(uuid.uuid4()),
            "missing": ["billing_address"]}


def test_a_v1_event_decodes_as_a_missing_address() -> None:
    body = _v1_body()
    event = decode(json.dumps(body).encode(), "fw.billing.billing_blocked.v1")
    assert isinstance(event, BillingBlocked) and event.schema_version == 2
    assert (event.reason, event.missing) == (BlockReason.BILLING_ADDRESS_MISSING, ("billing_address",))
    assert str(event.event_id) == body["event_id"]
    assert (SCHEMA_DIR / "fw.billing.billing_blocked.v1.json").exists()  # the old schema stays


def test_v2_round_trips_a_render_failure_without_anything_missing() -> None:
    event = BillingBlocked(session_id=uuid.uuid4(), request_id=uuid.uuid4(), missing=(),
                           reason=BlockReason.DOCUMENT_RENDER_FAILED)
    assert event.subject() == "fw.billing.billing_blocked.v2"
    again = decode(event.to_json(), event.subject())
    assert again == event and again.reason is BlockReason.DOCUMENT_RENDER_FAILED
