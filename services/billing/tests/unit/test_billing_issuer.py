"""Issuer data from configuration: validated at start, example data marked as such."""

from __future__ import annotations

from typing import Any

import pytest

from fw_billing.domain.invoicing import check_series_distinct, number_regex
from fw_billing.domain.issuer import EXAMPLE_ISSUER, Issuer, iban_valid
from fw_billing.settings import Settings

KEY = "a2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2s="
OWN = {"issuer_name": "Fernwartung Schmidt GmbH", "issuer_street": "Am Markt 3",
       "issuer_postal_code": "04109", "issuer_city": "Leipzig", "issuer_tax_number": "231/123/45678",
       "issuer_vat_id": "DE811907980", "issuer_register": "", "issuer_iban": "DE89 3704 0044 0532 0130 00",
       "issuer_bic": "COBADEFFXXX", "issuer_email": "rechnung@schmidt.example", "issuer_phone": ""}


def settings(**values: Any) -> Settings:
    return Settings(archive_key=KEY, **values)  # type: ignore[arg-type]


def test_defaults_are_example_data_and_say_so() -> None:
    issuer = settings().issuer()
    assert issuer.example and "Beispiel" in issuer.name and issuer == EXAMPLE_ISSUER
    assert issuer.can_issue_e_invoices


def test_own_issuer_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FW_BILLING_ARCHIVE_KEY", KEY)
    for name, value in OWN.items():
        monkeypatch.setenv(f"FW_BILLING_{name.upper()}", value)
    issuer = Settings().issuer()  # type: ignore[call-arg]
    assert not issuer.example
    assert (issuer.name, issuer.address_line) == ("Fernwartung Schmidt GmbH", "Am Markt 3, 04109 Leipzig")
    assert issuer.iban == "DE89370400440532013000" and issuer.trade_register is None and issuer.phone is None
    assert issuer.vat_id == "DE811907980" and issuer.tax_number == "231/123/45678"


def test_one_tax_id_is_required_and_the_iban_is_checked() -> None:
    with pytest.raises(ValueError, match="tax number or a VAT id"):
        settings(**{**OWN, "issuer_tax_number": "", "issuer_vat_id": ""})
    with pytest.raises(ValueError, match="IBAN"):
        settings(**{**OWN, "issuer_iban": "DE89370400440532013001"})
    only_tax_number = settings(**{**OWN, "issuer_vat_id": ""}).issuer()
    # EN 16931 BR-CO-26 is met by the seller identifier BT-29: the tax number, or a configured id.
    assert only_tax_number.can_issue_e_invoices and only_tax_number.seller_identifier == "231/123/45678"
    with_id = settings(**{**OWN, "issuer_vat_id": "", "issuer_seller_id": "4000001000005"}).issuer()
    assert with_id.seller_identifier == "4000001000005"
    assert iban_valid("DE02120300000000202051") and not iban_valid("DE02120300000000202052")


def test_archive_key_is_required_and_never_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FW_BILLING_ARCHIVE_KEY", raising=False)
    with pytest.raises(ValueError, match="archive_key") as missing:
        Settings()  # type: ignore[call-arg]
    assert "archive_key" in str(missing.value)
    with pytest.raises(ValueError, match="32 bytes") as short:
        Settings(archive_key="c2VjcmV0LXNob3J0")  # type: ignore[arg-type]
    assert "c2VjcmV0LXNob3J0" not in str(short.value) and "32 bytes" in str(short.value)


def test_cancellation_series_is_separate_and_may_not_overlap() -> None:
    s = settings()
    assert s.cancellation_number_format == "FW-S-{year}-{seq:06d}"
    assert number_regex("FW-S-{year}-{seq:06d}").match("FW-S-2026-000001")
    assert not number_regex("FW-{year}-{seq:06d}").match("FW-S-2026-000001")
    with pytest.raises(ValueError, match="overlap"):
        check_series_distinct("FW-{year}-{seq:06d}", "FW-{year}-{seq:06d}")
    with pytest.raises(ValueError, match="number formats overlap"):
        settings(cancellation_number_format="FW-{year}-{seq:07d}")
    check_series_distinct("RE-{year}-{seq:05d}", "ST-{year}-{seq:05d}")


def test_issuer_model_refuses_bad_formats() -> None:
    base = EXAMPLE_ISSUER.model_dump()
    for field, bad in (("vat_id", "123"), ("tax_number", "abc"), ("bic", "XX"), ("email", "nope")):
        with pytest.raises(ValueError, match=field):
            Issuer(**{**base, field: bad})


def test_e_mail_with_the_example_issuer_is_refused_at_start_with_a_clear_message() -> None:
    """Customers must not receive documents from "Beispiel …" (README, 'Issuer' and 'E-mail delivery')."""
    with pytest.raises(ValueError, match="issuer is still the shipped example data") as refused:
        settings(smtp_host="mail.example.org")
    message = str(refused.value)
    assert "issuer is still the shipped example data" in message and "FW_BILLING_ISSUER_NAME" in message
    assert "FW_BILLING_ALLOW_EXAMPLE_ISSUER" in message
    assert settings(smtp_host="mail.example.org", **OWN).smtp_enabled  # the office's own issuer: fine
    assert settings(smtp_host="mail.example.org", allow_example_issuer=True).issuer().example  # a test system
    assert settings().issuer().example  # no e-mail: the example data only mark the documents
    with pytest.raises(ValueError, match="SMTP_USER is set without"):
        settings(smtp_host="mail.example.org", smtp_user="rechnung", **OWN)
