"""Settings of the web front end: environment variables ``FW_WEB_*``.

The web service has no database and no NATS connection: it talks to the four services over
their JSON APIs only, so it does not subclass ``ServiceSettings`` (whose fields are NATS and
PostgreSQL) but keeps the same conventions (prefix, frozen, ``extra="ignore"``).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FW_WEB_", extra="ignore", frozen=True)

    http_host: str = "127.0.0.1"
    #: 0 lets the OS choose (tests).
    http_port: int = Field(default=8080, ge=0, le=65535)
    log_level: str = "INFO"
    max_body_bytes: int = 64 * 1024

    #: Base URLs of the services (no trailing slash needed); the defaults are ``make run``'s ports.
    intake_url: str = "http://127.0.0.1:8081"
    session_url: str = "http://127.0.0.1:8082"
    billing_url: str = "http://127.0.0.1:8083"
    retention_url: str = "http://127.0.0.1:8084"
    #: Bearer token for the services' APIs (their ``FW_<SVC>_API_KEYS`` hold its sha256).
    api_token: SecretStr | None = None
    #: Seconds to wait for a service before showing "not reachable".
    backend_timeout_s: float = Field(default=5.0, gt=0, le=60)
    #: How often web asks the session service for the queue while a technician's queue page is
    #: open (once for all open pages; the pages are told of changes by server-sent events).
    queue_live_interval_s: float = Field(default=1.0, gt=0, le=60)
    #: How long one live-queue stream lasts before the browser reconnects (its sign-in is then
    #: checked again).
    queue_live_max_s: float = Field(default=300.0, ge=1, le=3600)

    #: Users and their argon2 password hashes (TOML, see README). Read at start.
    users_file: Path = Path("var/web-users.toml")
    #: Development only: create ``users_file`` with one random password per role when it is
    #: missing and print the passwords once to stdout.
    dev_bootstrap: bool = False

    #: Signs the session cookie. Unset: a random key per process (everyone is signed out on a
    #: restart, and several instances would not share sign-ins) — set it in production.
    secret_key: SecretStr | None = None
    #: Mark cookies ``Secure`` always (set this behind TLS). Without it, a cookie is ``Secure``
    #: when the request arrived over https, directly or as a trusted proxy's
    #: ``X-Forwarded-Proto: https`` (see ``forwarded_allow_ips``).
    cookie_secure: bool = False
    #: A sign-in lasts this long (seconds) without a new sign-in.
    session_max_age_s: int = Field(default=12 * 3600, ge=60, le=7 * 24 * 3600)
    #: The open sign-ins (a cookie counts only while its record is here; signing out deletes it).
    #: JSON, written by web. Unset: ``web-signins.json`` beside the users file. Instances
    #: behind one proxy must share it (the deployment's data volume).
    signins_file: Path | None = None

    #: Public form submissions per minute and client address (token bucket, in memory).
    form_rate_per_minute: int = Field(default=10, ge=1, le=100_000)
    #: Invoice download attempts (page and PDF) per minute and client address: a wrong code costs
    #: as much as a right one, so codes cannot be tried out (they have 256 bits anyway).
    download_rate_per_minute: int = Field(default=10, ge=1, le=100_000)
    #: Sign-in attempts per minute and client address.
    login_rate_per_minute: int = Field(default=10, ge=1, le=100_000)
    #: Seconds a failed sign-in waits before answering (slows guessing).
    login_failure_delay_s: float = Field(default=1.0, ge=0, le=10)
    #: Sign-in attempts per minute from all addresses together (beside the per-address limit:
    #: many addresses must not add up to more password checks than the machine can do).
    login_global_rate_per_minute: int = Field(default=60, ge=1, le=100_000)
    #: Password checks (argon2, ~0.7 s of CPU each) running at once, in threads off the event loop.
    login_concurrency: int = Field(default=1, ge=1, le=16)
    #: Sign-ins that may wait for a check; beyond that the answer is 429 at once.
    login_queue: int = Field(default=4, ge=0, le=1000)

    #: The office's own Impressum (§ 5 DDG) and privacy notice (Art. 13 DSGVO), if it has them on
    #: its website: ``/impressum`` and ``/datenschutzhinweise`` then redirect there. Unset: the
    #: built-in pages with [placeholders] that the office must fill in before going live.
    impressum_url: str | None = None
    privacy_notice_url: str | None = None

    #: Where the Art. 30 record (``*.html``) lives; unset: ``docs/privacy`` of the source tree.
    privacy_docs_dir: Path | None = None
    #: Addresses of reverse proxies whose X-Forwarded-For is trusted (uvicorn's
    #: ``forwarded_allow_ips``); unset: the TCP peer is the client.
    forwarded_allow_ips: str | None = None

    @property
    def signins_path(self) -> Path:
        """Where the open sign-ins are recorded."""
        return self.signins_file or self.users_file.with_name("web-signins.json")
