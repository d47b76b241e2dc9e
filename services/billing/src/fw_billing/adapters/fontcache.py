"""Re-use the embedded font programs between invoices instead of re-subsetting them each time.

fpdf2 subsets every TrueType font at output: fontTools decompiles and recompiles each used
glyph and writes a new font file, about 20 ms of CPU per invoice (two fonts), most of the
rendering time. Two invoices that use the same glyphs in the same order get byte-identical
font programs, so the program can be kept:

* :func:`prime` picks a fixed base set of characters (printable ASCII, umlauts, the euro sign,
  ...) at the start of every document, in a fixed order. fpdf2 numbers a font's glyphs in the
  order of first use, so every document whose text stays inside that set has the same subset
  and the same numbering; only rarer characters (é, ł, Cyrillic, ...) are appended.
* :class:`CachingSubsetter` stands in for ``fontTools.subset.Subsetter`` inside fpdf2's output
  step. For a font loaded by this module (marked in :func:`mark`) it keys the subset by the
  font file and the ordered glyph names. On a hit the document's font object saves the cached
  bytes and answers glyph ids from the cached subset; on a miss the real subsetter runs once
  and its result is stored. Fonts not marked are subset as before.

The output is byte-identical to an uncached render (checked by a test), so archived documents
can still be re-created and compared.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from io import BytesIO
from types import SimpleNamespace
from typing import Any

import fpdf.output
from fontTools import subset as _ftsubset
from fontTools.ttLib import TTFont

#: Characters every document picks first, in this order (see the module docstring).
BASE_CHARACTERS = (
    "".join(chr(c) for c in range(0x20, 0x7F))
    + "ÄÖÜäöüß€§°·–—„“”‘’…×"
)
#: Distinct (font, glyph sequence) entries kept; one entry is about 30 KB.
MAX_ENTRIES = 64

_MARK = "_fw_font_cache_key"
_lock = threading.Lock()
_cache: OrderedDict[tuple[str, tuple[str, ...]], tuple[bytes, dict[str, int]]] = OrderedDict()
_stats = {"hits": 0, "misses": 0}


def mark(ttfont: TTFont, key: str) -> None:
    """Let the cache handle this font; ``key`` names the font file (same file, same key)."""
    setattr(ttfont, _MARK, key)


def prime(pick: Any, characters: str = BASE_CHARACTERS) -> None:
    """Pick the base characters in a fixed order (``pick`` is fpdf2's ``SubsetMap.pick``)."""
    for ch in characters:
        pick(ord(ch))


def stats() -> dict[str, int]:
    with _lock:
        return {**_stats, "entries": len(_cache)}


def clear() -> None:
    with _lock:
        _cache.clear()
        _stats.update(hits=0, misses=0)


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
        if key is None or self._extra:
            real = _ftsubset.Subsetter(self._options)
            real.populate(glyphs=self._glyphs, **self._extra)
            real.subset(font)
            return
        entry_key = (key, self._glyphs)
        with _lock:
            entry = _cache.get(entry_key)
            if entry is not None:
                _cache.move_to_end(entry_key)
                _stats["hits"] += 1
        if entry is None:
            real = _ftsubset.Subsetter(self._options)
            real.populate(glyphs=self._glyphs)
            real.subset(font)
            out = BytesIO()
            font.save(out)
            entry = (out.getvalue(), {name: font.getGlyphID(name) for name in font.getGlyphOrder()})
            with _lock:
                _cache[entry_key] = entry
                _stats["misses"] += 1
                while len(_cache) > MAX_ENTRIES:
                    _cache.popitem(last=False)
        data, ids = entry
        # fpdf2 next asks this font object for glyph ids and then saves it: answer both from
        # the subset (instance attributes shadow the methods for this document's font only).
        font.getGlyphID = ids.__getitem__  # type: ignore[method-assign]
        font.save = lambda file, *a, **k: file.write(data)  # type: ignore[method-assign]


def install() -> None:
    """Route fpdf2's subsetting through :class:`CachingSubsetter` (idempotent)."""
    if getattr(fpdf.output.ftsubset, "Subsetter", None) is CachingSubsetter:
        return
    fpdf.output.ftsubset = SimpleNamespace(  # type: ignore[attr-defined]
        Options=_ftsubset.Options, Subsetter=CachingSubsetter)
