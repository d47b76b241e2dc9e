"""The four services and the web pages as real processes, driven by a real headless Chromium.

Chromium: ``FW_CHROMIUM`` (the Makefile sets it to ``/usr/bin/chromium``, Debian's package), else
Playwright's own download if present. Without a browser the tests FAIL with a loud message — a
green run must mean the pages were really clicked through.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio

from fw_devenv._util import free_port
from fw_devenv.pytest_plugin import FwEnv, ServiceProcess, billing_tariff_env, start_all

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
DEBIAN_CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]

#: Same as tests/e2e: a tariff that bills even a one-second session (10.00 + 24.00 net → 40.46 gross).
E2E_TARIFF = """
version = "e2e-1"
base_fee = 10.00
interval_seconds = 900
rate_per_interval = 24.00
min_billed_seconds = 900
free_threshold_seconds = 0
vat_rate = 0.19
timezone = "Europe/Berlin"
"""

#: Sign-ins of the tests (written to the users file with argon2 hashes at start).
USERS = {"technik": ("technician", "technik-test-passwort"), "buero": ("office", "buero-test-passwort"),
         "datenschutz": ("privacy", "datenschutz-test-passwort")}

NO_BROWSER = """
##########################################################################################
##  NO BROWSER for the browser tests: {path} does not exist and Playwright's own
##  chromium is not installed. These tests FAIL on purpose (they must not pass silently).
##  Install one:  apt-get install chromium   or   python -m playwright install chromium
##  (`make test` tries both by itself.)
##########################################################################################"""


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives the pages in a real headless Chromium")


def chromium_executable() -> str | None:
    """The browser to drive: ``FW_CHROMIUM``/Debian's, else None for Playwright's own (if any)."""
    wanted = os.environ.get("FW_CHROMIUM") or DEBIAN_CHROMIUM
    if os.path.exists(wanted):
        return wanted
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        if os.path.exists(p.chromium.executable_path):
            return None
    pytest.fail(NO_BROWSER.format(path=wanted), pytrace=False)


def tariff_env(env: FwEnv) -> dict[str, str]:
    return billing_tariff_env(env.work_dir, E2E_TARIFF)


class WebProcess(ServiceProcess):
    """``python -m fw_web`` as a real process, pointed at the services of this test.

    Starts, waits and stops like every other service (:class:`ServiceProcess`); only its
    environment differs: no database, no NATS, the other services' URLs and test users.
    """

    def __init__(self, env: FwEnv, procs: dict[str, ServiceProcess]) -> None:
        from fw_web.adapters.users_file import add_user
        from fw_web.domain.users import Role

        users_file = env.work_dir / "web-users.toml"
        for name, (role, password) in USERS.items():
            add_user(users_file, name, Role(role), password)
        self.service = "web"
        self.port = free_port()
        self.log_path = env.work_dir / "web.log"
        self.env = {**os.environ, "FW_WEB_HTTP_HOST": "127.0.0.1", "FW_WEB_HTTP_PORT": str(self.port),
                    "FW_WEB_USERS_FILE": str(users_file), "FW_WEB_SECRET_KEY": "browser-test-secret-0123456789",
                    "FW_WEB_LOGIN_FAILURE_DELAY_S": "0.2",
                    **{f"FW_WEB_{svc.upper()}_URL": p.url for svc, p in procs.items()}}
        self.proc: subprocess.Popen[bytes] | None = None


@dataclass
class Office:
    """The running back office: the four services and the pages."""

    env: FwEnv
    procs: dict[str, ServiceProcess]
    web: WebProcess
    #: The browser binary; None: Playwright's own download.
    chromium: str | None
    screenshots: Path = SCREENSHOTS

    def password(self, username: str) -> str:
        return USERS[username][1]

    def url(self, path: str = "/") -> str:
        return self.web.url + path


@pytest.fixture
def office(fw_env: FwEnv) -> Iterator[Office]:
    executable = chromium_executable()  # fail before starting anything when there is no browser
    procs: dict[str, ServiceProcess] = {}
    web: WebProcess | None = None
    try:
        for svc in ("retention", "intake", "session", "billing"):
            procs[svc] = ServiceProcess(svc, fw_env, extra=tariff_env(fw_env))
        start_all(list(procs.values()))
        web = WebProcess(fw_env, procs).start()
        yield Office(fw_env, procs, web, executable)
    finally:
        if web is not None:
            web.stop()
        for p in procs.values():
            p.stop()


@pytest_asyncio.fixture
async def browser(office: Office) -> AsyncIterator[object]:
    """A headless Chromium (Debian's, or Playwright's own when that is all there is)."""
    from playwright.async_api import async_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=office.chromium, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            await b.close()
