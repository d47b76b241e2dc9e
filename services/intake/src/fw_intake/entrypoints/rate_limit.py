"""A small in-memory rate limit per client address (one process; enough against form spam)."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable


class RateLimiter:
    """Token bucket per key: ``per_minute`` requests in a burst, refilled evenly over a minute.

    Only the most recently seen ``max_clients`` keys are kept, so memory stays bounded; a key
    that falls out simply starts with a full bucket again. Keys (client addresses) are personal
    data: they are never logged and live only in memory.
    """

    def __init__(self, per_minute: int, *, clock: Callable[[], float] = time.monotonic,
                 max_clients: int = 10_000) -> None:
        if per_minute < 1:
            raise ValueError("per_minute must be at least 1")
        self._capacity = float(per_minute)
        self._per_second = per_minute / 60.0
        self._clock = clock
        self._max = max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def check(self, key: str) -> float | None:
        """Take one token for ``key``: None if allowed, else the seconds until the next one."""
        now = self._clock()
        tokens, last = self._buckets.pop(key, (self._capacity, now))
        tokens = min(self._capacity, tokens + (now - last) * self._per_second)
        allowed = tokens >= 1.0
        if allowed:
            tokens -= 1.0
        self._buckets[key] = (tokens, now)
        while len(self._buckets) > self._max:
            self._buckets.popitem(last=False)
        return None if allowed else (1.0 - tokens) / self._per_second
