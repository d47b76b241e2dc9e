"""The font-program cache changes nothing in the PDF bytes, only the time to make them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import fpdf.output
import pytest
from fontTools import subset as ftsubset

from fw_billing.adapters import fontcache, fontobjects
from fw_billing.adapters.pdf import render_pdf
from fw_contracts.events import InvoiceKind

from .documents_support import RECIPIENT, contains, document, pdf_text


@pytest.fixture
def cold(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The font-program cache empty, and the serialised font objects above it not kept (a hit
    there writes a document's fonts without asking this cache)."""
    monkeypatch.setattr(fontobjects, "MAX_GROUPS", 0)
    fontobjects.clear()
    fontcache.clear()
    yield
    fontcache.clear()


def _uncached(doc: object) -> bytes:
    """The same document through fpdf2's own font parsing and subsetting (the cache switched out)."""
    patched = fpdf.output.ftsubset
    fpdf.output.ftsubset = ftsubset  # type: ignore[attr-defined]
    fontcache.ENABLED = False
    try:
        return render_pdf(doc)  # type: ignore[arg-type]
    finally:
        fontcache.ENABLED = True
        fpdf.output.ftsubset = patched  # type: ignore[attr-defined]


def test_cached_render_is_byte_identical_to_fpdf2s_own_subsetting(cold: None) -> None:
    doc = document(InvoiceKind.FULL, intervals=7, e_invoice=False)
    reference = _uncached(doc)
    first = render_pdf(doc)   # miss: the real subsetter runs and its result is kept
    second = render_pdf(doc)  # hit: the kept font programs are written
    assert fontcache.stats()["misses"] == 2 and fontcache.stats()["hits"] == 2
    assert first == reference and second == reference


def test_documents_with_the_same_characters_share_the_font_programs(cold: None) -> None:
    render_pdf(document(InvoiceKind.SMALL, intervals=3, number="FW-2026-000001"))
    before = fontcache.stats()
    pdf = render_pdf(document(InvoiceKind.SMALL, intervals=4, number="FW-2026-000987"))
    after = fontcache.stats()
    assert after["misses"] == before["misses"] and after["hits"] == before["hits"] + 2
    assert contains(pdf_text(pdf), "FW-2026-000987")


def test_a_rare_character_gets_its_own_entry_and_is_printed(cold: None) -> None:
    plain = document(InvoiceKind.FULL, intervals=5, e_invoice=False)
    render_pdf(plain)
    rare = replace(plain, recipient=replace(RECIPIENT, name="Łódź Café Ørsted"))
    misses = fontcache.stats()["misses"]
    pdf = render_pdf(rare)
    assert fontcache.stats()["misses"] > misses
    assert pdf == _uncached(rare)
    assert contains(pdf_text(pdf), "Łódź Café Ørsted")


def test_the_cache_is_bounded(cold: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fontcache, "MAX_ENTRIES", 2)
    base = document(InvoiceKind.FULL, intervals=5, e_invoice=False)
    for name in ("Ärger Ä", "Émile É", "Øre Ø", "Ŝ Ŝ"):
        render_pdf(replace(base, recipient=replace(RECIPIENT, name=name)))
    assert fontcache.stats()["entries"] == 2


def test_documents_never_change_the_shared_font_parse(cold: None) -> None:
    """Renders in threads (billing renders off the event loop) with different rare characters:
    each equals its reference render, and the shared templates keep their glyph numbering."""
    from concurrent.futures import ThreadPoolExecutor

    base = document(InvoiceKind.FULL, intervals=5, e_invoice=False)
    docs = [replace(base, recipient=replace(RECIPIENT, name=name))
            for name in ("Émile Zoë", "Łukasz Ścibor", "Ørjan Åsgård", "Ştefan Ţuţu", "Muster GmbH") * 4]
    references = [_uncached(d) for d in docs[:5]]
    render_pdf(base)  # the shared templates exist from here on
    templates = {k: len(t.subset._char_id_per_glyph) for k, t in fontcache._templates.items()}
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(render_pdf, docs))
    assert all(pdf == references[i % 5] for i, pdf in enumerate(results))
    assert {k: len(t.subset._char_id_per_glyph) for k, t in fontcache._templates.items()} == templates
