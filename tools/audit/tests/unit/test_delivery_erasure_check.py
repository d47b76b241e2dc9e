"""The erasure check's second step: the e-mail address kept for an invoice's delivery (LEGAL.md
L21) is erased at the delivery's outcome, at the latest when the delivery hold ends; each delay
is measured from its own trigger."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fw_audit.scripted import History
from fw_audit.verifier import VerifyOptions, verify_records
from fw_contracts import events as ev

END = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
CREATED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _options(**kw: object) -> VerifyOptions:
    return VerifyOptions(stream_config={"deny_delete": True, "deny_purge": True}, **kw)  # type: ignore[arg-type]


def test_delivered_failed_and_hold_ended_pass_each_measured_from_its_trigger() -> None:
    h = History()
    h.reference(CREATED - timedelta(days=1))  # billing's tariff first: the invoices are re-priced from it
    delivered = h.invoiced_by_email(CREATED, outcome="delivered", outcome_after=timedelta(hours=5))
    h.invoiced_by_email(CREATED + timedelta(hours=1), outcome="failed")
    h.invoiced_by_email(CREATED + timedelta(hours=2), outcome=None)
    report = verify_records(h.records(), END, options=_options())
    erasure = report.check("erasure")
    assert erasure.ok, [f.reason for f in erasure.failures]
    assert not report.failed_checks, report.failed_checks
    assert "(3 requests)" in " ".join(erasure.notes) and "more than once" not in " ".join(erasure.notes)
    # the e-mail's erasure 5 hours after the invoice counts from the delivery, not the invoice
    assert delivered["erased_email"].occurred_at - delivered["invoice"].occurred_at > timedelta(hours=5)
    assert max(report.erasure_delays) < 60


def test_second_step_late_after_the_delivery_fails() -> None:
    h = History()
    out = h.invoiced_by_email(CREATED, outcome="delivered", second_after=timedelta(minutes=5))
    report = verify_records(h.records(), END, options=_options())
    (failure,) = report.check("erasure").failures
    assert "late erasure of the delivery e-mail" in failure.reason and "InvoiceDelivered" in failure.reason
    assert failure.ids["request_id"] == str(out["created"].request_id)  # type: ignore[attr-defined]


def test_second_step_after_the_hold_fails_and_a_longer_hold_passes() -> None:
    h = History()
    h.invoiced_by_email(CREATED - timedelta(days=5), outcome=None, second_after=timedelta(hours=2))
    report = verify_records(h.records(), END, options=_options())
    (failure,) = report.check("erasure").failures
    assert "after the end of the delivery hold" in failure.reason
    assert verify_records(h.records(), END, options=_options(delivery_hold=timedelta(days=15))).check("erasure").ok


def test_kept_email_is_pending_during_the_hold_and_missing_after() -> None:
    h = History()
    created = END - timedelta(days=5)
    out = h.invoiced_by_email(created, outcome=None)
    h.remove(out["erased_email"])
    report = verify_records(h.records(), END, options=_options())
    assert report.check("erasure").ok
    assert any("delivery e-mail kept" in p.reason for p in report.check("erasure").pending)
    late = verify_records(h.records(), created + timedelta(days=15), options=_options())
    (failure,) = late.check("erasure").failures
    assert "missing erasure of the kept delivery e-mail" in failure.reason and "delivery hold" in failure.reason


def test_missing_second_step_after_a_delivery_fails_once_due() -> None:
    h = History()
    out = h.invoiced_by_email(CREATED, outcome="failed")
    h.remove(out["erased_email"])
    report = verify_records(h.records(), END, options=_options())
    (failure,) = report.check("erasure").failures
    assert "missing erasure of the kept delivery e-mail" in failure.reason and "InvoiceDeliveryFailed" in failure.reason


def test_a_hold_announced_longer_than_allowed_fails() -> None:
    h = History()
    out = h.invoiced_by_email(CREATED, outcome="delivered")
    first = out["erased"]
    assert isinstance(first, ev.PersonalDataErased) and first.delivery_hold_until is not None
    h.replace(first, first.model_copy(update={"delivery_hold_until": first.delivery_hold_until + timedelta(days=30)}))
    (failure,) = verify_records(h.records(), END, options=_options()).check("erasure").failures
    assert "beyond the delivery hold" in failure.reason


def test_a_delivery_before_the_first_step_erases_everything_on_time() -> None:
    """Retention may see InvoiceDelivered before InvoiceIssued: it erases everything then."""
    h = History()
    out = h.invoiced(CREATED)
    first, inv = out["erased"], out["invoice"]
    assert isinstance(inv, ev.InvoiceIssued) and isinstance(first, ev.PersonalDataErased)
    at = inv.occurred_at + timedelta(seconds=1)
    done = ev.InvoiceDelivered(**inv.caused(document_number=inv.invoice_number, document_type="invoice",
                                            request_id=inv.request_id, channel=ev.DeliveryChannel.EMAIL,
                                            delivered_at=at, attempts=1, occurred_at=at))
    h.replace(first, done)
    h.add(first.model_copy(update={"reason": ev.ErasureReason.INVOICE_DELIVERED, "trigger_event_id": done.event_id}))
    assert verify_records(h.records(), END, options=_options()).check("erasure").ok
