"""The postal address: one value object with one set of rules, wherever an address is taken.

Intake (the customer's request), session (the address a technician is told when billing is
blocked), billing (the office changes an account) and the vault contract all use
:class:`PostalAddress`, so an address one edge accepts is accepted by every other one:

* ``country``: an ISO 3166-1 alpha-2 code (upper-cased; ``de`` becomes ``DE``), default ``DE``;
* ``postal_code``: for an EU member state in that state's format (Germany five digits, Austria
  four, the Netherlands ``1234 AB`` ...), elsewhere 3 to 10 letters, digits, spaces or hyphens;
* ``street`` and ``city``: clean text (:mod:`fw_contracts.text`), 1 to 200 characters.

Errors carry fixed German/English texts (:data:`ADDRESS_MESSAGES`) and never the value: an
address is personal data.

Stored addresses were accepted under the rules of their day (before the EU postal formats and
the ISO list, a country was any two letters). Whoever decodes a *stored* address passes
:data:`STORED` as validation context: the shape is still checked, the input rules are not, so
an old vault entry stays readable. Input is always checked in full (no context).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Final

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError, PydanticKnownError

from fw_contracts.text import UncleanText, clean_text

#: (German, English) per error code of an address; the codes are what an API answers.
ADDRESS_MESSAGES: dict[str, tuple[str, str]] = {
    "postal_code_invalid": (
        "Bitte geben Sie eine gültige Postleitzahl an.",
        "Please enter a valid postal code."),
    "country_invalid": (
        "Bitte geben Sie das Land als zweistelligen Code an, z. B. DE.",
        "Please give the country as a two-letter code, e.g. DE."),
}

#: Validation context for decoding an address that was stored earlier (see the module text).
STORED: Final[Mapping[str, Any]] = {"stored": True}

#: The officially assigned ISO 3166-1 alpha-2 codes (249).
COUNTRY_CODES: frozenset[str] = frozenset({
    "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX", "AZ",
    "BA", "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS",
    "BT", "BV", "BW", "BY", "BZ", "CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN",
    "CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ", "DE", "DJ", "DK", "DM", "DO", "DZ", "EC", "EE",
    "EG", "EH", "ER", "ES", "ET", "FI", "FJ", "FK", "FM", "FO", "FR", "GA", "GB", "GD", "GE", "GF",
    "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY", "HK", "HM",
    "HN", "HR", "HT", "HU", "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT", "JE", "JM",
    "JO", "JP", "KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC",
    "LI", "LK", "LR", "LS", "LT", "LU", "LV", "LY", "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK",
    "ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS", "MT", "MU", "MV", "MW", "MX", "MY", "MZ", "NA",
    "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NU", "NZ", "OM", "PA", "PE", "PF", "PG",
    "PH", "PK", "PL", "PM", "PN", "PR", "PS", "PT", "PW", "PY", "QA", "RE", "RO", "RS", "RU", "RW",
    "SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS",
    "ST", "SV", "SX", "SY", "SZ", "TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO",
    "TR", "TT", "TV", "TW", "TZ", "UA", "UG", "UM", "US", "UY", "UZ", "VA", "VC", "VE", "VG", "VI",
    "VN", "VU", "WF", "WS", "YE", "YT", "ZA", "ZM", "ZW"})

#: The postal code format of each EU member state (letters in either case). Where the postal
#: service writes a country prefix (``LV-1050``, ``L-1234``), it may be given or left out.
EU_POSTAL_CODES: dict[str, re.Pattern[str]] = {
    country: re.compile(pattern, re.IGNORECASE) for country, pattern in {
        "AT": r"[0-9]{4}",
        "BE": r"[0-9]{4}",
        "BG": r"[0-9]{4}",
        "CY": r"[0-9]{4}",
        "CZ": r"[0-9]{3} ?[0-9]{2}",
        "DE": r"[0-9]{5}",
        "DK": r"[0-9]{4}",
        "EE": r"[0-9]{5}",
        "ES": r"[0-9]{5}",
        "FI": r"[0-9]{5}",
        "FR": r"[0-9]{5}",
        "GR": r"[0-9]{3} ?[0-9]{2}",
        "HR": r"[0-9]{5}",
        "HU": r"[0-9]{4}",
        "IE": r"[A-Z][0-9][0-9W] ?[0-9A-Z]{4}",  # Eircode
        "IT": r"[0-9]{5}",
        "LT": r"(LT-)?[0-9]{5}",
        "LU": r"(L-)?[0-9]{4}",
        "LV": r"(LV-)?[0-9]{4}",
        "MT": r"[A-Z]{3} ?[0-9]{2,4}",
        "NL": r"[0-9]{4} ?[A-Z]{2}",
        "PL": r"[0-9]{2}-[0-9]{3}",
        "PT": r"[0-9]{4}-[0-9]{3}",
        "RO": r"[0-9]{6}",
        "SE": r"[0-9]{3} ?[0-9]{2}",
        "SI": r"[0-9]{4}",
        "SK": r"[0-9]{3} ?[0-9]{2}",
    }.items()
}
#: Any other country: 3 to 10 letters, digits, spaces or hyphens, starting with a letter or digit.
_ANY_POSTAL_CODE = re.compile(r"[0-9A-Za-z][0-9A-Za-z -]{2,9}")


def is_country_code(value: str) -> bool:
    """True for an officially assigned ISO 3166-1 alpha-2 code in capitals (``DE``, ``AT``)."""
    return value in COUNTRY_CODES


def postal_code_ok(code: str, country: str) -> bool:
    """Whether ``code`` is a valid postal code in ``country`` (the rule :class:`PostalAddress` applies)."""
    pattern = EU_POSTAL_CODES.get(country.upper(), _ANY_POSTAL_CODE)
    return bool(pattern.fullmatch(code))


def address_error(code: str) -> PydanticCustomError:
    """The validation error ``code`` of :data:`ADDRESS_MESSAGES` (a fixed text, never the input)."""
    return PydanticCustomError(code, ADDRESS_MESSAGES[code][1])


def check_country(value: str) -> str:
    """``value`` if it is a country code (:func:`is_country_code`); else ``country_invalid``.

    For models that hold an address's parts as flat fields, in a ``field_validator``.
    """
    if not is_country_code(value):
        raise address_error("country_invalid")
    return value


def check_postal_code(value: str, country: object) -> str:
    """``value`` if it is a postal code of ``country`` (:func:`postal_code_ok`); else ``postal_code_invalid``.

    ``country`` is what the model validated so far (``info.data.get("country")``): when the
    country itself was refused, the general rule applies here and the country error is reported.
    """
    if not postal_code_ok(value, country if isinstance(country, str) else ""):
        raise address_error("postal_code_invalid")
    return value


def _stored(info: ValidationInfo) -> bool:
    return isinstance(info.context, Mapping) and bool(info.context.get("stored"))


_Line = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class PostalAddress(BaseModel):
    """A postal (billing) address. Personal data: it travels only to and from the vault."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # Declared first so that the postal-code check knows the country.
    country: Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True, min_length=1, max_length=2),
                       Field(description="ISO 3166-1 alpha-2 code, upper-cased (de -> DE)")] = "DE"
    street: Annotated[_Line, Field(description="Street and number; clean text (fw_contracts.text)")]
    postal_code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=10),
                           Field(description="In the format of the country for EU member states "
                                             "(DE 5 digits, AT 4, NL '1234 AB', ...); elsewhere 3-10 "
                                             "letters, digits, spaces or hyphens")]
    city: Annotated[_Line, Field(description="Clean text (fw_contracts.text)")]

    @field_validator("country")
    @classmethod
    def _country(cls, value: str, info: ValidationInfo) -> str:
        if _stored(info):
            if not re.fullmatch(r"[A-Z]{2}", value):
                raise address_error("country_invalid")
            return value
        return check_country(value)

    @field_validator("street", "city")
    @classmethod
    def _clean(cls, value: str, info: ValidationInfo) -> str:
        if _stored(info):
            return value
        try:
            cleaned = clean_text(value)
        except UncleanText as exc:
            # The template is fixed text: pydantic would otherwise be free to mention the input.
            raise PydanticCustomError(exc.code, exc.message_en) from None
        if len(cleaned) > 200:  # NFC can (rarely) lengthen a text
            raise PydanticKnownError("string_too_long", {"max_length": 200})
        return cleaned

    @field_validator("postal_code")
    @classmethod
    def _postal_code(cls, value: str, info: ValidationInfo) -> str:
        if _stored(info):
            return value
        return check_postal_code(value, info.data.get("country"))
