"""Scripted histories for the audit tests: a clean one, and each defect injected on its own."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fw_audit.scripted import History, every_lifecycle
from fw_contracts import events as ev

#: defect -> the one check that must fail
DEFECTS: dict[str, str] = {
    "missing_erasure": "erasure",
    "late_erasure": "erasure",
    "invoice_number_gap": "invoice_numbers",
    "wrong_total": "invoice_totals",
    "phone_number": "personal_data",
}

PHONE_BODY_MARK = b"+49 170 1234567"


@dataclass
class Scenario:
    """A history, the check that must fail and the body of the message it must name."""

    history: History
    check: str | None
    body: bytes | None
    key: Ed25519PrivateKey

    def expected_seq(self) -> int | None:
        """The stream sequence the failing check must name (messages are stored from seq 1)."""
        if self.body is None:
            return None
        for seq, item in enumerate(self.history.items(), 1):
            if item.body == self.body:
                return seq
        raise AssertionError("the defect's message is not in the history")


def _inject(h: History, script: dict[str, dict[str, ev.Event]], defect: str) -> bytes:
    if defect == "missing_erasure":
        # retention never erased the unbilled session's data: the failure names the trigger
        h.remove(script["not_billed"]["erased"])
        return script["not_billed"]["not_billed"].to_json()
    if defect == "late_erasure":
        old = script["invoice"]["erased"]
        invoice = script["invoice"]["invoice"]
        late = invoice.occurred_at + timedelta(minutes=5)
        new = old.model_copy(update={"erased_at": late, "occurred_at": late})
        h.replace(old, new)
        return new.to_json()
    if defect == "invoice_number_gap":
        old = script["invoice_later"]["invoice"]
        assert isinstance(old, ev.InvoiceIssued)
        series, year, n = old.invoice_number.rsplit("-", 2)
        new = old.model_copy(update={"invoice_number": f"{series}-{year}-{int(n) + 1:06d}"})
        h.replace(old, new)
        return new.to_json()
    if defect == "wrong_total":
        old = script["invoice_full"]["invoice"]
        assert isinstance(old, ev.InvoiceIssued)
        new = old.model_copy(update={"gross_total": old.gross_total + Decimal("0.01")})
        h.replace(old, new)
        return new.to_json()
    if defect == "phone_number":
        started = next(i.event for i in h.items() if isinstance(i.event, ev.SessionStarted))
        data = json.loads(started.to_json())
        data["event_id"] = "0b6a4e52-8f7e-4a1c-9d3e-3f2b1c0d9e8f"
        data["callback"] = PHONE_BODY_MARK.decode()  # a field no contract has: bypasses the model
        body = json.dumps(data).encode()
        h.add_raw(started.subject(), body, started.occurred_at + timedelta(seconds=1))
        return body
    raise ValueError(defect)


@pytest.fixture
def scenario() -> Callable[[datetime, str | None], Scenario]:
    """``scenario(end, defect)``: every lifecycle ending before ``end``, sealed by a checkpoint."""

    def build(end: datetime, defect: str | None = None) -> Scenario:
        h, script = every_lifecycle(end)
        body = _inject(h, script, defect) if defect else None
        key = Ed25519PrivateKey.generate()
        h.seal(key)
        return Scenario(h, DEFECTS.get(defect or ""), body, key)

    return build
