"""fpdf2's font objects for a document, with the maps every invoice repeats built once.

For each embedded TrueType font fpdf2's output step builds a 128 KB CID-to-glyph map in Python
(a list of 131,072 one-character strings, joined and encoded), the ToUnicode CMap and the width
array: about 2 ms per font and document, the same for every invoice with the same characters
(see :mod:`fontcache`: documents share one glyph numbering). :class:`FontCachingOutputProducer`
is fpdf2 2.8.9's ``OutputProducer._add_fonts`` for plain TrueType fonts, with those three
built once per glyph mapping and kept (LRU). The objects, their order and their bytes are
fpdf2's own (tested against fpdf2's path and pinned digests). Anything else (another fpdf2
version, colour or CFF fonts, PDF/A-1, missing glyphs) goes through fpdf2's own method.

A font's seven objects then serialise to the same text in every invoice that numbers them the
same (the same glyphs, the same first object number): fpdf2 builds each object's dictionary from
``dir()`` and ``getattr`` per attribute, about a third of the output step. The text of such a
group is kept (LRU, keyed by everything it is made of) and later documents write it as it is
(:class:`Serialized`), without subsetting, maps or objects; the bytes are the same (tested).
"""

from __future__ import annotations

from io import BytesIO
from typing import Any

import fpdf
import fpdf.output
from fpdf.fonts import TTFFont
from fpdf.output import (
    CIDSystemInfo,
    OutputProducer,
    PDFFont,
    PDFFontStream,
    _build_cmap_blocks,
    _tt_font_widths,
)
from fpdf.syntax import Name, PDFArray, PDFContentStream, PDFObject

from fw_billing.adapters.kept import Kept

#: The fpdf2 version whose ``_add_fonts`` this repeats; any other goes through fpdf2's own.
FPDF_VERSION = "2.8.9"
MAX_ENTRIES = 64
#: Serialised font groups kept (one is the font program's compressed bytes plus ~10 KB of text).
MAX_GROUPS = 64

_maps: Kept[tuple[Any, ...], tuple[str, bytes, bytes]] = Kept(lambda: MAX_ENTRIES)
stats = _maps.stats
#: a font's serialised objects by everything they are made of (see :func:`_group_key`)
_groups: Kept[tuple[Any, ...], tuple[str, ...]] = Kept(lambda: MAX_GROUPS)
group_stats = _groups.stats


def clear() -> None:
    _maps.clear()
    _groups.clear()

# fpdf2 2.8.9, output.py: the subsetter's options for embedded TrueType fonts.
_DROP_TABLES = ["FFTM", "GDEF", "GPOS", "GSUB", "MATH", "hdmx", "meta", "sbix", "CBDT", "CBLC", "EBDT",
                "EBLC", "EBSC", "SVG ", "CPAL", "COLR"]
_CMAP_HEAD = ("/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n/CIDSystemInfo\n"
              "<</Registry (Adobe)\n/Ordering (UCS)\n/Supplement 0\n>> def\n"
              "/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n1 begincodespacerange\n"
              "<0000> <FFFF>\nendcodespacerange\n")
_CMAP_TAIL = "endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend"


def _plain(pdf: Any) -> bool:
    """Whether every font of ``pdf`` takes the path repeated here."""
    compliance = pdf._compliance
    if fpdf.FPDF_VERSION != FPDF_VERSION or (compliance and compliance.profile == "PDFA" and compliance.part == 1):
        return False
    return all(type(f) is TTFFont and not f.color_font and not (f.is_cff and f.is_cid_keyed)
               and not f.missing_glyphs for f in pdf.fonts.values())


def _format_code(unicode: int) -> str:
    if unicode > 0xFFFF:  # a surrogate pair
        return f"{0xD800 | (unicode - 0x10000) >> 10:04X}{0xDC00 | (unicode & 0x3FF):04X}"
    return f"{unicode:04X}"


def _maps_for(font: TTFFont, code_to_glyph: dict[int, int]) -> tuple[str, bytes, bytes]:
    """``(widths, ToUnicode CMap, CID-to-glyph map)`` as fpdf2 builds them, kept per mapping."""
    items = [(glyph, code) for glyph, code in font.subset.items() if glyph is not None]
    key = (tuple((code, glyph.glyph_width, glyph.unicode) for glyph, code in items),
           tuple(code_to_glyph.items()))
    found = _maps.get(key)
    if found is not None:
        return found
    widths = _tt_font_widths(font)
    bf_char = [f'<{code:04X}> <{"".join(_format_code(u) for u in glyph.unicode)}>\n'
               for glyph, code in items if isinstance(glyph.unicode, tuple) and len(glyph.unicode) > 0]
    to_unicode = (_CMAP_HEAD + _build_cmap_blocks(bf_char, "bfchar") + _CMAP_TAIL).encode("latin-1")
    cid_to_gid = ["\x00"] * 256 * 256 * 2
    for cc, glyph_i in code_to_glyph.items():
        cid_to_gid[cc * 2] = chr(glyph_i >> 8)
        cid_to_gid[cc * 2 + 1] = chr(glyph_i & 0xFF)
    made = (widths, to_unicode, "".join(cid_to_gid).encode("latin1"))
    _maps.put(key, made)
    return made


class Serialized(PDFObject):
    """An object written as the text an earlier document's equal object serialised to."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def serialize(self, obj_dict: Any = None, _security_handler: Any = None) -> str:
        return self.text


def _group_key(font: TTFFont, first_id: int) -> tuple[Any, ...]:
    """What a font's seven objects are made of: the font file and style (program, descriptor,
    name), the glyphs in the document's order with their codes, widths and code points (subset,
    maps), and the number of the first object (every reference between them)."""
    glyphs = tuple((glyph.glyph_name, code, glyph.glyph_width, glyph.unicode)
                   for glyph, code in font.subset.items() if glyph is not None)
    return (str(font.ttffile), font.fontkey, font.name, font.desc.missing_width, glyphs, first_id)


class FontCachingOutputProducer(OutputProducer):
    """fpdf2's output step with :func:`_maps_for` for the fonts (see the module docstring)."""

    def _add_fonts(self, image_objects_per_index: Any, gfxstate_objs_per_name: Any,
                   pattern_objs_per_name: Any) -> dict[int, Any]:
        if not _plain(self.fpdf):
            return super()._add_fonts(
                image_objects_per_index, gfxstate_objs_per_name, pattern_objs_per_name)
        fonts = [f for f in self.fpdf.fonts.values() if isinstance(f, TTFFont)]  # all of them (_plain)
        return {font.i: self._add_ttf(font) for font in sorted(fonts, key=lambda f: f.i)}

    def _add_ttf(self, font: TTFFont) -> Any:
        encrypted = self.fpdf._security_handler is not None  # streams encrypted per object: not kept
        key = None if encrypted else _group_key(font, self.obj_id + 1)
        texts = None if key is None else _groups.get(key)
        if texts is not None:
            group = [Serialized(text) for text in texts]
            for obj in group:
                self._add_pdf_obj(obj, "fonts")
            self._close(font)
            return group[0]
        first = len(self.pdf_objs)
        composite = self._build_ttf(font)
        if key is not None:
            _groups.put(key, tuple(obj.serialize() for obj in self.pdf_objs[first:]))
        return composite

    @staticmethod
    def _close(font: TTFFont) -> None:
        font.subset.pick.cache_clear()
        font.subset.get_glyph.cache_clear()
        font.close()

    def _build_ttf(self, font: TTFFont) -> Any:
        # The same steps and objects, in the same order, as fpdf2 2.8.9's TrueType branch.
        fontname = f"MPDFAA+{font.name}"
        glyph_names = font.subset.get_all_glyph_names()
        ftsubset = fpdf.output.ftsubset  # type: ignore[attr-defined]  # fontcache's subsetter
        options = ftsubset.Options(notdef_outline=True, recommended_glyphs=True)
        options.drop_tables += _DROP_TABLES
        subsetter = ftsubset.Subsetter(options)
        subsetter.populate(glyphs=glyph_names)
        subsetter.subset(font.ttfont)
        code_to_glyph = {char_id: font.ttfont.getGlyphID(glyph.glyph_name)
                         for glyph, char_id in font.subset.items() if glyph is not None}
        output = BytesIO()
        font.ttfont.save(output)
        ttfontstream = output.getvalue()
        widths, to_unicode, cid_to_gid = _maps_for(font, code_to_glyph)

        composite_font_obj = PDFFont(subtype="Type0", base_font=fontname, encoding="Identity-H")
        self._add_pdf_obj(composite_font_obj, "fonts")
        cid_font_obj = PDFFont(subtype="CIDFontType2", base_font=fontname, d_w=font.desc.missing_width, w=widths)
        self._add_pdf_obj(cid_font_obj, "fonts")
        composite_font_obj.descendant_fonts = PDFArray([cid_font_obj])
        to_unicode_obj = PDFContentStream(to_unicode)
        self._add_pdf_obj(to_unicode_obj, "fonts")
        composite_font_obj.to_unicode = to_unicode_obj
        cid_system_info_obj = CIDSystemInfo()
        self._add_pdf_obj(cid_system_info_obj, "fonts")
        cid_font_obj.c_i_d_system_info = cid_system_info_obj
        font_descriptor_obj = font.desc
        font_descriptor_obj.font_name = Name(fontname)
        self._add_pdf_obj(font_descriptor_obj, "fonts")
        cid_font_obj.font_descriptor = font_descriptor_obj
        cid_to_gid_map_obj = PDFContentStream(contents=cid_to_gid, compress=True)
        self._add_pdf_obj(cid_to_gid_map_obj, "fonts")
        cid_font_obj.c_i_d_to_g_i_d_map = cid_to_gid_map_obj
        font_file_cs_obj = PDFFontStream(contents=ttfontstream)
        self._add_pdf_obj(font_file_cs_obj, "fonts")
        font_descriptor_obj.font_file2 = font_file_cs_obj  # type: ignore[attr-defined]
        self._close(font)
        return composite_font_obj
