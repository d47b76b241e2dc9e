"""``make audit``: finds the dev credentials under var/ and runs verify with them, secrets only in
the environment; without a prior ``make run`` it says what to do."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fw_devenv.audit import audit_command
from fw_devenv.run import audit_hint, checkpoint_env


def test_the_audit_command_uses_the_dev_credentials_and_pins_the_office_key(tmp_path: Path) -> None:
    (tmp_path / "secrets.json").write_text(json.dumps({"nats_audit": "n-pw", "db_audit_ro": "d/pw"}))
    argv, env = audit_command(tmp_path, 14222, 15432, ["--json"])
    assert argv[1:] == ["-m", "fw_audit", "audit", "verify", "--json"]  # no key yet: nothing pinned
    assert "n-pw" not in " ".join(argv) and "d/pw" not in " ".join(argv)
    assert (env["NATS_URL"], env["NATS_USER"], env["NATS_PASSWORD"]) == ("nats://127.0.0.1:14222", "audit", "n-pw")
    assert env["FW_AUDIT_DATABASE_URL"] == "postgresql://fw_audit_ro:d%2Fpw@127.0.0.1:15432/fernwartung"
    (tmp_path / "audit-checkpoint.key.pub").write_text("ab" * 32 + "\n")
    argv, _ = audit_command(tmp_path, 14222, 15432, [])
    assert argv[-2:] == ["--public-key", str(tmp_path / "audit-checkpoint.key.pub")]


def test_without_make_run_it_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="make run"):
        audit_command(tmp_path, 14222, 15432, [])
    (tmp_path / "secrets.json").write_text(json.dumps({"nats_audit": "n-pw"}))
    with pytest.raises(SystemExit, match="lacks db_audit_ro"):
        audit_command(tmp_path, 14222, 15432, [])


def test_make_run_prints_the_command_and_the_read_only_dsn_and_starts_the_job_as_audit(tmp_path: Path) -> None:
    lines = audit_hint(tmp_path, "postgresql://fw_audit_ro:x@127.0.0.1:15432/fernwartung")
    assert "make audit" in lines[0] and lines[1].endswith("fw_audit_ro:x@127.0.0.1:15432/fernwartung")
    env = checkpoint_env(tmp_path, "nats://127.0.0.1:14222", "a-pw")
    assert env["FW_CHECKPOINT_NATS_USER"] == "audit" and env["FW_CHECKPOINT_GENERATE_KEY"] == "1"
    assert env["FW_CHECKPOINT_KEY_FILE"] == str((tmp_path / "audit-checkpoint.key").resolve())
