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
