"""Live queue for the technicians' browsers: one watcher for all of them.

web has no NATS connection (it talks to the services' APIs only), so one background task asks
the session service for the queue once per interval — for every open queue page together,
instead of each browser polling every 2 s — and tells the pages (server-sent events) only that
the queue changed: a version number and a count, never the queue's content (company, name and
phone stay on the signed-in page, fetched as before). The task runs only while a page listens.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

log = logging.getLogger(__name__)

#: Reads the queue: ``(reachable, items)``; the items are the session service's queue entries.
ReadQueue = Callable[[], Awaitable[tuple[bool, list[dict[str, Any]]]]]


@dataclass(frozen=True)
class QueueState:
    """What a page is told: the queue changed (``version``), how many wait, and whether the
    session service answered. No personal data."""

    version: int
    count: int | None


def fingerprint(reachable: bool, items: list[dict[str, Any]]) -> str:
    """Changes when a request joins or leaves the queue, or a waiting time passes a full minute
    (the page shows "wartet seit 3 Min."); its input is never logged or sent."""
    if not reachable:
        return "unreachable"
    parts = sorted(f"{i.get('request_id')}:{int(i.get('waiting_seconds') or 0) // 60}" for i in items)
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


class QueueFeed:
    """Fans one poll of the queue out to every listening page."""

    def __init__(self, read: ReadQueue, interval_s: float) -> None:
        self._read = read
        self._interval = interval_s
        self._state = QueueState(version=0, count=None)
        self._print: str | None = None
        self._changed = asyncio.Condition()
        self._listeners = 0
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    @property
    def state(self) -> QueueState:
        return self._state

    async def check(self) -> QueueState:
        """Read the queue once; a new version when it changed."""
        try:
            reachable, items = await self._read()
        except Exception as exc:  # noqa: BLE001 - the watcher must survive anything a read raises
            log.warning("queue read failed", extra={"error": type(exc).__name__})
            reachable, items = False, []
        mark = fingerprint(reachable, items)
        if mark != self._print:
            self._print = mark
            async with self._changed:
                self._state = QueueState(version=self._state.version + 1,
                                         count=len(items) if reachable else None)
                self._changed.notify_all()
        return self._state

    async def _run(self) -> None:
        while not self._closed:
            await self.check()
            await asyncio.sleep(self._interval)

    async def listen(self, *, after: int = -1, max_s: float = 300.0) -> AsyncIterator[QueueState]:
        """The states a page sees: the current one (unless it already has ``after``), then each
        change, for at most ``max_s`` seconds (the browser reconnects, and its sign-in is checked
        again). Starts the watcher with the first listener and stops it after the last."""
        self._listeners += 1
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="web-queue-feed")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max_s
        try:
            seen = after
            while not self._closed:
                if self._state.version != seen and self._state.version > 0:
                    seen = self._state.version
                    yield self._state
                left = deadline - loop.time()
                if left <= 0:
                    return
                async with self._changed:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._changed.wait_for(partial(self._moved, seen)),
                                               timeout=min(left, 15.0))
                if self._state.version == seen and not self._closed:
                    yield QueueState(version=-1, count=None)  # keep-alive (a comment line on the wire)
        finally:
            self._listeners -= 1
            if self._listeners == 0 and self._task is not None:
                self._task.cancel()
                self._task = None

    def _moved(self, seen: int) -> bool:
        return self._closed or self._state.version != seen

    async def close(self) -> None:
        """End every stream and the watcher (the app shuts down)."""
        self._closed = True
        async with self._changed:
            self._changed.notify_all()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
