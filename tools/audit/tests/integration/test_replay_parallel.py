"""``audit replay --workers N`` gives exactly what one process gives: the same counts, days,
first and last sequence and the same invalid messages in the same order, with subject filters,
``--until``, messages deleted at the parts' borders, and as the read-only ``audit`` user."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import UTC, datetime
from typing import Any

from nats.js.api import StreamConfig

from fw_audit.model import InvalidEvent, ReplaySummary
from fw_audit.parallel import merge, split
from fw_audit.scripted import every_lifecycle, publish
from fw_audit.source import connect


async def _replay(*args: str, url: str, user: tuple[str, str] | None = None) -> dict[str, Any]:
    """``python -m fw_audit audit replay --json <args>`` as a user runs it; its summary."""
    login = {"NATS_USER": user[0], "NATS_PASSWORD": user[1]} if user else {}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "fw_audit", "audit", "replay", "--json", *args,
        env={**os.environ, "NATS_URL": url, **login}, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode in (0, 1), err.decode()  # 1: invalid messages, which these histories have on purpose
    summary = json.loads(out)
    assert summary.pop("seconds") >= 0
    return summary


async def test_workers_give_what_one_process_gives(fw_env) -> None:
    nc = await connect(fw_env.nats_url)
    try:
        js = nc.jetstream()
        history, _ = every_lifecycle(datetime.now(UTC))
        items = history.items()
        half = len(items) // 2
        await publish(js, items[:half])
        for body in (b"{not json", b'{"event_type": "SessionStarted"}'):  # two invalid events mid-stream
            await js.publish("fw.session.session_started.v1", body)
        await publish(js, items[half:])
    finally:
        await nc.close()
    url, auditor = fw_env.nats_plain_url, fw_env.nats_credentials("audit")
    one = await _replay(url=url, user=auditor)
    assert one["messages"] == len(items) + 2 and [i["seq"] for i in one["invalid"]] == [half + 1, half + 2]
    for workers in ("2", "3", "7"):
        assert await _replay("--workers", workers, url=url, user=auditor) == one, workers
    until = await _replay("--until", "41", url=url, user=auditor)
    assert until["last_seq"] == 41 and await _replay("--until", "41", "--workers", "4", url=url, user=auditor) == until
    billing = await _replay("--subjects", "fw.billing.>", url=url, user=auditor)
    assert 0 < billing["messages"] < one["messages"]
    assert await _replay("--subjects", "fw.billing.>", "--workers", "3", url=url, user=auditor) == billing
    # the ordered reader (admin) splits the same way
    assert await _replay("--reader", "ordered", "--workers", "2", url=fw_env.nats_url) == one


async def test_parts_bordering_on_deleted_messages(fw_env) -> None:
    nc = await connect(fw_env.nats_url)
    try:
        js = nc.jetstream()
        await js.add_stream(StreamConfig(name="GAPPY", subjects=["gappy.>"], allow_direct=True))
        for i in range(300):
            await js.publish_async(f"gappy.{i % 3}", f'{{"n":{i}}}'.encode())
        await js.publish_async_completed()
        for seq in (1, 2, 75, 76, 150, 151, 225, 226, 300):  # 4 parts: 3..76, 77..151, 152..226, 227..299
            await js.delete_msg("GAPPY", seq)
    finally:
        await nc.close()
    one = await _replay("--stream", "GAPPY", "--subjects", "gappy.>", url=fw_env.nats_url)
    assert (one["first_seq"], one["last_seq"], one["messages"]) == (3, 299, 291)  # none decodes: all listed
    assert [i["seq"] for i in one["invalid"]] == [s for s in range(3, 300) if s not in (75, 76, 150, 151, 225, 226)]
    for workers in ("4", "5", "300"):
        assert await _replay("--stream", "GAPPY", "--subjects", "gappy.>", "--workers", workers,
                             url=fw_env.nats_url) == one, workers


def test_split_covers_the_range_once_in_order() -> None:
    for first, last, parts in [(1, 100, 3), (5, 5, 4), (1, 7, 7), (10, 1_000_003, 2)]:
        ranges = split(first, last, parts)
        assert ranges[0][0] == first and ranges[-1][1] == last and len(ranges) == min(parts, last - first + 1)
        assert all(a <= b for a, b in ranges)
        assert all(ranges[k][1] + 1 == ranges[k + 1][0] for k in range(len(ranges) - 1))


def test_merge_sums_and_keeps_the_parts_order() -> None:
    a = ReplaySummary("S", 3, 10, 6, {"X": 5, "(invalid)": 1}, [InvalidEvent(4, "s", "r")], {"2026-01-01": 6})
    empty = ReplaySummary("S")
    b = ReplaySummary("S", 11, 20, 9, {"X": 7, "(invalid)": 2},
                      [InvalidEvent(12, "s", "r"), InvalidEvent(19, "s", "q")], {"2026-01-01": 2, "2026-01-02": 7})
    m = merge("S", [empty, a, empty, b, empty], 1.5)
    assert (m.first_seq, m.last_seq, m.messages, m.seconds) == (3, 20, 15, 1.5)
    assert m.counts == {"X": 12, "(invalid)": 3} and m.per_day == {"2026-01-01": 8, "2026-01-02": 7}
    assert [i.seq for i in m.invalid] == [4, 12, 19]
    assert merge("S", [empty], 0.0).to_dict() == {**empty.to_dict(), "seconds": 0.0}
