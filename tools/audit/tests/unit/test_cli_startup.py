"""``fernwartung audit replay`` starts without what it does not use (the checks, the archive's
cryptography, asyncpg, rich): its start-up counts in every replay, and was a third of a 100k one."""

from __future__ import annotations

import json
import subprocess
import sys

from fw_audit import archive, cli

#: Modules only verify, export, report and checkpoint need.
NOT_FOR_REPLAY = ("asyncpg", "cryptography", "rich", "fw_audit.verifier", "fw_audit.archive", "fw_audit.runner",
                  "fw_audit.checks", "fw_audit.bundle", "fw_audit.html", "fw_audit.render")

PROBE = """
import json, sys
import fw_audit.cli, fw_audit.reading, fw_contracts.fastdecode
from fw_audit.reading import replay_stream
print(json.dumps(sorted(sys.modules)))
"""


def test_replay_imports_none_of_the_checks_or_the_archive() -> None:
    loaded = set(json.loads(subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                                           check=True, timeout=120).stdout))
    assert "fw_audit.replay" in loaded and "nats" in loaded  # the probe saw the replay's own imports
    heavy = sorted(m for m in loaded if any(m == n or m.startswith(n + ".") for n in NOT_FOR_REPLAY))
    assert heavy == []


def test_the_cli_names_the_archive_key_variable_the_archive_reads() -> None:
    assert cli.ARCHIVE_KEY_ENV == archive.KEY_ENV
