"""The pattern scan finds the usual spellings of personal data and stays quiet on real events."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fw_audit.checks.pii import scan, scanned_part
from fw_audit.scripted import bulk_history


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("+49 170 1234567", "phone (international)"),
        ("+491701234567", "phone (international)"),
        ("0049 (0)30 1234567", "phone (international)"),
        ("+43 1 5880000", "phone (international)"),
        ("0170 1234567", "phone (German national)"),
        ("030/12345678", "phone (German national)"),
        ("(030) 1234567", "phone (German national)"),
        ("0221-9876543", "phone (German national)"),
        ("erika.mustermann@example.de", "e-mail address"),
        ("a+b@firma-gmbh.co.uk", "e-mail address"),
        ("Hauptstraße 5", "street address"),
        ("Berliner Strasse 12a", "street address"),
        ("Hauptstr. 7", "street address"),
        ("Am Markt 3", "street address"),
        ("Lindenallee 120", "street address"),
        ("10115 Berlin", "postcode and town"),
        ("80331  München", "postcode and town"),
    ],
)
def test_personal_data_is_found_in_a_json_body(text: str, kind: str) -> None:
    body = json.dumps({"event_type": "X", "note": f"bitte {text} notieren"}, ensure_ascii=False).encode()
    assert kind in {k for k, _ in scan(body)}


def test_json_escapes_do_not_hide_anything() -> None:
    body = json.dumps({"note": "Hauptstraße 5"}, ensure_ascii=True).encode()  # "Hauptstra\\u00dfe 5"
    assert b"\\u00df" in body
    assert ("street address", -1) in scan(body)


def test_offsets_point_into_the_raw_bytes() -> None:
    body = '{"a":"ü","b":"0170 1234567"}'.encode()
    ((_kind, offset),) = scan(body)
    assert body[offset:offset + 4] == b"0170"


@pytest.mark.parametrize(
    "text",
    [
        "FW-2026-000001", "FW-S-2026-000123", "2026-03-04T08:57:15Z", "2026-09-03T12:23:45+02:00",
        "24.00", "1234567.00", "04729745-7a61-4291-8af7-d872095f36ba", "0123456789abcdef" * 4, "K00001",
        "K7MQ-3X", "tech-07", "Fernwartung je angefangene 15 Min.", "Abendzuschlag 25 % auf den Zeitanteil",
        "Wochenendzuschlag 50 % auf den Zeitanteil", "Grundgebühr Fernwartung", "900 Sek.",
    ],
)
def test_ids_codes_times_and_amounts_are_not_personal_data(text: str) -> None:
    assert scan(json.dumps({"v": text}, ensure_ascii=False).encode()) == []


@settings(max_examples=300, deadline=None)
@given(st.uuids(), st.integers(min_value=0, max_value=10**12), st.datetimes(timezones=st.just(UTC)))
def test_generated_ids_numbers_and_times_never_match(u: uuid.UUID, n: int, t: datetime) -> None:
    body = json.dumps({"id": str(u), "n": n, "s": str(n), "t": t.isoformat(), "hex": u.hex}).encode()
    assert scan(body) == []


def test_a_long_realistic_history_has_no_false_positive() -> None:
    for record in bulk_history(3000, datetime(2026, 6, 1, tzinfo=UTC) + timedelta(days=1)).records():
        assert scan(scanned_part(record)) == [], record.seq


def test_only_the_declared_office_business_data_are_exempt_from_the_scan() -> None:
    from fw_audit.model import Record
    from fw_audit.scripted import EXAMPLE_ISSUER, TARIFF_2026_01
    from fw_contracts.reference import IssuerDetailsChanged, TariffPublished

    at = datetime(2026, 3, 1, tzinfo=UTC)
    issuer = IssuerDetailsChanged.of(EXAMPLE_ISSUER, None, occurred_at=at)
    raw = issuer.to_json()
    assert "street address" in {k for k, _ in scan(raw)}  # the office's own address
    assert scan(scanned_part(Record(1, issuer.subject(), at, raw))) == []
    # the same address anywhere else (here in a tariff's free text) is found
    odd = TARIFF_2026_01.model_copy(update={"surcharges": (TARIFF_2026_01.surcharges[0].model_copy(
        update={"description": "Beispielstraße 1"}),)})
    tariff = TariffPublished.of(odd, occurred_at=at)
    assert [k for k, _ in scan(scanned_part(Record(2, tariff.subject(), at, tariff.to_json())))] == ["street address"]
