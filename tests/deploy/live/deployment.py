"""One deployment as an office runs it: a copy of deploy/, README steps 2-6, docker compose."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from engine import ROOT, EngineError, run, timed

#: The tariff the test selects: every second billed (the shipped one does not bill sessions
#: below two minutes; a lifecycle here lasts seconds). Placed in deploy/tariffs/ as an office would.
TEST_TARIFF = """\
version = "deploytest-1"
base_fee = 10.00
interval_seconds = 900
rate_per_interval = 24.00
min_billed_seconds = 900
free_threshold_seconds = 0
vat_rate = 0.19
timezone = "Europe/Berlin"
"""

APP_SERVICES = ("intake", "session", "billing", "retention", "reporting", "web")
DB_SERVICES = ("intake", "session", "billing", "retention", "reporting")
#: Staff sign-ins the test creates (README step 6); passwords are made per run.
STAFF = {"tech-01": "technician", "buero": "office", "datenschutz": "privacy"}


@dataclass
class Deployment:
    """``deploy/`` copied to ``workdir/deploy`` and run from there, as the README says."""

    workdir: Path
    files: list[str] = field(default_factory=list)  # extra -f files (cluster)
    passwords: dict[str, str] = field(default_factory=dict)

    @property
    def dir(self) -> Path:
        return self.workdir / "deploy"

    # ------------------------------------------------------------------ files and steps
    def prepare(self) -> None:
        """README step 2 and 3 (the files): .env from gen_env.py, billing.env, nats.conf."""
        if self.workdir.exists():
            shutil.rmtree(self.workdir)
        self.workdir.mkdir(parents=True)
        shutil.copytree(ROOT / "deploy", self.dir, ignore=shutil.ignore_patterns(
            ".env", "billing.env", "nats.conf", "backups", "__pycache__"))
        env = run(["python3", "gen_env.py"], capture=True, cwd=self.dir).stdout
        env = "\n".join("FW_DOMAIN=localhost" if line.startswith("FW_DOMAIN=") else line
                        for line in env.splitlines()) + "\n"
        (self.dir / ".env").write_text(env)
        (self.dir / ".env").chmod(0o600)
        billing = (self.dir / "billing.env.example").read_text()
        billing += "\n# deployment test: a tariff that bills a session of seconds (deploy/tariffs/)\n"
        billing += "FW_BILLING_TARIFF_VERSION=deploytest-1\n"
        (self.dir / "billing.env").write_text(billing)
        (self.dir / "billing.env").chmod(0o600)
        (self.dir / "tariffs").mkdir(exist_ok=True)
        (self.dir / "tariffs" / "deploytest-1.toml").write_text(TEST_TARIFF)

    def render_nats_conf(self, image: str, *, cluster: bool = False) -> None:
        """README step 3: the NATS config rendered in the image."""
        cmd = ["docker", "run", "--rm", "--env-file", ".env", image, "python", "/app/render_nats_conf.py",
               "--stdout"] + (["--cluster"] if cluster else [])
        text = run(cmd, capture=True, cwd=self.dir).stdout
        out = self.dir / ("cluster/nats/nats.conf" if cluster else "nats/nats.conf")
        out.write_text(text)
        out.chmod(0o644)

    @property
    def env(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for line in (self.dir / ".env").read_text().splitlines():
            if line and not line.startswith("#") and "=" in line:
                k, _, v = line.partition("=")
                out[k] = v
        return out

    # ------------------------------------------------------------------ compose
    def compose_cmd(self, *args: str) -> list[str]:
        cmd = ["docker", "compose"]
        for f in (["compose.yaml", *self.files] if self.files else []):
            cmd += ["-f", f]
        return cmd + list(args)

    def compose(self, *args: str, check: bool = True, input: str | None = None,
                timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return run(self.compose_cmd(*args), capture=True, check=check, cwd=self.dir, input=input,
                   timeout=timeout)

    def containers(self, service: str | None = None, *, all_: bool = False) -> list[dict]:
        args = ["ps", "--format", "json"] + (["-a"] if all_ else []) + ([service] if service else [])
        out = self.compose(*args).stdout.strip()
        if not out:
            return []
        if out.startswith("["):
            return list(json.loads(out))
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def inspect(self, container: str) -> dict:
        return json.loads(run(["docker", "inspect", container], capture=True).stdout)[0]

    def wait_healthy(self, timeout: float = 300, *, services: Iterable[str] | None = None) -> float:
        """Every service running and healthy (init: exited 0). Returns the seconds it took."""
        t0 = time.monotonic()
        wanted = set(services) if services else None
        last = ""
        while time.monotonic() - t0 < timeout:
            rows = self.containers(all_=True)
            states = {}
            bad = []
            for row in rows:
                svc, state, health = row["Service"], row["State"], row.get("Health", "")
                if wanted is not None and svc not in wanted:
                    continue
                states[row["Name"]] = (state, health, row.get("ExitCode"))
                if svc == "init":
                    if state == "exited" and row.get("ExitCode") not in (0, None):
                        raise EngineError(f"init failed:\n{self.compose('logs', 'init').stdout[-3000:]}")
                    if state != "exited":
                        bad.append(row["Name"])
                elif svc == "natsbox":
                    continue
                elif state != "running" or (health and health != "healthy"):
                    bad.append(row["Name"])
            last = json.dumps(states)
            if rows and not bad:
                return time.monotonic() - t0
            time.sleep(2)
        logs = self.compose("logs", "--tail", "30", check=False).stdout[-8000:]
        raise AssertionError(f"not healthy within {timeout} s: {last}\n{logs}")

    def up(self, *extra: str, label: str = "") -> float:
        """README step 4: ``docker compose up -d``, then wait for every health check."""
        with timed(f"{label}docker compose up -d (returns when web is healthy)"):
            self.compose("up", "-d", *extra)
        with timed(f"{label}then until every health check is green"):
            return self.wait_healthy()

    def down(self, *extra: str) -> None:
        self.compose("down", *extra, timeout=300)

    # ------------------------------------------------------------------ inside the containers
    def add_staff(self) -> None:
        """README step 6, with --stdin instead of the two prompts."""
        for username, role in STAFF.items():
            pw = self.passwords.setdefault(username, os.urandom(12).hex())
            self.compose("exec", "-T", "web", "python", "-m", "fw_web", "add-user", username, "--role", role,
                         "--stdin", input=pw + "\n")
        self.compose("restart", "web")

    def psql(self, sql: str, *, db: str = "fernwartung") -> str:
        return self.compose("exec", "-T", "postgres", "psql", "-U", "postgres", "-d", db, "-At",
                            "-v", "ON_ERROR_STOP=1", "-c", sql).stdout

    def admin_python(self, script: str, timeout: float = 120) -> str:
        """A Python script in the project image on the backend network, as the NATS admin
        (the init job's environment: FW_INIT_NATS_URL/USER/PASSWORD)."""
        return self.compose("run", "--rm", "--no-deps", "-T", "init", "python", "-", input=script,
                            timeout=timeout).stdout

    def api(self, service: str, method: str, path: str, body: object = None) -> tuple[int, object]:
        """A service's JSON API with the operator token, from inside its container (README
        "API calls by hand")."""
        script = f"""
import json, os, urllib.request, urllib.error
port = [v for k, v in os.environ.items() if k.endswith("_HTTP_PORT")][0]
data = {json.dumps(json.dumps(body)) if body is not None else None!r}
req = urllib.request.Request(f"http://127.0.0.1:{{port}}{path}", method={method!r},
    data=data.encode() if data else None,
    headers={{"Authorization": "Bearer " + os.environ["OPS_API_TOKEN"], "Content-Type": "application/json"}})
try:
    with urllib.request.urlopen(req, timeout=30) as r:
        print(r.status); print(r.read().decode())
except urllib.error.HTTPError as e:
    print(e.code); print(e.read().decode())
"""
        out = self.compose("exec", "-T", "-e", f"OPS_API_TOKEN={self.env['OPS_API_TOKEN']}", service,
                           "python", "-", input=script).stdout
        status, _, text = out.partition("\n")
        try:
            return int(status), json.loads(text) if text.strip() else None
        except json.JSONDecodeError:
            return int(status), text

    def stream_events(self) -> list[dict]:
        """Every message of the stream FERNWARTUNG: subject, msg id header, event body."""
        script = r"""
import asyncio, json, os
import nats

async def main():
    nc = await nats.connect(os.environ["FW_INIT_NATS_URL"].split(","), user=os.environ["FW_INIT_NATS_USER"],
                            password=os.environ["FW_INIT_NATS_PASSWORD"])
    js = nc.jetstream()
    info = await js.stream_info("FERNWARTUNG")
    out = []
    if info.state.messages:
        sub = await js.subscribe("fw.>", ordered_consumer=True)
        while len(out) < info.state.messages:
            msg = await sub.next_msg(timeout=10)
            out.append({"subject": msg.subject, "msg_id": (msg.headers or {}).get("Nats-Msg-Id"),
                        "body": json.loads(msg.data)})
        await sub.unsubscribe()
    await nc.close()
    print(json.dumps(out))

asyncio.run(main())
"""
        return list(json.loads(self.admin_python(script).strip().splitlines()[-1]))

    def caddy_root_ca(self, dest: Path, timeout: float = 60) -> Path:
        """Caddy's internal CA (FW_DOMAIN=localhost), from the caddydata volume."""
        deadline = time.monotonic() + timeout
        while True:
            proc = self.compose("cp", "caddy:/data/caddy/pki/authorities/local/root.crt", str(dest), check=False)
            if proc.returncode == 0 and dest.exists() and dest.stat().st_size > 0:
                return dest
            if time.monotonic() > deadline:
                raise AssertionError(f"Caddy made no internal CA: {proc.stderr}")
            time.sleep(1)

    def volume_paths(self) -> dict[str, Path]:
        """``{volume name: host mountpoint}`` of this project's volumes (for raw scans)."""
        out = run(["docker", "volume", "ls", "-q", "--filter", "label=com.docker.compose.project=fernwartung"],
                  capture=True).stdout.split()
        paths = {}
        for vol in out:
            info = json.loads(run(["docker", "volume", "inspect", vol], capture=True).stdout)[0]
            paths[vol] = Path(info["Mountpoint"])
        return paths

    def log_tail(self) -> str:
        return self.compose("logs", "--tail", "40", check=False).stdout[-12000:]


def scan_for(paths: Iterable[Path], needles: Iterable[bytes]) -> list[str]:
    """Raw scan of every file under ``paths`` for any of ``needles``: ``["file: needle", ...]``."""
    needles = [n for n in needles if n]
    hits = []
    for base in paths:
        for p in base.rglob("*"):
            if not p.is_file() or p.is_symlink():
                continue
            try:
                data = p.read_bytes()
            except OSError:
                continue
            hits.extend(f"{p}: {n!r}" for n in needles if n in data)
    return hits

