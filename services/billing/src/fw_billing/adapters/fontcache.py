"""Re-use the embedded font programs between invoices instead of re-subsetting them each time.

fpdf2 subsets every TrueType font at output: fontTools decompiles and recompiles each used
glyph and writes a new font file, about 20 ms of CPU per invoice (two fonts), most of the
rendering time. Two invoices that use the same glyphs in the same order get byte-identical
font programs, so the program can be kept:

* :func:`prime` picks a fixed base set of characters (printable ASCII, umlauts, the euro sign,
  ...) at the start of every document, in a fixed order. fpdf2 numbers a font's glyphs in the
  order of first use, so every document whose text stays inside that set has the same subset
  and the same numbering; only rarer characters (é, ł, Cyrillic, ...) are appended.
* :func:`add_font` parses each font file once per process and gives every document a copy (as
  fpdf2's own ``TTFFont.__deepcopy__`` does: widths and subset copied, the parsed font shared)
  with the base characters already picked, behind a :class:`DocumentFont` so that nothing a
  document does reaches the shared parse.
* :class:`CachingSubsetter` stands in for ``fontTools.subset.Subsetter`` inside fpdf2's output
  step. For a font loaded by :func:`add_font` it keys the subset by the font file and the
  ordered glyph names. On a hit the document's font object saves the cached bytes and answers
  glyph ids from the cached subset; on a miss the real subsetter runs once, on a fresh parse,
  and its result is stored. Other fonts are subset as before.

Relies on fpdf2 internals (``TTFFont``/``SubsetMap`` attributes, ``fpdf.output.ftsubset``);
``tests/unit/test_billing_fontcache.py`` compares every path with fpdf2's own bytes, so an fpdf2
upgrade that changes them fails there, not in an archive.

The output is byte-identical to an uncached render (checked by a test), so archived documents
can still be re-created and compared.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from copy import copy
from io import BytesIO
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import fpdf.output
from fontTools import subset as _ftsubset
from fontTools.ttLib import TTFont
from fpdf import FPDF
from fpdf.fonts import SubsetMap, TTFFont

from fw_billing.adapters.kept import Kept

#: Characters every document picks first, in this order (see the module docstring).
BASE_CHARACTERS = (
    "".join(chr(c) for c in range(0x20, 0x7F))
    + "ÄÖÜäöüß€§°·–—„“”‘’…×"
)
#: Distinct (font, glyph sequence) entries kept; one entry is about 30 KB.
MAX_ENTRIES = 64

_MARK = "_fw_font_cache_key"
_lock = threading.Lock()  # guards _templates
_subsets: Kept[tuple[str, tuple[str, ...]], tuple[bytes, dict[str, int]]] = Kept(lambda: MAX_ENTRIES)
stats = _subsets.stats
clear = _subsets.clear
_templates: dict[tuple[str, str], TTFFont] = {}
#: Off: every document parses its fonts and fpdf2 subsets them itself (the reference the tests
#: compare the cached bytes with).
ENABLED = True


class DocumentFont:
    """One document's view of a shared parsed font: reads go to the shared ``TTFont``; what
    fpdf2's output step sets for this document (``getGlyphID``, ``save``) stays here."""

    def __init__(self, shared: TTFont, key: str) -> None:
        self._shared = shared
        setattr(self, _MARK, key)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._shared, name)

    def __getitem__(self, tag: str) -> Any:
        return self._shared[tag]

    def __contains__(self, tag: str) -> bool:
        return tag in self._shared


def add_font(pdf: FPDF, family: str, style: str, path: Path, base: str = BASE_CHARACTERS) -> TTFFont:
    """Like ``pdf.add_font(family, style, path)``, without parsing the file again; the base
    characters (those of ``base`` the font has) are picked first, in order."""
    fontkey = f"{family.lower()}{''.join(sorted(style.upper()))}"
    if not ENABLED:
        pdf.add_font(family, style, str(path))
        plain = pdf.fonts[fontkey]
        assert isinstance(plain, TTFFont)
        prime(plain.subset.pick, base)
        return plain
    key = (str(path), style)
    with _lock:
        template = _templates.get(key)
        if template is None:
            scratch = FPDF()
            scratch.add_font(family, style, str(path))
            added = next(iter(scratch.fonts.values()))
            assert isinstance(added, TTFFont)
            template = added
            prime(template.subset.pick, base)
            _templates[key] = template
    font = _copy(template)
    font.i = len(pdf.fonts) + 1
    font.ttfont = DocumentFont(template.ttfont, str(path))
    pdf.fonts[fontkey] = font
    return font


def _copy(template: TTFFont) -> TTFFont:
    """What fpdf2's ``TTFFont.__deepcopy__`` does, without deep-copying the immutable glyph
    records (that took 7 ms per document): the per-document dicts are copied one level deep."""
    font = copy(template)
    cw = template.cw  # a defaultdict at run time; fpdf2's annotation says dict
    font.cw = defaultdict(cw.default_factory if isinstance(cw, defaultdict) else None, cw)
    font.glyph_ids = dict(template.glyph_ids)
    font.missing_glyphs = list(template.missing_glyphs)
    font.biggest_size_pt = 0
    subset = SubsetMap.__new__(SubsetMap)
    subset.__dict__.update(template.subset.__dict__)
    subset.font = font
    subset._char_id_per_glyph = dict(template.subset._char_id_per_glyph)
    subset._reserved = list(template.subset._reserved)
    font.subset = subset
    return font


def prime(pick: Any, characters: str = BASE_CHARACTERS) -> None:
    """Pick the base characters in a fixed order (``pick`` is fpdf2's ``SubsetMap.pick``)."""
    for ch in characters:
        pick(ord(ch))


class CachingSubsetter:
    """Drop-in for ``fontTools.subset.Subsetter`` as fpdf2's output step uses it."""

    def __init__(self, options: Any = None) -> None:
        self._options = options
        self._glyphs: tuple[str, ...] = ()

    def populate(self, glyphs: Any = (), **kwargs: Any) -> None:
        self._glyphs = tuple(glyphs)
        self._extra = kwargs

    def subset(self, font: TTFont) -> None:
        key = getattr(font, _MARK, None)
        if key is None or self._extra or not ENABLED:
            real = _ftsubset.Subsetter(self._options)
            real.populate(glyphs=self._glyphs, **self._extra)
            real.subset(font)
            return
        entry_key = (key, self._glyphs)
        entry = _subsets.get(entry_key)
        if entry is None:
            # The subsetter changes the font it is given: a shared parse gets a fresh copy.
            work = TTFont(key, recalcTimestamp=False, lazy=True) if isinstance(font, DocumentFont) else font
            real = _ftsubset.Subsetter(self._options)
            real.populate(glyphs=self._glyphs)
            real.subset(work)
            out = BytesIO()
            work.save(out)
            entry = (out.getvalue(), {name: work.getGlyphID(name) for name in work.getGlyphOrder()})
            _subsets.put(entry_key, entry)
        data, ids = entry
        # fpdf2 next asks this font object for glyph ids and then saves it: answer both from
        # the subset (instance attributes shadow the methods for this document's font only).
        font.getGlyphID = ids.__getitem__
        font.save = lambda file, *a, **k: file.write(data)


def install() -> None:
    """Route fpdf2's subsetting through :class:`CachingSubsetter` (idempotent)."""
    # fpdf.output imports fontTools.subset as ftsubset without re-exporting it
    if getattr(fpdf.output.ftsubset, "Subsetter", None) is CachingSubsetter:  # type: ignore[attr-defined]
        return
    fpdf.output.ftsubset = SimpleNamespace(  # type: ignore[attr-defined]
        Options=_ftsubset.Options, Subsetter=CachingSubsetter)
