"""The encryption format of billing's invoice archive, version 1: a documented, shared format.

Billing writes with it, the audit's export reads with it; neither reads the other's code. The
format is described for humans in ``docs/archive-format.md``; a change is a new version there
and here (``FORMAT_VERSION``), and a reader keeps reading every older version.

* **Master key**: 32 random bytes, given as base64 text (``FW_BILLING_ARCHIVE_KEY``; for the
  audit ``--archive-key FILE`` or ``FW_AUDIT_ARCHIVE_KEY``): :func:`decode_master_key`.
* **Data keys**: one random 256-bit key per (purpose, calendar year), purpose ``archive``
  (documents, recipient copies, pending e-mail addresses of that year) or ``customer``. Stored
  only wrapped: ``nonce(12) || AES-256-GCM(master, nonce, key, aad)`` with
  ``aad = "fw-billing-data-key:<purpose>:<year>"`` (:func:`data_key_aad`, :func:`unwrap_data_key`).
* **Sealed values**: ``nonce(12) || AES-256-GCM(data key, nonce, plaintext, aad)`` with the
  record's label as AAD, so a ciphertext copied onto another row does not decrypt:
  ``archive-pdf:<document number>``, ``archive-xml:<document number>`` (:func:`seal`,
  :func:`open_sealed`, :func:`archive_pdf_aad`, :func:`archive_xml_aad`).
"""

from __future__ import annotations

import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from fw_platform.keys import KEY_BYTES, KEY_HOWTO, decode_key

__all__ = [
    "FORMAT_VERSION",
    "KEY_BYTES",
    "MASTER_KEY_HOWTO",
    "NONCE_BYTES",
    "DecryptionFailed",
    "archive_pdf_aad",
    "archive_xml_aad",
    "data_key_aad",
    "decode_master_key",
    "open_sealed",
    "seal",
    "unwrap_data_key",
    "wrap_data_key",
]

FORMAT_VERSION = 1
NONCE_BYTES = 12
MASTER_KEY_HOWTO = KEY_HOWTO


class DecryptionFailed(Exception):
    """Wrong key or altered bytes. Never says more."""


def decode_master_key(text: str) -> bytes:
    """Base64 text -> the 32 key bytes; the error never echoes the value."""
    return decode_key(text, name="archive_key")


def data_key_aad(purpose: str, year: int) -> bytes:
    """The label that binds a wrapped data key to its purpose and year."""
    return f"fw-billing-data-key:{purpose}:{year}".encode()


def wrap_data_key(master_key: bytes, purpose: str, year: int, key: bytes) -> bytes:
    nonce = secrets.token_bytes(NONCE_BYTES)
    return nonce + AESGCM(master_key).encrypt(nonce, key, data_key_aad(purpose, year))


def unwrap_data_key(master_key: bytes, purpose: str, year: int, wrapped: bytes) -> bytes:
    """The data key of ``(purpose, year)``; :class:`DecryptionFailed` with a wrong master key."""
    try:
        return AESGCM(master_key).decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], data_key_aad(purpose, year))
    except (InvalidTag, ValueError):
        raise DecryptionFailed("data key cannot be unwrapped (wrong archive key?)") from None


def seal(key: bytes, aad: str, plaintext: bytes) -> bytes:
    """Encrypt ``plaintext`` bound to ``aad``: nonce || ciphertext+tag."""
    nonce = secrets.token_bytes(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad.encode())


def open_sealed(key: bytes, aad: str, blob: bytes) -> bytes:
    """Decrypt what :func:`seal` produced; :class:`DecryptionFailed` otherwise."""
    try:
        return AESGCM(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad.encode())
    except (InvalidTag, ValueError):
        raise DecryptionFailed("ciphertext cannot be decrypted") from None


def archive_pdf_aad(document_number: str) -> str:
    """The label that binds an archived PDF to its document number."""
    return f"archive-pdf:{document_number}"


def archive_xml_aad(document_number: str) -> str:
    """The label that binds an archived EN 16931 XML to its document number."""
    return f"archive-xml:{document_number}"
