"""Clean text at the edge: what :func:`fw_contracts.text.clean_text` refuses, and how it says so."""

from __future__ import annotations

import unicodedata
from typing import Annotated

import pytest
from pydantic import BaseModel, StringConstraints, ValidationError

from fw_contracts.text import TEXT_MESSAGES, CleanLine, UncleanText, clean_text, clean_validator, defuse

REFUSED = [
    ("NUL", "A\u0000B", "text_control_character"),
    ("ESC", "A\u001bB", "text_control_character"),
    ("VT", "A\u000bB", "text_control_character"),
    ("DEL", "A\u007fB", "text_control_character"),
    ("NEL", "A\u0085B", "text_control_character"),
    ("line separator", "A\u2028B", "text_control_character"),
    ("newline in one line", "A\nB", "text_control_character"),
    ("tab in one line", "A\tB", "text_control_character"),
    ("U+FFFE", "A\ufffeB", "text_invalid_character"),
    ("U+FFFF", "A\uffffB", "text_invalid_character"),
    ("U+1FFFE", "A\U0001fffeB", "text_invalid_character"),
    ("U+FDD0", "A\ufdd0B", "text_invalid_character"),
    ("lone surrogate", "A\ud800B", "text_invalid_character"),
    ("U+202E RLO", "Firma \u202eGmbH", "text_format_character"),
    ("U+2066 LRI", "A\u2066B\u2069", "text_format_character"),
    ("zero-width space inside", "Fir\u200bma", "text_format_character"),
    ("zero-width-only company", "\u200b\u200b\u200b", "text_format_character"),
    ("BOM", "\ufeffFirma", "text_format_character"),
    ("soft hyphen", "Fir\u00adma", "text_format_character"),
    ("whitespace only", " \u00a0\u3000 ", "text_not_visible"),
    ("Hangul filler only", "\u3164\u3164", "text_not_visible"),
    ("combining mark only", "\u0301", "text_not_visible"),
    ("braille blank only", "\u2800", "text_not_visible"),
    ("empty", "", "text_not_visible"),
]


@pytest.mark.parametrize(("value", "code"), [(v, c) for _, v, c in REFUSED], ids=[n for n, _, _ in REFUSED])
def test_refused_with_a_code_and_no_echo(value: str, code: str) -> None:
    with pytest.raises(UncleanText) as caught:
        clean_text(value)
    exc = caught.value
    assert exc.code == code
    assert (exc.message_de, exc.message_en) == TEXT_MESSAGES[code]
    # fixed texts only: the message, str() and repr() cannot carry any of the input
    assert str(exc) == code and code in repr(exc)
    for text in (str(exc), repr(exc), exc.message_de, exc.message_en):
        assert not value or value not in text
        for word in value.split():
            assert len(word) < 4 or word not in text


def test_nfc_composed_and_stripped() -> None:
    decomposed = "  Mu\u0308ller & So\u0308hne  "  # ü and ö as base letter + combining diaeresis
    cleaned = clean_text(decomposed)
    assert cleaned == "Müller & Söhne"
    assert unicodedata.is_normalized("NFC", cleaned)
    assert len(cleaned) == len("Müller & Söhne")


def test_ordinary_text_of_many_scripts_is_kept() -> None:
    for value in ("Schäfer GmbH", "Ĳssel B.V.", "株式会社テスト", "شركة", "Ελληνικά", "O'Brien-Smith",
                  "Müller 👩‍💻" .replace("\u200d", ""), "Straße 1a", "x"):
        assert clean_text(value) == unicodedata.normalize("NFC", value)


def test_multiline_keeps_tab_and_line_breaks_only() -> None:
    assert clean_text("Ja,\r\nich möchte\tKunde werden.\rDanke", multiline=True) == (
        "Ja,\nich möchte\tKunde werden.\nDanke")
    for bad in ("Ja\u0000", "Ja\u000b", "Ja\u2029", "Ja\u202e"):
        with pytest.raises(UncleanText):
            clean_text(bad, multiline=True)
    with pytest.raises(UncleanText) as caught:
        clean_text("\n\t\n", multiline=True)
    assert caught.value.code == "text_not_visible"


class _Form(BaseModel):
    company: CleanLine
    note: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50),
                    clean_validator(multiline=True, max_length=50)] = "-"


def test_as_a_pydantic_type_the_error_has_the_code_and_no_input_in_its_message() -> None:
    secret = "Geheim\u0000Firma"
    with pytest.raises(ValidationError) as caught:
        _Form(company=secret)
    (error,) = caught.value.errors()
    assert error["type"] == "text_control_character"
    assert error["loc"] == ("company",)
    assert "Geheim" not in error["msg"] and "Firma" not in error["msg"]
    assert _Form(company=" A\u0308rger ", note="a\r\nb").model_dump() == {"company": "Ärger", "note": "a\nb"}


def test_as_a_pydantic_type_whitespace_only_and_too_long_are_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        _Form(company="   ")
    assert caught.value.errors()[0]["type"] == "string_too_short"
    with pytest.raises(ValidationError) as caught:
        _Form(company="\u200b")
    assert caught.value.errors()[0]["type"] == "text_format_character"
    with pytest.raises(ValidationError) as caught:
        _Form(company="x" * 201)
    assert caught.value.errors()[0]["type"] == "string_too_long"


def test_defuse_replaces_what_the_edge_refuses_for_output_of_old_data() -> None:
    assert defuse("A\u0000B\u001b[31m\u202eX\ufffe\u2028Y") == "A?B?[31m?X??Y"
    assert defuse("Müller & Söhne 株式会社") == "Müller & Söhne 株式会社"
