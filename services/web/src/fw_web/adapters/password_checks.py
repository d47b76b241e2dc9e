"""Password checks off the event loop: a small thread pool, bounded concurrency, a bounded queue.

argon2 costs ~0.7 s of CPU per check on purpose. On the event loop it froze every page while
sign-ins arrived; argon2-cffi releases the GIL, so in a thread the loop keeps serving. The
number of checks running at once is bounded (each one already keeps a core busy), and so is
the number waiting: when both are full the sign-in is answered at once with 429 instead of
piling up requests that would time out anyway. The check threads also run at a lower CPU
priority (nice +10, per thread on Linux), so on a small machine the event loop gets the CPU
first and pages stay fast while checks are running.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from fw_web.domain.users import User


class ChecksBusy(Exception):
    """All check slots and all queue places are taken: try again in ``retry_after`` seconds."""

    def __init__(self, retry_after: float) -> None:
        super().__init__("password checks busy")
        self.retry_after = retry_after


class PasswordChecks:
    """Runs ``verify(user, password)`` in at most ``concurrency`` threads, with at most ``queue``
    callers waiting for a thread; more callers get :class:`ChecksBusy` immediately."""

    #: A rough duration of one check (argon2id with the library's defaults), for Retry-After.
    SECONDS_PER_CHECK = 1.0

    def __init__(self, verify: Callable[[User | None, str], bool], *, concurrency: int, queue: int) -> None:
        if concurrency < 1 or queue < 0:
            raise ValueError("concurrency must be at least 1 and queue at least 0")
        self._verify = verify
        self._concurrency = concurrency
        self._limit = concurrency + queue
        self._admitted = 0  # running + waiting; only touched on the event loop
        self._slots = asyncio.Semaphore(concurrency)
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="password-check",
                                        initializer=_lower_priority)

    @property
    def admitted(self) -> int:
        """Checks running or waiting right now."""
        return self._admitted

    async def verify(self, user: User | None, password: str) -> bool:
        """Whether ``password`` is ``user``'s (same cost for an unknown user), or ChecksBusy."""
        if self._admitted >= self._limit:
            raise ChecksBusy(self._limit / self._concurrency * self.SECONDS_PER_CHECK)
        self._admitted += 1
        try:
            async with self._slots:
                loop = asyncio.get_running_loop()
                return await loop.run_in_executor(self._pool, self._verify, user, password)
        finally:
            self._admitted -= 1

    def close(self) -> None:
        """Stop the threads (checks still queued are dropped; a running one finishes)."""
        self._pool.shutdown(wait=False, cancel_futures=True)


#: How much nicer than the event loop the check threads are (0 = same priority, 19 = lowest).
NICENESS = 10


def _lower_priority() -> None:
    """Lower this thread's CPU priority (Linux: nice is per thread)."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICENESS)
    except (OSError, AttributeError):  # elsewhere, or not allowed: the checks still run off the loop
        pass
