"""Settings of the session service: environment variables ``FW_SESSION_*``."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from fw_platform.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="FW_SESSION_", extra="ignore", frozen=True)

    #: 0 lets tests run the app in-process without a port.
    http_port: int = Field(default=8082, ge=0, le=65535)
    #: How many waiting requests the queue shows (each costs one vault read).
    queue_limit: int = Field(default=200, ge=1, le=1000)
    #: Seconds to wait for the vault before answering 503.
    vault_timeout: float = Field(default=3.0, gt=0, le=30)
