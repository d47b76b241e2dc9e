"""Fixtures of the fuzz and HTTP-hardening tests: the four services as real processes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fw_devenv.pytest_plugin import FwEnv, ServiceProcess, start_all

#: The services with an HTTP API of their own (web is the browser front end, tested elsewhere).
API_SERVICES = ("retention", "intake", "session", "billing", "reporting")


@pytest.fixture
def api_procs(fw_env: FwEnv) -> Iterator[dict[str, ServiceProcess]]:
    """Every API service running; intake without its rate limit (the fuzzer is one client)."""
    procs: dict[str, ServiceProcess] = {}
    extra = {"FW_INTAKE_RATE_LIMIT_PER_MINUTE": "100000"}
    try:
        for svc in API_SERVICES:
            procs[svc] = ServiceProcess(svc, fw_env, extra=extra)
        start_all(list(procs.values()))
        yield procs
    finally:
        for p in procs.values():
            p.stop()
