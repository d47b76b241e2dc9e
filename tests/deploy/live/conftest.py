"""The deployment test (``make test-deploy``): real images, ``docker compose``, Caddy over HTTPS.

Collected only when ``FW_TEST_DEPLOY=1`` (the make target sets it): ``make test`` does not run
it (it needs root or a running Docker Engine and ~10 minutes). When it runs, a missing engine
or image is a FAILURE, never a skip.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

if os.environ.get("FW_TEST_DEPLOY") != "1":
    collect_ignore_glob = ["test_*.py"]

import engine  # noqa: E402

PROJECT_IMAGE = "fernwartung:1.0.0"


@pytest.fixture(scope="session")
def images() -> dict[str, str]:
    """Engine, compose, base images, stand-ins and the project image, all made here."""
    engine.ensure_engine()
    engine.ensure_compose()
    engine.ensure_base()
    engine.ensure_python_base()
    tags = engine.ensure_standins()
    engine.build_project_image(PROJECT_IMAGE)
    return {**tags, "project": PROJECT_IMAGE}


@pytest.fixture(scope="session")
def workroot() -> Path:
    """Our own directory (pytest's shared temp root is pruned by other sessions' runs)."""
    root = engine.CACHE / "run"
    root.mkdir(parents=True, exist_ok=True)
    return root


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # type: ignore[no-untyped-def]
    if engine.TIMINGS:
        terminalreporter.section("deployment timings (seconds)")
        for what, secs in engine.TIMINGS.items():
            terminalreporter.write_line(f"{what:<45} {secs:7.1f}")
