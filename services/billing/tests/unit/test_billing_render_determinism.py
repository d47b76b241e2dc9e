"""A document re-rendered in another process (a later start of billing) has the archived bytes,
and the kept compressed streams change nothing in them."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap
import zlib
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import facturx
import fpdf.syntax
import pytest

from fw_billing.adapters import fontobjects, pdf, rendering, streamcache
from fw_billing.adapters.rendering import PdfRenderer
from fw_billing.domain.documents import Document
from fw_contracts.events import InvoiceKind

from .documents_support import RECIPIENT, document

#: SHA-256 of PDF + XML of :func:`_documents` (fpdf2 2.8.9, factur-x, zlib of the lock file).
#: A library upgrade that changes these bytes means that archived copies can no longer be
#: re-created byte-identically by the new version: decide that knowingly, then update these.
GOLDEN = {
    "small": "1d780f2d2806e544a302104f33f94ef94939a0b8d4999d5684090e3c301f0c9f",
    "full": "69426ac7852406a2932c502f6f8e0521785a03055a0f9f8a062383ded754adb8",
    "e_invoice": "42b09546059113ca2811821d40b379aaaf7aba76f209612e571c4b69360456f4",
    "rare": "a6827ae5a98e02838699ff36fba491e5bd36c2bfe5fb6dfcb40d1e68be6c8bb6",
}


def _documents() -> dict[str, Document]:
    return {
        "small": document(InvoiceKind.SMALL, intervals=1, e_invoice=False),
        "full": document(InvoiceKind.FULL, intervals=7, e_invoice=False),
        "e_invoice": document(InvoiceKind.FULL, intervals=10, e_invoice=True),
        "rare": replace(document(InvoiceKind.FULL, intervals=5, e_invoice=True),
                        recipient=replace(RECIPIENT, name="Łódź Café Ørsted")),
    }


def _digests() -> dict[str, str]:
    renderer = PdfRenderer()
    out = {}
    for name, doc in _documents().items():
        rendered = renderer.render(doc)
        out[name] = hashlib.sha256(rendered.pdf + (rendered.xml or b"")).hexdigest()
    return out


_CHILD = textwrap.dedent("""
    import json, sys
    sys.path.insert(0, sys.argv[1])
    from tests.unit import test_billing_render_determinism as t
    print(json.dumps(t._digests()))
""")


@pytest.fixture
def cold() -> Iterator[None]:
    streamcache.clear()
    yield
    streamcache.clear()


def test_another_process_renders_the_same_bytes() -> None:
    """LittleCMS stamps the call's time into the sRGB profile: before the date was pinned, every
    process wrote different PDF bytes for the same invoice (tests in one process did not see it)."""
    service_dir = Path(__file__).resolve().parents[2]
    child = subprocess.run([sys.executable, "-c", _CHILD, str(service_dir)], capture_output=True, text=True,
                           check=True, timeout=120)
    assert json.loads(child.stdout) == _digests() == GOLDEN


def test_the_srgb_profile_carries_a_fixed_date() -> None:
    profile = pdf._srgb_profile()
    assert profile[24:36] == bytes.fromhex("07ea00010001000000000000")  # 2026-01-01 00:00:00
    assert profile[84:100] == bytes(16)  # no profile ID that the date would have to match


def test_kept_compressed_streams_change_nothing(cold: None) -> None:
    cached_cold = _digests()
    assert streamcache.stats()["misses"] > 0
    hits = streamcache.stats()["hits"]
    cached_warm = _digests()
    assert streamcache.stats()["hits"] > hits
    original = fpdf.syntax.zlib  # type: ignore[attr-defined]
    fpdf.syntax.zlib = zlib  # type: ignore[attr-defined]
    try:
        plain = _digests()
    finally:
        fpdf.syntax.zlib = original  # type: ignore[attr-defined]
    assert cached_cold == cached_warm == plain == GOLDEN


def test_the_stream_cache_is_bounded_and_skips_small_inputs(cold: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(streamcache, "MAX_ENTRIES", 2)
    for n in range(4):
        data = bytes([n]) * streamcache.MIN_BYTES
        assert streamcache.compress(data) == zlib.compress(data)
    assert streamcache.stats()["entries"] == 2
    assert streamcache.compress(b"short") == zlib.compress(b"short")
    assert streamcache.stats() == {"hits": 0, "misses": 4, "entries": 2}


def test_kept_widths_are_the_measured_widths() -> None:
    doc = _documents()["small"]
    page = pdf._Pdf(doc)
    for style, size in (("", 9), ("B", 9), ("", 10), ("B", 13)):
        page.set_font(pdf.FONT, style, size)
        for text in ("Fernwartung je angefangene 15 Min.", " ", "Łódź Café", "Summe netto (19 %)"):
            first, again = page.text_width(text), page.text_width(text)
            assert first == again == page.get_string_width(text)


def test_printable_keeps_clean_text_and_replaces_the_rest_as_before() -> None:
    glyphs = pdf._glyphs()
    for text in ("Muster GmbH, Hauptstr. 1", "Łódź Café Ørsted €", "tab\there", "bell\x07 and \u200b zwsp",
                 "\U0001f600 emoji", "line\u2028sep", "日本語"):
        assert pdf.printable(text) == "".join(pdf._printable_char(c, glyphs) for c in text)


def _producer_bytes(doc: Document, producer: type) -> bytes:
    """The document's PDF from one output producer (the font programs come from fontcache)."""
    return bytes(pdf.laid_out(doc).output(output_producer_class=producer))


def _font_documents() -> list[Document]:
    """Each document kind, rare characters (their own glyph numbering) and a second page (the
    fonts' objects get other numbers)."""
    full = _documents()["full"]
    return [*_documents().values(),
            *(replace(full, recipient=replace(RECIPIENT, name=name))
              for name in ("Émile Zoë", "Ştefan Ţuţu Łó", "Muster GmbH")),
            replace(full, work_note="Drucker neu eingerichtet, Treiber aktualisiert. " * 25)]


@pytest.mark.parametrize("groups", [True, False], ids=["serialised-groups", "maps-only"])
def test_kept_font_objects_give_fpdf2s_own_bytes(groups: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    from fpdf.output import OutputProducer

    if not groups:
        monkeypatch.setattr(fontobjects, "MAX_GROUPS", 0)
    fontobjects.clear()
    docs = _font_documents()
    assert pdf.laid_out(docs[-1]).pages_count == 2
    for doc in docs + docs:  # first misses, then hits
        assert _producer_bytes(doc, fontobjects.FontCachingOutputProducer) == _producer_bytes(doc, OutputProducer)
    if groups:  # the second round writes every font (two per document) from the kept text
        assert fontobjects.group_stats()["hits"] >= 2 * len(docs)
    else:
        assert fontobjects.group_stats()["hits"] == 0 and fontobjects.stats()["hits"] >= 2 * len(docs)
    # another fpdf2 version: its own method, not the repeated one
    monkeypatch.setattr(fontobjects, "FPDF_VERSION", "0.0.0")
    hits = fontobjects.stats()["hits"], fontobjects.group_stats()["hits"]
    assert _producer_bytes(docs[0], fontobjects.FontCachingOutputProducer) == _producer_bytes(docs[0], OutputProducer)
    assert (fontobjects.stats()["hits"], fontobjects.group_stats()["hits"]) == hits


def test_a_kept_font_group_is_only_written_where_its_numbers_fit() -> None:
    """The same glyphs with the fonts' objects numbered otherwise (a second page before them)
    are not the kept group: its references would point at other objects."""
    fontobjects.clear()
    one_page, two_pages = _font_documents()[1], _font_documents()[-1]
    assert "Treiber" not in (one_page.work_note or "")
    _producer_bytes(one_page, fontobjects.FontCachingOutputProducer)
    misses = fontobjects.group_stats()["misses"]
    _producer_bytes(two_pages, fontobjects.FontCachingOutputProducer)
    assert fontobjects.group_stats()["misses"] == misses + 2


def test_in_memory_embedding_gives_generate_from_binarys_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    docs = [d for d in _documents().values() if d.e_invoice]
    assert len(docs) == 2
    in_memory = [PdfRenderer().render(d).pdf for d in docs]

    def through_a_temporary_file(pdf_bytes: bytes, xml: bytes, metadata: dict[str, str]) -> bytes:
        return bytes(facturx.generate_from_binary(pdf_bytes, xml, flavor="factur-x", level="en16931",
                                                  check_xsd=True, pdf_metadata=metadata, lang="de-DE"))

    monkeypatch.setattr(rendering, "_generate", through_a_temporary_file)
    assert [PdfRenderer().render(d).pdf for d in docs] == in_memory
