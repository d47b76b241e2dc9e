"""Intake's settings: environment variables ``FW_INTAKE_*``."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from fw_platform.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="FW_INTAKE_", extra="ignore", frozen=True)

    #: 0 lets the OS choose (tests).
    http_port: int = Field(default=8081, ge=0, le=65535)
    #: Requests per minute and client address on ``POST /api/support-requests``.
    rate_limit_per_minute: int = Field(default=30, ge=1, le=100_000)
    #: Seconds to wait for the vault before answering 503.
    vault_timeout_s: float = Field(default=3.0, gt=0, le=60)
    #: The terms version shown to new customers; default: the newest shipped one.
    terms_current: str | None = None
    #: Addresses of reverse proxies whose X-Forwarded-For is trusted (comma-separated, uvicorn's
    #: ``forwarded_allow_ips``); unset: the TCP peer is the client (rate limit per peer).
    forwarded_allow_ips: str | None = None
