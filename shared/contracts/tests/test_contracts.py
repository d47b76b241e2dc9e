"""Contract guards: committed schemas, PII-free fields, round trips, upcasting rules."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from fw_contracts import ALL_EVENTS, BY_TYPE, UndecodableEvent, decode
from fw_contracts import events as ev
from fw_contracts.registry import UPCASTERS
from fw_contracts.schemas import SCHEMA_DIR, current_schemas, render

# Field names that would betray personal data in an event. The stream must never carry these.
FORBIDDEN_FIELD_PARTS = ("name", "company", "firma", "phone", "telefon", "email", "mail",
                         "address", "street", "city", "postal", "statement_text", "text")
ALLOWED_FIELDS = {"event_type"}


def test_committed_schemas_match_the_models() -> None:
    """An unplanned contract change fails here: bump the version and add an upcaster instead."""
    current = current_schemas()
    committed = {p.name for p in SCHEMA_DIR.glob("*.json")}
    missing = set(current) - committed
    assert not missing, f"no committed schema for {sorted(missing)}; run python -m fw_contracts.schemas"
    for name, schema in current.items():
        assert (SCHEMA_DIR / name).read_text(encoding="utf-8") == render(schema), (
            f"{name}: contract changed without a new version"
        )


#: ``fw.<producer>.<event_snake>.v<n>.json``
_SCHEMA_FILE = re.compile(r"^(?P<stem>fw\.[a-z]+\.[a-z_]+)\.v(?P<version>[0-9]+)\.json$")


def test_older_versions_keep_their_frozen_schema_and_an_upcaster() -> None:
    """A committed file that is not a current version is an older version of a current event
    (kept, never rewritten: the stream holds those events forever) with an upcaster chain."""
    by_stem = {cls.subject().rsplit(".", 1)[0]: cls for cls in ALL_EVENTS}
    older = {p.name for p in SCHEMA_DIR.glob("*.json")} - set(current_schemas())
    for name in sorted(older):
        m = _SCHEMA_FILE.match(name)
        assert m, f"{name}: not a schema file name"
        cls = by_stem.get(m["stem"])
        assert cls is not None, f"{name}: no current event of that subject (an event type is never removed)"
        version = int(m["version"])
        assert version < cls.current_schema_version(), f"{name}: a version newer than the model"
        for step in range(version, cls.current_schema_version()):
            assert (cls.__name__, step) in UPCASTERS, f"{name}: no upcaster {cls.__name__} v{step} -> v{step + 1}"
        frozen = json.loads((SCHEMA_DIR / name).read_text(encoding="utf-8"))
        assert frozen["x-subject"] == name.removesuffix(".json")
        assert frozen["properties"]["schema_version"]["const"] == version


def test_every_older_version_has_a_frozen_schema() -> None:
    """Each upcaster's source version was published, so its schema file stays committed."""
    committed = {p.name for p in SCHEMA_DIR.glob("*.json")}
    for event_type, version in UPCASTERS:
        cls = BY_TYPE[event_type]
        stem = cls.subject().rsplit(".", 1)[0]
        assert f"{stem}.v{version}.json" in committed, f"{event_type} v{version}: its schema is not committed"


def test_an_old_session_not_billed_decodes_as_v2() -> None:
    """SessionNotBilled v1 (before ``recipient_data_erased``) is read through the upcaster."""
    v1 = {"event_type": "SessionNotBilled", "schema_version": 1, "event_id": str(uuid.uuid4()),
          "occurred_at": "2026-03-01T10:00:00Z", "correlation_id": str(uuid.uuid4()), "causation_id": None,
          "session_id": str(uuid.uuid4()), "request_id": str(uuid.uuid4()), "reason": "free_threshold",
          "tariff_version": "2026-01", "raw_seconds": 42}
    event = decode(json.dumps(v1).encode(), "fw.billing.session_not_billed.v1")
    assert isinstance(event, ev.SessionNotBilled) and event.schema_version == 2
    assert event.reason is ev.NotBilledReason.FREE_THRESHOLD and event.raw_seconds == 42
    assert str(event.event_id) == v1["event_id"]
    assert ev.SessionNotBilled.subject() == "fw.billing.session_not_billed.v2"


def test_an_invoice_from_before_the_published_tariffs_decodes_as_v3_without_a_tariff_hash() -> None:
    v1 = {"event_type": "InvoiceIssued", "schema_version": 1, "event_id": str(uuid.uuid4()),
          "occurred_at": "2026-03-01T10:00:00Z", "correlation_id": str(uuid.uuid4()), "causation_id": None,
          "invoice_number": "FW-2026-000001", "session_id": str(uuid.uuid4()), "request_id": str(uuid.uuid4()),
          "kind": "kleinbetrag", "issued_at": "2026-03-01T10:00:00Z", "service_date": "2026-03-01T09:00:00Z",
          "tariff_version": "2026-01", "raw_seconds": 1500, "billed_seconds": 1800,
          "lines": [{"description": "Fernwartung je angefangene 15 Min.", "quantity": "2", "unit": "C62",
                     "unit_price": "24.00", "net": "48.00"}],
          "net_total": "48.00", "vat_rate": "0.19", "vat_total": "9.12", "gross_total": "57.12",
          "currency": "EUR", "customer_number": None}
    event = decode(json.dumps(v1).encode(), "fw.billing.invoice_issued.v1")
    assert isinstance(event, ev.InvoiceIssued) and event.schema_version == 3 and event.tariff_sha256 is None
    assert event.kind is ev.InvoiceKind.SMALL  # v1/v2 wrote "kleinbetrag"
    assert ev.InvoiceIssued.subject() == "fw.billing.invoice_issued.v3"


#: Unconstrained string fields that are allowed in events, with the reason they cannot hold
#: personal data. Anything else that is a free string fails the test below.
FREE_STRING_ALLOW_LIST = {
    "tariff_version": "set from the office's tariff configuration, never typed by a customer",
    "description": "invoice line text generated from the tariff, never typed by a customer",
    "invoice_number": "generated by billing from a configured format",
    "customer_number": "generated by billing (K + digits)",
}


def _properties(schema: dict, defs: dict, acc: dict[str, dict]) -> dict[str, dict]:
    for name, prop in schema.get("properties", {}).items():
        acc[name] = prop
        for sub in [prop, *prop.get("anyOf", []), prop.get("items", {})]:
            ref = sub.get("$ref") if isinstance(sub, dict) else None
            if ref:
                _properties(defs[ref.rsplit("/", 1)[-1]], defs, acc)
    return acc


def _is_free_string(prop: dict) -> bool:
    options = prop.get("anyOf", [prop])
    if any(o.get("type") in ("number", "integer") for o in options):
        return False  # a Decimal: pydantic accepts numeric strings only
    return any(o.get("type") == "string" and not {"pattern", "enum", "const", "format"} & set(o) for o in options)


#: The only events with fields exempt from the two guards below: the office's own business
#: data (its terms text; its name, address, tax numbers and bank as printed on every invoice),
#: never a customer's. Adding to this list is a privacy decision, reviewed here.
OFFICE_BUSINESS_DATA = {"TermsPublished": {"text"}, "IssuerDetailsChanged": {"issuer"}}


def test_only_the_reviewed_events_declare_office_business_data() -> None:
    declared = {c.__name__: set(getattr(c, "office_business_data", ())) for c in ALL_EVENTS}
    assert {n: f for n, f in declared.items() if f} == OFFICE_BUSINESS_DATA


@pytest.mark.parametrize("cls", ALL_EVENTS, ids=lambda c: c.__name__)
def test_no_event_field_can_hold_personal_data(cls: type) -> None:
    schema = cls.model_json_schema()  # type: ignore[attr-defined]
    exempt = OFFICE_BUSINESS_DATA.get(cls.__name__, set())
    schema["properties"] = {k: v for k, v in schema["properties"].items() if k not in exempt}
    props = _properties(schema, schema.get("$defs", {}), {})
    suspicious = {n for n, p in props.items()
                  if p.get("type") != "boolean" and any(part in n.lower() for part in FORBIDDEN_FIELD_PARTS)}
    suspicious -= ALLOWED_FIELDS
    assert not suspicious, f"{cls.__name__} has fields that could hold personal data: {suspicious}"
    free = {n for n, p in props.items() if _is_free_string(p)} - set(FREE_STRING_ALLOW_LIST)
    assert not free, f"{cls.__name__} has unconstrained string fields: {free}"


def test_subjects_follow_the_naming_rule() -> None:
    subjects = [cls.subject() for cls in ALL_EVENTS]
    assert len(set(subjects)) == len(subjects)
    for s in subjects:
        prefix, producer, name, version = s.split(".")
        assert prefix == "fw" and producer in {"intake", "session", "billing", "retention", "audit"}
        assert version.startswith("v") and name == name.lower()


def _started() -> ev.SessionStarted:
    return ev.SessionStarted(session_id=uuid.uuid4(), request_id=uuid.uuid4(), technician="tech-01",
                             started_at=datetime.now(UTC))


def test_round_trip_and_utc() -> None:
    e = _started()
    assert decode(e.to_json(), e.subject()) == e
    local = e.model_copy(update={})
    cet = ev.SessionStarted.model_validate(
        {**json.loads(local.to_json()), "occurred_at": "2026-01-01T10:00:00+01:00"})
    assert cet.occurred_at.tzinfo is not None and cet.occurred_at.utcoffset() == timedelta(0)
    assert cet.occurred_at.hour == 9


def test_naive_time_is_rejected() -> None:
    data = json.loads(_started().to_json())
    data["occurred_at"] = "2026-01-01T10:00:00"
    with pytest.raises(UndecodableEvent):
        decode(json.dumps(data).encode())


def test_events_are_frozen() -> None:
    e = _started()
    with pytest.raises(ValidationError, match="frozen"):
        e.technician = "x"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1,2]", "not a JSON object"),
        (b'{"event_type":"Nope","schema_version":1}', "unknown event type"),
        (b'{"event_type":"SessionStarted","schema_version":99}', "newer than this build"),
        (b'{"event_type":"SessionStarted","schema_version":1}', "invalid fields"),
    ],
)
def test_undecodable_messages_name_a_reason(payload: bytes, reason: str) -> None:
    with pytest.raises(UndecodableEvent) as info:
        decode(payload)
    assert reason in info.value.reason


def test_validation_errors_never_echo_values() -> None:
    data = json.loads(_started().to_json())
    data["technician"] = "Erika Mustermann +49 170 1234567"
    with pytest.raises(UndecodableEvent) as info:
        decode(json.dumps(data).encode())
    assert "Erika" not in info.value.reason and "1234567" not in info.value.reason


def test_subject_mismatch_is_rejected() -> None:
    e = _started()
    with pytest.raises(UndecodableEvent):
        decode(e.to_json(), ev.SessionEnded.subject())


@given(st.decimals(min_value=Decimal(0), max_value=Decimal(99999), places=2))
def test_money_round_trips_exactly(amount: Decimal) -> None:
    e = ev.InvoiceCancelled(cancellation_number="FW-S-2026-000001", invoice_number="FW-2026-000001",
                            request_id=uuid.uuid4(), cancelled_at=datetime.now(UTC),
                            reason_code="other", net_total=amount, vat_total=Decimal(0),
                            gross_total=amount)
    back = decode(e.to_json())
    assert isinstance(back, ev.InvoiceCancelled) and back.gross_total == amount
    assert json.loads(e.to_json())["gross_total"] == str(amount)


def test_a_v2_invoice_is_upcast_to_v3_with_the_small_kind_in_english() -> None:
    issued = ev.InvoiceIssued(
        invoice_number="FW-2026-000001", session_id=uuid.uuid4(), request_id=uuid.uuid4(),
        kind=ev.InvoiceKind.SMALL, issued_at=datetime(2026, 3, 1, 10, tzinfo=UTC),
        service_date=datetime(2026, 3, 1, 9, tzinfo=UTC), tariff_version="2026-01", raw_seconds=1500,
        billed_seconds=1800, lines=(), net_total=Decimal("48.00"), vat_rate=Decimal("0.19"),
        vat_total=Decimal("9.12"), gross_total=Decimal("57.12"), tariff_sha256="a" * 64)
    body = json.loads(issued.to_json())
    assert body["kind"] == "small" and body["schema_version"] == 3
    v2 = {**body, "schema_version": 2, "kind": "kleinbetrag"}
    event = decode(json.dumps(v2).encode(), "fw.billing.invoice_issued.v2")
    assert event == issued
    full = decode(json.dumps({**v2, "kind": "full"}).encode(), "fw.billing.invoice_issued.v2")
    assert isinstance(full, ev.InvoiceIssued) and full.kind is ev.InvoiceKind.FULL
    # the stored code of billing's rows reads as the same member
    assert ev.InvoiceKind("kleinbetrag") is ev.InvoiceKind.SMALL
    with pytest.raises(ValueError, match="klein"):
        ev.InvoiceKind("klein")
