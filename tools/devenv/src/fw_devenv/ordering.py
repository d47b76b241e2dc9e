"""The order ``make test`` hands tests out in: long tests spread over the first part of the run.

pytest-xdist's default consecutive chunks left the long tests (collected last, under ``tests/``)
to one worker at the end while the others idled; all long tests first ran several browser tests
at once, each twice as slow. Spread out, longest first, they start one after another while the
short tests fill the gaps and the end.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")

#: The long tests are spread over this first share of the run; the rest is short tests only.
LONG_TESTS_WITHIN = 0.7


def spread_long(items: Sequence[T], seconds: Callable[[T], float], within: float = LONG_TESTS_WITHIN) -> list[T]:
    """``items`` with those of ``seconds(item) > 0`` spread evenly over the first ``within`` of
    the short ones, longest first; the short ones keep their order."""
    long = sorted((i for i in items if seconds(i) > 0), key=seconds, reverse=True)
    if not long:
        return list(items)
    short = [i for i in items if seconds(i) <= 0]
    step = len(short) * within / len(long)
    at: dict[int, list[T]] = {}
    for k, item in enumerate(long):
        at.setdefault(round(k * step), []).append(item)  # step < 1 (few short tests): several at one place
    ordered: list[T] = []
    for n, item in enumerate(short):
        ordered.extend(at.pop(n, []))
        ordered.append(item)
    for rest in at.values():  # no short tests at all
        ordered.extend(rest)
    return ordered
