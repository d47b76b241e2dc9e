"""``python -m fw_web`` as a real process for tests, pointed at the services a test started."""

from __future__ import annotations

import os
import subprocess
import time
import urllib.request

from fw_devenv._util import free_port
from fw_devenv.pytest_plugin import FwEnv, ServiceProcess


class WebProcess(ServiceProcess):
    """The web pages as a real process. Starts and stops like every other service; its
    environment differs: no database, no NATS, the services' URLs, users written with argon2
    hashes. ``ready_path`` is ``/healthz`` when a test does not run all four services (web's
    ``/readyz`` waits for them)."""

    def __init__(self, env: FwEnv, service_urls: dict[str, str], *, users: dict[str, tuple[str, str]],
                 extra: dict[str, str] | None = None, ready_path: str = "/readyz",
                 name: str = "web") -> None:
        from fw_web.adapters.users_file import add_user
        from fw_web.domain.users import Role

        users_file = env.work_dir / f"{name}-users.toml"
        for username, (role, password) in users.items():
            add_user(users_file, username, Role(role), password)
        self.service = "web"
        self.port = free_port()
        self.log_path = env.work_dir / f"{name}.log"
        self.ready_path = ready_path
        self.env = {**os.environ, "FW_WEB_HTTP_HOST": "127.0.0.1", "FW_WEB_HTTP_PORT": str(self.port),
                    "FW_WEB_USERS_FILE": str(users_file), "FW_WEB_SECRET_KEY": "web-test-secret-0123456789",
                    **{f"FW_WEB_{svc.upper()}_URL": url for svc, url in service_urls.items()}, **(extra or {})}
        self.proc: subprocess.Popen[bytes] | None = None

    def wait_ready(self, timeout: float = 30.0) -> WebProcess:
        assert self.proc is not None, "spawn() first"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"web exited: {self.log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(self.url + self.ready_path, timeout=1) as resp:
                    if resp.status == 200:
                        return self
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"web not ready in {timeout}s: {self.log_path.read_text()[-3000:]}")
