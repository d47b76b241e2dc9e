"""Envelope encryption: round trip, wrong keys and altered bytes fail, one key per request."""

from __future__ import annotations

import os
import uuid

import pytest

from fw_retention.adapters.crypto import DecryptionFailed, EnvelopeCipher
from fw_retention.application.ports import Part


@pytest.fixture
def cipher() -> EnvelopeCipher:
    return EnvelopeCipher(os.urandom(32))


def test_round_trip(cipher: EnvelopeCipher) -> None:
    rid = uuid.uuid4()
    key, wrapped = cipher.new_data_key(rid)
    nonce, ct = cipher.seal(key, rid, b"Waltraud Mustermensch", Part.ENTRY)
    assert b"Waltraud" not in ct and b"Waltraud" not in wrapped and key not in wrapped
    again = cipher.unwrap(rid, wrapped)
    assert again == key and len(key) == 32
    assert cipher.open(again, rid, nonce, ct, Part.ENTRY) == b"Waltraud Mustermensch"


def test_wrong_master_key_cannot_unwrap(cipher: EnvelopeCipher) -> None:
    rid = uuid.uuid4()
    _, wrapped = cipher.new_data_key(rid)
    other = EnvelopeCipher(os.urandom(32))
    assert other.kek_id != cipher.kek_id
    with pytest.raises(DecryptionFailed):
        other.unwrap(rid, wrapped)


def test_wrong_data_key_fails(cipher: EnvelopeCipher) -> None:
    rid = uuid.uuid4()
    key, _ = cipher.new_data_key(rid)
    nonce, ct = cipher.seal(key, rid, b"secret", Part.ENTRY)
    wrong, _ = cipher.new_data_key(rid)
    with pytest.raises(DecryptionFailed):
        cipher.open(wrong, rid, nonce, ct, Part.ENTRY)


def test_ciphertext_is_bound_to_request_and_part(cipher: EnvelopeCipher) -> None:
    rid, other = uuid.uuid4(), uuid.uuid4()
    key, wrapped = cipher.new_data_key(rid)
    nonce, ct = cipher.seal(key, rid, b"secret", Part.ENTRY)
    with pytest.raises(DecryptionFailed):
        cipher.open(key, other, nonce, ct, Part.ENTRY)  # copied onto another request
    with pytest.raises(DecryptionFailed):
        cipher.open(key, rid, nonce, ct, Part.STATEMENT)  # passed off as the statement
    with pytest.raises(DecryptionFailed):
        cipher.unwrap(other, wrapped)


def test_altered_bytes_fail(cipher: EnvelopeCipher) -> None:
    rid = uuid.uuid4()
    key, wrapped = cipher.new_data_key(rid)
    nonce, ct = cipher.seal(key, rid, b"secret", Part.ENTRY)
    flipped = bytes([ct[0] ^ 1]) + ct[1:]
    with pytest.raises(DecryptionFailed):
        cipher.open(key, rid, nonce, flipped, Part.ENTRY)
    with pytest.raises(DecryptionFailed):
        cipher.unwrap(rid, wrapped[:-1] + bytes([wrapped[-1] ^ 1]))
    with pytest.raises(DecryptionFailed):
        cipher.unwrap(rid, b"short")


def test_one_random_key_and_nonce_per_encryption(cipher: EnvelopeCipher) -> None:
    keys = {cipher.new_data_key(uuid.uuid4())[0] for _ in range(50)}
    assert len(keys) == 50
    rid = uuid.uuid4()
    key, _ = cipher.new_data_key(rid)
    seals = {cipher.seal(key, rid, b"same", Part.ENTRY) for _ in range(20)}
    assert len(seals) == 20  # fresh nonce each time, so equal data never give equal bytes


def test_master_key_must_be_32_bytes() -> None:
    with pytest.raises(ValueError, match="the master key must be 32 bytes"):
        EnvelopeCipher(os.urandom(16))
