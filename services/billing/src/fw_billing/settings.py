"""Billing's settings: environment variables ``FW_BILLING_*``."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from fw_billing.domain.datev import Chart, DatevConfig
from fw_billing.domain.invoicing import (
    DEFAULT_CANCELLATION_FORMAT,
    DEFAULT_NUMBER_FORMAT,
    check_number_format,
    check_series_distinct,
)
from fw_billing.domain.issuer import EXAMPLE_ISSUER, Issuer
from fw_platform.keys import decode_key
from fw_platform.settings import ServiceSettings

_EX = EXAMPLE_ISSUER


class Settings(ServiceSettings):
    """Read only in bootstrap/main and tests."""

    # hide_input_in_errors: a refused key or password must not be printed.
    model_config = SettingsConfigDict(env_prefix="FW_BILLING_", extra="ignore", frozen=True,
                                      hide_input_in_errors=True)

    http_port: int = Field(default=8083, ge=0, le=65535)
    #: The tariff for newly ended sessions; empty = the newest version known.
    tariff_version: str | None = None
    #: Extra tariff files (``<version>.toml``) besides those shipped in the package.
    tariff_dir: Path | None = None
    #: ``{year}`` (office-local calendar year of issue) and ``{seq}`` (per year, from 1).
    invoice_number_format: str = DEFAULT_NUMBER_FORMAT
    #: The separate number series of cancellations (Storno).
    cancellation_number_format: str = DEFAULT_CANCELLATION_FORMAT
    vault_timeout: float = Field(default=3.0, gt=0, le=60)

    # ---------------------------------------------------------------- issuer (on every invoice)
    # The defaults are example data, marked "Beispiel"; every document says so while they are used.
    issuer_name: str = _EX.name
    issuer_street: str = _EX.street
    issuer_postal_code: str = _EX.postal_code
    issuer_city: str = _EX.city
    issuer_country: str = _EX.country
    issuer_tax_number: str | None = _EX.tax_number
    issuer_vat_id: str | None = _EX.vat_id
    issuer_register: str | None = _EX.trade_register
    issuer_iban: str = _EX.iban
    issuer_bic: str | None = _EX.bic
    issuer_bank: str | None = _EX.bank
    issuer_email: str = _EX.email
    issuer_phone: str | None = _EX.phone
    #: Seller contact of e-invoices (BG-6 name; phone and e-mail are the two above).
    issuer_contact_name: str | None = None
    #: Seller identifier (BT-29) for an issuer without VAT id (e.g. a GLN); default: tax number.
    issuer_seller_id: str | None = None
    issuer_vat_exemption_note: str = _EX.vat_exemption_note
    payment_days: int = Field(default=14, ge=0, le=365)

    # ---------------------------------------------------------------- DATEV export (LEGAL.md L20)
    #: Beraternummer and Mandantennummer: both set, or no DATEV export (409 datev_not_configured).
    datev_consultant_number: int | None = None
    datev_client_number: int | None = None
    datev_chart: Literal["SKR03", "SKR04"] = "SKR03"
    datev_fiscal_year_start_month: int = Field(default=1, ge=1, le=12)
    datev_account_length: int = Field(default=4, ge=4, le=8)
    #: The debtor (Personenkonto) invoices are booked against (Sachkontenlänge + 1 digits).
    datev_debtor_account: int = 10000
    #: Revenue accounts; empty: the chart's usual ones (SKR03 8400/8336/8338/8195, SKR04 4400/4336/4338/4185).
    datev_revenue_account: int | None = None
    datev_reverse_charge_account: int | None = None
    datev_not_taxable_account: int | None = None
    datev_small_business_account: int | None = None
    datev_encoding: Literal["windows-1252", "utf-8"] = "windows-1252"

    # ---------------------------------------------------------------- archive (§14b UStG, §147 AO)
    #: Base64 of 32 random bytes; wraps the per-year archive keys. Required, no default.
    archive_key: SecretStr
    #: Years whose archive must not be destroyed yet although 8 years have passed
    #: (tax assessment still open, §147 Abs. 3 S. 5 AO), e.g. ``[2026, 2027]``.
    archive_hold_years: frozenset[int] = frozenset()
    #: How often the destruction of expired archive years is checked (seconds).
    archive_check_interval_s: float = Field(default=6 * 3600, gt=0)

    # ---------------------------------------------------------------- e-mail delivery
    #: Empty host: e-mail delivery is off (deliveries are recorded as failed: "SmtpDisabled").
    smtp_host: str = ""
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = True
    smtp_timeout: float = Field(default=20.0, gt=0, le=300)
    #: Sender address; empty: the issuer's e-mail.
    smtp_from: str | None = None
    #: E-mail delivery with the shipped example issuer is refused at start (customers would get
    #: documents marked BEISPIELDATEN from "Beispiel …"); true only on a test system.
    allow_example_issuer: bool = False
    #: Attempts before a delivery is given up (a server that is away is retried with back-off
    #: for ``delivery_retry_days`` at most; a refused mailbox is given up at once).
    delivery_max_attempts: int = Field(default=400, ge=1, le=10_000)
    #: Retry window after the invoice; match retention's delivery hold
    #: (``FW_RETENTION_DELIVERY_HOLD_DAYS``): the address is erased when it ends anyway.
    delivery_retry_days: float = Field(default=14, gt=0)
    #: The same window in seconds; overrides ``delivery_retry_days`` when set (tests, demos).
    delivery_retry_s: float | None = Field(default=None, gt=0)
    delivery_backoff_s: float = Field(default=30.0, gt=0)
    delivery_backoff_cap_s: float = Field(default=3600.0, gt=0)
    delivery_poll_s: float = Field(default=5.0, gt=0)
    #: The customer's download code opens the request's documents until this long after the latest
    #: of them (issue 21; the code is given once at intake, only its hash is kept).
    download_ttl_days: float = Field(default=30, gt=0)
    #: The same period in seconds; overrides ``download_ttl_days`` when set (tests, demos).
    download_ttl_s: float | None = Field(default=None, gt=0)
    #: Address copies of older delivery rows are kept this long after a final failure.
    delivery_failed_keep_days: float = Field(default=30.0, ge=0)
    #: A technician's work note of a session that never reached billing (never ended) is deleted
    #: by the housekeeping when it is this old (a session lasts hours, not weeks).
    work_note_orphan_days: float = Field(default=30.0, gt=0)

    @field_validator("tariff_version", "smtp_user", "smtp_from", "datev_consultant_number",
                     "datev_client_number", "datev_revenue_account", "datev_reverse_charge_account",
                     "datev_not_taxable_account", "datev_small_business_account", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("invoice_number_format", "cancellation_number_format")
    @classmethod
    def _number_format(cls, value: str) -> str:
        return check_number_format(value)

    @field_validator("archive_key")
    @classmethod
    def _valid_key(cls, value: SecretStr) -> SecretStr:
        decode_key(value.get_secret_value(), name="archive_key")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        check_series_distinct(self.invoice_number_format, self.cancellation_number_format)
        issuer = self.issuer()  # refuse an incomplete issuer at start, not at the first invoice
        self.datev()  # and DATEV numbers or accounts that cannot be right
        if self.smtp_enabled and issuer.example and not self.allow_example_issuer:
            raise ValueError(
                "e-mail delivery is set up (FW_BILLING_SMTP_HOST) but the issuer is still the shipped "
                "example data: customers would receive documents marked BEISPIELDATEN from "
                f"{issuer.name!r}. Set FW_BILLING_ISSUER_NAME, _STREET, _POSTAL_CODE, _CITY, _TAX_NUMBER "
                "or _VAT_ID, _IBAN and _EMAIL (README of billing, 'Issuer'), or "
                "FW_BILLING_ALLOW_EXAMPLE_ISSUER=true on a test system")
        if self.smtp_enabled and self.smtp_user and self.smtp_password is None:
            raise ValueError("FW_BILLING_SMTP_USER is set without FW_BILLING_SMTP_PASSWORD")
        return self

    def datev(self) -> DatevConfig | None:
        """The DATEV export's configuration, ``None`` without Berater-/Mandantennummer."""
        if self.datev_consultant_number is None or self.datev_client_number is None:
            if (self.datev_consultant_number, self.datev_client_number) != (None, None):
                raise ValueError("DATEV needs both the Beraternummer and the Mandantennummer")
            return None
        return DatevConfig(
            consultant_number=self.datev_consultant_number, client_number=self.datev_client_number,
            chart=Chart.SKR03 if self.datev_chart == "SKR03" else Chart.SKR04,
            fiscal_year_start_month=self.datev_fiscal_year_start_month,
            account_length=self.datev_account_length, debtor_account=self.datev_debtor_account,
            revenue_account=self.datev_revenue_account,
            reverse_charge_account=self.datev_reverse_charge_account,
            not_taxable_account=self.datev_not_taxable_account,
            small_business_account=self.datev_small_business_account, encoding=self.datev_encoding)

    def archive_key_bytes(self) -> bytes:
        return decode_key(self.archive_key.get_secret_value(), name="archive_key")

    def issuer(self) -> Issuer:
        """The issuer printed on every invoice (validated)."""
        values: dict[str, Any] = {
            "name": self.issuer_name, "street": self.issuer_street,
            "postal_code": self.issuer_postal_code, "city": self.issuer_city,
            "country": self.issuer_country, "tax_number": self.issuer_tax_number,
            "vat_id": self.issuer_vat_id, "trade_register": self.issuer_register,
            "iban": self.issuer_iban, "bic": self.issuer_bic, "bank": self.issuer_bank,
            "email": self.issuer_email, "phone": self.issuer_phone,
            "contact_name": self.issuer_contact_name, "seller_id": self.issuer_seller_id,
            "vat_exemption_note": self.issuer_vat_exemption_note, "payment_days": self.payment_days,
        }
        # Any example value left in place marks the documents as example documents.
        example = any(getattr(_EX, k) == v for k, v in values.items()
                      if k in ("name", "street", "tax_number", "vat_id", "iban", "email"))
        try:
            return Issuer(**values, example=example)
        except ValidationError as exc:
            fields = ", ".join(f"{'.'.join(str(p) for p in e['loc']) or 'issuer'}: {e['msg']}"
                               for e in exc.errors())
            raise ValueError(f"issuer settings invalid: {fields}") from None

    @property
    def download_ttl(self) -> timedelta:
        if self.download_ttl_s is not None:
            return timedelta(seconds=self.download_ttl_s)
        return timedelta(days=self.download_ttl_days)

    @property
    def delivery_retry_window(self) -> timedelta:
        if self.delivery_retry_s is not None:
            return timedelta(seconds=self.delivery_retry_s)
        return timedelta(days=self.delivery_retry_days)

    @property
    def smtp_enabled(self) -> bool:
        return bool(self.smtp_host.strip())
