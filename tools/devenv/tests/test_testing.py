"""The one waiting helper of the test suite: it returns what it awaited and fails clearly."""

from __future__ import annotations

import pytest

from fw_devenv.testing import eventually, eventually_sync


async def test_eventually_returns_the_first_value_that_holds() -> None:
    seen: list[int] = []

    async def counter() -> int:
        seen.append(len(seen))
        return seen[-1]

    assert await eventually(counter, until=lambda n: n >= 3, interval=0) == 3
    assert seen == [0, 1, 2, 3]


async def test_eventually_takes_sync_checks_and_falsy_values_with_until() -> None:
    assert await eventually(list, until=lambda v: v == []) == []
    assert await eventually(lambda: "ready") == "ready"


async def test_eventually_names_what_it_awaited_and_the_last_value() -> None:
    async def invoice_issued() -> str | None:
        return None

    with pytest.raises(AssertionError, match=r"condition invoice_issued: not reached within 0.1 s .*last value None"):
        await eventually(invoice_issued, timeout=0.1)
    with pytest.raises(AssertionError, match=r"^the queue entry: not reached within 0.1 s .*last value \[\]"):
        await eventually(list, timeout=0.1, what="the queue entry")


async def test_an_assertion_in_the_check_fails_at_once() -> None:
    calls = 0

    async def strict() -> bool:
        nonlocal calls
        calls += 1
        raise AssertionError("HTTP 500")

    with pytest.raises(AssertionError, match="HTTP 500"):
        await eventually(strict, timeout=5)
    assert calls == 1


def test_eventually_sync_is_the_same_for_sync_tests() -> None:
    values = iter([0, 0, 7])
    assert eventually_sync(lambda: next(values), interval=0) == 7
    with pytest.raises(AssertionError, match=r"the office: not reached within 0\.05 s"):
        eventually_sync(lambda: False, timeout=0.05, interval=0.01, what="the office")
