"""Waiting in tests: the one ``eventually`` helper (and its sync twin for the deploy tests).

Services work asynchronously (consumers, outbox relays), so a test awaits the *condition* it
needs instead of sleeping: ``eventually`` polls a check until it holds and returns the check's
value, or fails with what was awaited, for how long, and the last value seen. An exception raised
by the check is not swallowed: a check that asserts fails the test at once.

A test that asserts something does *not* happen awaits a positive signal that proves processing
went past that point (a later marker message handled), never a sleep.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, overload

T = TypeVar("T")

#: The default wait: long enough for a loaded CI machine, short enough to fail a hung test soon.
DEFAULT_TIMEOUT_S = 20.0
DEFAULT_INTERVAL_S = 0.05


def _describe(check: Callable[..., object], what: str | None) -> str:
    if what:
        return what
    name = getattr(check, "__name__", None) or repr(check)
    return f"condition {name}"


def _failure(what: str, timeout: float, attempts: int, last: object) -> AssertionError:
    return AssertionError(f"{what}: not reached within {timeout:g} s ({attempts} checks; last value {last!r})")


@overload
async def eventually(check: Callable[[], Awaitable[T]], *, timeout: float = ..., what: str | None = ...,
                     until: Callable[[T], bool] | None = ..., interval: float = ...) -> T: ...


@overload
async def eventually(check: Callable[[], T], *, timeout: float = ..., what: str | None = ...,
                     until: Callable[[T], bool] | None = ..., interval: float = ...) -> T: ...


async def eventually(check: Callable[[], object], *, timeout: float = DEFAULT_TIMEOUT_S,
                     what: str | None = None, until: Callable[[Any], bool] | None = None,
                     interval: float = DEFAULT_INTERVAL_S) -> Any:
    """Call ``check`` (sync or async) until its value holds; return that value.

    The value holds when ``until(value)`` is true, or, without ``until``, when it is truthy.
    Fails with an :class:`AssertionError` naming ``what`` (default: the check's name), the
    timeout and the last value after ``timeout`` seconds. The check runs at least once.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    attempts = 0
    while True:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        attempts += 1
        if until(value) if until is not None else bool(value):
            return value
        if loop.time() > deadline:
            raise _failure(_describe(check, what), timeout, attempts, value)
        await asyncio.sleep(interval)


def eventually_sync(check: Callable[[], T], *, timeout: float = DEFAULT_TIMEOUT_S, what: str | None = None,
                    until: Callable[[T], bool] | None = None, interval: float = 0.3) -> T:
    """:func:`eventually` for synchronous tests (the deploy tests drive a real office over HTTP)."""
    deadline = time.monotonic() + timeout
    attempts = 0
    while True:
        value = check()
        attempts += 1
        if until(value) if until is not None else bool(value):
            return value
        if time.monotonic() > deadline:
            raise _failure(_describe(check, what), timeout, attempts, value)
        time.sleep(interval)
