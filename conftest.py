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


#: Run these first (in this order, each keeping its own order): the longest tests (browser, chaos,
#: the privacy scans, fuzzing, end-to-end, the audit against live services) start while the short
#: ones fill the other workers, instead of one of them finishing alone at the end of the run.
SLOW_FIRST = ("tests/browser/", "tests/chaos/", "tests/privacy/", "tests/fuzz/", "tests/e2e/",
              "tools/audit/tests/integration/")
_ROOT = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        path = item.path.resolve()
        where = path.relative_to(_ROOT).as_posix() if path.is_relative_to(_ROOT) else ""
        return next((i for i, prefix in enumerate(SLOW_FIRST) if where.startswith(prefix)), len(SLOW_FIRST))

    items.sort(key=rank)  # stable: every file keeps its tests' order
