"""Format checks for the buyer identifiers an invoice can carry: the VAT id (USt-IdNr.) of an
EU business and the Leitweg-ID of a German public buyer (XRechnung buyer reference, BT-10).

Shared by intake (refuses a malformed value at the edge), the vault contract and billing
(decides the tax case), so all three agree on what is valid. ``VAT_ID_CHECK`` and
``LEITWEG_ID_CHECK`` are the checks of an API's input field, with the error codes the APIs answer. The messages are German/English
and never repeat the value (a VAT id is personal data of the customer).
"""

from __future__ import annotations

import re

from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

#: The 27 EU member states (ISO 3166-1 alpha-2; Greece is GR here, EL in its VAT ids).
EU_COUNTRIES: frozenset[str] = frozenset({
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE",
    "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK"})

#: Per VAT prefix, the rest of the id (the structures the EU Commission's VIES documents).
_VAT_BODY: dict[str, str] = {
    "AT": r"U[0-9]{8}",
    "BE": r"[01][0-9]{9}",
    "BG": r"[0-9]{9,10}",
    "CY": r"[0-9]{8}[A-Z]",
    "CZ": r"[0-9]{8,10}",
    "DE": r"[0-9]{9}",
    "DK": r"[0-9]{8}",
    "EE": r"[0-9]{9}",
    "EL": r"[0-9]{9}",
    "ES": r"[0-9A-Z][0-9]{7}[0-9A-Z]",
    "FI": r"[0-9]{8}",
    "FR": r"[0-9A-HJ-NP-Z]{2}[0-9]{9}",
    "HR": r"[0-9]{11}",
    "HU": r"[0-9]{8}",
    "IE": r"[0-9][0-9A-Z+*][0-9]{5}[A-W][A-I]?",
    "IT": r"[0-9]{11}",
    "LT": r"[0-9]{9}|[0-9]{12}",
    "LU": r"[0-9]{8}",
    "LV": r"[0-9]{11}",
    "MT": r"[0-9]{8}",
    "NL": r"[0-9]{9}B[0-9]{2}",
    "PL": r"[0-9]{10}",
    "PT": r"[0-9]{9}",
    "RO": r"[1-9][0-9]{1,9}",
    "SE": r"[0-9]{10}01",
    "SI": r"[0-9]{8}",
    "SK": r"[0-9]{10}",
}
_VAT_PATTERNS = {prefix: re.compile(f"(?:{body})") for prefix, body in _VAT_BODY.items()}
_SEPARATORS = re.compile(r"[\s.\-/]")

VAT_ID_INVALID = (
    ("Die USt-IdNr. hat kein gültiges Format (Ländercode eines EU-Staats und die Ziffern dieses "
     "Staats, z. B. ATU99999999)."),
    ("The VAT id has an invalid format (the code of an EU member state and that state's digits, "
     "e.g. ATU99999999)."))
LEITWEG_ID_INVALID = (
    ("Die Leitweg-ID ist ungültig (Aufbau Grobadressierung-Feinadressierung-Prüfziffer, "
     "z. B. 04011000-12345-03; die Prüfziffer muss stimmen)."),
    ("The Leitweg-ID is invalid (coarse-fine-check digits, e.g. 04011000-12345-03; the check "
     "digits must match)."))


def vat_prefix(country: str) -> str:
    """The VAT id prefix of an EU country (Greece: ``EL``)."""
    return "EL" if country == "GR" else country


def vat_country(vat_id: str) -> str:
    """The ISO country of a (normalised) VAT id (``EL`` -> ``GR``)."""
    prefix = vat_id[:2]
    return "GR" if prefix == "EL" else prefix


def normalize_vat_id(value: str) -> str:
    """Upper case without spaces, dots, hyphens or slashes (``atu 1234-5678`` -> ``ATU12345678``)."""
    return _SEPARATORS.sub("", value).upper()


def vat_id_valid(value: str) -> bool:
    """Whether ``value`` (normalised) has the format of its EU member state."""
    pattern = _VAT_PATTERNS.get(value[:2])
    return pattern is not None and pattern.fullmatch(value[2:]) is not None


def check_vat_id(value: str) -> str:
    """The normalised VAT id; ``ValueError`` (German/English, without the value) if malformed."""
    normalized = normalize_vat_id(value)
    if not vat_id_valid(normalized):
        raise ValueError(" / ".join(VAT_ID_INVALID))
    return normalized


_LEITWEG = re.compile(r"([0-9]{2,12})(?:-([0-9A-Z]{1,30}))?-([0-9]{2})")


def leitweg_check_digits(coarse: str, fine: str = "") -> str:
    """The two check digits of a Leitweg-ID (ISO/IEC 7064 MOD 97-10 over coarse + fine part)."""
    digits = "".join(str(int(c, 36)) for c in coarse + fine)
    return f"{98 - int(digits + '00') % 97:02d}"


def leitweg_id_valid(value: str) -> bool:
    """Structure (KoSIT "Formatspezifikation Leitweg-ID" 2.0) and MOD 97-10 check digits."""
    m = _LEITWEG.fullmatch(value)
    if m is None:
        return False
    coarse, fine, check = m.group(1), m.group(2) or "", m.group(3)
    return leitweg_check_digits(coarse, fine) == check


def check_leitweg_id(value: str) -> str:
    """The Leitweg-ID (trimmed, upper case); ``ValueError`` (German/English) if invalid."""
    normalized = value.strip().upper()
    if not leitweg_id_valid(normalized):
        raise ValueError(" / ".join(LEITWEG_ID_INVALID))
    return normalized


def _vat_id_input(value: str) -> str:
    try:
        return check_vat_id(value)
    except ValueError:
        # The template is fixed text: pydantic would otherwise be free to mention the input.
        raise PydanticCustomError("vat_id_invalid", VAT_ID_INVALID[1]) from None


def _leitweg_id_input(value: str) -> str:
    try:
        return check_leitweg_id(value)
    except ValueError:
        raise PydanticCustomError("buyer_reference_invalid", LEITWEG_ID_INVALID[1]) from None


#: pydantic check of an input field holding a VAT id: the normalised id, or the error
#: ``vat_id_invalid``. Place it after the field's ``StringConstraints``, which then run first:
#: ``Annotated[str, StringConstraints(max_length=30), VAT_ID_CHECK]``.
VAT_ID_CHECK = AfterValidator(_vat_id_input)
#: The same for a Leitweg-ID (XRechnung buyer reference): error ``buyer_reference_invalid``.
LEITWEG_ID_CHECK = AfterValidator(_leitweg_id_input)
