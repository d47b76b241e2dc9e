"""The README says how many services `make run` starts, lists each, and names billing's settings
for the real issuer and SMTP exactly as billing reads them."""

from __future__ import annotations

import re
from pathlib import Path

from fw_billing.settings import Settings
from fw_devenv.run import SERVICES

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
WORDS = {4: "Four", 5: "Five", 6: "Six", 7: "Seven"}


def test_the_count_and_the_table_match_what_make_run_starts() -> None:
    assert f"{WORDS[len(SERVICES)]} services start" in README
    assert f"starts all {WORDS[len(SERVICES)].lower()} services" in README
    assert "Four services exchange" not in README and "all four services" not in README
    table = set(re.findall(r"^\| (\w+) \| \d{4} \|", README, re.MULTILINE))
    # the services with an HTTP port are in the table; the port-less scheduled job is named in the text
    assert table == {s.name for s in SERVICES if s.port}
    assert all(f"`{s.name}`, a scheduled job without a port" in README for s in SERVICES if not s.port)


def test_issuer_and_smtp_settings_are_named_as_billing_reads_them() -> None:
    named = set(re.findall(r"FW_BILLING_([A-Z_]+)", README))
    fields = {name.upper() for name in Settings.model_fields}
    assert {"ISSUER_NAME", "ISSUER_IBAN", "SMTP_HOST", "SMTP_PASSWORD", "SMTP_FROM"} <= named
    assert named <= fields, named - fields
