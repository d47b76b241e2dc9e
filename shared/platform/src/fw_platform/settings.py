"""The settings base class. Each service subclasses it once with its own env prefix."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """Read only in a service's ``main``/bootstrap and in tests.

    Environment variables are ``FW_<SERVICE>_<FIELD>``, e.g. ``FW_INTAKE_DATABASE_URL``.
    """

    model_config = SettingsConfigDict(env_prefix="FW_", extra="ignore", frozen=True)

    nats_url: str = "nats://127.0.0.1:14222"
    nats_user: str | None = None
    nats_password: SecretStr | None = None
    database_url: str = "postgresql://127.0.0.1:15432/fernwartung"
    db_pool_max: int = Field(default=10, ge=1, le=100)
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=0, le=65535)  # 0: any free port (tests)
    consumer_batch: int = Field(default=100, ge=1, le=1000)
    #: While events arrive faster than one per this, a consumer waits this long between fetches
    #: and takes what came as one transaction (fw_platform.consumer); 0: never waits.
    consumer_linger_ms: int = Field(default=50, ge=0, le=1000)
    #: The outbox relay woken within this long of its last round waits this long first, so that
    #: a busy service's commits are published together (fw_platform.outbox); 0: never waits.
    relay_linger_ms: int = Field(default=20, ge=0, le=1000)
    max_attempts: int = Field(default=5, ge=1, le=100)
    log_level: str = "INFO"
    max_body_bytes: int = 64 * 1024
    #: ``<caller>:<sha256 hex of token>,…``; when set, non-public routes need a bearer token
    #: (see fw_platform.auth).
    api_keys: SecretStr | None = None
