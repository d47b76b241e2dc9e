"""Text defects of the pages, each with a check that failed on the old behaviour."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from fw_web.domain.formatting import phone, simple_markdown, waiting
from fw_web.domain.support_form import read_form

FORM = {"company": "Beispiel GmbH", "contact_name": "Erika Musterfrau", "phone": "030 1234567",
        "customer_type": "business", "terms_accepted": "on", "terms_version": "2026-01"}


def test_bold_in_the_terms_is_bold_not_asterisks() -> None:
    html = str(simple_markdown("**Sofortiger Beginn (§ 356 Abs. 4 BGB):** Wir beginnen.\n\n- **a** <b>"))
    assert "**" not in html
    assert "<p><strong>Sofortiger Beginn (§ 356 Abs. 4 BGB):</strong> Wir beginnen.</p>" in html
    assert "<li><strong>a</strong> &lt;b&gt;</li>" in html
    assert str(simple_markdown("**<script>**")) == "<p><strong>&lt;script&gt;</strong></p>"


def test_phone_numbers_are_spaced_for_reading() -> None:
    assert phone("+491705551234") == "+49 170 5551234"
    assert phone("+4930123456") == "+49 30 123456"
    assert phone("unbekannt") == "unbekannt" and phone(None) == ""


def test_waiting_is_a_duration_not_a_clock_time() -> None:
    now = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
    assert waiting("2026-05-04T11:48:00Z", now) == "12 Min."
    assert waiting("2026-05-04T10:55:00Z", now) == "1 Std. 5 Min."
    assert waiting("2026-05-02T11:00:00Z", now) == "2 Tage"
    assert waiting(20, now) == "weniger als 1 Min." and waiting(7200) == "2 Std." and waiting(None) == "–"


def test_every_field_error_is_reported_at_once() -> None:
    # before: an incomplete address stopped the check, the bad phone came only in the next round
    form = read_form({**FORM, "phone": "123", "email": "nicht-mail", "street": "Weg 1", "postal_code": "1011"})
    assert set(form.errors) == {"phone", "email", "postal_code", "city"}
    assert form.errors["phone"].startswith("Bitte geben Sie eine gültige Telefonnummer")
    assert form.errors["postal_code"] == "Bitte geben Sie eine gültige Postleitzahl an."
    assert read_form({**FORM, "street": "Weg 1", "postal_code": "10115", "city": "Berlin", "country": "XX"}).errors \
        == {"country": "Bitte geben Sie das Land als zweistelligen Code an, z. B. DE."}


async def test_the_form_page_shows_all_errors_without_asking_intake(web) -> None:
    page = await web.client.get("/")
    token = web.csrf_of(page.text)
    resp = await web.client.post("/", data={**FORM, "phone": "123", "street": "Weg 1", "csrf_token": token})
    assert resp.status_code == 422 and web.services.created == []
    for field in ("f-phone-error", "f-postal_code-error", "f-city-error"):
        assert f'id="{field}"' in resp.text, field


async def test_customer_count_is_german_plural(web) -> None:
    await web.sign_in("buero")
    one = await web.client.get("/buero/kunden")
    assert "1 Konto<" in one.text
    web.services.customers["K00002"] = {**web.services.customers["K00001"], "customer_number": "K00002"}
    two = await web.client.get("/buero/kunden")
    assert "2 Konten" in two.text and "Kontoen" not in two.text
    assert "+49 30 123456" in two.text  # spaced


async def test_queue_says_how_long_a_request_waits_and_spaces_the_phone(web) -> None:
    web.services.queue = [{"request_id": str(uuid.uuid4()), "ticket": "AB12-CD3", "customer_type": "business",
                           "created_at": "2026-05-04T09:58:00Z", "waiting_seconds": 754,
                           "company": "Beispiel GmbH", "contact_name": "Erika Musterfrau", "phone": "+491705551234"}]
    await web.sign_in("technik")
    page = await web.client.get("/technik")
    assert "12 Min." in page.text and "Wartet seit" not in page.text
    assert 'href="tel:+491705551234">+49 170 5551234<' in page.text
