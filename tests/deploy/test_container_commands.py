"""The containers' commands, run here as processes: the same command lines (compose ``command``),
the same environment variable names and values from a generated .env -- only the addresses
point at this test's NATS and PostgreSQL (``fw_env``) and at free local ports. Then: the init
job succeeds (twice: it is idempotent), all six services become ready (checked with the image's
own health-check script), API tokens work as compose wires them, and web serves the form."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from deploy_kit import (
    APP_SERVICES,
    COMPOSE,
    DB_SERVICES,
    DEPLOY,
    ROOT,
    env_file_keys,
    load_deploy_module,
    load_yaml,
    service_env,
)

from fw_devenv._util import free_port
from fw_devenv.pytest_plugin import TEST_AUDIT_DB_PASSWORD, FwEnv

gen_env = load_deploy_module("gen_env")
COMPOSE_DATA = load_yaml(COMPOSE)
READY_TIMEOUT_S = 60.0


def _dotenv(fw_env: FwEnv) -> dict[str, str]:
    """A generated .env whose passwords are the test servers' (fw_env provisioned those)."""
    values = {**env_file_keys(DEPLOY / ".env.example"), **gen_env.generate()}
    for svc in DB_SERVICES:
        values[f"PG_PW_{svc.upper()}"] = urlsplit(fw_env.dsn(svc)).password or ""
        values[f"NATS_PW_{svc.upper()}"] = fw_env.nats_credentials(svc)[1]
    values["NATS_PW_ADMIN"] = fw_env.nats_credentials("admin")[1]
    # the auditor's login is the cluster's too: a password of its own locked out later tests' audit
    values["PG_PW_AUDIT_RO"] = TEST_AUDIT_DB_PASSWORD
    values["POSTGRES_PASSWORD"] = urlsplit(fw_env.admin_dsn).password or "unused"
    return values


def _localise(env: dict[str, str], fw_env: FwEnv, ports: dict[str, int], tmp: Path) -> dict[str, str]:
    """Container addresses -> this test's: values keep their names and everything else."""
    pg = urlsplit(fw_env.dsn("intake"))
    nats = urlsplit(fw_env.nats_plain_url)
    out: dict[str, str] = {}
    for key, value in env.items():
        value = value.replace("nats://nats:4222", f"nats://{nats.hostname}:{nats.port}")
        value = value.replace("@postgres:5432/fernwartung", f"@{pg.hostname}:{pg.port}{pg.path}")
        for svc, port in ports.items():  # http://intake:8081 -> http://127.0.0.1:<its port>
            if urlsplit(value).hostname == svc and value.startswith("http://"):
                value = f"http://127.0.0.1:{port}"
        if key.endswith("_HTTP_HOST"):
            value = "127.0.0.1"
        if key.endswith("_HTTP_PORT"):
            value = str(ports[key.split("_")[1].lower()])
        value = value.replace("/data/web/", f"{tmp}/web/").replace("/app/docs/", f"{ROOT}/docs/")
        if value == "/app/tariffs":  # the bind mount ./tariffs (deploy/tariffs in the checkout)
            value = str(DEPLOY / "tariffs")
        out[key] = value
    if "FW_INIT_DATABASE_ADMIN_URL" in out:
        out["FW_INIT_DATABASE_ADMIN_URL"] = fw_env.admin_dsn
    return out


def _command(service: str) -> list[str]:
    """compose's command with the image's paths mapped to the checkout (/app/x.py = deploy/x.py)."""
    cmd = list(COMPOSE_DATA["services"][service]["command"])
    assert cmd[0] == "python"
    return [sys.executable, *(str(DEPLOY / Path(a).name) if a.startswith("/app/") else a for a in cmd[1:])]


def _base_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("FW_")}


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def _healthcheck(env: dict[str, str], path: str) -> bool:
    """The image's HEALTHCHECK / compose healthcheck command, with the container's environment."""
    result = subprocess.run([sys.executable, str(DEPLOY / "healthcheck.py"), path],
                            env={**_base_env(), **env}, capture_output=True, timeout=10, check=False)
    return result.returncode == 0


def _get(url: str, token: str | None = None) -> int:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.mark.long(22)
def test_init_job_then_all_six_services_as_the_containers_start_them(
        fw_env: FwEnv, tmp_path: Path, processes: list[subprocess.Popen[bytes]]) -> None:
    dotenv = _dotenv(fw_env)
    ports = {svc: free_port() for svc in APP_SERVICES}
    (tmp_path / "web").mkdir()

    # 1. the init job (roles, schemas, stream), twice: `docker compose up` runs it every time
    init_env = _localise(service_env(COMPOSE_DATA, "init", dotenv), fw_env, ports, tmp_path)
    init_env["FW_INIT_NATS_URL"] = fw_env.nats_plain_url
    for _ in range(2):
        result = subprocess.run(_command("init"), env={**_base_env(), **init_env},
                                capture_output=True, text=True, timeout=120, check=False)
        assert result.returncode == 0, result.stdout + result.stderr
    assert "stream ready with 1 replica" in result.stderr

    # 2. a web user, as README step 6 does it (python -m fw_web add-user ... --stdin)
    web_env = _localise(service_env(COMPOSE_DATA, "web", dotenv), fw_env, ports, tmp_path)
    added = subprocess.run([sys.executable, "-m", "fw_web", "add-user", "tech-01", "--role", "technician",
                            "--stdin"], input="correct horse battery staple\n", text=True,
                           env={**_base_env(), **web_env}, capture_output=True, timeout=60, check=False)
    assert added.returncode == 0, added.stderr
    assert (tmp_path / "web" / "web-users.toml").exists()

    # 3. the six services, in compose's order (web waits for the four it calls)
    envs: dict[str, dict[str, str]] = {}
    for svc in APP_SERVICES:
        env = _localise(service_env(COMPOSE_DATA, svc, dotenv), fw_env, ports, tmp_path)
        envs[svc] = env
        log = (tmp_path / f"{svc}.log").open("ab")
        processes.append(subprocess.Popen(_command(svc), env={**_base_env(), **env},
                                          stdout=log, stderr=subprocess.STDOUT))
    deadline = time.monotonic() + READY_TIMEOUT_S
    pending = set(APP_SERVICES)
    while pending:
        for proc, svc in zip(processes, APP_SERVICES, strict=True):
            assert proc.poll() is None, f"{svc} exited: {(tmp_path / f'{svc}.log').read_text()[-3000:]}"
        pending = {svc for svc in pending if not _healthcheck(envs[svc], "/readyz")}
        assert time.monotonic() < deadline, f"not ready: {pending}: " + "".join(
            (tmp_path / f"{s}.log").read_text()[-1500:] for s in pending)
        time.sleep(0.3)
    assert all(_healthcheck(envs[svc], "/healthz") for svc in APP_SERVICES)

    # 4. the APIs want a token (compose configures API keys), web's and the operator's work
    queue = f"http://127.0.0.1:{ports['session']}/api/queue"
    assert _get(queue) == 401
    assert _get(queue, dotenv["WEB_API_TOKEN"]) == 200
    assert _get(queue, dotenv["OPS_API_TOKEN"]) == 200
    status = f"http://127.0.0.1:{ports['retention']}/api/erasures"
    assert _get(status) == 401 and _get(status, dotenv["OPS_API_TOKEN"]) == 200

    # 5. the first request as Caddy forwards it: the form page, rendered by web
    with urllib.request.urlopen(f"http://127.0.0.1:{ports['web']}/", timeout=10) as resp:
        assert resp.status == 200
        assert "<form" in resp.read().decode()
