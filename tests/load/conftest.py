"""Bounded load tests: a fixed number of requests on loopback and a time limit. They run with
all the others in ``make test`` and assert no failure and no stall; their latency targets are
measured by ``make bench`` (speed targets live there, not in tests)."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "load: bounded load test on loopback (no latency target: see make bench)")
