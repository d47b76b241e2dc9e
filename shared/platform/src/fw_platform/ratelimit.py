"""A token bucket per key (client address), in memory: enough against form spam and guessing.

Used by intake (public API) and web (form, sign-in)."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable


class TokenBucket:
    """``per_minute`` requests in a burst, refilled evenly over a minute, per key.

    Only the ``max_keys`` most recently seen keys are kept so memory stays bounded; a key that
    falls out starts with a full bucket again. Keys are client addresses (personal data): they
    live only here and are never logged.
    """

    def __init__(self, per_minute: int, *, clock: Callable[[], float] = time.monotonic,
                 max_keys: int = 10_000) -> None:
        if per_minute < 1:
            raise ValueError("per_minute must be at least 1")
        self._capacity = float(per_minute)
        self._per_second = per_minute / 60.0
        self._clock = clock
        self._max = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, key: str) -> float | None:
        """Take one token for ``key``: None if allowed, else the seconds until the next token."""
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
