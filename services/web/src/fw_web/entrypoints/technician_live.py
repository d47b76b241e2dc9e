"""The technician's queue, live: server-sent events tell an open queue page that the queue
changed; the page then fetches its fragment (``/technik/warteschlange``) as before.

The events carry a version number and a count only, never the queue's content. Without
JavaScript (or without EventSource) the page polls, or offers a reload link.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.responses import StreamingResponse

from fw_web.adapters.queue_feed import QueueFeed, QueueState
from fw_web.entrypoints.technician import Technician

#: How long the browser waits before it reconnects after the stream ended or broke (ms).
RETRY_MS = 3000


def sse_message(state: QueueState) -> str:
    """One event on the wire; a keep-alive (version -1) is a comment line."""
    if state.version < 0:
        return ": keep-alive\n\n"
    data = json.dumps({"version": state.version, "count": state.count}, separators=(",", ":"))
    return f"id: {state.version}\nevent: queue\ndata: {data}\n\n"


async def sse_stream(feed: QueueFeed, *, after: int, max_s: float) -> AsyncIterator[str]:
    """The stream of one page: the retry hint, then the queue's versions."""
    yield f"retry: {RETRY_MS}\n\n"
    async for state in feed.listen(after=after, max_s=max_s):
        yield sse_message(state)


def build_router() -> APIRouter:
    router = APIRouter(prefix="/technik")

    @router.get("/warteschlange/live", summary="Server-sent events: the queue changed (version, count)")
    async def queue_events(request: Request, user: Technician,
                           last_event_id: Annotated[str | None, Header(max_length=20)] = None) -> StreamingResponse:
        feed: QueueFeed = request.app.state.queue_feed
        after = int(last_event_id) if last_event_id and last_event_id.isdigit() else -1
        return StreamingResponse(
            sse_stream(feed, after=after, max_s=request.app.state.settings.queue_live_max_s),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    return router
