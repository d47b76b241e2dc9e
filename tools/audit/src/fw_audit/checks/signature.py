"""Check ``bundle_signature`` (bundle only): the manifest is signed by a trusted key.

``manifest.json`` is the bundle's root of trust: it holds the SHA-256 of every other file and the
index of the invoice documents. Whoever can rewrite it can drop an invoice XML together with its
entry. ``export --signing-key KEY_FILE`` therefore signs the manifest's exact bytes with the
audit's Ed25519 key (the checkpoint key format): ``manifest.sig`` is the 64-byte signature,
``manifest.sig.json`` names the key by its fingerprint (``sha256:`` of the raw public key) and
records the manifest's SHA-256 at signing.

``verify --bundle DIR --public-key KEY_FILE.pub`` then requires the signature to verify with one
of the given keys. The fingerprint and the recorded SHA-256 are unsigned hints that only say
*why* a signature does not verify (another key, a changed manifest); the verdict rests on the
signature alone. An unsigned bundle, or no ``--public-key``: SKIPPED, which is not a pass.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from fw_audit.bundle import MANIFEST, SIGNATURE, SIGNATURE_INFO
from fw_audit.chain import fingerprint
from fw_audit.model import CheckResult

NAME = "bundle_signature"
TITLE = "Ed25519 signature over manifest.json by a trusted key"
SIGNATURE_BYTES = 64


def _short(fp: str) -> str:
    return fp[: len("sha256:") + 16] + "…"


def _verifies(public_key_hex: str, signature: bytes, data: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key_hex)).verify(signature, data)
    except (InvalidSignature, ValueError):
        return False
    return True


def _info(directory: Path) -> dict[str, object] | None:
    """``manifest.sig.json`` (None: missing or unreadable)."""
    try:
        info = json.loads((directory / SIGNATURE_INFO).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None


def check_bundle_signature(directory: Path, trusted_keys: Iterable[str]) -> CheckResult:
    """The verdict on the signature of ``directory/manifest.json`` against ``trusted_keys`` (hex)."""
    res = CheckResult(NAME, TITLE)
    sig_path, info_path = directory / SIGNATURE, directory / SIGNATURE_INFO
    keys = sorted(set(trusted_keys))
    if not sig_path.exists() and not info_path.exists():
        res.skipped = "the bundle is not signed"
        res.notes.append(f"no {SIGNATURE}: exported without --signing-key, so nothing proves that "
                         f"{MANIFEST} (the file hashes, the invoice document index) is the one exported")
        return res
    info = _info(directory)
    recorded = str(info.get("key_fingerprint")) if info and info.get("key_fingerprint") else None
    if not keys:
        res.skipped = "no --public-key given"
        res.notes.append("the bundle is signed" + (f" (key {_short(recorded)})" if recorded else "")
                         + ", but without a trusted --public-key the signature proves nothing")
        return res
    res.checked = 1
    given = ", ".join(_short(fingerprint(k)) for k in keys)
    if not sig_path.is_file():
        res.fail(f"{SIGNATURE_INFO} is present but {SIGNATURE} is missing")
        return res
    signature = sig_path.read_bytes()
    if len(signature) != SIGNATURE_BYTES:
        res.fail(f"{SIGNATURE} is not an Ed25519 signature ({len(signature)} bytes, not {SIGNATURE_BYTES})")
        return res
    data = (directory / MANIFEST).read_bytes()
    signer = next((k for k in keys if _verifies(k, signature, data)), None)
    if signer is not None:
        if info is None:
            res.fail(f"the signature is valid, but {SIGNATURE_INFO} is missing or unreadable")
        elif recorded != fingerprint(signer):
            res.fail(f"the signature is valid, but {SIGNATURE_INFO} names another key "
                     f"({_short(recorded) if recorded else 'none'})")
        else:
            res.notes.append(f"{MANIFEST} is signed by the given key {_short(fingerprint(signer))}")
        return res
    if recorded is not None and recorded not in {fingerprint(k) for k in keys}:
        res.fail(f"{MANIFEST} was signed by a different key ({_short(recorded)}), not by the given "
                 f"--public-key ({given})")
    elif info is not None and info.get("manifest_sha256") not in (None, hashlib.sha256(data).hexdigest()):
        res.fail(f"{MANIFEST} was changed after it was signed: its SHA-256 differs from the one recorded "
                 f"at signing, and the signature does not match it")
    else:
        res.fail(f"the signature in {SIGNATURE} does not match {MANIFEST} with the given --public-key "
                 f"({given}): the manifest or the signature was changed")
    return res
