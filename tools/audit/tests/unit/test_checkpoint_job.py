"""The checkpoint job's (``python -m fw_platform.checkpointer``) schedule and seal, without I/O: every N messages or after M minutes with
something new; never over a history whose own earlier checkpoint no longer matches."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fw_audit.model import Record as AuditRecord
from fw_audit.scripted import every_lifecycle
from fw_audit.verifier import VerifyOptions, verify_records
from fw_platform.audit_chain import KeyFileError
from fw_platform.checkpointer import JobSettings, Record, Sealer, TamperedHistory, load_signing_key

END = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
APPEND_ONLY = {"deny_delete": True, "deny_purge": True}


def _sealed_history(key: Ed25519PrivateKey, every: int) -> tuple[list[AuditRecord], Sealer]:
    """The scripted history as the job would leave it: a checkpoint after every ``every`` messages."""
    h, _ = every_lifecycle(END)
    out: list[AuditRecord] = []
    sealer = Sealer(key, every=every, interval=timedelta(days=365))

    def store(subject: str, body: bytes) -> None:
        out.append(AuditRecord(len(out) + 1, subject, END, body))
        sealer.feed(Record(len(out), subject, body))

    for record in h.records():
        store(record.subject, record.body)
        if sealer.due(END):
            event = sealer.seal(END)
            sealer.sealed(event)
            store(event.subject(), event.to_json())
    return out, sealer


def _plain(records: list[AuditRecord]) -> list[Record]:
    return [Record(r.seq, r.subject, r.body) for r in records]


def test_a_checkpoint_every_n_messages_verifies_with_the_pinned_key() -> None:
    key = Ed25519PrivateKey.generate()
    records, sealer = _sealed_history(key, every=10)
    checkpoints = [r for r in records if r.subject.startswith("fw.audit.")]
    plain = len(records) - len(checkpoints)
    # the first message is sealed at once (nothing sealed yet), then every 10 messages
    assert len(checkpoints) == 1 + (plain - 1) // 10 and sealer.pending == (plain - 1) % 10
    report = verify_records(records, END, options=VerifyOptions(stream_config=APPEND_ONLY,
                                                               trusted_keys=frozenset({sealer.public})))
    integrity = report.check("integrity")
    assert integrity.ok, integrity.to_dict()
    assert f"{len(checkpoints)} signed checkpoints verified" in " ".join(integrity.notes)


def test_due_after_the_interval_only_with_something_new() -> None:
    sealer = Sealer(Ed25519PrivateKey.generate(), every=100, interval=timedelta(minutes=10))
    assert not sealer.due(END)  # nothing at all
    sealer.feed(Record(1, "fw.intake.x.v1", b"{}"))
    assert sealer.due(END)  # never sealed: at once
    sealer.sealed(sealer.seal(END))
    sealer.feed(Record(2, "fw.intake.x.v1", b"{}"))
    assert not sealer.due(END + timedelta(minutes=9)) and sealer.due(END + timedelta(minutes=10))


def test_the_job_refuses_to_seal_a_history_rewritten_after_its_checkpoint() -> None:
    key = Ed25519PrivateKey.generate()
    records, sealer = _sealed_history(key, every=10)
    k = 7  # a message inside the second sealed range (seq 1 sealed at 2; 3..12 sealed at 13)
    rewritten = [r if r.seq != k else Record(r.seq, r.subject, r.body.replace(b'"', b' "', 1))
                 for r in _plain(records)]
    with pytest.raises(TamperedHistory, match="checkpoint at seq 13 \\(over seq 12\\)"):
        Sealer(key, every=10).feed_all(rewritten)
    # a job restarted on the intact history resumes: nothing pending up to its last seal
    again = Sealer(key, every=10)
    again.feed_all(_plain(records))
    assert (again.last_sealed_seq, again.pending) == (sealer.last_sealed_seq, sealer.pending)
    assert again.chain.head == sealer.chain.head


def test_key_from_a_secret_or_a_generated_file(tmp_path) -> None:
    with pytest.raises(KeyFileError, match="no checkpoint key"):
        load_signing_key({})
    path = tmp_path / "var" / "audit-checkpoint.key"
    with pytest.raises(KeyFileError, match="cannot read the key file"):
        load_signing_key({"FW_CHECKPOINT_KEY_FILE": str(path)})  # no generation outside dev
    key = load_signing_key({"FW_CHECKPOINT_KEY_FILE": str(path), "FW_CHECKPOINT_GENERATE_KEY": "1"})
    assert (path.stat().st_mode & 0o777) == 0o600 and path.with_name(path.name + ".pub").is_file()
    pem = path.read_text()
    assert load_signing_key({"FW_CHECKPOINT_KEY": pem}).private_bytes_raw() == key.private_bytes_raw()
    with pytest.raises(KeyFileError, match="not an unencrypted PEM"):
        load_signing_key({"FW_CHECKPOINT_KEY": "-----BEGIN PRIVATE KEY-----\ngarbage\n-----END PRIVATE KEY-----"})
    with pytest.raises(ValueError, match="must be"):
        JobSettings.from_env({"FW_CHECKPOINT_EVERY": "0"})


def test_a_seed_from_the_deploy_secret_and_the_health_check(tmp_path) -> None:
    import base64
    import time

    from fw_platform.checkpointer import healthy, main

    seed = bytes(range(32))
    key = load_signing_key({"FW_CHECKPOINT_KEY": base64.b64encode(seed).decode()})
    assert key.private_bytes_raw() == seed
    with pytest.raises(KeyFileError, match="neither a PEM private key nor base64 of 32 bytes"):
        load_signing_key({"FW_CHECKPOINT_KEY": base64.b64encode(b"short").decode()})
    beat = tmp_path / "alive"
    settings = JobSettings.from_env({"FW_CHECKPOINT_HEARTBEAT": str(beat)})
    assert not healthy(settings, time.time())  # never ran
    beat.touch()
    assert healthy(settings, time.time()) and not healthy(settings, time.time() + 3600)
    assert main(["--health"]) == 1  # no heartbeat configured in this environment
