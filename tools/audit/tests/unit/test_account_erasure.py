"""A regular customer's account erased by the office (CustomerAccountErased): the audit knows the
event, every check still passes on the history, and the projections check compares the closure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fw_audit.checks import Seen
from fw_audit.model import Status
from fw_audit.projections import LiveTables, ProjectionsCheck
from fw_audit.scripted import History, every_lifecycle
from fw_audit.verifier import VerifyOptions, verify_records
from fw_contracts import decode
from fw_contracts import events as ev

END = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)


def _history() -> tuple[History, ev.CustomerAccountCreated, ev.CustomerAccountErased]:
    history, script = every_lifecycle(END)
    account = script["promoted"]["account"]
    assert isinstance(account, ev.CustomerAccountCreated)
    at = END - timedelta(days=1)
    erased = ev.CustomerAccountErased(customer_number=account.customer_number, request_id=account.request_id,
                                      reason=ev.AccountErasureReason.CUSTOMER_REQUEST, erased_at=at, occurred_at=at)
    history.add(erased)
    return history, account, erased


def test_every_check_passes_with_an_erased_account() -> None:
    history, _, _ = _history()
    report = verify_records(history.records(), END, options=VerifyOptions(
        stream_config={"deny_delete": True, "deny_purge": True}))
    assert not report.failed_checks, [c.to_dict() for c in report.checks if not c.ok]
    assert report.summary.counts.get("CustomerAccountErased") == 1
    # the promoted request's own data were erased after its invoice, as for every request
    assert report.check("erasure").notes[0].startswith("9 requests: 8 erased, 0 promoted without erasure")
    assert not report.check("erasure").failures and report.check("personal_data").ok


def _rebuild(history: History) -> ProjectionsCheck:
    check = ProjectionsCheck()
    for r in history.records():
        check.feed(Seen(r.seq, r.time, decode(r.body, r.subject)))
    return check


def test_projection_of_an_erased_account_keeps_its_number_and_is_closed() -> None:
    history, account, _ = _history()
    check = _rebuild(history)
    want = check.expected()["billing.customer_accounts"]
    assert want == {str(account.request_id): (account.customer_number, "true")}

    live = LiveTables(rows={t: dict(r) for t, r in check.expected().items()})
    assert check.result(live).status is Status.PASS

    # billing still shows the account open although the stream says it was erased: named
    live.rows["billing.customer_accounts"][str(account.request_id)] = (account.customer_number, "false")
    res = check.result(live)
    assert res.status is Status.FAIL
    assert [(f.ids["table"], f.ids["key"]) for f in res.failures] == [
        ("billing.customer_accounts", str(account.request_id))]


def test_projection_of_an_open_account_is_not_closed() -> None:
    history, script = every_lifecycle(END)
    account = script["promoted"]["account"]
    assert isinstance(account, ev.CustomerAccountCreated)
    want = _rebuild(history).expected()["billing.customer_accounts"]
    assert want == {str(account.request_id): (account.customer_number, "false")}
