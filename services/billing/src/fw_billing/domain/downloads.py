"""The customer's download code: one check, here (issue 21). Pure rules.

Intake gave the customer a random code once and sent only its SHA-256 (``SupportRequestCreated``
v2). A code opens the archived documents of its request — invoice and Storno, exactly as issued —
until ``ttl`` after the latest of them (before any document: after the request was recorded).
A wrong, malformed or expired code gets the same neutral answer.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from datetime import datetime, timedelta

#: What ``secrets.token_urlsafe(32)`` produces (43 characters), with room; anything else is
#: refused before any lookup.
_CODE = re.compile(r"^[A-Za-z0-9_-]{32,128}$")


def code_hash(code: str) -> str | None:
    """SHA-256 (hex) of a well-formed code; None for anything that cannot be a code."""
    if not _CODE.fullmatch(code):
        return None
    return hashlib.sha256(code.encode()).hexdigest()


def expires_at(recorded_at: datetime, document_times: Iterable[datetime], ttl: timedelta) -> datetime:
    """When the code stops working: ``ttl`` after the latest document (or the request)."""
    return max([recorded_at, *document_times]) + ttl
