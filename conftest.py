"""Root conftest: the real-server fixtures for every test in the repository."""

from __future__ import annotations

from pathlib import Path

import pytest

from fw_devenv.ordering import spread_long

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


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """The tests marked ``long(seconds)`` spread over the first 70 % of the run, longest first
    (:func:`fw_devenv.ordering.spread_long`); ``make test`` hands them out one at a time in
    this order (``--maxschedchunk 1``). Every worker sorts alike (xdist needs the same
    collection)."""
    def seconds(item: pytest.Item) -> float:
        mark = item.get_closest_marker("long")
        return float(mark.args[0]) if mark is not None else 0.0

    items[:] = spread_long(items, seconds)
