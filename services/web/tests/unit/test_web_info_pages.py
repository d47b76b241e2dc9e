"""The form shows the price and links Impressum / Datenschutzhinweise; AVV and Art. 30 documents
are shown inside the pages' layout with a way back; the record lists titles, not file names, and
its web variant carries no developer note."""

from __future__ import annotations

from pathlib import Path

from fw_web.domain.prices import price_text

REPO = Path(__file__).resolve().parents[4]
TARIFF = {"version": "2026-01", "currency": "EUR", "base_fee": "0.00", "interval_seconds": 900,
          "rate_per_interval": "24.00", "rate_per_interval_gross": "28.56", "min_billed_seconds": 900,
          "free_threshold_seconds": 120, "vat_rate": "0.19",
          "surcharges": [{"kind": "evening", "percent": "25", "description": "Abendzuschlag", "start": "18:00",
                          "until": "24:00"},
                         {"kind": "weekend", "percent": "50", "description": "Wochenendzuschlag", "start": None,
                          "until": None}]}


def test_price_in_plain_german() -> None:
    lines = price_text(TARIFF)
    assert lines[0] == "28,56 € je angefangene 15 Minuten (24,00 € netto zzgl. 19 % USt)."
    assert "Abgerechnet werden mindestens 15 Minuten." in lines
    assert "Abendzuschlag: 25 % bei Beginn zwischen 18:00 und 24:00 Uhr." in lines
    assert "Wochenendzuschlag: 50 % bei Beginn am Samstag oder Sonntag." in lines


async def test_the_form_shows_the_price_and_links_the_legal_pages(web) -> None:
    without = await web.client.get("/")
    assert 'id="price"' in without.text and "am Telefon" in without.text  # billing without the route
    web.services.tariff = TARIFF
    page = await web.client.get("/")
    assert "28,56 € je angefangene 15 Minuten" in page.text
    assert 'href="/impressum"' in page.text and 'href="/datenschutzhinweise"' in page.text
    for url, heading in (("/impressum", "<h1>Impressum</h1>"), ("/datenschutzhinweise", "<h1>Datenschutzhinweise</h1>")):
        resp = await web.client.get(url)
        assert resp.status_code == 200 and heading in resp.text and 'href="/"' in resp.text


async def test_the_office_can_point_to_its_own_legal_pages(web) -> None:
    client = await web.make_client(impressum_url="https://example.org/impressum",
                                   privacy_notice_url="https://example.org/datenschutz")
    assert (await client.get("/impressum")).headers["location"] == "https://example.org/impressum"
    assert (await client.get("/datenschutzhinweise")).headers["location"] == "https://example.org/datenschutz"


async def test_the_avv_is_shown_in_the_layout_with_a_way_back(web) -> None:
    web.services.avv = (b"<!doctype html><html><head><style>x</style></head><body><h1>AVV</h1>"
                        b"<table><tr><td>breit</td></tr></table></body></html>")
    page = await web.client.get("/avv")
    assert page.status_code == 200 and 'class="top"' in page.text and 'id="back-link"' in page.text
    assert '<article class="doc" id="document">' in page.text and "<h1>AVV</h1>" in page.text
    assert 'href="/avv?download=1"' in page.text
    download = await web.client.get("/avv?download=1")
    assert download.content == web.services.avv  # the file itself, unchanged


async def test_the_record_lists_titles_and_shows_the_web_variant(web, tmp_path: Path) -> None:
    (tmp_path / "web").mkdir()
    (tmp_path / "art30.html").write_text("<html><body>Erzeugt aus tools/privacy</body></html>", encoding="utf-8")
    (tmp_path / "web" / "art30.html").write_text("<h1>Verzeichnis &amp; mehr</h1>\n<p>Inhalt</p>", encoding="utf-8")
    client = await web.make_client(privacy_docs_dir=tmp_path)
    await web.sign_in("datenschutz", client=client)
    overview = await client.get("/datenschutz")
    assert ">Verzeichnis &amp; mehr</a>" in overview.text and ">art30.html<" not in overview.text
    doc = await client.get("/datenschutz/verzeichnis/art30.html")
    assert doc.status_code == 200 and 'class="top"' in doc.text and 'href="/datenschutz"' in doc.text
    assert "<p>Inhalt</p>" in doc.text and "tools/privacy" not in doc.text
    assert "<title>Verzeichnis &amp; mehr – Fernwartung</title>" in doc.text


def test_the_committed_web_variant_has_no_developer_note() -> None:
    folder = REPO / "docs" / "privacy" / "web"
    files = sorted(folder.glob("*.html"))
    assert {f.name for f in files} == {p.name for p in (REPO / "docs" / "privacy").glob("*.html")}
    for f in files:
        text = f.read_text(encoding="utf-8")
        assert "Erzeugt aus" not in text and "python -m fw_privacy" not in text and "<html" not in text, f.name


async def test_the_privacy_page_lists_ticket_codes_not_uuids(web) -> None:
    import uuid

    pending_id, erased_id = str(uuid.UUID(int=3)), str(uuid.UUID(int=4))  # the fake retention's rows
    web.services.tickets = {pending_id: "PEND-001"}
    await web.sign_in("datenschutz")
    page = await web.client.get("/datenschutz")
    assert page.status_code == 200 and "PEND-001" in page.text
    assert pending_id not in page.text and erased_id not in page.text  # no full UUIDs
    assert "ohne Vorgangsnummer" in page.text  # the erased one's ticket is not known to session
    asked = [r for r in web.services.seen if r.url.path == "/api/tickets"][-1]
    mailed_id = str(uuid.UUID(int=5))  # the fake's invoice e-mailed to the customer (two erasure steps)
    assert sorted(asked.url.params.get_list("request_id")) == sorted([pending_id, erased_id, mailed_id])
