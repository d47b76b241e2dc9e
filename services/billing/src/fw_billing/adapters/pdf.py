"""The German invoice PDF (fpdf2), PDF/A-3b structure: embedded fonts, sRGB output intent, XMP.

Deterministic: the same :class:`Document` gives the same bytes (every date in the file is the
issue time, the file id is a hash of the content), so an archived copy can be re-created and
compared (GoBD Rz. 118/119). Every mandatory field is printed exactly as
:func:`~fw_billing.domain.documents.mandatory_fields` spells it.
"""

from __future__ import annotations

import struct
import unicodedata
from datetime import UTC
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import fpdf
from fontTools.ttLib import TTFont
from fpdf import FPDF
from fpdf.enums import Align, CharVPos, OutputIntentSubType, TextMode, XPos, YPos
from fpdf.fonts import TTFFont
from fpdf.output import PDFICCProfile
from fpdf.util import escape_parens
from PIL import ImageCms

from fw_billing.adapters import fontcache, streamcache
from fw_billing.adapters.fontobjects import FPDF_VERSION, FontCachingOutputProducer
from fw_billing.domain.documents import (
    CORRECTION_LABELS,
    REASON_LABELS,
    Document,
    DocumentKind,
    Profile,
    recipient_lines,
    work_note_text,
)
from fw_billing.domain.formatting import date_de, duration_de, money_de, quantity_de

FONT = "DejaVu"

fontcache.install()
streamcache.install()
PRODUCER = "fernwartung billing"


@lru_cache(maxsize=1)
def _font_files() -> tuple[Path, Path]:
    base = Path(str(resources.files("fw_billing") / "fonts"))
    return base / "DejaVuSans.ttf", base / "DejaVuSans-Bold.ttf"


@lru_cache(maxsize=1)
def _glyphs() -> frozenset[int]:
    """Code points both shipped fonts can print."""
    regular, bold = (set(TTFont(str(f)).getBestCmap()) for f in _font_files())
    return frozenset(regular & bold)


#: The sRGB profile's creation date (ICC header bytes 24-35: year, month, day, hour, minute,
#: second as big-endian uint16). LittleCMS stamps the time of the call there, which made every
#: process write a different profile into its PDFs: a copy re-created later was not
#: byte-identical to the archived one. The profile carries no ID (bytes 84-99 are zero) that
#: the date would have to match.
_ICC_DATE = struct.pack(">6H", 2026, 1, 1, 0, 0, 0)


@lru_cache(maxsize=1)
def _srgb_profile() -> bytes:
    profile = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    profile[24:36] = _ICC_DATE
    return bytes(profile)


def printable(text: str) -> str:
    """Characters the fonts lack become ``?`` (the e-invoice XML keeps the text as far as XML can
    hold it), and so do control, format and surrogate characters even where a font maps them
    (old vault data may hold them; the edge refuses them since issue 14); a tab or a line break
    becomes a space."""
    if _kept_as_is().issuperset(text):  # nearly always: no character to replace
        return text
    glyphs = _glyphs()
    return "".join(_printable_char(c, glyphs) for c in text)


@lru_cache(maxsize=1)
def _primed() -> frozenset[str]:
    """The characters every document's fonts are primed with, in the same order (fontcache)."""
    return frozenset(c for c in fontcache.BASE_CHARACTERS if ord(c) in _glyphs())


@lru_cache(maxsize=1)
def _kept_as_is() -> frozenset[str]:
    """Every character :func:`printable` keeps unchanged."""
    glyphs = _glyphs()
    return frozenset(c for c in map(chr, glyphs) if _printable_char(c, glyphs) == c)


def _printable_char(c: str, glyphs: frozenset[int]) -> str:
    if c.isascii() and c.isprintable():
        return c if ord(c) in glyphs else "?"
    category = unicodedata.category(c)
    if category in ("Cc", "Zl", "Zp") and c.isspace():
        return " "
    if category in ("Cc", "Cf", "Cs", "Zl", "Zp") or ord(c) not in glyphs:
        return "?"
    return c


def _xmp(doc: Document, title: str) -> str:
    stamp = doc.issued_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    esc = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}
    safe = "".join(esc.get(c, c) for c in title)
    return (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/"'
        ' xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:xmp="http://ns.adobe.com/xap/1.0/"'
        ' xmlns:pdf="http://ns.adobe.com/pdf/1.3/">'
        "<pdfaid:part>3</pdfaid:part><pdfaid:conformance>B</pdfaid:conformance>"
        f'<dc:title><rdf:Alt><rdf:li xml:lang="x-default">{safe}</rdf:li></rdf:Alt></dc:title>'
        f"<xmp:CreateDate>{stamp}</xmp:CreateDate><xmp:ModifyDate>{stamp}</xmp:ModifyDate>"
        f"<xmp:MetadataDate>{stamp}</xmp:MetadataDate><pdf:Producer>{PRODUCER}</pdf:Producer>"
        "</rdf:Description></rdf:RDF></x:xmpmeta>")


#: Text widths by (font, size in pt, text); see :meth:`_Pdf.text_width`. Cleared when full.
_WIDTHS: dict[tuple[str, float, str], float] = {}
_MAX_WIDTHS = 4096

#: Off: every cell goes through fpdf2's own ``cell`` (the reference the tests compare with).
#: On only for the fpdf2 version whose cell output :meth:`_Pdf._simple_cell` repeats (the one
#: :mod:`fontobjects` repeats too): another version goes through its own ``cell`` throughout.
FAST_CELLS = fpdf.FPDF_VERSION == FPDF_VERSION
#: A text's PDF string operand by (font, text), for texts of the primed characters only (their
#: glyph numbers are the same in every document, see fontcache). Cleared when full.
_ENCODED: dict[tuple[str, str], str] = {}
_MAX_ENCODED = 4096


class _Pdf(FPDF):
    def __init__(self, doc: Document) -> None:
        super().__init__(format="A4", unit="mm", enforce_compliance="PDFA_3B")
        self.doc = doc
        regular, bold = _font_files()
        # Parsed once per process, the same glyph numbering in every document (see fontcache).
        base = "".join(c for c in fontcache.BASE_CHARACTERS if c in _primed())
        fontcache.add_font(self, FONT, "", regular, base)
        fontcache.add_font(self, FONT, "B", bold, base)
        self.add_output_intent(
            OutputIntentSubType.PDFA, "sRGB IEC61966-2.1", registry_name="http://www.color.org",
            dest_output_profile=PDFICCProfile(contents=_srgb_profile(), n=3, alternate="DeviceRGB"),
            info="sRGB IEC61966-2.1")
        self.set_creation_date(doc.issued_at)
        self.set_producer(PRODUCER)
        self.set_lang("de-DE")
        self.set_margins(20, 18, 20)
        self.set_auto_page_break(True, margin=28)

    def cell(self, w: float | None = None, h: float | None = None, text: str = "", *args: Any,
             **kwargs: Any) -> bool:
        """fpdf2's ``cell``, with a short way for the one kind of cell this layout draws.

        fpdf2's ``cell`` is general (markdown, links, borders, fills, text shaping, fallback
        fonts, character spacing, underlines, page-total aliases): each call builds fragments,
        copies the graphics state and renders through ``_render_styled_text_line``, most of the
        layout's time. :meth:`_simple_cell` writes the same operators for a plain text cell (a
        font of ours, no border, fill, link or markdown, default spacing, no page break); any
        other call, and every call while :data:`FAST_CELLS` is off, is fpdf2's own. The bytes are
        the same either way (tested against fpdf2's own path, hypothesis-generated texts).
        """
        if (FAST_CELLS and not args and w is not None and h is not None and text
                and kwargs.keys() <= {"align", "new_x", "new_y"} and self._simple_cell_possible(text, h)):
            self._simple_cell(w, h, text, Align.coerce(kwargs.get("align", Align.L)),
                              XPos.coerce(kwargs.get("new_x", XPos.RIGHT)),
                              YPos.coerce(kwargs.get("new_y", YPos.TOP)))
            return False
        return super().cell(w, h, text, *args, **kwargs)

    def _plain_text(self, text: str) -> bool:
        """Whether ``text`` in the current state is one fragment of one of our fonts, in fpdf2's
        default spacing and stretching, without a page-total alias (fpdf2's ``_parse_chars``)."""
        font = self.current_font
        return (isinstance(font, TTFFont) and not font.color_font and not font.is_symbol
                and not self.text_shaping and not self._fallback_font_ids
                and self.char_spacing == 0 and self.font_stretching == 100
                and not (self.str_alias_nb_pages and self.str_alias_nb_pages in text))

    def _simple_cell_possible(self, text: str, h: float) -> bool:
        return (self.page > 0 and self._plain_text(text) and not self._record_text_quad_points
                and self.text_mode == TextMode.FILL and not self.underline and not self.strikethrough
                and self.char_vpos == CharVPos.LINE and self.text_color is not None
                and not self.will_page_break(h))

    def _simple_cell(self, w: float, h: float, text: str, align: Align, new_x: XPos, new_y: YPos) -> None:
        """What ``_render_styled_text_line`` writes for one fragment in the current font (see
        :meth:`cell` for when): ``BT x y Td (glyphs) Tj ET``, the font operator first if the page
        has not got it yet, the text colour inside ``q … Q`` where it differs from the fill colour."""
        font = self.current_font
        assert isinstance(font, TTFFont)
        if align is Align.J:
            raise ValueError("cell() only produces one text line, justified alignment is not possible")
        font.biggest_size_pt = max(font.biggest_size_pt, self.font_size_pt)
        k = self.k
        width = self.text_width(text)
        if w == 0:
            w = self.w - self.r_margin - self.x
        if align is Align.X:
            self.x -= w / 2
        if align is Align.R:
            dx = w - self.c_margin - width
        elif align in (Align.C, Align.X):
            dx = (w - width) / 2
        else:
            dx = self.c_margin
        start = self.x + dx
        sl = [f"BT {start * k:.2f} {(self.h - self.y - 0.5 * h - 0.3 * self.font_size) * k:.2f} Td"]
        color = self.text_color
        recolored = color != self.fill_color
        if recolored:
            assert color is not None
            sl.append(color.serialize().lower())
        if not self.current_font_is_set_on_page:
            self._out(self._set_font_for_page(font, self.font_size_pt))
        sl.append(f"({self._encoded(font, text)}) Tj")
        sl.append("ET")
        self._out(f"q {' '.join(sl)} Q" if recolored else " ".join(sl))
        self._lasth = h
        if new_x is XPos.RIGHT:
            self.x += w
        elif new_x is XPos.LMARGIN:
            self.x = self.l_margin
        elif new_x is XPos.LEFT:
            pass
        elif new_x is XPos.START:
            self.x = start
        elif new_x is XPos.END:
            self.x = start + width
        elif new_x is XPos.WCONT:
            self.x = start + width - self.c_margin
        elif new_x is XPos.CENTER:
            self.x = start + width / 2.0
        elif new_x is XPos.RMARGIN:
            self.x = self.w - self.r_margin
        if new_y is YPos.NEXT:
            self.y += h
        elif new_y is YPos.TMARGIN:
            self.y = self.t_margin
        elif new_y is YPos.BMARGIN:
            self.y = self.h - self.b_margin

    def _encoded(self, font: TTFFont, text: str) -> str:
        """The text as the glyph numbers of this document's font subset, escaped for a PDF
        string (as fpdf2's ``render_pdf_text_ttf``). Kept per font and text where every
        character is one of the primed characters, whose numbers no document changes."""
        key = (font.fontkey, text)
        encoded = _ENCODED.get(key)
        if encoded is not None:
            return encoded
        pick = font.subset.pick
        mapped = "".join(chr(m) for m in map(pick, map(ord, text)) if m)
        encoded = escape_parens(mapped.encode("utf-16-be").decode("latin-1"))
        if _primed().issuperset(text):
            if len(_ENCODED) >= _MAX_ENCODED:
                _ENCODED.clear()
            _ENCODED[key] = encoded
        return encoded

    def text_line(self, text: str, size: float = 10, bold: bool = False, height: float = 5,
                  align: Align = Align.L) -> None:
        self.set_font(FONT, "B" if bold else "", size)
        for line in self.wrap(printable(text), self.epw):
            self.cell(0, height, line, new_x="LMARGIN", new_y="NEXT", align=align)

    def wrap(self, text: str, width: float) -> list[str]:
        """``text`` broken at spaces into lines of at most ``width`` in the current font (a word
        longer than a line is broken between characters).

        fpdf2's ``multi_cell`` re-measures the growing line for every character it adds, which
        made line breaking a third of the rendering time; this measures once per word.
        """
        if self.text_width(text) <= width:
            return [text]
        space = self.text_width(" ")
        lines: list[str] = []
        current, used = "", 0.0
        for word in text.split(" "):
            w = self.text_width(word)
            while w > width:  # a word longer than a line
                cut = len(word)
                while cut > 1 and self.text_width(word[:cut]) > width:
                    cut -= 1
                if current:
                    lines.append(current)
                lines.append(word[:cut])
                current, used = "", 0.0
                word = word[cut:]
                w = self.text_width(word)
            if current and used + space + w > width:
                lines.append(current)
                current, used = "", 0.0
            current, used = (f"{current} {word}", used + space + w) if current else (word, w)
        if current:
            lines.append(current)
        return lines

    def text_width(self, text: str) -> float:
        """``get_string_width(text)``, kept per font, size and text: the footer, the headings and
        most words are the same in every invoice. Measuring has no effect on the document (the
        glyphs are picked when the text is written), so the bytes are those of the uncached
        measure. A plain text (:meth:`_plain_text`) is measured as fpdf2 measures its one
        fragment, without building the fragment (a copy of the graphics state) first."""
        key = (self.current_font.fontkey if self.current_font else "", self.font_size_pt, text)
        width = _WIDTHS.get(key)
        if width is None:
            font = self.current_font
            if FAST_CELLS and isinstance(font, TTFFont) and self._plain_text(text):
                width = font.get_text_width(text, self.font_size_pt, None)[1] / self.k
            else:
                width = self.get_string_width(text)
            if len(_WIDTHS) >= _MAX_WIDTHS:
                _WIDTHS.clear()
            _WIDTHS[key] = width
        return width

    def footer(self) -> None:
        issuer = self.doc.issuer
        parts = [issuer.name, issuer.address_line]
        if issuer.tax_number:
            parts.append(f"Steuernummer {issuer.tax_number}")
        if issuer.vat_id:
            parts.append(f"USt-IdNr. {issuer.vat_id}")
        if issuer.trade_register:
            parts.append(issuer.trade_register)
        parts.append(f"IBAN {issuer.iban}" + (f", BIC {issuer.bic}" if issuer.bic else ""))
        self.set_y(-24)
        self.set_font(FONT, "", 7)
        for line in self.wrap(printable(" · ".join(parts)), self.epw):
            self.cell(0, 3.5, line, align=Align.C, new_x="LMARGIN", new_y="NEXT")
        self.cell(0, 3.5, f"Seite {self.page_no()}/{{nb}}", align=Align.C)


def _header(pdf: _Pdf, doc: Document) -> None:
    issuer = doc.issuer
    if issuer.example:
        pdf.set_text_color(180, 0, 0)
        pdf.text_line("BEISPIELDATEN – Absender aus der Entwicklungskonfiguration, keine gültige Rechnung",
                      size=9, bold=True)
        pdf.set_text_color(0, 0, 0)
    pdf.text_line(issuer.name, size=13, bold=True, height=6)
    pdf.text_line(issuer.address_line, size=9)
    contact = f"E-Mail: {issuer.email}" + (f" · Telefon: {issuer.phone}" if issuer.phone else "")
    pdf.text_line(contact, size=9)
    pdf.ln(8)
    if doc.names_recipient and doc.recipient is not None:
        pdf.text_line("Rechnungsempfänger", size=8)
        for line in recipient_lines(doc.recipient):
            pdf.text_line(line, size=10)
        pdf.ln(6)
    pdf.text_line(doc.title, size=16, bold=True, height=9)
    pdf.ln(1)


def _facts(pdf: _Pdf, doc: Document) -> None:
    issuer = doc.issuer
    rows: list[tuple[str, str]] = [
        ("Stornonummer" if doc.kind is DocumentKind.CANCELLATION else "Rechnungsnummer", doc.number),
        ("Rechnungsdatum", date_de(doc.issued_at, doc.timezone)),
        ("Leistungsdatum", date_de(doc.service_date, doc.timezone)),
    ]
    if doc.reference is not None:
        rows.append(("Storno zu Rechnung",
                     f"{doc.reference.number} vom {date_de(doc.reference.issued_at, doc.timezone)}"))
        rows.append(("Grund", REASON_LABELS[doc.reference.reason_code]))
    elif doc.correction is not None:
        rows.append(("Korrektur zu Rechnung",
                     f"{doc.correction.number} vom {date_de(doc.correction.issued_at, doc.timezone)}"))
        rows.append(("Grund", CORRECTION_LABELS[doc.correction.reason]))
    # Not on a Kleinbetragsrechnung (or its Storno): it carries nothing that points to the
    # recipient, not even the pseudonymous customer number.
    if doc.customer_number and doc.names_recipient:
        rows.append(("Kundennummer", doc.customer_number))
        if doc.customer_name:
            rows.append(("Kunde", doc.customer_name))
    if doc.names_recipient and doc.recipient is not None:
        if doc.tax.shows_buyer_vat_id and doc.recipient.vat_id:
            rows.append(("USt-IdNr. Empfänger", doc.recipient.vat_id))
        if doc.recipient.buyer_reference:
            rows.append(("Leitweg-ID", doc.recipient.buyer_reference))
    if issuer.tax_number:
        rows.append(("Steuernummer", issuer.tax_number))
    if issuer.vat_id:
        rows.append(("USt-IdNr.", issuer.vat_id))
    for label, value in rows:
        pdf.set_font(FONT, "", 9)
        pdf.cell(45, 5, label + ":")
        pdf.set_font(FONT, "B", 9)
        pdf.cell(0, 5, printable(value), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(5)


def _lines(pdf: _Pdf, doc: Document) -> None:
    pdf.set_font(FONT, "", 9)
    # Drawn cell by cell (fpdf2's table() lays out every cell with multi_cell, which was most
    # of the rendering time): bold headings, a rule under the headings and under every row.
    widths = (10.0, 70.0, 16.0, 37.0, 37.0)
    aligns = (Align.L, Align.L, Align.R, Align.R, Align.R)
    rows = [(str(i), printable(line.description), quantity_de(line.quantity), money_de(line.unit_price),
             money_de(line.net)) for i, line in enumerate(doc.lines, start=1)]
    height, pad = 5.0, 1.0
    pdf.set_draw_color(0, 0, 0)
    pdf.set_line_width(0.2)
    for r, row in enumerate([("Pos.", "Leistung", "Menge", "Einzelpreis netto", "Betrag netto"), *rows]):
        pdf.set_font(FONT, "B" if r == 0 else "", 9)
        cells = [pdf.wrap(text, w - 2 * pad) for text, w in zip(row, widths, strict=True)]
        note = work_note_text(doc) if r == 1 else None
        if note:
            # the session's line: the technician's note of the work done, below its description
            cells[1] += pdf.wrap(printable(note), widths[1] - 2 * pad)
        lines = max(len(c) for c in cells)
        if pdf.will_page_break(lines * height + 2 * pad):
            pdf.add_page()
        top = pdf.get_y()
        x = pdf.l_margin
        for cell_lines, w, align in zip(cells, widths, aligns, strict=True):
            for n, text in enumerate(cell_lines):
                pdf.set_xy(x + pad, top + pad + n * height)
                pdf.cell(w - 2 * pad, height, text, align=align)
            x += w
        bottom = top + lines * height + 2 * pad
        pdf.line(pdf.l_margin, bottom, pdf.l_margin + sum(widths), bottom)
        pdf.set_xy(pdf.l_margin, bottom)
    pdf.ln(2)
    if doc.raw_seconds:
        pdf.text_line(f"Sitzungsdauer {duration_de(doc.raw_seconds)}, abgerechnet "
                      f"{duration_de(doc.billed_seconds)} (Tarif {doc.tariff_version})", size=8)
    pdf.ln(3)


def _totals(pdf: _Pdf, doc: Document) -> None:
    rate = doc.rate_label
    rows = [(f"Summe netto ({rate})", money_de(doc.net_total), False),
            (f"Umsatzsteuer {rate}", money_de(doc.vat_total), False),
            ("Gesamtbetrag brutto", money_de(doc.gross_total), True)]
    for label, value, bold in rows:
        pdf.set_font(FONT, "B" if bold else "", 10)
        pdf.cell(120, 6, label, align=Align.R)
        pdf.cell(0, 6, value, align=Align.R, new_x="LMARGIN", new_y="NEXT")
    if doc.tax.note:
        pdf.text_line(doc.tax.note, size=9)
    pdf.ln(6)


def _closing(pdf: _Pdf, doc: Document) -> None:
    issuer = doc.issuer
    if doc.kind is DocumentKind.CANCELLATION and doc.reference is not None:
        pdf.text_line(f"Diese Stornorechnung hebt die Rechnung {doc.reference.number} vollständig auf. "
                      "Bereits gezahlte Beträge erstatten wir.", size=9)
    elif doc.due_date is not None:
        bank = f" (BIC {issuer.bic}" + (f", {issuer.bank}" if issuer.bank else "") + ")" if issuer.bic else ""
        pdf.text_line(f"Bitte überweisen Sie den Gesamtbetrag ohne Abzug bis {date_de(doc.due_date)} auf "
                      f"das Konto IBAN {issuer.iban}{bank}, Verwendungszweck {doc.number}.", size=9)
    if doc.kind is DocumentKind.SMALL:
        pdf.text_line("Kleinbetragsrechnung nach § 33 UStDV.", size=8)
    if doc.e_invoice:
        pdf.ln(2)
        profile = "XRechnung 3.0" if doc.profile is Profile.XRECHNUNG else "EN 16931"
        pdf.text_line("Elektronische Rechnung: die strukturierten Rechnungsdaten (ZUGFeRD/Factur-X, "
                      f"Profil {profile}) sind in diese PDF-Datei eingebettet.", size=8)


def render_pdf(doc: Document) -> bytes:
    """The document's PDF bytes (without the e-invoice XML; see ``rendering.py``)."""
    pdf = laid_out(doc)
    if not fontcache.ENABLED:  # fpdf2's own path throughout (the reference the tests compare with)
        return bytes(pdf.output())
    return bytes(pdf.output(output_producer_class=FontCachingOutputProducer))


def laid_out(doc: Document) -> FPDF:
    """The document laid out, before fpdf2's output step."""
    pdf = _Pdf(doc)
    title = f"{doc.title} {doc.number}"
    pdf.set_title(title)
    pdf.set_author(printable(doc.issuer.name))
    pdf.set_xmp_metadata(_xmp(doc, printable(title)))
    pdf.add_page()
    _header(pdf, doc)
    _facts(pdf, doc)
    _lines(pdf, doc)
    _totals(pdf, doc)
    _closing(pdf, doc)
    return pdf
