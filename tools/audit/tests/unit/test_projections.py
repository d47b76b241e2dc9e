"""The projections check without a database: rebuild from a scripted history, compare with
live tables given directly (the real tables are compared in ``integration/test_projections_live.py``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fw_audit.checks import Seen
from fw_audit.model import Status
from fw_audit.projections import LiveTables, ProjectionsCheck, checksum
from fw_audit.scripted import every_lifecycle
from fw_contracts import decode
from fw_contracts.events import SessionEnded, SessionStarted, SessionTakenOver

END = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)


def _check() -> tuple[ProjectionsCheck, dict]:
    history, script = every_lifecycle(END)
    check = ProjectionsCheck()
    for r in history.records():
        check.feed(Seen(r.seq, r.time, decode(r.body, r.subject)))
    return check, script


def test_rebuild_follows_intake_status_rules_and_each_table() -> None:
    check, script = _check()
    want = check.expected()
    intake = want["intake.support_requests"]
    assert intake[str(script["withdrawn"]["created"].request_id)] == ("erased",)  # erasure outranks
    assert intake[str(script["open"]["created"].request_id)] == ("open",)
    assert len(want["billing.cancellations"]) == 1
    assert len(want["billing.customer_accounts"]) == 1
    assert set(want["retention.erasures"].values()) >= {("withdrawn",), ("not_billed",),
                                                               ("invoice_issued",), ("abandoned",)}
    ended = [v for v in want["session.sessions"].values() if v[1] == "true"]
    assert ended and all(v[2].isdigit() for v in ended)


def test_equal_live_tables_pass_and_a_changed_row_names_table_and_key() -> None:
    check, _ = _check()
    live = LiveTables(rows={t: dict(r) for t, r in check.expected().items()})
    res = check.result(live)
    assert res.status is Status.PASS, [f.to_dict() for f in res.failures]
    assert any("equal" in n for n in res.notes)

    key = min(live.rows["retention.erasures"])
    live.rows["retention.erasures"][key] = ("abandoned",) if live.rows["retention.erasures"][key] != (
        "abandoned",) else ("withdrawn",)
    live.rows["billing.invoices"]["FW-2026-999999"] = ("x", "1.00")
    res = check.result(live)
    assert res.status is Status.FAIL
    found = {(f.ids["table"], f.ids.get("key")) for f in res.failures}
    assert found == {("retention.erasures", key), ("billing.invoices", "FW-2026-999999")}
    assert all("abandoned" not in f.reason and "withdrawn" not in f.reason for f in res.failures)


def test_unreadable_table_fails_and_no_database_is_skipped() -> None:
    check, _ = _check()
    res = check.result(LiveTables(errors={"session.sessions": "UndefinedTableError (42P01)"},
                                  rows={t: r for t, r in check.expected().items() if t != "session.sessions"}))
    assert [f.ids["table"] for f in res.failures] == ["session.sessions"]
    skipped = check.result(None)
    assert skipped.status is Status.SKIPPED and skipped.ok and "no database access" in skipped.notes[0]


def test_a_takeover_moves_the_session_to_its_new_technician() -> None:
    import uuid

    check, _ = _check()
    sid, rid = uuid.uuid4(), uuid.uuid4()
    started = SessionStarted(session_id=sid, request_id=rid, technician="tech-07", started_at=END, occurred_at=END)
    taken = SessionTakenOver(session_id=sid, request_id=rid, from_technician="tech-07", to_technician="tech-08",
                             taken_over_by="tech-08", taken_over_at=END, occurred_at=END, **started.caused())
    for n, e in enumerate((started, taken)):
        check.feed(Seen(10_000 + n, END, e))
    assert check.expected()["session.sessions"][str(sid)] == (str(rid), "false", "", "tech-08")
    ended = SessionEnded(session_id=sid, request_id=rid, technician="tech-08", started_at=END, ended_at=END,
                         duration_seconds=0, occurred_at=END, **taken.caused())
    check.feed(Seen(10_002, END, ended))
    want = check.expected()
    assert want["session.sessions"][str(sid)] == (str(rid), "true", "0", "tech-08")
    # a live row still under the former technician is a finding
    live = LiveTables(rows={t: dict(r) for t, r in want.items()})
    live.rows["session.sessions"][str(sid)] = (str(rid), "true", "0", "tech-07")
    res = check.result(live)
    assert {(f.ids["table"], f.ids.get("key")) for f in res.failures} == {("session.sessions", str(sid))}


def test_checksum_is_order_independent() -> None:
    assert checksum({"b": ("2",), "a": ("1",)}) == checksum({"a": ("1",), "b": ("2",)})
    assert checksum({"a": ("1",)}) != checksum({"a": ("2",)})


def test_billing_cases_are_rebuilt_with_billings_own_fold() -> None:
    """``billing.session_billing``: each session's status (and block reason while blocked), folded
    from billing's events with ``fw_contracts.billing_case.next_outcome``, the rule billing's case
    evolves by."""
    check, script = _check()
    rows = check.expected()["billing.session_billing"]
    assert rows[str(script["invoice"]["ended"].session_id)] == ("invoiced", "")
    assert rows[str(script["cancelled"]["ended"].session_id)] == ("invoiced", "")  # a Storno keeps it
    assert rows[str(script["not_billed"]["ended"].session_id)] == ("not_billed", "")
    assert str(script["open"]["created"].request_id) not in rows
    sessions_billed = {str(e.session_id) for lifecycle in script.values() for e in lifecycle.values()
                       if isinstance(e, SessionEnded)}
    assert set(rows) == sessions_billed


def test_a_blocked_then_lost_session_shows_the_block_then_not_billed() -> None:
    from fw_audit.scripted import History

    h = History(seed=5)
    lifecycle = h.billing_held(END - timedelta(days=120))
    check = ProjectionsCheck()
    for r in h.records():
        event = decode(r.body, r.subject)
        check.feed(Seen(r.seq, r.time, event))
        if event.event_id == lifecycle["blocked"].event_id:
            sid = str(lifecycle["ended"].session_id)
            assert check.expected()["billing.session_billing"][sid] == ("blocked", "billing_address_missing")
    assert check.expected()["billing.session_billing"][sid] == ("not_billed", "")
