"""The renderers' and exports' last line of defence for data stored before the edge checked its
text (issue 14): nothing a document format or a spreadsheet cannot hold gets through."""

from __future__ import annotations

from lxml import etree

from fw_billing.adapters.cii import xml_text
from fw_billing.adapters.exports import _text
from fw_billing.adapters.pdf import printable

NASTY = "A\u0000B\u001b\u000b\ufffe\uffff\ud800\u202eC\tD\nE"


def test_xml_text_keeps_what_xml_can_hold_and_replaces_the_rest() -> None:
    cleaned = xml_text(NASTY)
    assert cleaned == "A?B?????\u202eC\tD\nE"
    etree.Element("x").text = cleaned  # lxml accepts it
    assert xml_text("Müller 株式会社 \U0001f600") == "Müller 株式会社 \U0001f600"


def test_pdf_printable_replaces_control_and_format_characters() -> None:
    assert printable(NASTY) == "A?B? ????C D E"
    assert printable("Müller & Söhne") == "Müller & Söhne"


def test_export_cells_carry_no_control_characters() -> None:
    assert _text("Null\u0000Firma") == "Null?Firma"
    assert _text("\u001b=HYPERLINK()") == "?=HYPERLINK()"
    assert _text("=1+1") == "'=1+1" and _text("+4930123456") == "+4930123456"
