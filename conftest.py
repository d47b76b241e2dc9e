"""Root conftest: the real-server fixtures for every test in the repository."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["fw_devenv.pytest_plugin"]

SCREENSHOTS = Path(__file__).resolve().parent / "test-artifacts" / "screenshots"


def pytest_sessionstart(session: pytest.Session) -> None:
    """Screenshots of this run only (an old picture must not pass for a page that was not shown):
    cleared once, by the process that runs the tests or, with ``-n``, by the controller before any
    worker starts (a worker clearing them would delete its neighbour's)."""
    if hasattr(session.config, "workerinput"):
        return
    if SCREENSHOTS.is_dir():
        for old in SCREENSHOTS.glob("*.png"):
            old.unlink()


#: The long tests are spread over this first share of the run; the rest is short tests only.
LONG_TESTS_WITHIN = 0.7


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """The tests marked ``long(seconds)`` spread evenly over the first 70 % of the run, longest
    first; the others keep their order.

    ``make test`` hands the tests out one at a time in this order (``--maxschedchunk 1``). With
    pytest-xdist's default consecutive chunks the long tests, collected last (``tests/``), ran
    last on one worker while the others idled for a minute; all long tests first ran three
    browser tests at once and each took twice as long (619 s against 552 s in all). Spread out,
    they start one after another while the short tests fill the gaps and the end. Every worker
    sorts alike (xdist needs the same collection)."""
    def seconds(item: pytest.Item) -> float:
        mark = item.get_closest_marker("long")
        return float(mark.args[0]) if mark is not None else 0.0

    long = sorted((i for i in items if seconds(i)), key=seconds, reverse=True)
    if not long:
        return
    short = [i for i in items if not seconds(i)]
    step = len(short) * LONG_TESTS_WITHIN / len(long)
    at = {round(k * step): item for k, item in enumerate(long)}  # distinct: step >= 1 in a full run
    ordered: list[pytest.Item] = []
    for n, item in enumerate(short):
        if n in at:
            ordered.append(at.pop(n))
        ordered.append(item)
    ordered.extend(sorted(at.values(), key=seconds, reverse=True))  # step < 1: -k chose few short tests
    items[:] = ordered
