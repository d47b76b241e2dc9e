"""Fixtures of the privacy tests (helpers: ``privacy_kit``): the four services as real processes."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest_asyncio

from fw_devenv.pytest_plugin import FwEnv

# The helper module has a name of its own, so it cannot clash with other test folders' helpers.
sys.path.insert(0, str(Path(__file__).parent))

from privacy_kit import Office, start_office, tariff_env


@pytest_asyncio.fixture
async def office(fw_env: FwEnv) -> AsyncIterator[Office]:
    """All four services as processes (billing with the scan tariff); stopped at the end."""
    extra = {"billing": tariff_env(fw_env)}
    procs = start_office(fw_env, extra)
    office = Office(fw_env, procs, httpx.AsyncClient(timeout=20), extra)
    try:
        yield office
    finally:
        await office.http.aclose()
        for p in office.procs.values():
            p.stop()
