"""``docs/adding-a-service.md`` is followed: each step checked on the reporting service.

(Step 1 — no other service imported, no other schema named — and the commit check of step 9
are in ``test_reporting_untouched.py``; the contract of step 4 in ``test_consumer_contracts.py``.)
"""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pytest

from fw_devenv import devenv, nats_auth, run
from fw_reporting.bootstrap import build
from fw_reporting.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
SVC = "reporting"
PKG = ROOT / "services" / SVC / "src" / f"fw_{SVC}"
GUIDE = (ROOT / "docs" / "adding-a-service.md").read_text(encoding="utf-8")


def test_step2_identity_is_provisioned() -> None:
    assert SVC in devenv.SERVICES
    assert SVC in nats_auth.USERS and SVC in nats_auth.DURABLES


@pytest.mark.parametrize("rel", [
    "pyproject.toml", "README.md", "src/fw_reporting/__init__.py", "src/fw_reporting/contract.py",
    "src/fw_reporting/settings.py", "src/fw_reporting/__main__.py", "src/fw_reporting/bootstrap.py",
    "src/fw_reporting/migrations/001_reporting.sql", "src/fw_reporting/domain", "src/fw_reporting/application",
    "src/fw_reporting/adapters", "src/fw_reporting/entrypoints", "tests/unit", "tests/integration",
])
def test_step3_layout(rel: str) -> None:
    assert (ROOT / "services" / SVC / rel).exists()
    name = rel.rsplit("/", maxsplit=1)[-1]
    assert name.replace("fw_reporting", "fw_<svc>").replace("reporting", "<svc>") in GUIDE or \
        rel.startswith("src/fw_reporting/migrations")


def test_step3_package_metadata() -> None:
    meta = tomllib.loads((ROOT / "services" / SVC / "pyproject.toml").read_text(encoding="utf-8"))
    assert meta["project"]["name"] == f"fw-{SVC}"
    assert {"fw-contracts", "fw-platform"} <= set(meta["project"]["dependencies"])
    assert "migrations/*.sql" in meta["tool"]["setuptools"]["package-data"][f"fw_{SVC}"]


FORBIDDEN_IN_DOMAIN = {"asyncpg", "nats", "faststream", "fastapi", "os"}


@pytest.mark.parametrize("path", sorted((PKG / "domain").glob("*.py")), ids=lambda p: p.name)
def test_step3_domain_is_pure(path: Path) -> None:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            assert not {a.name.split(".")[0] for a in node.names} & FORBIDDEN_IN_DOMAIN
        elif isinstance(node, ast.ImportFrom) and node.module:
            assert node.module.split(".")[0] not in FORBIDDEN_IN_DOMAIN


def test_step5_bootstrap_registers_exactly_the_permitted_durables() -> None:
    runtime = build(Settings()).runtime
    assert runtime is not None
    assert [f"{SVC}--{name}" for name, _ in runtime._consumer_specs] == \
        [f"{SVC}--{name}" for name in nats_auth.DURABLES[SVC]]


def test_step6_settings() -> None:
    cfg = Settings.model_config
    assert cfg["env_prefix"] == "FW_REPORTING_" and cfg["frozen"] and cfg["extra"] == "ignore"
    assert Settings().http_port == 8085


def test_step6_migrations_use_unqualified_tables() -> None:
    for path in (PKG / "migrations").glob("*.sql"):
        assert re.fullmatch(r"\d{3}_[a-z_]+\.sql", path.name)
        assert not re.search(r"CREATE TABLE\s+\w+\.", path.read_text(encoding="utf-8"))


def test_step7_wired_into_make_and_run() -> None:
    packages = next(line for line in (ROOT / "Makefile").read_text().splitlines() if line.startswith("PACKAGES"))
    assert f"services/{SVC}" in packages.split()
    assert any(s.name == SVC and s.module == f"fw_{SVC}" and s.port == 8085 for s in run.SERVICES)


def test_step8_tests_exist() -> None:
    tests = ROOT / "services" / SVC / "tests"
    assert list((tests / "unit").glob("test_*.py")) and list((tests / "integration").glob("test_*.py"))
    text = "".join(p.read_text() for p in (tests / "integration").glob("test_*.py"))
    assert "fw_env" in text and "ServiceProcess" in text and "nats_credentials" in text


def test_step9_documents_exist() -> None:
    assert (ROOT / "docs" / "asyncapi" / f"{SVC}.json").exists()
    assert f"| {SVC}" in (ROOT / "docs" / "events.md").read_text() or f", {SVC}" in (ROOT / "docs" / "events.md").read_text()
