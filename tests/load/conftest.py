"""Bounded load tests: a fixed number of requests on loopback, a time limit, timed assertions
(the only tests that have them: the issue they come from asks for a latency bound)."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "load: bounded load test on loopback with a timed assertion")
