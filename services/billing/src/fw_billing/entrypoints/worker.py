"""Background work of billing: e-mail deliveries (with back-off) and the archive's destruction.

A thin loop: each step is an application function in its own transaction; several instances
can run it side by side (deliveries are claimed with ``SKIP LOCKED``; destruction is
idempotent and serialised by the triggers' row locks).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from fw_contracts import utcnow

log = logging.getLogger(__name__)


class BackgroundWorker:
    """Runs ``deliver`` until nothing is due, then sleeps ``poll`` seconds (or until woken);
    runs ``housekeeping`` every ``housekeeping_every``. ``wake`` (shared with whoever makes a
    delivery due, e.g. a retry command) ends the sleep early."""

    def __init__(self, *, deliver: Callable[[datetime], Awaitable[bool]],
                 housekeeping: Callable[[datetime], Awaitable[None]], poll: float,
                 housekeeping_every: float, clock: Callable[[], datetime] = utcnow,
                 wake: asyncio.Event | None = None) -> None:
        self._deliver = deliver
        self._housekeeping = housekeeping
        self._poll = poll
        self._every = timedelta(seconds=housekeeping_every)
        self._clock = clock
        self._wake = wake or asyncio.Event()
        self._stopping = False
        self._next_housekeeping: datetime | None = None

    def notify(self) -> None:
        """Something may be due now (e.g. a retry was requested)."""
        self._wake.set()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        """Until stopped; a failing step is logged (type only) and tried again later."""
        while not self._stopping:
            try:
                now = self._clock()
                if self._next_housekeeping is None or now >= self._next_housekeeping:
                    await self._housekeeping(now)
                    self._next_housekeeping = now + self._every
                while not self._stopping and await self._deliver(self._clock()):
                    pass
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - logged; the next poll tries again
                log.warning("background step failed; will retry", extra={"error": type(exc).__name__})
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self._poll)
            except TimeoutError:
                pass
            self._wake.clear()
