"""The verifier on in-memory histories: all checks pass on a clean history, and each injected
defect makes exactly its check fail, naming the defect's stream sequence."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fw_audit.chain import Chain, sign, signature_valid
from fw_audit.model import Record
from fw_audit.scripted import OFFICE, TARIFF_2026_01, History, bulk_history, every_lifecycle
from fw_audit.tariff_files import read_tariff_dir
from fw_audit.verifier import VerifyOptions, verify_records
from fw_contracts import events as ev
from fw_contracts.reference import TariffPublished

END = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
SHIPPED_TARIFFS = Path(__file__).parents[4] / "services" / "billing" / "src" / "fw_billing" / "tariffs"
APPEND_ONLY = {"deny_delete": True, "deny_purge": True}
DEFECTS = ["missing_erasure", "late_erasure", "invoice_number_gap", "wrong_total", "phone_number"]


def _options(**kw: object) -> VerifyOptions:
    return VerifyOptions(stream_config=APPEND_ONLY, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("end", [datetime(2026, 12, 2, 22, 10, tzinfo=UTC),   # 00:10 in October's CEST
                                 datetime(2026, 12, 2, 23, 30, tzinfo=UTC),   # 00:30 in Berlin
                                 datetime(2026, 7, 1, 22, 30, tzinfo=UTC),
                                 datetime(2026, 12, 2, 10, 0, tzinfo=UTC)])
def test_the_scripted_histories_hold_at_any_hour(end: datetime) -> None:
    """The generated histories the live tests publish are clean whenever a test runs: sessions only
    on office weekdays (a late run once put them on Sundays, priced as weekdays)."""
    for history in (bulk_history(600, end - timedelta(days=1)), every_lifecycle(end)[0]):
        starts = [i.event.started_at for i in history.items() if isinstance(i.event, ev.SessionStarted)]
        assert starts and all(s.astimezone(OFFICE).weekday() < 5 for s in starts)
        report = verify_records(history.records(), end, options=_options())
        assert report.failed_checks == [], [c.to_dict() for c in report.checks if not c.ok]


def test_every_lifecycle_passes_every_check(scenario) -> None:
    s = scenario(END)
    report = verify_records(s.history.records(), END, options=_options())
    assert not report.failed_checks, [c.to_dict() for c in report.checks if not c.ok]
    assert [c.name for c in report.checks] == ["erasure", "invoice_numbers", "invoice_totals", "terms",
                                              "personal_data", "integrity", "projections"]
    # without database access the projections check did not run: that is not a pass
    assert report.skipped_checks == ["projections"] and not report.ok and report.exit_code == 3
    assert report.check("projections").status.value == "skipped"
    counts = report.summary.counts
    for name in ("SupportRequestCreated", "SupportRequestWithdrawn", "SessionNotBilled", "InvoiceIssued",
                 "InvoiceCancelled", "CustomerPromoted", "CustomerAccountCreated", "PersonalDataErased",
                 "AuditCheckpoint"):
        assert counts.get(name), name
    # the request created two hours before the end is within its deadline: pending, not failed
    assert len(report.check("erasure").pending) == 1
    notes = " ".join(report.check("invoice_totals").notes)
    assert "5 invoices re-priced with the reference pricing" in notes  # from the stream's TariffPublished
    assert "1 tariff versions published in the stream" in notes
    assert "1 signed checkpoints verified" in " ".join(report.check("integrity").notes)
    assert len(report.erasure_delays) == 8


@pytest.mark.parametrize("defect", DEFECTS)
def test_each_defect_fails_exactly_its_check_and_names_the_sequence(scenario, defect: str) -> None:
    s = scenario(END, defect)
    report = verify_records(s.history.records(), END, options=_options())
    failed = [c.name for c in report.checks if not c.ok]
    assert failed == [s.check]
    check = report.check(s.check)
    assert len(check.failures) == 1, check.to_dict()
    assert check.failures[0].seq == s.expected_seq()
    assert check.first_failing_seq == s.expected_seq()


def test_missing_erasure_is_pending_while_within_the_deadline(scenario) -> None:
    s = scenario(END, "missing_erasure")
    trigger = next(i for i in s.history.items() if isinstance(i.event, ev.SessionNotBilled))
    report = verify_records(s.history.records(), trigger.time + timedelta(seconds=30), options=_options())
    assert report.check("erasure").ok
    assert any("erasure due" in p.reason for p in report.check("erasure").pending)


def test_abandoned_request_erased_after_the_slack_fails() -> None:
    h = History()
    out = h.abandoned(END - timedelta(days=20), after=timedelta(days=14, hours=2))
    report = verify_records(h.records(), END, options=_options())
    (failure,) = report.check("erasure").failures
    assert "abandonment deadline" in failure.reason and failure.seq == 2
    assert failure.ids["request_id"] == str(out["created"].request_id)  # type: ignore[attr-defined]


# ------------------------------------------------------------------ billing hold
def test_a_blocked_request_erased_on_day_60_of_the_hold_is_on_time() -> None:
    h = History()
    out = h.billing_held(END - timedelta(days=70), erased_after=timedelta(days=60))
    report = verify_records(h.records(), END, options=_options())
    assert not report.failed_checks, [c.to_dict() for c in report.checks if not c.ok]
    # far past the 14-day deadline, yet within the 90-day hold counted from BillingBlocked
    assert out["erased"].occurred_at - out["created"].occurred_at > timedelta(days=59)
    assert "billing hold 90 d" in " ".join(report.check("erasure").notes)
    assert "1 sessions not billed because" in " ".join(report.check("invoice_totals").notes)


def test_a_blocked_request_erased_after_the_hold_is_late() -> None:
    h = History()
    out = h.billing_held(END - timedelta(days=100), erased_after=timedelta(days=90, hours=2))
    report = verify_records(h.records(), END, options=_options())
    assert report.failed_checks == ["erasure"]
    (failure,) = report.check("erasure").failures
    assert "after the end of the billing hold" in failure.reason
    assert failure.ids["request_id"] == str(out["created"].request_id)  # type: ignore[attr-defined]
    erased_seq = next(i for i, item in enumerate(h.items(), 1) if item.event is out["erased"])
    assert failure.seq == erased_seq
    # the same history is on time with the hold the office configured longer
    longer = verify_records(h.records(), END, options=_options(billing_hold=timedelta(days=91)))
    assert longer.check("erasure").ok


def test_the_hold_applies_only_with_a_billing_block() -> None:
    """Without BillingBlocked the same 60-day erasure is late (the 14-day rule)."""
    h = History()
    out = h.billing_held(END - timedelta(days=70), erased_after=timedelta(days=60))
    h.remove(out["blocked"])
    report = verify_records(h.records(), END, options=_options())
    (failure,) = report.check("erasure").failures
    assert "abandonment deadline" in failure.reason


def test_a_held_request_without_erasure_is_pending_during_the_hold_and_missing_after() -> None:
    h = History()
    out = h.billing_held(END - timedelta(days=30))
    h.remove(out["erased"])
    h.remove(out["not_billed"])
    report = verify_records(h.records(), END, options=_options())
    assert report.check("erasure").ok
    assert any("billing hold" in p.reason for p in report.check("erasure").pending)
    report = verify_records(h.records(), END + timedelta(days=61), options=_options())
    (failure,) = report.check("erasure").failures
    assert "missing erasure" in failure.reason and "billing hold" in failure.reason


def test_a_lost_claim_needs_the_erasure_of_its_request() -> None:
    h = History()
    out = h.billing_held(END - timedelta(days=100))
    h.remove(out["erased"])
    report = verify_records(h.records(), END, options=_options())
    assert "invoice_totals" in report.failed_checks
    (failure,) = report.check("invoice_totals").failures
    assert "never erased" in failure.reason
    assert failure.ids["session_id"] == str(out["ended"].session_id)  # type: ignore[attr-defined]


def test_unknown_trigger_and_reason_without_trigger_fail() -> None:
    h = History()
    created = h.open_request(END - timedelta(days=1))["created"]
    h.add(ev.PersonalDataErased(request_id=created.request_id, reason=ev.ErasureReason.INVOICE_ISSUED,  # type: ignore[attr-defined]
                                trigger_event_id=uuid.uuid4(), erased_at=END - timedelta(hours=20),
                                occurred_at=END - timedelta(hours=20)))
    report = verify_records(h.records(), END, options=_options())
    (failure,) = report.check("erasure").failures
    assert "not a trigger of this request" in failure.reason and failure.seq == 2


def test_promoted_request_without_erasure_passes() -> None:
    h = History()
    out = h.invoiced(datetime(2026, 3, 3, 9, tzinfo=UTC), promoted=True)
    h.remove(out["erased"])
    report = verify_records(h.records(), END, options=_options())
    assert report.check("erasure").ok


def test_duplicate_number_and_cancellation_of_unknown_invoice(scenario) -> None:
    s = scenario(END)
    h = s.history
    inv = next(i.event for i in h.items() if isinstance(i.event, ev.InvoiceIssued))
    assert isinstance(inv, ev.InvoiceIssued)
    at = END - timedelta(hours=1)
    h.add(ev.InvoiceCancelled(cancellation_number="FW-S-2026-000002", invoice_number="FW-2026-999999",
                              request_id=inv.request_id, cancelled_at=at, reason_code="other",
                              net_total=inv.net_total, vat_total=inv.vat_total, gross_total=inv.gross_total,
                              occurred_at=at))
    h.add(inv.model_copy(update={"event_id": uuid.uuid4(), "occurred_at": at + timedelta(seconds=1)}))
    records = h.records()
    report = verify_records(records, END, options=_options())
    reasons = [f.reason for f in report.check("invoice_numbers").failures]
    assert any("never issued" in r for r in reasons)
    assert any("used by 2 terminal events" in r for r in reasons)
    dup = next(f for f in report.check("invoice_numbers").failures if "used by 2" in f.reason)
    assert dup.seq == len(records)  # the second use is the one at fault


def test_an_older_history_without_tariff_events_falls_back_to_tariff_files_and_says_so() -> None:
    h, _ = every_lifecycle(END, reference=False)
    records = h.records()
    assert not any(r.subject == TariffPublished.subject() for r in records)
    plain = verify_records(records, END, options=_options())
    totals = plain.check("invoice_totals")
    assert len(totals.failures) == 6 and all("re-price" in f.reason for f in totals.failures)  # 5 invoices, 1 free
    assert "re-pricing needs --tariff-dir" in " ".join(totals.notes)
    files = read_tariff_dir(SHIPPED_TARIFFS)  # billing's files, read as files (no billing code)
    with_files = verify_records(records, END, options=_options(tariff_files=files, tariff_files_note="shipped"))
    totals = with_files.check("invoice_totals")
    assert totals.ok, totals.to_dict()
    assert "6 prices of invoices without a TariffPublished (older history) re-computed from --tariff-dir" \
        in " ".join(totals.notes)


def test_the_shipped_tariff_file_is_the_published_content() -> None:
    assert read_tariff_dir(SHIPPED_TARIFFS)["2026-01"] == TARIFF_2026_01


def test_an_altered_tariff_event_or_invoice_total_fails_invoice_totals() -> None:
    h, script = every_lifecycle(END)
    published = next(i.event for i in h.items() if isinstance(i.event, TariffPublished))
    assert isinstance(published, TariffPublished)
    cheaper = published.tariff.model_copy(update={"rate_per_interval": Decimal("20.00")})
    h.replace(published, published.model_copy(update={"tariff": cheaper}))
    totals = verify_records(h.records(), END, options=_options()).check("invoice_totals")
    assert any("does not match its hash (altered tariff event)" in f.reason for f in totals.failures)
    # and every invoice priced with it now names a tariff the stream does not hold
    assert sum("no TariffPublished of it precedes" in f.reason for f in totals.failures) == 5

    h, script = every_lifecycle(END)
    inv = script["invoice"]["invoice"]
    assert isinstance(inv, ev.InvoiceIssued)
    h.replace(inv, inv.model_copy(update={"gross_total": inv.gross_total + 1, "vat_total": inv.vat_total + 1}))
    totals = verify_records(h.records(), END, options=_options()).check("invoice_totals")
    [failure] = totals.failures
    assert failure.ids["invoice_number"] == inv.invoice_number and "re-priced vat_total" in failure.reason


def test_repricing_catches_a_consistent_but_wrong_price() -> None:
    """Arithmetic alone cannot see a wrong unit price; billing's pricing function can."""
    h = History()
    h.reference(datetime(2026, 3, 1, tzinfo=UTC))
    out = h.invoiced(datetime(2026, 3, 3, 9, tzinfo=UTC), seconds=1500)
    inv = out["invoice"]
    assert isinstance(inv, ev.InvoiceIssued)
    line = inv.lines[0].model_copy(update={"unit_price": inv.lines[0].unit_price + 1,
                                           "net": inv.lines[0].net + inv.lines[0].quantity})
    from fw_audit.checks.totals import round_cents

    net = line.net
    vat = round_cents(net * inv.vat_rate)
    h.replace(inv, inv.model_copy(update={"lines": (line,), "net_total": net, "vat_total": vat,
                                          "gross_total": net + vat}))
    report = verify_records(h.records(), END, options=_options())
    totals = report.check("invoice_totals")
    assert not totals.ok and any("re-priced" in f.reason for f in totals.failures)
    assert sum("re-priced" in f.reason for f in totals.failures) == 1


# ---------------------------------------------------------------- integrity
def test_tampered_message_breaks_the_signed_checkpoint(scenario) -> None:
    s = scenario(END)
    records = s.history.records()
    k = next(r.seq for r in records if r.subject == ev.SessionStarted.subject())
    original = records[k - 1]
    tampered = replace(original, body=original.body.replace(b'"tech-0', b'"tech-1', 1))
    assert tampered.body != original.body
    copy = [*records[:k - 1], tampered, *records[k:]]
    report = verify_records(copy, END, options=_options())
    assert [c.name for c in report.checks if not c.ok] == ["integrity"]
    (failure,) = report.check("integrity").failures
    checkpoint_seq = len(records) - 1
    assert failure.seq == checkpoint_seq and f"seqs 1..{checkpoint_seq}" in failure.reason
    # with the chain of an earlier export as reference, the exact message is named
    chain, reference = Chain(), {}
    for r in records:
        reference[r.seq] = chain.add(r.seq, r.subject, r.body)
    pinned = verify_records(copy, END, options=_options(reference=reference, reference_name="test"))
    assert pinned.check("integrity").first_failing_seq == k


def test_checkpoint_signatures_and_pinned_keys(scenario) -> None:
    s = scenario(END)
    records = s.history.records()
    from cryptography.hazmat.primitives import serialization

    own = s.key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()
    assert not verify_records(records, END, options=_options(trusted_keys=frozenset({own}))).failed_checks
    other = verify_records(records, END, options=_options(trusted_keys=frozenset({"ab" * 32})))
    assert "untrusted key" in other.check("integrity").failures[0].reason
    # a signature that does not fit: the checkpoint is the last message
    last = records[-1]
    import json

    data = json.loads(last.body)
    data["signature"] = ("0" if data["signature"][0] != "0" else "1") + data["signature"][1:]
    bad = replace(last, body=json.dumps(data).encode())
    report = verify_records([*records[:-1], bad], END, options=_options())
    assert report.check("integrity").failures[0].reason == "checkpoint signature invalid"


def test_missing_message_and_stream_config() -> None:
    h, _ = every_lifecycle(END)
    records = h.records()
    holed = records[:4] + records[5:]
    report = verify_records(holed, END, options=_options())
    (failure,) = report.check("integrity").failures
    assert failure.seq == 6 and "5 missing" in failure.reason
    loose = verify_records(records, END, options=VerifyOptions(stream_config={"deny_delete": True}))
    assert "deny_purge is not set" in loose.check("integrity").failures[0].reason


def test_chain_definition() -> None:
    import hashlib

    c = Chain()
    h1 = c.add(1, "fw.a.b.v1", b"{}")
    expected = hashlib.sha256(bytes(32) + (1).to_bytes(8, "big") + b"fw.a.b.v1" + hashlib.sha256(b"{}").digest())
    assert h1 == expected.digest()
    public, signature = sign(Ed25519PrivateKey.generate(), 1, h1.hex())

    assert signature_valid(public, signature, 1, h1.hex())
    assert not signature_valid(public, signature, 2, h1.hex())


def test_replay_lists_invalid_messages_with_reason_not_values() -> None:
    records = [Record(1, "fw.session.session_started.v1", END, b'{"event_type":"SessionStarted","schema_version":1,'
                                                             b'"technician":"Erika Mustermann"}'),
               Record(2, "fw.x.y.v1", END, b"not json")]
    report = verify_records(records, END, options=_options())
    invalid = report.summary.invalid
    assert [i.seq for i in invalid] == [1, 2]
    assert "Erika" not in invalid[0].reason and "invalid fields" in invalid[0].reason
    assert report.summary.counts["(invalid)"] == 2
    assert [f.seq for f in report.check("personal_data").failures] == [1, 2]


def test_reverse_charge_invoices_recompute_and_german_vat_on_them_fails() -> None:
    """The tariff prices, the tax case removes the VAT: a reverse-charge invoice without VAT is
    right even for a small sum (always a full invoice); one showing German VAT is a finding."""
    h = History()
    h.reference(datetime(2026, 3, 1, tzinfo=UTC))
    out = h.invoiced(datetime(2026, 3, 3, 9, tzinfo=UTC), seconds=1500)
    inv = out["invoice"]
    assert isinstance(inv, ev.InvoiceIssued) and inv.kind is ev.InvoiceKind.SMALL
    rc = inv.model_copy(update={"tax_case": ev.TaxCase.REVERSE_CHARGE, "kind": ev.InvoiceKind.FULL,
                                "vat_rate": Decimal(0), "vat_total": Decimal("0.00"),
                                "gross_total": inv.net_total})
    h.replace(inv, rc)
    assert verify_records(h.records(), END, options=_options()).check("invoice_totals").ok
    h.replace(rc, rc.model_copy(update={"kind": ev.InvoiceKind.SMALL}))
    small = verify_records(h.records(), END, options=_options()).check("invoice_totals")
    assert not small.ok and any("does not fit" in f.reason for f in small.failures)
    h2 = History()
    h2.reference(datetime(2026, 3, 1, tzinfo=UTC))
    inv2 = h2.invoiced(datetime(2026, 3, 3, 9, tzinfo=UTC), seconds=1500)["invoice"]
    assert isinstance(inv2, ev.InvoiceIssued)
    h2.replace(inv2, inv2.model_copy(update={"tax_case": ev.TaxCase.REVERSE_CHARGE, "kind": ev.InvoiceKind.FULL}))
    taxed = verify_records(h2.records(), END, options=_options()).check("invoice_totals")
    assert not taxed.ok and any("§14c" in f.reason for f in taxed.failures)


def test_a_corrected_invoice_after_its_storno_passes_and_one_without_storno_fails() -> None:
    """LEGAL.md L18: cancel, then a corrected invoice for the same session with a new number,
    priced by the corrected duration it names; without the Storno there would be two valid
    invoices for one service."""
    h = History()
    h.reference(datetime(2026, 3, 1, tzinfo=UTC))
    inv = h.invoiced(datetime(2026, 3, 3, 9, tzinfo=UTC), seconds=1500)["invoice"]
    assert isinstance(inv, ev.InvoiceIssued)
    at = datetime(2026, 3, 5, 9, tzinfo=UTC)
    h.cancel(inv, at)
    fixed = h.correct(inv, at + timedelta(minutes=5), priced_seconds=900)
    report = verify_records(h.records(), END, options=_options())
    assert report.check("invoice_numbers").ok and report.check("invoice_totals").ok
    assert fixed.billed_seconds < fixed.raw_seconds  # a corrected, shorter billed duration is fine

    h2 = History()

    h2.reference(datetime(2026, 3, 1, tzinfo=UTC))
    inv2 = h2.invoiced(datetime(2026, 3, 3, 9, tzinfo=UTC), seconds=1500)["invoice"]
    assert isinstance(inv2, ev.InvoiceIssued)
    h2.correct(inv2, datetime(2026, 3, 5, 9, tzinfo=UTC), priced_seconds=900)
    numbers = verify_records(h2.records(), END, options=_options()).check("invoice_numbers")
    assert not numbers.ok and any("not cancelled before it" in f.reason for f in numbers.failures)


def test_a_correction_priced_wrongly_or_twice_fails() -> None:
    h = History()
    h.reference(datetime(2026, 3, 1, tzinfo=UTC))
    inv = h.invoiced(datetime(2026, 3, 3, 9, tzinfo=UTC), seconds=1500)["invoice"]
    assert isinstance(inv, ev.InvoiceIssued)
    at = datetime(2026, 3, 5, 9, tzinfo=UTC)
    h.cancel(inv, at)
    fixed = h.correct(inv, at + timedelta(minutes=5), priced_seconds=900)
    h.replace(fixed, fixed.model_copy(update={"priced_seconds": 1800}))  # claims another duration
    totals = verify_records(h.records(), END, options=_options()).check("invoice_totals")
    assert not totals.ok and any("re-priced" in f.reason for f in totals.failures)
    h.replace(fixed.model_copy(update={"priced_seconds": 1800}), fixed)
    h.correct(inv, at + timedelta(minutes=9), priced_seconds=900)
    numbers = verify_records(h.records(), END, options=_options()).check("invoice_numbers")
    assert not numbers.ok and any("corrected twice" in f.reason for f in numbers.failures)


def test_accepted_terms_must_be_published_and_unaltered() -> None:
    from fw_contracts.reference import TermsPublished

    h, _script = every_lifecycle(END)
    report = verify_records(h.records(), END, options=_options())
    assert report.check("terms").ok and report.check("terms").checked == 1 + 9  # the text, 9 requests
    published = next(i.event for i in h.items() if isinstance(i.event, TermsPublished))
    assert isinstance(published, TermsPublished)
    h.replace(published, published.model_copy(update={"text": "andere AGB"}))
    terms = verify_records(h.records(), END, options=_options()).check("terms")
    assert "does not match its hash (altered)" in terms.failures[0].reason
    assert len(terms.failures) == 1 + 9  # and no request's accepted text is in the history any more
    old, _ = every_lifecycle(END, reference=False)
    terms = verify_records(old.records(), END, options=_options()).check("terms")
    assert terms.ok and "9 requests before any TermsPublished" in " ".join(terms.notes)


# ---------------------------------------------------------------- an event stored twice
def _stored_again(records: list[Record], k: int, body: bytes | None = None) -> list[Record]:
    """``records`` with a copy of message ``k`` appended, as the relay's publish after the stream's
    duplicate window stores it (a new sequence, the same id)."""
    original = records[k - 1]
    copy = replace(original, seq=len(records) + 1, body=original.body if body is None else body)
    return [*records, copy]


def test_an_event_stored_twice_after_the_duplicate_window_is_noted_not_counted_twice(scenario) -> None:
    """A crash between JetStream's ack and the outbox row's delete, the office restarted the next
    morning: the relay publishes the row again and the stream stores it a second time. Consumers
    drop the copy by their idempotency records; the audit must not call its invoice number used
    twice (or re-price, count, or erase it twice)."""
    s = scenario(END)
    records = s.history.records()
    k = next(r.seq for r in records if r.subject == ev.InvoiceIssued.subject())
    report = verify_records(_stored_again(records, k), END, options=_options())
    assert report.failed_checks == [], [c.to_dict() for c in report.checks if not c.ok]
    notes = " ".join(report.check("integrity").notes)
    assert f"1 messages stored twice with the same event id and content (seq {len(records) + 1} = seq {k})" in notes
    # the chain still covers every stored message, the copy included
    assert report.check("integrity").checked == len(records) + 1
    # without the copy the numbers check sees the same as with it
    clean = verify_records(records, END, options=_options())
    assert report.check("invoice_numbers").checked == clean.check("invoice_numbers").checked
    assert report.check("invoice_totals").notes == clean.check("invoice_totals").notes


def test_a_used_event_id_with_other_content_fails_integrity(scenario) -> None:
    s = scenario(END)
    records = s.history.records()
    k = next(r.seq for r in records if r.subject == ev.InvoiceIssued.subject())
    other = records[k - 1].body.replace(b'"gross_total":"', b'"gross_total":"1', 1)
    assert other != records[k - 1].body
    report = verify_records(_stored_again(records, k, other), END, options=_options())
    assert [c.name for c in report.checks if not c.ok] == ["integrity"]
    (failure,) = report.check("integrity").failures
    assert failure.seqs == (len(records) + 1, k) and "used again" in failure.reason
    assert "stored twice" not in " ".join(report.check("integrity").notes)
