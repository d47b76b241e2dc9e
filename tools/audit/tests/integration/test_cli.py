"""``fernwartung audit`` as a user runs it: a real process against a real NATS (``fw_env``)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from fw_audit.scripted import every_lifecycle, publish
from fw_audit.source import connect
from fw_contracts import events as ev
from fw_platform.bus import stream_config


async def cli(*args: str, nats_url: str, user: tuple[str, str] | None = None) -> tuple[int, str, str]:
    """Run ``python -m fw_audit <args>`` with ``NATS_URL`` (and ``user``'s credentials) set;
    ``(exit code, stdout, stderr)``."""
    login = {"NATS_USER": user[0], "NATS_PASSWORD": user[1]} if user else {}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "fw_audit", *args, env={**os.environ, "NATS_URL": nats_url, "COLUMNS": "200", **login},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


@pytest.mark.long(14)
async def test_keygen_checkpoint_verify_export_report(fw_env, tmp_path: Path) -> None:
    history, _ = every_lifecycle(datetime.now(UTC))
    items = history.items()
    nc = await connect(fw_env.nats_url)  # admin writes the history
    # the auditor's own read-only NATS user (plus publishing checkpoints)
    url, auditor = fw_env.nats_plain_url, fw_env.nats_credentials("audit")
    try:
        await publish(nc.jetstream(), items)
    finally:
        await nc.close()

    key = tmp_path / "audit.key"
    code, out, _ = await cli("audit", "keygen", str(key), nats_url=url)
    assert code == 0 and (tmp_path / "audit.key.pub").is_file()
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    assert (await cli("audit", "keygen", str(key), nats_url=url))[0] == 2  # never overwrites a key

    code, out, _ = await cli("audit", "checkpoint", "--key-file", str(key), nats_url=url, user=auditor)
    assert code == 0 and f"over seq 1..{len(items)} published at seq {len(items) + 1}" in out

    pub = str(tmp_path / "audit.key.pub")
    code, out, _ = await cli("audit", "verify", "--json", "--public-key", pub, nats_url=url, user=auditor)
    report = json.loads(out)
    # no database access: projections is skipped, which is not a pass (exit 3, "ok" false)
    assert code == 3 and report["ok"] is False and report["failed"] == [], out
    assert report["skipped"] == ["projections"]
    assert report["summary"]["counts"]["AuditCheckpoint"] == 1
    assert f"1 signed checkpoints verified, last good covers seq {len(items)}" in " ".join(
        next(c for c in report["checks"] if c["name"] == "integrity")["notes"])

    code, out, _ = await cli("audit", "verify", "--public-key", "ab" * 32, nats_url=url, user=auditor)
    assert code == 1 and "untrusted key" in out  # terminal table

    code, out, _ = await cli("audit", "replay", "--json", "--until", "5", nats_url=url, user=auditor)
    assert code == 0 and json.loads(out)["messages"] == 5

    bundle = tmp_path / "bundle"
    code, out, _ = await cli("audit", "export", str(bundle), "--signing-key", str(key), nats_url=url, user=auditor)
    assert code == 0 and (bundle / "manifest.json").is_file() and (bundle / "manifest.sig").is_file()
    assert "manifest signed: manifest.sig, key sha256:" in out
    code, out, _ = await cli("audit", "verify", "--bundle", str(bundle), "--public-key", pub, "--json",
                             nats_url="nats://127.0.0.1:1")  # no NATS needed
    # exported without archive access: the invoice documents are not in it, and that check is skipped too;
    # the manifest's signature verifies with the same key's public half
    report = json.loads(out)
    assert code == 3 and report["failed"] == [] and report["skipped"] == ["projections", "invoice_documents"], out
    assert next(c for c in report["checks"] if c["name"] == "bundle_signature")["status"] == "pass"
    assert json.loads((bundle / "manifest.json").read_text())["invoice_documents"]["included"] is False
    # a changed manifest: exactly that check fails (exit 1)
    data = (bundle / "manifest.json").read_bytes()
    (bundle / "manifest.json").write_bytes(data.replace(b"are not in this bundle", b"are not in the bundle"))
    code, out, _ = await cli("audit", "verify", "--bundle", str(bundle), "--public-key", pub, "--json",
                             nats_url="nats://127.0.0.1:1")
    assert code == 1 and json.loads(out)["failed"] == ["bundle_signature"], out
    # unsigned: SKIPPED, and the export says so
    unsigned = tmp_path / "unsigned"
    code, out, _ = await cli("audit", "export", str(unsigned), nats_url=url, user=auditor)
    assert code == 0 and "manifest NOT signed" in out and not (unsigned / "manifest.sig").exists()
    code, out, _ = await cli("audit", "verify", "--bundle", str(unsigned), "--public-key", pub, "--json",
                             nats_url="nats://127.0.0.1:1")
    assert code == 3 and json.loads(out)["skipped"] == ["projections", "invoice_documents", "bundle_signature"]

    html = tmp_path / "report.html"
    code, out, _ = await cli("audit", "report", "--html", str(html), nats_url=url, user=auditor)
    assert code == 3 and "<svg" in html.read_text() and "NOT COMPLETE: SKIPPED projections" in html.read_text()


async def test_exit_codes_on_a_failed_check_and_on_no_server(fw_env) -> None:
    url, auditor = fw_env.nats_plain_url, fw_env.nats_credentials("audit")
    started = ev.SessionStarted(session_id="9b0f5c8e-1f7a-4a53-9a43-0f5f6f1c2d3e",  # type: ignore[arg-type]
                                request_id="0c8e3e2a-4b5b-4c7e-8f0a-1a2b3c4d5e6f",  # type: ignore[arg-type]
                                technician="tech-01", started_at=datetime.now(UTC))
    data = json.loads(started.to_json())
    data["callback"] = "0170 1234567"
    nc = await connect(fw_env.nats_url)
    try:
        await nc.jetstream().publish(started.subject(), json.dumps(data).encode(),
                                     headers={"Nats-Msg-Id": str(started.event_id)})
    finally:
        await nc.close()
    code, out, _ = await cli("audit", "verify", "--json", nats_url=url, user=auditor)
    report = json.loads(out)
    assert code == 1 and report["ok"] is False and report["failed"] == ["personal_data"]
    pii = next(c for c in report["checks"] if c["name"] == "personal_data")
    assert pii["first_failing_seq"] == 1 and "0170" not in out  # the evidence never repeats the datum
    code, out, _ = await cli("audit", "replay", nats_url=url, user=auditor)
    assert code == 1 and "callback:extra_forbidden" in out
    code, _, err = await cli("audit", "verify", nats_url="nats://127.0.0.1:1")
    assert code == 2 and "error" in err


async def test_a_stream_without_allow_direct_is_a_clear_error_and_admin_may_read_it_ordered(fw_env) -> None:
    nc = await connect(fw_env.nats_url)
    try:
        js = nc.jetstream()
        history, _ = every_lifecycle(datetime.now(UTC))
        items = history.items()
        await publish(js, items)
        # a stream as older releases created it (before ensure_stream added allow_direct)
        await js.update_stream(stream_config().evolve(allow_direct=False))
    finally:
        await nc.close()
    url, auditor = fw_env.nats_plain_url, fw_env.nats_credentials("audit")
    code, out, err = await cli("audit", "replay", "--json", nats_url=url, user=auditor)
    assert code == 2 and out == ""
    flat = " ".join(err.split())
    assert "allow_direct is not set" in flat and "ensure_stream" in flat and "--reader ordered" in flat, err
    # the operator's way until then: the ordered consumer, with admin's credentials
    code, out, err = await cli("audit", "replay", "--json", "--reader", "ordered", nats_url=fw_env.nats_url)
    assert code == 0 and json.loads(out)["messages"] == len(items), err
    # which the audit user may not do: it cannot create a consumer
    code, out, err = await cli("audit", "replay", "--json", "--reader", "ordered", nats_url=url, user=auditor)
    assert code == 2 and "admin" in " ".join(err.split()), err
