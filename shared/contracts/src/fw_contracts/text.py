"""Clean text at the edge: every free-text field a person types goes through :func:`clean_text`.

Whatever is accepted must print on an invoice, render into every document format (PDF, the
EN 16931 XML) and export to CSV without surprises. So a value is NFC-normalised and refused when
it holds a control character (Unicode Cc, and the line/paragraph separators Zl/Zp), a format
character (Cf: zero-width characters, soft hyphen, bidi overrides and isolates such as U+202E),
a noncharacter (U+FDD0..U+FDEF, U+xFFFE/U+xFFFF) or a surrogate, or when it has no visible
character at all (only spaces and invisible marks). Ordinary spaces are fine; tab and line
breaks only in multi-line fields (``multiline=True``, e.g. a statement or a note).

The errors carry a fixed German and English text and never the value: the value is personal
data (a name, an address) and error messages end up in logs and answers.
"""

from __future__ import annotations

import unicodedata
from functools import partial
from typing import Annotated

from pydantic import AfterValidator, StringConstraints
from pydantic_core import PydanticCustomError, PydanticKnownError

#: (German, English) per error code; the codes are what an API answers in ``errors[].code``.
TEXT_MESSAGES: dict[str, tuple[str, str]] = {
    "text_control_character": (
        ("Enthält ein Steuerzeichen (z. B. einen Zeilenumbruch oder ein nicht druckbares Zeichen), "
         "das hier nicht erlaubt ist."),
        ("Contains a control character (e.g. a line break or a non-printable character) that is not "
         "allowed here.")),
    "text_format_character": (
        ("Enthält ein unsichtbares Formatierungszeichen (z. B. ein Leerzeichen ohne Breite oder eine "
         "Umkehr der Schreibrichtung), das nicht erlaubt ist."),
        ("Contains an invisible formatting character (e.g. a zero-width character or a text direction "
         "override) that is not allowed.")),
    "text_invalid_character": (
        "Enthält ein ungültiges Zeichen.",
        "Contains an invalid character."),
    "text_not_visible": (
        "Enthält kein sichtbares Zeichen.",
        "Contains no visible character."),
}

#: Characters allowed in multi-line fields besides ordinary text.
_MULTILINE = frozenset("\t\n")

#: Default_Ignorable_Code_Point characters that are not Cf (letters and marks that render as
#: nothing, e.g. the Hangul fillers, variation selectors): allowed, but they are not "visible".
_INVISIBLE = frozenset(
    [847, 4447, 4448, 6068, 6069, 6155, 6156, 6157, 6159, 10240, 12644, 65440, *range(65024, 65040),
     *range(917760, 918000)])


class UncleanText(ValueError):
    """A value refused by :func:`clean_text`. ``str()`` and the messages never contain the value."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code
        self.message_de, self.message_en = TEXT_MESSAGES[code]


def is_noncharacter(cp: int) -> bool:
    """U+FDD0..U+FDEF and the last two code points of every plane (U+FFFE, U+1FFFF, ...)."""
    return 0xFDD0 <= cp <= 0xFDEF or (cp & 0xFFFE) == 0xFFFE


def _visible(ch: str) -> bool:
    # letters, digits, punctuation and symbols; not marks alone, spaces or default-ignorables
    return unicodedata.category(ch)[0] in "LNPS" and ord(ch) not in _INVISIBLE


def clean_text(value: str, *, multiline: bool = False) -> str:
    """``value`` NFC-normalised and stripped; raises :class:`UncleanText` if it cannot be accepted.

    In multi-line text, ``\\r\\n`` and a lone ``\\r`` become ``\\n``; tab and ``\\n`` are kept.
    """
    if multiline:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    # Checked before normalising: NFC must not be asked to handle a lone surrogate.
    for ch in value:
        cp = ord(ch)
        category = unicodedata.category(ch)
        if category == "Cs" or is_noncharacter(cp):
            raise UncleanText("text_invalid_character")
        if category in ("Cc", "Zl", "Zp") and not (multiline and ch in _MULTILINE):
            raise UncleanText("text_control_character")
        if category == "Cf":
            raise UncleanText("text_format_character")
    value = unicodedata.normalize("NFC", value).strip()
    if not any(_visible(ch) for ch in value):
        raise UncleanText("text_not_visible")
    return value


def defuse(value: str) -> str:
    """``value`` with every character :func:`clean_text` refuses replaced by ``?``.

    For output (CSV cells, documents) of data stored before the edge checked its input: a NUL,
    an ESC or a text direction override must not reach a spreadsheet cell unchanged.
    """
    return "".join(
        "?" if unicodedata.category(ch) in _REFUSED_CATEGORIES or is_noncharacter(ord(ch)) else ch
        for ch in value)


_REFUSED_CATEGORIES = frozenset(("Cc", "Cf", "Cs", "Zl", "Zp"))


def _validator(value: str, *, multiline: bool, max_length: int | None) -> str:
    try:
        cleaned = clean_text(value, multiline=multiline)
    except UncleanText as exc:
        # The template is fixed text: pydantic would otherwise be free to mention the input.
        raise PydanticCustomError(exc.code, exc.message_en) from None
    if max_length is not None and len(cleaned) > max_length:
        # NFC can (rarely) lengthen a text
        raise PydanticKnownError("string_too_long", {"max_length": max_length})
    return cleaned


def clean_validator(*, multiline: bool = False, max_length: int | None = None) -> AfterValidator:
    """A pydantic ``AfterValidator`` running :func:`clean_text` (for types built elsewhere)."""
    return AfterValidator(partial(_validator, multiline=multiline, max_length=max_length))


#: The usual one-line input field: stripped, 1..200 characters, clean.
CleanLine = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
                      clean_validator(max_length=200)]
