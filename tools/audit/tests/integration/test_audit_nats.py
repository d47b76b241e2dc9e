"""The audit against a real NATS JetStream (``fw_env``): scripted histories are published
straight into the stream, then read back with the ordered consumer and verified."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nats.errors
import pytest
from nats.js.api import StreamConfig

from fw_devenv._util import free_port
from fw_devenv.nats import NatsServer
from fw_platform.bus import connect as fw_connect
from fw_platform.bus import ensure_stream

from fw_audit.checks.totals import billing_repricer
from fw_audit.model import Record
from fw_audit.runner import Conn, export_stream, load_reference, replay_stream, verify_bundle, verify_stream
from fw_audit.scripted import Item, bulk_history, publish
from fw_audit.source import Until, connect, read_direct, read_ordered, stream_state
from fw_audit.verifier import VerifyOptions

DEFECTS = ["missing_erasure", "late_erasure", "invoice_number_gap", "wrong_total", "phone_number"]


def _options(**kw: object) -> VerifyOptions:
    repricer, note = billing_repricer()
    return VerifyOptions(repricer=repricer, repricer_note=note, **kw)  # type: ignore[arg-type]


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
    assert set(billing.counts) == {"InvoiceIssued", "InvoiceCancelled", "SessionNotBilled", "CustomerAccountCreated"}


@pytest.mark.parametrize("defect", DEFECTS)
async def test_each_defect_fails_exactly_its_check_over_nats(fw_env, scenario, defect: str) -> None:
    s = scenario(datetime.now(UTC), defect)
    await _publish(fw_env.nats_url, s.history.items())
    report = await verify_stream(Conn(url=fw_env.nats_url), _options())
    assert [c.name for c in report.checks if not c.ok] == [s.check]
    check = report.check(s.check)
    assert [f.seq for f in check.failures] == [s.expected_seq()]


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
    await _publish(fw_env.nats_url, items[:k] + [altered] + items[k + 1:])
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
        await nc.jetstream().add_stream(StreamConfig(name="LOOSE", subjects=["loose.>"]))
    finally:
        await nc.close()
    report = await verify_stream(Conn(url=fw_env.nats_url, stream="LOOSE", subjects=["loose.>"]), _options())
    assert [c.name for c in report.checks if not c.ok] == ["integrity"]
    reasons = [f.reason for f in report.check("integrity").failures]
    assert any("deny_delete is not set" in r for r in reasons) and any("deny_purge is not set" in r for r in reasons)


async def test_direct_get_reads_the_same_records_as_the_ordered_consumer(fw_env) -> None:
    nc = await connect(fw_env.nats_url)
    try:
        js = nc.jetstream()
        await js.add_stream(StreamConfig(name="RAW", subjects=["raw.>"], allow_direct=True))
        for i in range(2500):
            await js.publish_async(f"raw.{i % 3}", f'{{"n":{i}}}'.encode())
        await js.publish_async_completed()
        state = await stream_state(js, "RAW")
        ordered: list[Record] = [r async for r in read_ordered(js, state, ["raw.>"])]
        direct: list[Record] = [r async for r in read_direct(nc, state, ["raw.>"])]
        assert len(ordered) == 2500 and ordered == direct
        until = [r async for r in read_direct(nc, state, ["raw.>"], until=Until(seq=2100))]
        assert until[-1].seq == 2100
    finally:
        await nc.close()


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
