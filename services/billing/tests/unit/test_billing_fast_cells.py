"""The short way for plain text cells writes fpdf2's own bytes (``pdf.FAST_CELLS`` off is the
reference: every cell through fpdf2's ``cell``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest
from fpdf.enums import Align, XPos, YPos
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fw_billing.adapters import pdf
from fw_billing.adapters.pdf import FONT, _Pdf, _xmp, printable, render_pdf
from fw_billing.domain.documents import Document
from fw_contracts.events import InvoiceKind

from .documents_support import RECIPIENT, document


def _both(make: Callable[[], bytes]) -> tuple[bytes, bytes]:
    """``make()`` with the short way, then through fpdf2's own ``cell`` only."""
    assert pdf.FAST_CELLS
    fast = make()
    pdf.FAST_CELLS = False
    try:
        return fast, make()
    finally:
        pdf.FAST_CELLS = True


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The texts that took the short way."""
    taken: list[str] = []
    original = _Pdf._simple_cell

    def spy(self: _Pdf, w: float, h: float, text: str, *rest: object) -> None:
        taken.append(text)
        original(self, w, h, text, *rest)  # type: ignore[arg-type]

    monkeypatch.setattr(_Pdf, "_simple_cell", spy)
    return taken


@pytest.mark.parametrize("doc", [
    document(InvoiceKind.SMALL, intervals=1, e_invoice=False),
    document(InvoiceKind.FULL, intervals=7, e_invoice=False, surcharge=None),
    replace(document(InvoiceKind.FULL, intervals=5, e_invoice=False),
            recipient=replace(RECIPIENT, name="Łódź (Café) \\ Ørsted", street="Straße ) 1 (")),
], ids=["small", "full", "rare-and-escaped"])
def test_whole_documents_are_byte_identical(doc: Document, counted: list[str]) -> None:
    fast, reference = _both(lambda: render_pdf(doc))
    assert fast == reference
    # the short way did the work (the page-total line of the footer is fpdf2's own)
    assert len(counted) > 20 and not any("{nb}" in t for t in counted)


_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=40)
_CELL = st.tuples(
    _TEXT,
    st.sampled_from([0.0, 15.0, 37.5, 70.0]),                 # width (0: to the right margin)
    st.sampled_from([4.0, 5.0, 6.5]),                           # height
    st.sampled_from([Align.L, Align.R, Align.C, Align.X]),
    st.sampled_from(list(XPos)),
    st.sampled_from([YPos.TOP, YPos.NEXT]),
    st.sampled_from(["", "B"]), st.sampled_from([7.0, 9.0, 10.0, 16.0]),
    st.sampled_from([None, (0, 0, 0), (180, 0, 0), 0]),       # text colour (None: unchanged)
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cells=st.lists(_CELL, min_size=1, max_size=30))
def test_random_cells_are_byte_identical(cells: list[tuple]) -> None:  # type: ignore[type-arg]
    """Any text (brackets, backslashes, characters outside the primed set or the fonts), any
    alignment, position update, font, size and colour; enough rows to break pages."""
    doc = document(InvoiceKind.SMALL, intervals=1, e_invoice=False)

    def draw() -> bytes:
        out = _Pdf(doc)
        out.set_xmp_metadata(_xmp(doc, "Test"))  # else fpdf2 stamps the time of the call
        out.add_page()
        for text, w, h, align, new_x, new_y, style, size, color in cells:
            out.set_font(FONT, style, size)
            if color is not None:
                out.set_text_color(*color) if isinstance(color, tuple) else out.set_text_color(color)
            out.cell(w, h, printable(text), align=align, new_x=new_x, new_y=new_y)
            out.cell(w, h, printable(text), align=align, new_x=new_x, new_y=YPos.NEXT)
        return bytes(out.output())

    fast, reference = _both(draw)
    assert fast == reference


def test_other_cells_go_through_fpdf2(counted: list[str]) -> None:
    doc = document(InvoiceKind.SMALL, intervals=1, e_invoice=False)
    out = _Pdf(doc)
    out.add_page()
    out.set_font(FONT, "", 9)
    out.cell(20, 5, "Rahmen", border=1)
    out.cell(20, 5, "Link", link="https://example.org")
    out.cell(20, 5, "Seite {nb}")
    out.cell(20, 5, "**fett**", markdown=True)
    out.cell(text="ohne Breite")
    out.cell(20, 5, "")
    out.set_char_spacing(1)
    out.cell(20, 5, "gesperrt")
    assert counted == []
    out.set_char_spacing(0)
    with pytest.raises(ValueError, match="justified"):
        out.cell(20, 5, "Blocksatz", align=Align.J)


@settings(max_examples=200, deadline=None)
@given(text=_TEXT, style=st.sampled_from(["", "B"]), size=st.sampled_from([7.0, 8.5, 9.0, 13.0, 16.0]))
def test_measured_widths_are_fpdf2s(text: str, style: str, size: float) -> None:
    """A width measured the short way (kept or not) is ``get_string_width``'s, float for float;
    the page-total alias is measured by fpdf2 (as a dummy)."""
    doc = document(InvoiceKind.SMALL, intervals=1, e_invoice=False)
    page = _Pdf(doc)
    page.set_font(FONT, style, size)
    for candidate in (printable(text), printable(text) + " Seite {nb}"):
        pdf._WIDTHS.clear()
        assert page.text_width(candidate) == page.text_width(candidate) == page.get_string_width(candidate)


def test_the_short_way_is_for_the_fpdf2_version_it_repeats() -> None:
    """Another fpdf2 version may write cells differently: then fpdf2 writes every cell."""
    import subprocess
    import sys
    code = ("import fpdf; fpdf.FPDF_VERSION = '0.0.0'; "
            "from fw_billing.adapters import pdf, fontobjects; "
            "print(pdf.FAST_CELLS, fontobjects.FPDF_VERSION)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "2.8.9"]
    assert pdf.FAST_CELLS  # this process has the version
