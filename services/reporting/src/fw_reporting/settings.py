"""Reporting's settings: environment variables ``FW_REPORTING_*``."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from fw_platform.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="FW_REPORTING_", extra="ignore", frozen=True)

    #: 0 lets the OS choose (tests).
    http_port: int = Field(default=8085, ge=0, le=65535)
    #: Months are the office's calendar months: an invoice issued at 00:30 local time on the
    #: 1st belongs to the new month although it is still the old one in UTC.
    report_timezone: str = "Europe/Berlin"

    @field_validator("report_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("unknown time zone") from None
        return value
