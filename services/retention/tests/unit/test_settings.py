"""Settings: the master key is required, must be 32 bytes of base64, and is never echoed."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from pydantic import ValidationError

from fw_retention.settings import Settings

from retention_testkit import new_master_key


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FW_RETENTION_MASTER_KEY", new_master_key())
    s = Settings()  # type: ignore[call-arg]
    assert (s.http_port, s.abandon_after.days, s.sweep_interval_s) == (8084, 14, 60.0)
    assert len(s.master_key_bytes()) == 32
    assert s.billing_hold == timedelta(days=90)


def test_billing_hold_seconds_override_days() -> None:
    s = Settings(master_key=new_master_key(), billing_hold_days=30)  # type: ignore[call-arg]
    assert s.billing_hold == timedelta(days=30)
    s = Settings(master_key=new_master_key(), billing_hold_days=30, billing_hold_s=4.5)  # type: ignore[call-arg]
    assert s.billing_hold == timedelta(seconds=4.5)
    with pytest.raises(ValidationError):
        Settings(master_key=new_master_key(), billing_hold_days=0)  # type: ignore[call-arg]


def test_master_key_is_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FW_RETENTION_MASTER_KEY", raising=False)
    with pytest.raises(ValidationError):
        Settings()  # type: ignore[call-arg]


@pytest.mark.parametrize("bad", ["not base64 at all!", base64.b64encode(b"short-key-but-secret").decode()])
def test_bad_master_key_is_refused_without_echo(bad: str) -> None:
    with pytest.raises(ValidationError) as info:
        Settings(master_key=bad)  # type: ignore[arg-type]
    assert bad not in str(info.value)
    assert "os.urandom(32)" in str(info.value)  # tells how to make one
