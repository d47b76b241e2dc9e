"""Envelope encryption of the vault: AES-256-GCM, one random data key per request.

* Each request gets its own 256-bit data key; the data key is stored only *wrapped*
  (AES-256-GCM under the master key from the settings). Erasure deletes the wrapped key together
  with the ciphertext, so even a copy of the ciphertext that escaped deletion is unreadable.
* The associated data binds every ciphertext to its request id, so a row copied onto another
  request does not decrypt. The entry uses exactly ``request_id.bytes``; the statement and the
  wrapped key add a label, so that one kind of ciphertext cannot be passed off as another.
* Nonces are 96 random bits, fresh for every encryption (a data key encrypts at most two
  messages, far from the birthday bound).
"""

from __future__ import annotations

import hashlib
import secrets
import uuid

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from fw_retention.application.ports import Part

NONCE_BYTES = 12
KEY_BYTES = 32


class DecryptionFailed(Exception):
    """Wrong key, or the stored bytes were altered. Never says more (no data in messages)."""


def associated_data(request_id: uuid.UUID, part: Part) -> bytes:
    """The AAD binding a ciphertext to its request (and to its kind)."""
    return request_id.bytes + part.value


class EnvelopeCipher:
    """Wraps per-request data keys with the master key and seals/opens data with them."""

    def __init__(self, master_key: bytes) -> None:
        if len(master_key) != KEY_BYTES:
            raise ValueError("the master key must be 32 bytes")
        self._kek = AESGCM(master_key)
        # Identifies the master key in stored rows (for a later rotation); not the key itself.
        self.kek_id = hashlib.sha256(b"fw-retention-kek:" + master_key).hexdigest()[:16]

    # ------------------------------------------------------------------ data keys
    def new_data_key(self, request_id: uuid.UUID) -> tuple[bytes, bytes]:
        """A fresh random data key and its wrapped form (nonce || ciphertext+tag)."""
        key = AESGCM.generate_key(bit_length=256)
        nonce = secrets.token_bytes(NONCE_BYTES)
        wrapped = nonce + self._kek.encrypt(nonce, key, associated_data(request_id, Part.KEY))
        return key, wrapped

    def unwrap(self, request_id: uuid.UUID, wrapped: bytes) -> bytes:
        """The data key of ``request_id``; raises :class:`DecryptionFailed`."""
        nonce, body = wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:]
        try:
            return self._kek.decrypt(nonce, body, associated_data(request_id, Part.KEY))
        except (InvalidTag, ValueError):
            raise DecryptionFailed("data key cannot be unwrapped") from None

    # ------------------------------------------------------------------ data
    @staticmethod
    def seal(key: bytes, request_id: uuid.UUID, plaintext: bytes, part: Part) -> tuple[bytes, bytes]:
        """Encrypt ``plaintext``; returns ``(nonce, ciphertext+tag)``."""
        nonce = secrets.token_bytes(NONCE_BYTES)
        return nonce, AESGCM(key).encrypt(nonce, plaintext, associated_data(request_id, part))

    @staticmethod
    def open(key: bytes, request_id: uuid.UUID, nonce: bytes, ciphertext: bytes, part: Part) -> bytes:
        """Decrypt; raises :class:`DecryptionFailed` on a wrong key or altered bytes."""
        try:
            return AESGCM(key).decrypt(nonce, ciphertext, associated_data(request_id, part))
        except (InvalidTag, ValueError):
            raise DecryptionFailed("ciphertext cannot be decrypted") from None
