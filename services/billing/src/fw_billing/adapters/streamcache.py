"""Keep the compressed form of the large PDF streams that every invoice repeats.

Every invoice embeds the same font programs (see :mod:`fontcache`), the same CID-to-glyph maps
(128 KB each before compression), the same ToUnicode maps and the same sRGB profile. fpdf2
deflates each of them again for every document: about a quarter of the rendering's CPU. zlib
is deterministic (same input, level and library: same output), so the compressed bytes of an
input seen before are taken from here; the PDF stays byte-identical (tested).

Only inputs of at least :data:`MIN_BYTES` are kept (a page's content stream differs from one
document to the next and is short); the cache is an LRU of :data:`MAX_ENTRIES` entries.
"""

from __future__ import annotations

import zlib
from types import SimpleNamespace
from typing import Any

import fpdf.syntax

from fw_billing.adapters.kept import Kept

MIN_BYTES = 4096
MAX_ENTRIES = 64

_kept: Kept[tuple[bytes, int], bytes] = Kept(lambda: MAX_ENTRIES)
stats = _kept.stats
clear = _kept.clear


def compress(data: Any, level: int = -1) -> bytes:
    """``zlib.compress`` with the results for large inputs kept."""
    if len(data) < MIN_BYTES:
        return zlib.compress(data, level=level)
    key = (bytes(data), level)
    found = _kept.get(key)
    if found is not None:
        return found
    out = zlib.compress(key[0], level=level)
    _kept.put(key, out)
    return out


def install() -> None:
    """Route the compression of fpdf2's content streams through :func:`compress` (idempotent)."""
    # fpdf.syntax imports zlib as a module and calls zlib.compress in PDFContentStream
    current = fpdf.syntax.zlib  # type: ignore[attr-defined]
    if getattr(current, "compress", None) is compress:
        return
    names = {name: getattr(zlib, name) for name in dir(zlib) if not name.startswith("__")}
    fpdf.syntax.zlib = SimpleNamespace(**(names | {"compress": compress}))  # type: ignore[assignment,attr-defined]
