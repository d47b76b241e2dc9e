"""The live queue: one watcher asks the session service for everybody, the pages are told by
server-sent events that the queue changed (a version and a count, never its content), and the
page fetches its fragment; without EventSource it polls; without JavaScript a reload link."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from fw_web.adapters.queue_feed import QueueFeed, QueueState, fingerprint
from fw_web.entrypoints.technician_live import sse_message

ITEM = {"request_id": "r-1", "ticket": "AB12-CD3", "company": "Beispiel GmbH", "contact_name": "Erika Musterfrau",
        "phone": "+491705551234", "waiting_seconds": 30}


class FakeQueue:
    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []
        self.reachable = True
        self.reads = 0

    async def read(self) -> tuple[bool, list[dict[str, Any]]]:
        self.reads += 1
        return self.reachable, list(self.items)


def test_the_fingerprint_moves_with_the_queue_and_each_full_minute_of_waiting() -> None:
    empty = fingerprint(True, [])
    one = fingerprint(True, [ITEM])
    assert empty != one and one == fingerprint(True, [{**ITEM, "waiting_seconds": 59}])
    assert one != fingerprint(True, [{**ITEM, "waiting_seconds": 60}])
    assert fingerprint(False, []) == "unreachable" != empty
    assert "Beispiel" not in one and "AB12" not in one


def test_an_event_carries_a_version_and_a_count_only() -> None:
    assert sse_message(QueueState(version=3, count=1)) == 'id: 3\nevent: queue\ndata: {"version":3,"count":1}\n\n'
    assert sse_message(QueueState(version=-1, count=None)) == ": keep-alive\n\n"


async def test_one_watcher_serves_every_page_and_stops_with_the_last() -> None:
    queue = FakeQueue()
    feed = QueueFeed(queue.read, interval_s=0.01)
    first, second = feed.listen(max_s=5), feed.listen(max_s=5)
    a, b = await anext(first), await anext(second)  # both see where the queue stands
    assert a.version == b.version == 1 and a.count == 0
    queue.items = [ITEM]
    a, b = await anext(first), await anext(second)
    assert a.version == b.version == 2 and a.count == 1
    reads = queue.reads
    queue.reachable = False
    a = await anext(first)
    assert a.version == 3 and a.count is None  # unreachable: the page fetches the fragment, which says so
    # the reads are shared: about one per interval, however many pages listen
    assert queue.reads - reads <= 10
    await first.aclose()
    await second.aclose()
    await asyncio.sleep(0.05)
    stopped = queue.reads
    await asyncio.sleep(0.05)
    assert queue.reads == stopped  # no page listens: nobody asks the session service
    await feed.close()


async def test_a_page_that_has_the_current_version_waits_for_the_next() -> None:
    queue = FakeQueue()
    feed = QueueFeed(queue.read, interval_s=0.01)
    await feed.check()
    stream = feed.listen(after=feed.state.version, max_s=5)
    nxt = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0.05)
    assert not nxt.done()
    queue.items = [ITEM]
    assert (await asyncio.wait_for(nxt, 2)).version == 2
    await stream.aclose()
    await feed.close()


async def test_the_stream_is_for_technicians_and_tells_versions_only(web, make_client) -> None:  # type: ignore[no-untyped-def]
    assert (await web.client.get("/technik/warteschlange/live")).status_code in (303, 401)
    office = await make_client()
    await web.sign_in("buero", client=office)
    assert (await office.get("/technik/warteschlange/live")).status_code == 403
    # a short stream (it ends after 1 s, as every stream ends after a while; the browser reconnects)
    tech = await make_client(queue_live_max_s=1, queue_live_interval_s=0.05)
    await web.sign_in("technik", client=tech)
    web.services.queue = [{**ITEM, "request_id": "8a0c7e36-0000-4000-8000-000000000001", "customer_type": "business",
                           "created_at": "2026-05-04T09:58:00Z"}]
    resp = await tech.get("/technik/warteschlange/live")
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/event-stream")
    assert resp.headers["cache-control"] == "no-store"
    assert resp.text.startswith("retry: 3000\n\n")
    events = [json.loads(line[6:]) for line in resp.text.splitlines() if line.startswith("data: ")]
    assert events and events[0]["count"] == 1 and set(events[0]) == {"version", "count"}
    for secret in ("Beispiel", "Musterfrau", "555", "AB12", "8a0c7e36"):
        assert secret not in resp.text


async def test_the_console_page_goes_live_and_keeps_the_reload_link(web) -> None:  # type: ignore[no-untyped-def]
    await web.sign_in("technik")
    page = await web.client.get("/technik")
    assert 'data-live="/technik/warteschlange/live"' in page.text and 'data-poll="/technik/warteschlange"' in page.text
    assert "<noscript>" in page.text and 'href="/technik">Aktualisieren<' in page.text
    assert "alle 2 Sekunden" not in page.text
