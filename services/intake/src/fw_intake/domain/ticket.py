"""Ticket codes: short, random, easy to read out on the phone (``K7MQ-3XZ``)."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable

#: Digits and upper-case letters without 0/O and 1/I, which callers confuse on the phone.
ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
_PATTERN = re.compile(rf"^[{ALPHABET}]{{4}}-[{ALPHABET}]{{3}}$")


def generate_ticket(choice: Callable[[str], str] = secrets.choice) -> str:
    """A fresh random ticket ``XXXX-XXX`` (32^7 ≈ 3.4e10 codes); uniqueness is the database's job."""
    chars = "".join(choice(ALPHABET) for _ in range(7))
    return f"{chars[:4]}-{chars[4:]}"


def is_ticket(value: str) -> bool:
    """True if ``value`` has the ticket format and uses only the unambiguous alphabet."""
    return bool(_PATTERN.fullmatch(value))
