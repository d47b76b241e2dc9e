"""The customer's download code: a capability for fetching the invoice without personal data.

Given once at intake (the API reply, the thank-you page); only its SHA-256 leaves intake (in
``SupportRequestCreated.download_sha256``) and billing, which serves the archived documents,
checks a code against it. 32 random bytes (256 bits, URL-safe base64): not guessable, and the
hash of such a secret reveals nothing.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable


def generate_download_code(token: Callable[[int], str] = secrets.token_urlsafe) -> str:
    """A fresh code of 32 random bytes (43 characters)."""
    return token(32)


def download_hash(code: str) -> str:
    """What is stored and compared: SHA-256 of the code, lower-case hex."""
    return hashlib.sha256(code.encode()).hexdigest()
