"""The audit against a real NATS JetStream (``fw_env``): scripted histories are published
straight into the stream, then read back (batched direct get, the default reader) and verified."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nats.errors
import pytest
from nats.js.api import StreamConfig

from fw_audit.model import Record
from fw_audit.runner import Conn, export_stream, load_reference, replay_stream, verify_bundle, verify_stream
from fw_audit.scripted import Item, bulk_history, publish
from fw_audit.source import (
    DirectGetNotAllowed,
    DirectGetTimeout,
    Until,
    connect,
    covers,
    distinct_filters,
    read_direct,
    read_ordered,
    stream_state,
)
from fw_audit.verifier import VerifyOptions
from fw_devenv._util import free_port
from fw_devenv.nats import NatsServer
from fw_platform.bus import connect as fw_connect
from fw_platform.bus import ensure_stream

DEFECTS = ["missing_erasure", "late_erasure", "invoice_number_gap", "wrong_total", "phone_number"]


def _options(**kw: object) -> VerifyOptions:
    return VerifyOptions(**kw)  # type: ignore[arg-type]


async def _publish(url: str, items: list[Item]) -> list[int]:
    nc = await connect(url)
    try:
        return await publish(nc.jetstream(), items)
    finally:
        await nc.close()


async def test_every_lifecycle_passes_over_nats(fw_env, scenario) -> None:
    s = scenario(datetime.now(UTC))
    items = s.history.items()
    assert await _publish(fw_env.nats_url, items) == list(range(1, len(items) + 1))
    conn = Conn(url=fw_env.nats_url)
    report = await verify_stream(conn, _options())
    assert not report.failed_checks, [c.to_dict() for c in report.checks if not c.ok]
    assert report.summary.messages == len(items) and report.summary.invalid == []
    assert "deny_delete=True deny_purge=True (live stream FERNWARTUNG)" in report.check("integrity").notes
    summary = await replay_stream(conn, Until(seq=5))
    assert (summary.first_seq, summary.last_seq, summary.messages) == (1, 5, 5)
    billing = await replay_stream(Conn(url=fw_env.nats_url, subjects=["fw.billing.>"]))
    assert set(billing.counts) == {"InvoiceIssued", "InvoiceCancelled", "SessionNotBilled", "CustomerAccountCreated",
                                   "TariffPublished", "IssuerDetailsChanged"}


@pytest.mark.parametrize("defect", DEFECTS)
async def test_each_defect_fails_exactly_its_check_over_nats(fw_env, scenario, defect: str) -> None:
    s = scenario(datetime.now(UTC), defect)
    await _publish(fw_env.nats_url, s.history.items())
    report = await verify_stream(Conn(url=fw_env.nats_url), _options())
    assert [c.name for c in report.checks if not c.ok] == [s.check]
    check = report.check(s.check)
    assert [f.seq for f in check.failures] == [s.expected_seq()]


async def test_an_invoice_stored_twice_after_the_duplicate_window_verifies_with_a_note(fw_env, scenario) -> None:
    """The relay publishes an outbox row again when it cannot know that JetStream stored it (a
    crash between the ack and the row's delete). The next morning the duplicate window is over
    and the stream stores the same message twice: the audit names the copy instead of calling
    the invoice number used twice."""
    s = scenario(datetime.now(UTC))
    items = s.history.items()
    await _publish(fw_env.nats_url, items)
    invoice = next(i for i in items if i.subject.startswith("fw.billing.invoice_issued."))
    nc = await connect(fw_env.nats_url)
    try:
        js = nc.jetstream()
        # within the window the copy is dropped by JetStream ...
        assert (await js.publish(invoice.subject, invoice.body, headers={
            "Nats-Msg-Id": str(invoice.event.event_id)})).duplicate  # type: ignore[union-attr]
        # ... after it (shortened here to a second) it is stored again, as after a night's outage:
        # the relay publishes until JetStream acks, and the first ack that is no duplicate stored it
        info = await js.stream_info("FERNWARTUNG")
        info.config.duplicate_window = 1.0
        await js.update_stream(info.config)
        deadline = time.monotonic() + 30
        while (await js.publish(invoice.subject, invoice.body, headers={
                "Nats-Msg-Id": str(invoice.event.event_id)})).duplicate:  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "the shortened duplicate window did not end"
            await asyncio.sleep(0.25)
    finally:
        await nc.close()
    report = await verify_stream(Conn(url=fw_env.nats_url), _options())
    assert not report.failed_checks, [c.to_dict() for c in report.checks if not c.ok]
    assert report.summary.messages == len(items) + 1
    first = next(k for k, i in enumerate(items, 1) if i is invoice)
    assert (f"1 messages stored twice with the same event id and content (seq {len(items) + 1} = seq {first})"
            in " ".join(report.check("integrity").notes))


async def test_tampered_copy_of_the_stream_fails_integrity_at_that_sequence(fw_env, scenario, tmp_path: Path) -> None:
    s = scenario(datetime.now(UTC))
    items = s.history.items()
    # the original history, exported by an earlier audit (the reference)
    original = NatsServer(tmp_path / "original" / "nats", free_port())
    original.start()
    try:
        nc = await fw_connect(original.url, name="test-admin")
        await ensure_stream(nc.jetstream())
        await nc.close()
        await _publish(original.url, items)
        await export_stream(Conn(url=original.url), tmp_path / "earlier-audit")
    finally:
        original.stop()
    # the copy: the same messages replayed into a fresh stream, one of them altered
    k = next(i for i, item in enumerate(items) if item.subject.endswith("session_started.v1"))
    altered = Item(items[k].subject, items[k].body.replace(b'"tech-0', b'"tech-1', 1), items[k].time)
    assert altered.body != items[k].body
    await _publish(fw_env.nats_url, [*items[:k], altered, *items[k + 1:]])
    conn = Conn(url=fw_env.nats_url, stream="FERNWARTUNG", subjects=["fw.>"])
    report = await verify_stream(conn, _options())
    assert [c.name for c in report.checks if not c.ok] == ["integrity"]
    (failure,) = report.check("integrity").failures
    assert "does not match the signed checkpoint" in failure.reason and f"seqs 1..{len(items) - 1}" in failure.reason
    reference, name = load_reference(tmp_path / "earlier-audit")
    pinned = await verify_stream(conn, _options(reference=reference, reference_name=name))
    assert pinned.check("integrity").first_failing_seq == k + 1


async def test_append_only_flags_are_checked_on_the_named_stream(fw_env) -> None:
    nc = await connect(fw_env.nats_url)
    try:
        await nc.jetstream().add_stream(StreamConfig(name="LOOSE", subjects=["loose.>"], allow_direct=True))
    finally:
        await nc.close()
    report = await verify_stream(Conn(url=fw_env.nats_url, stream="LOOSE", subjects=["loose.>"]), _options())
    assert [c.name for c in report.checks if not c.ok] == ["integrity"]
    reasons = [f.reason for f in report.check("integrity").failures]
    assert any("deny_delete is not set" in r for r in reasons) and any("deny_purge is not set" in r for r in reasons)


async def _raw_stream(js, n: int, *, name: str = "RAW", **config: object) -> None:
    """``n`` messages on ``raw.0``, ``raw.1``, ``raw.2`` in turn (admin)."""
    await js.add_stream(StreamConfig(name=name, subjects=[f"{name.lower()}.>"], allow_direct=True, **config))
    for i in range(n):
        await js.publish_async(f"{name.lower()}.{i % 3}", f'{{"n":{i}}}'.encode())
    await js.publish_async_completed()


async def _direct(nc, state, subjects: list[str], **kw: object) -> list[Record]:
    return [r async for r in read_direct(nc, state, subjects, **kw)]  # type: ignore[arg-type]


async def _ordered(js, state, subjects: list[str], **kw: object) -> list[Record]:
    return [r async for r in read_ordered(js, state, subjects, **kw)]  # type: ignore[arg-type]


async def test_direct_get_reads_the_same_records_as_the_ordered_consumer(fw_env) -> None:
    nc = await connect(fw_env.nats_url)
    try:
        js = nc.jetstream()
        await _raw_stream(js, 2500)
        state = await stream_state(js, "RAW")
        ordered = await _ordered(js, state, ["raw.>"])
        assert len(ordered) == 2500
        assert await _direct(nc, state, ["raw.>"]) == ordered
        # small batches, one or none requested ahead: the same records, none twice
        assert await _direct(nc, state, ["raw.>"], batch=300, ahead=1) == ordered
        assert await _direct(nc, state, ["raw.>"], batch=7, ahead=0) == ordered
        # --until as a sequence or a store time, and a start sequence
        until = await _direct(nc, state, ["raw.>"], until=Until(seq=2100), batch=1000)
        assert [r.seq for r in until] == list(range(1, 2101))
        cut = ordered[1799].time
        by_time = await _direct(nc, state, ["raw.>"], until=Until(time=cut), batch=1000)
        assert by_time == [r for r in ordered if r.time <= cut] and by_time[-1].seq >= 1800
        assert await _direct(nc, state, ["raw.>"], start_seq=2401, batch=30) == ordered[2400:]
        ticks: list[int] = []
        await _direct(nc, state, ["raw.>"], progress=ticks.append, batch=500)
        assert ticks == list(range(1, 2501))
    finally:
        await nc.close()


async def test_direct_get_reads_several_subject_filters_merged_in_sequence_order(fw_env) -> None:
    nc = await connect(fw_env.nats_url)
    try:
        js = nc.jetstream()
        await _raw_stream(js, 900)
        state = await stream_state(js, "RAW")
        two = await _direct(nc, state, ["raw.2", "raw.0"], batch=50)
        assert [r.seq for r in two] == [s for s in range(1, 901) if (s - 1) % 3 != 1]
        assert two == await _ordered(js, state, ["raw.0", "raw.2"])
        # overlapping filters: every message once
        assert await _direct(nc, state, ["raw.1", "raw.*", "raw.1"], batch=64) == await _ordered(js, state, ["raw.>"])
        one = await _direct(nc, state, ["raw.1"], until=Until(seq=500), batch=40)
        assert [r.seq for r in one] == list(range(2, 501, 3))
        assert await _direct(nc, state, ["nothing.here"]) == []
    finally:
        await nc.close()


async def test_direct_get_skips_deleted_messages_and_stops_at_the_end_as_reading_started(fw_env) -> None:
    nc = await connect(fw_env.nats_url)
    try:
        js = nc.jetstream()
        await _raw_stream(js, 1000, name="GAPPY")  # no deny_delete: a stream that lost messages
        deleted = {1, 2, 100, 101, 102, 250, 500, 999}
        for seq in sorted(deleted):
            await js.delete_msg("GAPPY", seq)
        state = await stream_state(js, "GAPPY")
        assert (state.first_seq, state.last_seq, state.messages) == (3, 1000, 992)
        for _ in range(50):  # the stream grows while the audit reads: not part of this audit
            await js.publish("gappy.0", b"{}")
        expected = [s for s in range(1, 1001) if s not in deleted]
        for batch in (5000, 100, 3):
            assert [r.seq for r in await _direct(nc, state, ["gappy.>"], batch=batch)] == expected
        assert await _direct(nc, state, ["gappy.>"], batch=100) == await _ordered(js, state, ["gappy.>"])
        # a start inside a gap begins at the next stored message
        assert (await _direct(nc, state, ["gappy.>"], start_seq=100, batch=10))[0].seq == 103
    finally:
        await nc.close()


async def test_direct_get_needs_allow_direct_and_says_what_to_do(fw_env) -> None:
    nc = await connect(fw_env.nats_url)
    try:
        js = nc.jetstream()
        await js.add_stream(StreamConfig(name="OLD", subjects=["old.>"]))
        await js.publish("old.x", b"{}")
        state = await stream_state(js, "OLD")
        with pytest.raises(DirectGetNotAllowed, match=r"allow_direct is not set.*--reader ordered"):
            await _direct(nc, state, ["old.>"])
        with pytest.raises(DirectGetNotAllowed, match="nats stream edit OLD --allow-direct"):
            await replay_stream(Conn(url=fw_env.nats_url, stream="OLD", subjects=["old.>"]))
        summary = await replay_stream(Conn(url=fw_env.nats_url, stream="OLD", subjects=["old.>"], reader="ordered"))
        assert summary.messages == 1
    finally:
        await nc.close()
    # the FERNWARTUNG stream names the fix that comes with the services
    assert "fw_platform.bus.ensure_stream" in str(DirectGetNotAllowed("FERNWARTUNG"))


async def test_direct_get_without_permission_is_a_clear_timeout_not_an_empty_history(fw_env) -> None:
    """``reporting`` may look at the stream but not get messages: the server never answers."""
    admin = await connect(fw_env.nats_url)
    try:
        await admin.jetstream().publish("fw.intake.probe.v1", b"{}")
    finally:
        await admin.close()
    user, password = fw_env.nats_credentials("reporting")
    nc = await connect(fw_env.nats_plain_url, user, password)
    try:
        state = await stream_state(nc.jetstream(), "FERNWARTUNG")
        assert state.allow_direct and state.messages == 1
        said = r"(?i)within 1s; the server said: .*permissions violation.*direct\.get\.fernwartung"
        with pytest.raises(DirectGetTimeout, match=said):
            await _direct(nc, state, ["fw.>"], timeout=1.0)
    finally:
        await nc.close()


def test_subject_filter_cover() -> None:
    assert covers("fw.>", "fw.billing.invoice_issued.v1") and covers("fw.>", "fw.*") and covers(">", "a")
    assert covers("fw.*.x", "fw.billing.x") and covers("fw.*.x", "fw.*.x") and not covers("fw.*.x", "fw.>.x")
    assert not covers("fw.billing.>", "fw.>") and not covers("fw.*", "fw.a.b") and not covers("fw.a", "fw.*")
    assert distinct_filters(["fw.billing.>", "fw.>", "fw.billing.x", "fw.>"]) == ["fw.>"]
    assert distinct_filters(["a.x", "b.>", "a.x"]) == ["a.x", "b.>"]


async def test_bundle_exported_from_nats_verifies_offline(fw_env, scenario, tmp_path: Path) -> None:
    s = scenario(datetime.now(UTC))
    await _publish(fw_env.nats_url, s.history.items())
    manifest = await export_stream(Conn(url=fw_env.nats_url), tmp_path / "bundle")
    assert "events.jsonl" in manifest["files"]  # type: ignore[operator]
    report = verify_bundle(tmp_path / "bundle", _options())
    assert not report.failed_checks, [c.to_dict() for c in report.checks if not c.ok]


async def test_a_5000_event_history_verifies_quickly(fw_env) -> None:
    h = bulk_history(5000, datetime.now(UTC) - timedelta(days=1))
    items = h.items()
    await _publish(fw_env.nats_url, items)
    t0 = time.perf_counter()
    report = await verify_stream(Conn(url=fw_env.nats_url), _options())
    elapsed = time.perf_counter() - t0
    assert not report.failed_checks, [c.to_dict() for c in report.checks if not c.ok]
    assert report.summary.messages == len(items) >= 5000
    assert elapsed < 10, elapsed


async def test_the_audit_user_can_verify_export_and_seal_but_not_write_events(fw_env, scenario, tmp_path: Path) -> None:
    """With the dev environment's permissions the audit needs no credentials beyond read access
    (plus publishing its own checkpoints)."""
    s = scenario(datetime.now(UTC))
    await _publish(fw_env.nats_url, s.history.items())  # admin writes the history
    user, password = fw_env.nats_credentials("audit")
    conn = Conn(url=fw_env.nats_plain_url, user=user, password=password)
    report = await verify_stream(conn, _options())
    assert not report.failed_checks, [c.to_dict() for c in report.checks if not c.ok]
    await export_stream(conn, tmp_path / "bundle")
    from fw_audit.chain import generate_key
    from fw_audit.runner import publish_checkpoint

    generate_key(tmp_path / "k")
    seq, cp = await publish_checkpoint(conn, tmp_path / "k")
    assert seq == len(s.history.items()) + 1 and cp.checkpoint_seq == seq - 1
    assert not (await verify_stream(conn, _options())).failed_checks
    nc = await connect(fw_env.nats_plain_url, user, password)
    try:
        # a permission violation gets no ack: the publish times out
        with pytest.raises(nats.errors.TimeoutError):
            await nc.jetstream().publish("fw.billing.invoice_issued.v1", b"{}", timeout=1)
    finally:
        await nc.close()
