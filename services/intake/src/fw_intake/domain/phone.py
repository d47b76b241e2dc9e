"""Phone numbers as typed by a caller, normalised to E.164."""

from __future__ import annotations

import phonenumbers

#: Longer input is no phone number; checked before parsing to bound the work.
MAX_RAW_LENGTH = 40


class InvalidPhone(ValueError):
    """The input is not a valid phone number. Carries no part of the input."""

    def __init__(self) -> None:
        super().__init__("invalid phone number")


def normalise_phone(raw: str, default_region: str = "DE") -> str:
    """Parse ``raw`` (national or international format) and return it as E.164, e.g. ``+491701234567``.

    Raises :class:`InvalidPhone` for anything that is not a valid, dialable number.
    """
    text = raw.strip()
    if not text or len(text) > MAX_RAW_LENGTH:
        raise InvalidPhone
    try:
        number = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException:
        raise InvalidPhone from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
