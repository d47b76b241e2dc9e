"""The short chaos run of ``make test``: 200 lifecycles, 20 faults, every invariant must hold.

A longer run is documented in docs/reliability.md (``python -m tests.chaos.harness``).
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.chaos

_spec = importlib.util.spec_from_file_location("fw_chaos_harness", Path(__file__).with_name("harness.py"))
assert _spec and _spec.loader
harness = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = harness  # dataclasses look their module up there
_spec.loader.exec_module(harness)


@pytest.mark.long(63)
async def test_lifecycles_survive_kills_and_restarts() -> None:
    lines: list[str] = []
    # Not pytest's tmp_path: PostgreSQL runs as an unprivileged user that must reach its data dir.
    root = Path(tempfile.mkdtemp(prefix="fwchaos-"))
    try:
        report, stats = await harness.run(200, 20, concurrency=12, root=root, log=lines.append)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print("\n".join(lines))  # shown with -s or on failure: what was done and the counts
    assert sum(stats.faults.values()) >= 20
    assert stats.done == 200 and not stats.gave_up, "\n".join(lines)
    assert not stats.unexpected, stats.unexpected[:5]
    assert report.ok, "\n".join(report.violations)
    assert report.counts["sessions.ended"] == 200
    assert report.parked == [], report.parked
