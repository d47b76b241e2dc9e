"""Billing's settings: environment variables ``FW_BILLING_*``."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from fw_platform.settings import ServiceSettings

from fw_billing.domain.invoicing import DEFAULT_NUMBER_FORMAT, check_number_format


class Settings(ServiceSettings):
    """Read only in bootstrap/main and tests."""

    model_config = SettingsConfigDict(env_prefix="FW_BILLING_", extra="ignore", frozen=True)

    http_port: int = Field(default=8083, ge=0, le=65535)
    #: The tariff for newly ended sessions; empty = the newest version known.
    tariff_version: str | None = None
    #: Extra tariff files (``<version>.toml``) besides those shipped in the package.
    tariff_dir: Path | None = None
    #: ``{year}`` (office-local calendar year of issue) and ``{seq}`` (per year, from 1).
    invoice_number_format: str = DEFAULT_NUMBER_FORMAT
    vault_timeout: float = Field(default=3.0, gt=0, le=60)

    @field_validator("tariff_version", mode="before")
    @classmethod
    def _empty_is_newest(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("invoice_number_format")
    @classmethod
    def _number_format(cls, value: str) -> str:
        return check_number_format(value)
