"""The one decoder of the 32-byte keys services take from their settings (base64 text).

Billing's archive key (``FW_BILLING_ARCHIVE_KEY``, also read by the audit) and retention's vault
master key (``FW_RETENTION_MASTER_KEY``) have the same format; both settings classes decode
them here, so the rules and the message (which never echoes the value) cannot drift apart.
"""

from __future__ import annotations

import base64
import binascii

KEY_BYTES = 32
#: How to create a key (the error message and the READMEs say the same).
KEY_HOWTO = 'python -c "import os,base64;print(base64.b64encode(os.urandom(32)).decode())"'


def decode_key(text: str, *, name: str) -> bytes:
    """Base64 ``text`` -> the 32 key bytes; ``ValueError`` naming the setting ``name`` otherwise.

    The error never contains the value: a refused key must not reach a log or a terminal.
    """
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{name} must be base64; create one with {KEY_HOWTO}") from None
    if len(raw) != KEY_BYTES:
        raise ValueError(f"{name} must be 32 bytes (AES-256); create one with {KEY_HOWTO}")
    return raw
