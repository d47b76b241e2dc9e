"""The pages against fake services: form, field errors, technician flow, office, privacy, headers."""

from __future__ import annotations

import logging
import uuid

import pytest

from fw_web.domain.formatting import duration, local_time, money, percent, simple_markdown
from fw_web.domain.support_form import field_messages, intake_body, read_form
from fw_web.entrypoints.office import csv_cell, customers_csv

FORM = {"company": "Beispiel GmbH", "contact_name": "Erika Musterfrau", "phone": "030 1234567",
        "customer_type": "business", "terms_accepted": "on", "terms_version": "2026-01"}


def test_form_to_intake_body() -> None:
    form = read_form({**FORM, "email": " e@example.org ", "street": "Weg 1", "postal_code": "10115",
                      "city": "Berlin", "country": "de", "unknown": "x"})
    assert form.errors == {}
    body = intake_body(form, "2026-01")
    assert body == {"company": "Beispiel GmbH", "contact_name": "Erika Musterfrau", "phone": "030 1234567",
                    "customer_type": "business", "terms_accepted": True, "terms_version": "2026-01",
                    "withdrawal_waiver": False, "email": "e@example.org",
                    "address": {"street": "Weg 1", "postal_code": "10115", "city": "Berlin", "country": "DE"}}


def test_form_checks_before_asking_intake() -> None:
    form = read_form({"customer_type": "consumer", "street": "Weg 1"})
    assert set(form.errors) == {"company", "contact_name", "phone", "terms_accepted", "withdrawal_waiver",
                                "postal_code", "city"}
    ok = read_form({**FORM, "customer_type": "consumer", "withdrawal_waiver": "on"})
    assert ok.errors == {} and intake_body(ok, "v")["withdrawal_waiver"] is True


def test_intake_errors_land_beside_the_right_fields() -> None:
    msgs = field_messages([
        {"field": "phone", "code": "phone_invalid", "message_de": "Bitte geben Sie eine gültige Telefonnummer an."},
        {"field": "address.postal_code", "code": "postal_code_invalid", "message_de": "PLZ falsch."},
        {"field": "terms_version", "code": "terms_version_unknown", "message_de": "Neu laden."},
        {"field": "company", "code": "missing", "message_de": "Pflichtfeld fehlt."},
        {"field": "something.else", "code": "x"},
    ])
    assert msgs["phone"].startswith("Bitte geben Sie eine gültige Telefonnummer")
    assert msgs["postal_code"] == "PLZ falsch." and msgs["terms_accepted"] == "Neu laden."
    assert msgs["company"].startswith("Bitte geben Sie die Firma an") and msgs["form"]


def test_german_formatting() -> None:
    assert money("1234.5") == "1.234,50 €" and money("40.46") == "40,46 €" and money("x") == "–"
    assert duration(3725) == "1:02:05" and duration(None) == "–"
    assert percent("0.19") == "19 %"
    assert local_time("2026-07-01T10:00:00Z") == "01.07.2026, 12:00 Uhr"  # summer time
    assert local_time(None) == "–"
    html = str(simple_markdown("# T\n\nA <b>b</b>\nc\n\n- x\n- y"))
    assert html == "<h2>T</h2>\n<p>A &lt;b&gt;b&lt;/b&gt; c</p>\n<ul><li>x</li><li>y</li></ul>"


def test_csv_export_defuses_formulas() -> None:
    assert csv_cell("=SUM(A1)") == "'=SUM(A1)" and csv_cell("+4930") == "'+4930" and csv_cell(None) == ""
    text = customers_csv([{"customer_number": "K00001", "company": "Müller; Söhne", "address": {"city": "Köln"}}])
    assert text.splitlines()[0].startswith("Kundennummer;Firma") and '"Müller; Söhne"' in text and "Köln" in text


async def test_form_shows_versioned_terms_and_the_waiver(web) -> None:
    page = await web.client.get("/")
    assert page.status_code == 200
    html = page.text
    assert 'lang="de"' in html and 'name="terms_version" value="2026-01"' in html
    assert 'href="/nutzungsbedingungen/2026-01"' in html and "§ 356 Abs. 4 BGB" in html
    for name in ("company", "contact_name", "phone", "email", "street", "postal_code", "city"):
        assert f'<label for="f-{name}">' in html  # every input has its label
    terms = await web.client.get("/nutzungsbedingungen/2026-01")
    assert terms.status_code == 200 and "<h3>1. Gegenstand</h3>" in terms.text
    assert (await web.client.get("/nutzungsbedingungen/1999-01")).status_code == 404


async def test_sending_the_form_shows_the_ticket_large(web, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    resp = await web.post_form("/", "/", {**FORM, "email": "erika@example.org"})
    assert resp.status_code == 303 and resp.headers["location"] == "/danke"
    thanks = await web.client.get("/danke")
    assert 'class="ticket"' in thanks.text and "K7MQ-3XA" in thanks.text
    sent = web.services.created[0]
    assert sent["company"] == "Beispiel GmbH" and sent["terms_version"] == "2026-01"
    request = web.services.seen[-1]
    assert request.headers["x-forwarded-for"] == "127.0.0.1"
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    for secret in ("Beispiel", "Erika", "1234567", "erika@example.org"):
        assert secret not in logged


async def test_intake_field_errors_are_shown_beside_the_fields_in_german(web) -> None:
    web.services.intake_reply = (422, {"code": "invalid_input", "message_de": "Bitte prüfen Sie die markierten Felder.",
                                       "errors": [{"field": "phone", "code": "phone_invalid", "message_en": "x",
                                                   "message_de": "Bitte geben Sie eine gültige Telefonnummer an, z. B. 0170 1234567 oder +49 30 123456."}]})
    resp = await web.post_form("/", "/", {**FORM, "phone": "12"})
    assert resp.status_code == 422
    html = resp.text
    assert 'id="f-phone-error"' in html and "gültige Telefonnummer" in html
    assert 'aria-invalid="true"' in html and 'aria-describedby="f-phone-hint f-phone-error"' in html
    assert 'value="Beispiel GmbH"' in html  # what was typed stays in the form
    assert 'href="#f-phone"' in html  # the summary links to the field


async def test_missing_fields_are_caught_without_asking_intake(web) -> None:
    resp = await web.post_form("/", "/", {"customer_type": "consumer"})
    assert resp.status_code == 422 and web.services.created == []
    assert "Bitte bestätigen Sie die Nutzungsbedingungen." in resp.text
    assert "Widerrufsrecht mit vollständiger Erbringung" in resp.text and "waiver has-error show" in resp.text


async def test_intake_down_is_said_plainly(web) -> None:
    web.services.down.add("intake")
    page = await web.client.get("/")
    assert page.status_code == 503 and "nicht erreichbar" in page.text and "<form method=\"post\" action=\"/\"" not in page.text


async def test_avv_is_proxied_or_explained(web) -> None:
    resp = await web.client.get("/avv")
    assert resp.status_code == 404 and "noch nicht zum Herunterladen bereit" in resp.text
    web.services.avv = b"<html>AVV</html>"
    web.services.avv_requests = []
    await web.post_form("/", "/", FORM)  # this browser has a ticket now
    resp = await web.client.get("/avv?download=1")
    assert resp.status_code == 200 and resp.content == b"<html>AVV</html>"
    assert resp.headers["content-disposition"] == 'attachment; filename="avv-2026-01.html"'
    assert "script-src" not in resp.headers["content-security-policy"]  # default-src 'none': no scripts
    assert (await web.client.get("/avv")).headers["content-disposition"].startswith("inline")
    # One AVV request recorded per browser session, with the ticket only (no personal data).
    assert web.services.avv_requests[0]["channel"] == "web" and web.services.avv_requests[0]["ticket"] == "K7MQ-3XA"
    assert len(web.services.avv_requests) == 1


async def test_technician_flow(web) -> None:
    rid = str(uuid.uuid4())
    web.services.queue = [{"request_id": rid, "ticket": "AB12-CD3", "customer_type": "consumer",
                           "created_at": "2026-05-04T09:58:00Z", "waiting_seconds": 3,
                           "company": "Beispiel GmbH", "contact_name": "Erika", "phone": "+4930123456"}]
    await web.sign_in("technik")
    console = await web.client.get("/technik")
    assert "AB12-CD3" in console.text and 'data-poll="/technik/warteschlange"' in console.text
    frag = await web.client.get("/technik/warteschlange", headers={"X-FW-Fragment": "1"})
    assert frag.status_code == 200 and 'data-count="1"' in frag.text and "<html" not in frag.text
    started = await web.client.post("/technik/sitzungen", data={"request_id": rid, "ticket": "AB12-CD3",
                                                                "csrf_token": web.csrf_of(console.text)})
    assert started.status_code == 303
    page_url = started.headers["location"]
    sid = page_url.rsplit("/", 1)[1]
    assert web.services.sessions[sid]["technician"] == "technik"
    page = await web.client.get(page_url)
    assert 'data-timer-elapsed=' in page.text and "Die Sitzung läuft." in page.text and "AB12-CD3" in page.text
    token = web.csrf_of(page.text)
    empty = await web.client.post(f"{page_url}/erklaerung", data={"statement": " ", "csrf_token": token})
    assert "im Wortlaut" in (await web.client.get(empty.headers["location"])).text
    await web.client.post(f"{page_url}/erklaerung", data={"statement": "Ja, Stammkunde.", "csrf_token": token})
    assert web.services.sessions[sid]["promoted"] is True
    await web.client.post(f"{page_url}/beenden", data={"csrf_token": token})
    ended = await web.client.get(page_url)
    assert "beendet" in ended.text and "Die Rechnung wird erstellt" in ended.text and "data-poll=" in ended.text
    web.services.invoices["FW-2026-000002"] = {**web.services.invoices["FW-2026-000001"], "number": "FW-2026-000002",
                                               "session_id": sid}
    frag = await web.client.get(f"{page_url}/abrechnung", headers={"X-FW-Fragment": "1"})
    assert "FW-2026-000002" in frag.text and "data-poll-done" in frag.text and "40,46 €" in frag.text


async def test_start_refused_by_session_shows_its_message(web) -> None:
    await web.sign_in("technik")
    page = await web.client.get("/technik")
    resp = await web.client.post("/technik/sitzungen", data={"request_id": "not-a-uuid", "csrf_token": web.csrf_of(page.text)})
    assert resp.status_code == 422 and "ungültig" in resp.text
    assert (await web.client.get(f"/technik/sitzungen/{uuid.uuid4()}")).status_code == 404


async def test_office_invoice_pdf_customers_and_export(web) -> None:
    await web.sign_in("buero")
    overview = await web.client.get("/buero")
    assert overview.status_code == 200 and "keine Rechnungsliste" not in overview.text
    assert 'href="/buero/rechnungen/FW-2026-000001"' in overview.text
    search = await web.client.get("/buero?nummer=fw-2026-000001")
    assert search.status_code == 303 and search.headers["location"] == "/buero/rechnungen/FW-2026-000001"
    inv = await web.client.get("/buero/rechnungen/FW-2026-000001")
    assert "40,46 €" in inv.text and "Kleinbetragsrechnung" in inv.text and "/buero/rechnungen/FW-2026-000001/pdf" in inv.text
    # The page title is just the title; the Storno form appears once, in the page body.
    title = inv.text.split("<title>", 1)[1].split("</title>", 1)[0]
    assert "<form" not in title and "FW-2026-000001" in title
    assert inv.text.count('id="storno-title"') == 1
    pdf = await web.client.get("/buero/rechnungen/FW-2026-000001/pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert pdf.headers["content-disposition"] == 'attachment; filename="FW-2026-000001.pdf"'
    web.services.pdf = None
    missing = await web.client.get("/buero/rechnungen/FW-2026-000001/pdf")
    assert missing.status_code == 404 and "keine PDF-Datei" in missing.text
    assert (await web.client.get("/buero/rechnungen/FW-2099-999999")).status_code == 404
    customers = await web.client.get("/buero/kunden")
    assert "K00001" in customers.text
    export = await web.client.get("/buero/kunden.csv")
    assert export.headers["content-type"].startswith("text/csv") and "'=Beispiel GmbH" in export.content.decode("utf-8-sig")
    deliveries = await web.client.get("/buero/zustellungen")
    assert deliveries.status_code == 200 and "(noch) keine Zustellungen" in deliveries.text


async def test_privacy_page_shows_ids_and_deadlines_only(web, tmp_path) -> None:
    (tmp_path / "art30.html").write_text("<html><body><h1>Verzeichnis</h1></body></html>")
    client = await web.make_client(privacy_docs_dir=tmp_path)
    await web.sign_in("datenschutz", client=client)
    page = await client.get("/datenschutz")
    assert page.status_code == 200
    # without a ticket code from session: the start of the id (issue 18: ticket codes, not UUIDs)
    assert str(uuid.UUID(int=3))[:8] in page.text and "15.05.2026" in page.text  # pending with deadline
    assert str(uuid.UUID(int=4))[:8] in page.text and "Rechnung erstellt" in page.text
    # the two steps of an invoice e-mailed to the customer, in words
    assert "alle Daten bis auf die E-Mail-Adresse für die Rechnung" in page.text
    assert "Rechnung zugestellt" in page.text and "E-Mail-Adresse spätestens gelöscht am 18.05.2026" in page.text
    assert 'href="/datenschutz/verzeichnis/art30.html"' in page.text and "keine Liste der AVV-Anfragen" in page.text
    doc = await client.get("/datenschutz/verzeichnis/art30.html")
    assert doc.status_code == 200 and "Verzeichnis" in doc.text and "script-src" not in doc.headers["content-security-policy"]
    assert (await client.get("/datenschutz/verzeichnis/..%2Fsecret.html")).status_code == 404


async def test_security_headers_health_and_readiness(web) -> None:
    page = await web.client.get("/")
    for header in ("content-security-policy", "x-content-type-options", "x-frame-options", "referrer-policy"):
        assert header in page.headers
    assert "script-src 'self'" in page.headers["content-security-policy"]
    css = await web.client.get("/static/app.css")
    assert css.status_code == 200 and "max-age" in css.headers["cache-control"]
    assert (await web.client.get("/healthz")).json()["status"] == "ok"
    ready = await web.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == dict.fromkeys(("intake", "session", "billing", "retention"), True)
    web.services.down.add("billing")
    ready = await web.client.get("/readyz")
    assert ready.status_code == 503 and ready.json()["checks"]["billing"] is False
    missing = await web.client.get("/gibt-es-nicht")
    assert missing.status_code == 404 and "Seite nicht gefunden" in missing.text


def test_error_summary_follows_the_page_order() -> None:
    from fw_web.domain.support_form import in_page_order

    assert [n for n, _ in in_page_order({"terms_accepted": "a", "form": "b", "phone": "c", "street": "d"})] == [
        "phone", "street", "terms_accepted", "form"]


async def test_office_cancellation_deliveries_and_export(web) -> None:
    web.services.deliveries = [{"id": 3, "document_number": "FW-2026-000001", "status": "failed", "attempts": 0,
                                "last_error_type": "SmtpDisabled", "problem_de": "SMTP ist nicht eingerichtet",
                                "created_at": "2026-05-04T10:00:00Z", "last_attempt_at": None,
                                "next_attempt_at": None, "sent_at": None, "retryable": True,
                                "can_mark_delivered": True},
                               {"id": 4, "document_number": "FW-2026-000002", "status": "failed", "attempts": 1,
                                "last_error_type": "MailboxUnknown", "problem_de": "Postfach existiert nicht",
                                "created_at": "2026-05-04T10:00:00Z", "last_attempt_at": "2026-05-04T10:05:00Z",
                                "next_attempt_at": None, "sent_at": None, "retryable": False,
                                "can_mark_delivered": True},
                               {"id": 5, "document_number": "FW-2026-000003", "status": "pending", "attempts": 4,
                                "last_error_type": "ServerUnreachable", "problem_de": "Server nicht erreichbar",
                                "created_at": "2026-05-04T10:00:00Z", "last_attempt_at": "2026-05-04T10:05:00Z",
                                "next_attempt_at": "2026-05-04T10:06:00Z", "sent_at": None, "retryable": False,
                                "can_mark_delivered": True},
                               {"id": 6, "document_number": "FW-2026-000004", "status": "pending", "attempts": 0,
                                "last_error_type": None, "problem_de": None, "created_at": "2026-05-04T10:00:00Z",
                                "last_attempt_at": None, "next_attempt_at": "2026-05-04T10:00:00Z", "sent_at": None,
                                "retryable": False, "can_mark_delivered": True}]
    await web.sign_in("buero")
    page = await web.client.get("/buero/rechnungen/FW-2026-000001")
    token = web.csrf_of(page.text)
    assert "Stornieren" in page.text
    unconfirmed = await web.client.post("/buero/rechnungen/FW-2026-000001/stornieren",
                                        data={"reason_code": "duplicate", "csrf_token": token})
    assert unconfirmed.status_code == 303 and web.services.cancelled == {}
    done = await web.client.post("/buero/rechnungen/FW-2026-000001/stornieren",
                                 data={"reason_code": "duplicate", "confirmed": "on", "csrf_token": token})
    assert done.headers["location"] == "/buero/stornos/FW-S-2026-000001"
    # billing keeps who cancelled: the signed-in office user's id, shown on the invoice and in the list
    assert web.services.cancelled_by_user == {"FW-2026-000001": "buero"}
    assert 'id="cancelled-by-user">buero<' in (await web.client.get("/buero/rechnungen/FW-2026-000001")).text
    assert 'data-actor="cancelled">(Storno von buero)<' in (await web.client.get("/buero")).text
    assert "Storniert von buero." in (await web.client.get("/buero/druck/rechnungen/FW-2026-000001")).text
    storno = await web.client.get(done.headers["location"])
    assert "FW-S-2026-000001" in storno.text and "Doppelt ausgestellt" in storno.text and "-40,46 €" in storno.text
    again = await web.client.post("/buero/rechnungen/FW-2026-000001/stornieren",
                                  data={"reason_code": "duplicate", "confirmed": "on", "csrf_token": token})
    assert "bereits storniert" in (await web.client.get(again.headers["location"])).text
    search = await web.client.get("/buero/rechnungen/FW-S-2026-000001")  # a Storno number searched
    assert search.status_code == 303 and search.headers["location"] == "/buero/stornos/FW-S-2026-000001"

    deliveries = await web.client.get("/buero/zustellungen")
    text = deliveries.text
    # the office's language, never a code; a delivery just queued without a problem is not listed
    for german in ("SMTP ist nicht eingerichtet", "Postfach existiert nicht", "Server nicht erreichbar"):
        assert german in text
    assert "SmtpDisabled" not in text and "MailboxUnknown" not in text and "FW-2026-000004" not in text
    assert text.count("Erneut senden") == 1 and text.count("Als zugestellt markieren") == 3
    assert "Adresse bereits gelöscht" not in text
    await web.client.post("/buero/zustellungen/3/wiederholen", data={"csrf_token": token})
    assert web.services.retried == [3]
    marked = await web.client.post("/buero/zustellungen/4/zugestellt", data={"csrf_token": token})
    assert marked.status_code == 303 and web.services.marked == [4]
    assert "Als zugestellt vermerkt" in (await web.client.get(marked.headers["location"])).text

    export = await web.client.get("/buero/export/rechnungen.csv?von=2026-05-01&bis=2026-05-31")
    assert export.status_code == 200 and export.headers["content-disposition"].endswith('rechnungen_20260501_20260531.csv"')
    backwards = await web.client.get("/buero/export/rechnungen.csv?von=2026-05-31&bis=2026-05-01")
    assert backwards.status_code == 422


async def test_privacy_records_avv_requests(web) -> None:
    web.services.avv_requests = []
    await web.sign_in("datenschutz")
    page = await web.client.get("/datenschutz")
    token = web.csrf_of(page.text)
    assert "Keine AVV-Anfragen." in page.text
    await web.client.post("/datenschutz/avv-anfragen", data={"channel": "phone", "ticket": "k7mq-3xa", "csrf_token": token})
    assert web.services.avv_requests[0]["ticket"] == "K7MQ-3XA" and web.services.avv_requests[0]["channel"] == "phone"
    bad = await web.client.post("/datenschutz/avv-anfragen", data={"channel": "phone", "ticket": "xx", "csrf_token": token})
    assert "erwartete Format" in (await web.client.get(bad.headers["location"])).text
    page = await web.client.get("/datenschutz")
    assert "Telefon" in page.text and "K7MQ-3XA" in page.text


async def _ended_session(web) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """A session started and ended through the console; returns (page url, session id)."""
    rid = str(uuid.uuid4())
    web.services.queue = [{"request_id": rid, "ticket": "AB12-CD3", "customer_type": "business",
                           "created_at": "2026-05-04T09:58:00Z", "waiting_seconds": 60,
                           "company": "Beispiel GmbH", "contact_name": "Erika Musterfrau", "phone": "030 1"}]
    await web.sign_in("technik")
    console = await web.client.get("/technik")
    started = await web.client.post("/technik/sitzungen", data={"request_id": rid, "ticket": "AB12-CD3",
                                                                "csrf_token": web.csrf_of(console.text)})
    page_url = started.headers["location"]
    page = await web.client.get(page_url)
    await web.client.post(f"{page_url}/beenden", data={"csrf_token": web.csrf_of(page.text)})
    return page_url, page_url.rsplit("/", 1)[1]


async def test_blocked_billing_shows_when_the_data_are_erased_and_then_the_lost_claim(web) -> None:  # type: ignore[no-untyped-def]
    page_url, sid = await _ended_session(web)
    rid = web.services.sessions[sid]["request_id"]
    web.services.billing_sessions[sid] = {"session_id": sid, "request_id": rid, "status": "blocked",
                                          "raw_seconds": 9000, "tariff_version": "2026-01", "decided_at": None,
                                          "invoice_number": None}
    web.services.request_status[rid] = {"request_id": rid, "state": "stored", "stored_at": "2026-05-04T09:58:00Z",
                                        "billing_blocked_at": "2026-05-04T10:00:05Z",
                                        "erase_by": "2026-08-02T10:00:05Z"}
    frag = await web.client.get(f"{page_url}/abrechnung", headers={"X-FW-Fragment": "1"})
    assert "Die Rechnung ist angehalten" in frag.text
    assert "Daten werden gelöscht am 02.08.2026, 12:00 Uhr" in frag.text  # Berlin summer time
    # the hold ended: billing closed the session as not billed, retention erased the data
    web.services.billing_sessions[sid].update(status="not_billed", decided_at="2026-08-02T10:01:00Z")
    web.services.request_status[rid] = {"request_id": rid, "state": "erased", "erased_at": "2026-08-02T10:00:40Z",
                                        "reason": "abandoned", "billing_blocked_at": "2026-05-04T10:00:05Z"}
    page = await web.client.get(page_url)
    assert 'id="lost-claim"' in page.text and "02.08.2026" in page.text
    assert "keine Rechnung mehr gestellt" in page.text and "Mindestdauer" not in page.text
    # a short session not billed is what it was before (retention held nothing for it)
    web.services.request_status[rid] = {"request_id": rid, "state": "erased", "erased_at": "2026-05-04T10:00:40Z",
                                        "reason": "not_billed"}
    frag = await web.client.get(f"{page_url}/abrechnung", headers={"X-FW-Fragment": "1"})
    assert "Mindestdauer" in frag.text and "lost-claim" not in frag.text
    # retention unreachable: the block is shown without a date, not as an error page
    web.services.billing_sessions[sid]["status"] = "blocked"
    web.services.down.add("retention")
    frag = await web.client.get(f"{page_url}/abrechnung", headers={"X-FW-Fragment": "1"})
    assert frag.status_code == 200 and "angehalten" in frag.text and "gelöscht am" not in frag.text


async def test_privacy_page_marks_requests_held_for_billing(web, tmp_path) -> None:  # type: ignore[no-untyped-def]
    web.services.pending = [{"request_id": str(uuid.UUID(int=5)), "stored_at": "2026-05-01T10:00:00Z",
                             "deadline": "2026-07-30T10:00:00Z", "billing_blocked_at": "2026-05-01T11:00:00Z"},
                            {"request_id": str(uuid.UUID(int=6)), "stored_at": "2026-05-02T10:00:00Z",
                             "deadline": "2026-05-16T10:00:00Z", "billing_blocked_at": None}]
    client = await web.make_client(privacy_docs_dir=tmp_path)
    await web.sign_in("datenschutz", client=client)
    page = await client.get("/datenschutz")
    assert page.text.count("Abrechnungsfrist: die Rechnung wartet seit") == 1
    assert "30.07.2026" in page.text and "16.05.2026" in page.text
