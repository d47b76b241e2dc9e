"""The bundle's signed manifest (``export --signing-key``, check ``bundle_signature``): a valid
signature passes; a changed manifest, another key, a damaged signature fail exactly that check;
an unsigned bundle or no trusted key is SKIPPED (exit 3); unusable key files are clear errors."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from fw_audit.bundle import BundleWriter, open_bundle, sign_manifest
from fw_audit.chain import KeyFileError, fingerprint, generate_key, load_key, public_hex, read_public_key
from fw_audit.cli import app
from fw_audit.model import AuditReport, Status
from fw_audit.runner import verify_bundle
from fw_audit.verifier import VerifyOptions

END = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
STREAM = {"name": "FERNWARTUNG", "deny_delete": True, "deny_purge": True}


def _write(directory: Path, scenario, signing_key: Ed25519PrivateKey | None) -> tuple[Path, Ed25519PrivateKey]:
    """A clean history sealed by the scenario's checkpoint key; returns (bundle, checkpoint key)."""
    s = scenario(END)
    writer = BundleWriter(directory)
    for record in s.history.records():
        writer.add(record)
    writer.close(STREAM, END, None, signing_key)
    return directory, s.key


def _verify(bundle: Path, *keys: Ed25519PrivateKey | str) -> AuditReport:
    trusted = frozenset(k if isinstance(k, str) else public_hex(k) for k in keys)
    return verify_bundle(bundle, VerifyOptions(trusted_keys=trusted))


def _only_signature_fails(report: AuditReport) -> str:
    assert report.failed_checks == ["bundle_signature"], [c.to_dict() for c in report.checks if c.failures]
    assert report.exit_code == 1
    (finding,) = report.check("bundle_signature").failures
    return finding.reason


def test_a_signed_bundle_passes_with_its_public_key(tmp_path: Path, scenario) -> None:
    key = Ed25519PrivateKey.generate()
    bundle, checkpoint_key = _write(tmp_path / "b", scenario, key)
    info = json.loads((bundle / "manifest.sig.json").read_text())
    assert info["key_fingerprint"] == fingerprint(public_hex(key)) and info["algorithm"] == "Ed25519"
    assert len((bundle / "manifest.sig").read_bytes()) == 64
    # the signature files are not in the manifest (written after it) and are not "unlisted files"
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert "manifest.sig" not in manifest["files"] and open_bundle(bundle).manifest_problems == []
    # the signature covers the exact bytes on disk: anyone can check it with the raw public key
    key.public_key().verify((bundle / "manifest.sig").read_bytes(), (bundle / "manifest.json").read_bytes())

    report = _verify(bundle, key, checkpoint_key)
    sig = report.check("bundle_signature")
    assert sig.status is Status.PASS and sig.checked == 1, sig.to_dict()
    assert fingerprint(public_hex(key))[:23] in " ".join(sig.notes)
    assert not report.failed_checks and report.skipped_checks == ["projections", "invoice_documents"]


def test_one_changed_manifest_byte_fails_exactly_the_signature(tmp_path: Path, scenario) -> None:
    key = Ed25519PrivateKey.generate()
    bundle, checkpoint_key = _write(tmp_path / "b", scenario, key)
    data = (bundle / "manifest.json").read_bytes()
    # one byte the other checks cannot see: a changed "reason" text of the document index
    i = data.index(b"are not in this bundle")
    (bundle / "manifest.json").write_bytes(data[:i] + b"A" + data[i + 1:])
    assert not verify_bundle(bundle, VerifyOptions()).failed_checks  # without the key nothing can tell
    reason = _only_signature_fails(_verify(bundle, key, checkpoint_key))
    assert "manifest.json was changed after it was signed" in reason

    # also when the attacker rewrote the recorded SHA-256 too: the signature decides
    info = json.loads((bundle / "manifest.sig.json").read_text())
    info["manifest_sha256"] = hashlib.sha256((bundle / "manifest.json").read_bytes()).hexdigest()
    (bundle / "manifest.sig.json").write_text(json.dumps(info))
    reason = _only_signature_fails(_verify(bundle, key, checkpoint_key))
    assert "does not match manifest.json" in reason


def test_a_rewritten_manifest_without_an_invoice_file_fails_only_the_signature(tmp_path: Path, scenario) -> None:
    """The limitation the signature closes: a file dropped together with its manifest entry."""
    key = Ed25519PrivateKey.generate()
    bundle, checkpoint_key = _write(tmp_path / "b", scenario, key)
    manifest = json.loads((bundle / "manifest.json").read_text())
    dropped = "retention-map/loeschkonzept.md"
    del manifest["files"][dropped]
    (bundle / dropped).unlink()
    (bundle / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    assert open_bundle(bundle).manifest_problems == []  # the hashes alone cannot tell
    _only_signature_fails(_verify(bundle, key, checkpoint_key))


def test_a_different_key_fails_and_names_both_fingerprints(tmp_path: Path, scenario) -> None:
    key, other = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    bundle, checkpoint_key = _write(tmp_path / "b", scenario, key)
    reason = _only_signature_fails(_verify(bundle, other, checkpoint_key))
    assert "signed by a different key" in reason
    assert fingerprint(public_hex(key))[:23] in reason and fingerprint(public_hex(other))[:23] in reason
    # a bundle re-signed with someone else's key (a valid signature, just not by a trusted key)
    sign_manifest(bundle, other)
    reason = _only_signature_fails(_verify(bundle, key, checkpoint_key))
    assert "signed by a different key" in reason and fingerprint(public_hex(other))[:23] in reason


def test_a_damaged_signature_file_fails(tmp_path: Path, scenario) -> None:
    key = Ed25519PrivateKey.generate()
    bundle, checkpoint_key = _write(tmp_path / "b", scenario, key)
    sig = bytearray((bundle / "manifest.sig").read_bytes())
    sig[0] ^= 1
    (bundle / "manifest.sig").write_bytes(bytes(sig))
    assert "does not match manifest.json" in _only_signature_fails(_verify(bundle, key, checkpoint_key))
    (bundle / "manifest.sig").write_bytes(bytes(sig[:10]))
    assert "not an Ed25519 signature (10 bytes" in _only_signature_fails(_verify(bundle, key, checkpoint_key))
    (bundle / "manifest.sig").unlink()  # the fingerprint file left behind: the signature was removed
    assert "manifest.sig is missing" in _only_signature_fails(_verify(bundle, key, checkpoint_key))


def test_unsigned_bundle_or_no_public_key_is_skipped_exit_3(tmp_path: Path, scenario) -> None:
    bundle, checkpoint_key = _write(tmp_path / "unsigned", scenario, None)
    assert not (bundle / "manifest.sig").exists()
    report = _verify(bundle, Ed25519PrivateKey.generate(), checkpoint_key)
    sig = report.check("bundle_signature")
    assert sig.status is Status.SKIPPED and "not signed" in (sig.skipped or "")
    assert not report.failed_checks and "bundle_signature" in report.skipped_checks and report.exit_code == 3

    signed, checkpoint_key = _write(tmp_path / "signed", scenario, Ed25519PrivateKey.generate())
    report = verify_bundle(signed, VerifyOptions())
    sig = report.check("bundle_signature")
    assert sig.status is Status.SKIPPED and "--public-key" in (sig.skipped or "")
    assert not report.failed_checks and report.exit_code == 3


def test_key_files_errors_are_clear_and_never_quote_the_key(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="cannot read the key file"):
        load_key(tmp_path / "absent.key")
    garbage = tmp_path / "garbage.key"
    garbage.write_bytes(b"geheimer-schluessel\xff\x00")
    with pytest.raises(KeyFileError, match="not an unencrypted PEM private key") as caught:
        load_key(garbage)
    # the parser's exception (it may quote the file) is not chained into a traceback
    assert "geheim" not in str(caught.value) and caught.value.__suppress_context__ and caught.value.__cause__ is None
    rsa_like = tmp_path / "wrong.pub"
    rsa_like.write_bytes(b"\x00\x01binary-secret")
    with pytest.raises(KeyFileError, match="not a public key file") as caught:
        read_public_key(str(rsa_like))
    assert "secret" not in str(caught.value)
    key_file = tmp_path / "audit.key"
    public = generate_key(key_file)
    with pytest.raises(KeyFileError, match="holds a private key"):
        read_public_key(str(key_file))
    assert read_public_key(str(tmp_path / "audit.key.pub")) == public
    pem = tmp_path / "audit.pem"
    pem.write_bytes(load_key(key_file).public_key().public_bytes(serialization.Encoding.PEM,
                                                                 serialization.PublicFormat.SubjectPublicKeyInfo))
    assert read_public_key(str(pem)) == public


def test_cli_export_refuses_an_unreadable_signing_key_before_anything(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.key"
    garbage.write_text("geheim-und-falsch")
    result = CliRunner().invoke(app, ["audit", "export", str(tmp_path / "never"), "--signing-key", str(garbage),
                                      "--nats-url", "nats://127.0.0.1:1"])
    assert result.exit_code == 2, result.output
    assert "not an unencrypted PEM private key" in " ".join(result.output.split())
    assert "geheim" not in result.output and not (tmp_path / "never").exists()
    result = CliRunner().invoke(app, ["audit", "verify", "--bundle", str(tmp_path), "--public-key", str(garbage)])
    assert result.exit_code == 2 and "not a public key file" in " ".join(result.output.split())
    assert "geheim" not in result.output
