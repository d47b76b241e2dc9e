"""The offline bundle (write, verify alone, detect edits), the HTML report and CLI parsing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import typer

from fw_audit.bundle import BundleWriter, open_bundle
from fw_audit.cli import parse_duration, parse_time
from fw_audit.html import delay_histogram, render_html
from fw_audit.runner import verify_bundle
from fw_audit.source import Until
from fw_audit.verifier import VerifyOptions, verify_records
from fw_contracts.reference import TariffPublished

END = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
STREAM = {"name": "FERNWARTUNG", "deny_delete": True, "deny_purge": True}


def _write(tmp_path: Path, scenario, defect: str | None = None) -> Path:
    s = scenario(END, defect)
    writer = BundleWriter(tmp_path / "bundle")
    for record in s.history.records():
        writer.add(record)
    writer.close(STREAM, END)
    return tmp_path / "bundle"


def test_bundle_has_events_schemas_tariffs_and_a_manifest(tmp_path: Path, scenario) -> None:
    d = _write(tmp_path, scenario)
    manifest = json.loads((d / "manifest.json").read_text())
    assert "events.jsonl" in manifest["files"] and "stream.json" in manifest["files"]
    assert any(name.startswith("schemas/fw.audit.audit_checkpoint") for name in manifest["files"])
    # no tariff files: the tariffs are in the history itself
    assert not any(name.startswith("tariffs/") for name in manifest["files"])
    assert TariffPublished.subject() in (d / "events.jsonl").read_text(encoding="utf-8")
    # the retention map rendered from code (fw_privacy), covered by the manifest like the rest
    assert "retention-map/loeschkonzept.md" in manifest["files"]
    assert "Löschkonzept" in (d / "retention-map" / "loeschkonzept.md").read_text(encoding="utf-8")
    first = json.loads((d / "events.jsonl").read_text().splitlines()[0])
    assert set(first) == {"seq", "subject", "time", "body", "chain"} and first["seq"] == 1
    assert open_bundle(d).manifest_problems == []


def test_verify_on_the_bundle_alone(tmp_path: Path, scenario) -> None:
    report = verify_bundle(_write(tmp_path, scenario), VerifyOptions())
    assert not report.failed_checks, [c.to_dict() for c in report.checks if not c.ok]
    assert report.as_of == END  # the export time judges pending erasures
    assert "recorded at export" in " ".join(report.check("integrity").notes)


def test_bundle_with_a_defect_fails_that_check(tmp_path: Path, scenario) -> None:
    report = verify_bundle(_write(tmp_path, scenario, "invoice_number_gap"), VerifyOptions())
    assert [c.name for c in report.checks if not c.ok] == ["invoice_numbers"]


def test_an_edited_bundle_is_detected_and_the_message_named(tmp_path: Path, scenario) -> None:
    d = _write(tmp_path, scenario)
    lines = (d / "events.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    k = next(i for i, line in enumerate(lines) if "SessionStarted" in line)
    lines[k] = lines[k].replace("tech-0", "tech-1", 1)
    (d / "events.jsonl").write_text("".join(lines), encoding="utf-8")
    report = verify_bundle(d, VerifyOptions())
    integrity = report.check("integrity")
    assert [c.name for c in report.checks if not c.ok] == ["integrity"]
    assert integrity.first_failing_seq == k + 1
    reasons = " ".join(f.reason for f in integrity.failures)
    assert "events.jsonl does not match its SHA-256" in reasons and "does not match the signed checkpoint" in reasons


def test_bundle_until(tmp_path: Path, scenario) -> None:
    report = verify_bundle(_write(tmp_path, scenario), VerifyOptions(), until=Until(seq=10))
    assert report.summary.last_seq == 10 and report.summary.messages == 10


def test_html_report_is_self_contained(scenario) -> None:
    s = scenario(END, "late_erasure")
    report = verify_records(s.history.records(), END, options=VerifyOptions(stream_config=STREAM))
    html = render_html(report)
    assert html.startswith("<!DOCTYPE html>") and html.count("<svg") == 2
    assert "<script" not in html and "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in html
    assert "CHECKS FAILED" in html and f"seq {s.expected_seq()}" in html
    assert "Events per day" in html and "Erasure delay" in html
    import re
    import xml.etree.ElementTree as ET

    for svg in re.findall(r"<svg.*?</svg>", html, flags=re.DOTALL):
        root = ET.fromstring(svg)  # well-formed inline SVG
        assert root.tag.endswith("svg") and len(root.findall("{http://www.w3.org/2000/svg}rect")) > 0


def test_delay_histogram_bins() -> None:
    bins = dict(delay_histogram([0.5, 2, 2, 59, 61, 4000, 10 ** 6]))
    assert bins["< 1 s"] == 1 and bins["1–5 s"] == 2 and bins["30–60 s"] == 1 and bins["1–5 min"] == 1
    assert bins["1 h–1 d"] == 1 and bins["> 1 d"] == 1


def test_cli_parsers() -> None:
    assert parse_duration("60") == timedelta(seconds=60)
    assert parse_duration("5m") == timedelta(minutes=5)
    assert parse_duration("14d") == timedelta(days=14)
    with pytest.raises(typer.BadParameter):
        parse_duration("soon")
    assert parse_time("2026-03-01T10:00:00") == datetime(2026, 3, 1, 10, tzinfo=UTC)
    assert Until.parse("42") == Until(seq=42)
    assert Until.parse("2026-03-01T10:00:00Z") == Until(time=datetime(2026, 3, 1, 10, tzinfo=UTC))


def test_until_stops_by_sequence_or_store_time() -> None:
    from fw_audit.model import Record

    r = Record(5, "fw.x.y.v1", datetime(2026, 3, 1, 10, 0, 1, tzinfo=UTC), b"{}")
    assert Until(seq=4).stops_before(r) and not Until(seq=5).stops_before(r)
    assert Until(time=datetime(2026, 3, 1, 10, tzinfo=UTC)).stops_before(r)
    assert not Until().stops_before(r)


def test_ack_subject_parsing_is_exact() -> None:
    from fw_audit.source import ack_fields, from_ns, parse_nats_time

    ns = 1_772_000_000_123_456_789
    assert ack_fields(f"$JS.ACK.FERNWARTUNG.c.1.42.7.{ns}.0") == (42, ns, 0)
    assert ack_fields(f"$JS.ACK._.acc.FERNWARTUNG.c.1.42.7.{ns}.3.tok") == (42, ns, 3)
    assert from_ns(ns).microsecond == 123456
    assert parse_nats_time("2026-02-25T06:13:20.123456789Z") == from_ns(ns)


def test_nats_store_times_with_any_number_of_fractional_digits() -> None:
    """Go writes RFC 3339 with up to nine digits and drops trailing zeros; microseconds are cut, never
    rounded (as from the ack subject's nanoseconds)."""
    from fw_audit.source import from_ns, parse_nats_time

    base = 1_772_000_000 * 1_000_000_000
    for digits in range(10):
        frac = "987654321"[:digits]
        ns = base + (int(frac.ljust(9, "0")) if frac else 0)
        text = "2026-02-25T06:13:20" + (f".{frac}" if frac else "") + "Z"
        assert parse_nats_time(text) == from_ns(ns), text
        assert parse_nats_time(text).utcoffset() == timedelta(0)
    assert parse_nats_time("2026-02-25T06:13:20.9999999Z").microsecond == 999999
