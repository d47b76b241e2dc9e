"""Settings of the retention service (environment variables ``FW_RETENTION_*``)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from fw_platform.keys import decode_key
from fw_platform.settings import ServiceSettings


class Settings(ServiceSettings):
    """Read only in bootstrap/``__main__`` and tests."""

    # hide_input_in_errors: a refused setting must not print the (secret) value it was given.
    model_config = SettingsConfigDict(env_prefix="FW_RETENTION_", extra="ignore", frozen=True,
                                      hide_input_in_errors=True)

    http_port: int = Field(default=8084, ge=0, le=65535)
    #: Base64 of 32 random bytes; wraps every per-request data key. Required, no default.
    master_key: SecretStr
    #: Requests whose data were stored longer ago than this are erased as ``abandoned``.
    abandon_after_days: float = Field(default=14, gt=0)
    #: The same deadline in seconds; overrides ``abandon_after_days`` when set (tests, demos).
    abandon_after_s: float | None = Field(default=None, gt=0)
    #: While billing waits for a missing billing address (``BillingBlocked``), the request is not
    #: erased as abandoned; it is erased at the latest this long after the block (the hold).
    billing_hold_days: float = Field(default=90, gt=0)
    #: The same hold in seconds; overrides ``billing_hold_days`` when set (tests, demos).
    billing_hold_s: float | None = Field(default=None, gt=0)
    #: After an invoice, the e-mail address the customer gave for it is kept (alone) until
    #: billing reports the delivery, and at the latest this long after the invoice (LEGAL.md L21).
    delivery_hold_days: float = Field(default=14, gt=0)
    #: The same hold in seconds; overrides ``delivery_hold_days`` when set (tests, demos).
    delivery_hold_s: float | None = Field(default=None, gt=0)
    #: Re-apply the erasure log (markers from the stream, then purge) at every start, before the
    #: vault answers: a restored database backup can then never serve erased data.
    reapply_on_start: bool = True
    #: Access-log rows and AVV requests are deleted at the end of this many calendar years
    #: after the year they were written in (accountability, Art. 5(2) GDPR; §195 BGB period).
    records_keep_years: int = Field(default=3, ge=1, le=30)
    #: How often the deadline sweep runs.
    sweep_interval_s: float = Field(default=60.0, gt=0)
    #: How many entries one sweep erases at most (the next sweep takes the rest).
    sweep_batch: int = Field(default=500, ge=1, le=10_000)
    #: Vault requests handled at the same time by this instance.
    vault_concurrency: int = Field(default=16, ge=1, le=256)

    @field_validator("master_key")
    @classmethod
    def _valid_key(cls, value: SecretStr) -> SecretStr:
        decode_key(value.get_secret_value(), name="master_key")
        return value

    @property
    def abandon_after(self) -> timedelta:
        if self.abandon_after_s is not None:
            return timedelta(seconds=self.abandon_after_s)
        return timedelta(days=self.abandon_after_days)

    @property
    def billing_hold(self) -> timedelta:
        if self.billing_hold_s is not None:
            return timedelta(seconds=self.billing_hold_s)
        return timedelta(days=self.billing_hold_days)

    @property
    def delivery_hold(self) -> timedelta:
        if self.delivery_hold_s is not None:
            return timedelta(seconds=self.delivery_hold_s)
        return timedelta(days=self.delivery_hold_days)

    def master_key_bytes(self) -> bytes:
        return decode_key(self.master_key.get_secret_value(), name="master_key")

