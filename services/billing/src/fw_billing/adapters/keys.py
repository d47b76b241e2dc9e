"""Encryption at rest of billing's personal data and invoice archive: AES-256-GCM.

* One random 256-bit data key per (purpose, calendar year), stored only *wrapped* (AES-256-GCM
  under the archive master key from the settings) in ``data_keys``.
  - ``archive``: the archived documents (PDF, XML), the recipient copies and pending e-mail
    addresses of documents issued in that year. The key is destroyed with the year's archive
    once the retention period is over (``destroy_expired_archive``).
  - ``customer``: the regular customers' accounts created in that year (permanent, never
    destroyed by the archive's destruction).
* The associated data binds every ciphertext to its row and kind (``archive-pdf:<number>``),
  so a ciphertext copied onto another row does not decrypt; the wrapped key is bound to its
  purpose and year.
* Stored form: nonce (96 random bits, fresh per encryption) || ciphertext || tag.
"""

from __future__ import annotations

import secrets
from enum import StrEnum

import asyncpg
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

# The format is shared with the audit's export (and documented): docs/archive-format.md.
from fw_platform.sealed_archive import (
    KEY_BYTES,
    NONCE_BYTES,
    DecryptionFailed,
    data_key_aad,
    open_sealed,
    seal,
    unwrap_data_key,
)

__all__ = ["KEY_BYTES", "NONCE_BYTES", "DecryptionFailed", "KeyDestroyed", "KeyPurpose", "KeyRing",
           "open_sealed", "seal"]


class KeyPurpose(StrEnum):
    ARCHIVE = "archive"
    CUSTOMER = "customer"


class KeyDestroyed(Exception):
    """The year's key no longer exists (its retention period ended)."""


class KeyRing:
    """Creates, unwraps and uses the per-year data keys on a given connection."""

    def __init__(self, master_key: bytes) -> None:
        if len(master_key) != KEY_BYTES:
            raise ValueError("the archive master key must be 32 bytes")
        self._master = master_key
        self._kek = AESGCM(master_key)

    @staticmethod
    def _key_aad(purpose: KeyPurpose, year: int) -> bytes:
        return data_key_aad(purpose.value, year)

    def _unwrap(self, purpose: KeyPurpose, year: int, wrapped: bytes) -> bytes:
        return unwrap_data_key(self._master, purpose.value, year, wrapped)

    def unwrap(self, purpose: KeyPurpose, year: int, wrapped: bytes) -> bytes:
        """The data key from its stored (wrapped) form, read by the caller's own statement."""
        return self._unwrap(purpose, year, bytes(wrapped))

    async def key(self, conn: asyncpg.Connection, purpose: KeyPurpose, year: int) -> bytes:
        """The year's key, created on first use (concurrent creators agree on one)."""
        wrapped = await conn.fetchval(
            "SELECT wrapped FROM data_keys WHERE purpose = $1 AND year = $2", purpose.value, year)
        if wrapped is None:
            key = AESGCM.generate_key(bit_length=256)
            nonce = secrets.token_bytes(NONCE_BYTES)
            candidate = nonce + self._kek.encrypt(nonce, key, self._key_aad(purpose, year))
            # A concurrent transaction may insert first: then its key is the one.
            await conn.execute(
                "INSERT INTO data_keys(purpose, year, wrapped) VALUES ($1, $2, $3)"
                " ON CONFLICT (purpose, year) DO NOTHING", purpose.value, year, candidate)
            wrapped = await conn.fetchval(
                "SELECT wrapped FROM data_keys WHERE purpose = $1 AND year = $2", purpose.value, year)
        return self._unwrap(purpose, year, bytes(wrapped))

    async def existing_key(self, conn: asyncpg.Connection | asyncpg.Pool, purpose: KeyPurpose,
                           year: int) -> bytes:
        """The year's key for reading; :class:`KeyDestroyed` if it is gone."""
        wrapped = await conn.fetchval(
            "SELECT wrapped FROM data_keys WHERE purpose = $1 AND year = $2", purpose.value, year)
        if wrapped is None:
            raise KeyDestroyed(f"no {purpose.value} key for {year}")
        return self._unwrap(purpose, year, bytes(wrapped))

    async def seal(self, conn: asyncpg.Connection, purpose: KeyPurpose, year: int, aad: str,
                   plaintext: bytes) -> bytes:
        """Encrypt with the year's key (created if needed)."""
        return seal(await self.key(conn, purpose, year), aad, plaintext)

    async def open(self, conn: asyncpg.Connection | asyncpg.Pool, purpose: KeyPurpose, year: int,
                   aad: str, blob: bytes) -> bytes:
        """Decrypt with the year's key."""
        return open_sealed(await self.existing_key(conn, purpose, year), aad, bytes(blob))
