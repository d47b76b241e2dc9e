"""The tamper-evident hash chain over the stream and the Ed25519 seal of a checkpoint (a shared
format: the checkpoint job (:mod:`fw_platform.checkpointer`) seals with it, ``fernwartung audit``
verifies with it; :mod:`fw_audit.chain` re-exports it).

``h_0`` = 32 zero bytes; ``h_n = sha256(h_{n-1} || seq_n || subject_n || sha256(body_n))`` where
``seq_n`` is the stream sequence as 8 bytes big-endian and ``subject_n`` its UTF-8 bytes. The two
fixed-width fields around the subject make the encoding unambiguous without a length prefix.
A checkpoint signs ``checkpoint_seq (8 bytes big-endian) || chain_hash (32 raw bytes)``.

The same keys sign an exported bundle's ``manifest.json`` (:mod:`fw_audit.checks.signature`).
Key files: the private key as PEM (PKCS#8, unencrypted, mode 0600), the public key as 64 hex
digits in ``KEY_FILE.pub``. Errors about a key file never quote its contents.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

GENESIS = bytes(32)


def link(previous: bytes, seq: int, subject: str, body: bytes) -> bytes:
    """The chain value after the message ``(seq, subject, body)``."""
    return hashlib.sha256(
        previous + seq.to_bytes(8, "big") + subject.encode() + hashlib.sha256(body).digest()
    ).digest()


@dataclass
class Chain:
    """A running chain: feed messages in sequence order, read ``head`` at any point."""

    head: bytes = GENESIS
    seq: int = 0

    def add(self, seq: int, subject: str, body: bytes) -> bytes:
        """Extend the chain by one message and return the new head."""
        self.head = link(self.head, seq, subject, body)
        self.seq = seq
        return self.head


def signed_message(checkpoint_seq: int, chain_hash_hex: str) -> bytes:
    """The bytes a checkpoint signature covers."""
    return checkpoint_seq.to_bytes(8, "big") + bytes.fromhex(chain_hash_hex)


def sign(key: Ed25519PrivateKey, checkpoint_seq: int, chain_hash_hex: str) -> tuple[str, str]:
    """``(public key hex, signature hex)`` for a checkpoint."""
    public = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return public.hex(), key.sign(signed_message(checkpoint_seq, chain_hash_hex)).hex()


def signature_valid(public_key_hex: str, signature_hex: str, checkpoint_seq: int, chain_hash_hex: str) -> bool:
    """Whether ``signature_hex`` is ``public_key_hex``'s Ed25519 signature of the checkpoint."""
    try:
        key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key_hex))
        key.verify(bytes.fromhex(signature_hex), signed_message(checkpoint_seq, chain_hash_hex))
    except (InvalidSignature, ValueError):
        return False
    return True


def generate_key(path: Path) -> str:
    """Write a new private key (PEM, PKCS#8, mode 0600) to ``path`` and ``path.pub`` (hex).

    Returns the public key as hex. Refuses to overwrite an existing key: losing the old key
    would make earlier checkpoints unverifiable against a pinned key.
    """
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    public = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()
    path.with_name(path.name + ".pub").write_text(public + "\n", encoding="ascii")
    return public


class KeyFileError(ValueError):
    """A key file that cannot be used; the message names the file, never its contents."""


def load_key(path: Path) -> Ed25519PrivateKey:
    """Read a private key written by :func:`generate_key` (:class:`KeyFileError` if it cannot)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise KeyFileError(f"cannot read the key file {path}: {exc.strerror or type(exc).__name__}") from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        # from None: the parser's exception may carry the file's bytes in its context
        raise KeyFileError(f"{path} is not an unencrypted PEM private key "
                           "(as written by `fernwartung audit keygen`)") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{path} does not hold an Ed25519 private key")
    return key


def public_hex(key: Ed25519PrivateKey) -> str:
    """The public key of ``key`` as 64 hex digits (the format of ``KEY_FILE.pub``)."""
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


def fingerprint(public_key_hex: str) -> str:
    """``sha256:<hex>`` of the raw 32-byte public key: names a key without being one."""
    return "sha256:" + hashlib.sha256(bytes.fromhex(public_key_hex)).hexdigest()


def _is_hex_key(text: str) -> bool:
    return len(text) == 64 and all(c in "0123456789abcdefABCDEF" for c in text)


def read_public_key(value: str) -> str:
    """A pinned public key given as 64 hex digits, or as a path to a ``.pub`` file (64 hex digits,
    as :func:`generate_key` writes it) or to a PEM public key of an Ed25519 key.

    Raises :class:`KeyFileError`; the message never repeats the file's contents.
    """
    text = value.strip()
    if _is_hex_key(text):
        return text.lower()
    path = Path(value)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise KeyFileError("--public-key is neither 64 hex digits nor a readable key file "
                           f"({exc.strerror or type(exc).__name__})") from None
    try:
        content = data.decode("ascii").strip()
    except UnicodeDecodeError:
        raise KeyFileError(f"{path} is not a public key file (not text)") from None
    if _is_hex_key(content):
        return content.lower()
    if "PRIVATE KEY" in content:
        raise KeyFileError(f"{path} holds a private key: give its public key (KEY_FILE.pub)")
    if content.startswith("-----BEGIN PUBLIC KEY-----"):
        try:
            key = serialization.load_pem_public_key(data)
        except (ValueError, UnsupportedAlgorithm):
            raise KeyFileError(f"{path} is not a readable PEM public key") from None
        if not isinstance(key, Ed25519PublicKey):
            raise KeyFileError(f"{path} does not hold an Ed25519 public key")
        return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()
    raise KeyFileError(f"{path} is not a public key file (64 hex digits as in KEY_FILE.pub, or PEM)")
