"""Tariffs: versioned price lists. A published version never changes, so a replay re-prices
identically; a new price list is a new version.

Parsing starts from a mapping (the adapter reads the TOML file), so this module stays pure.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

#: Where evening/weekend are decided: the office's local time.
DEFAULT_TIMEZONE = "Europe/Berlin"
VERSION_PATTERN = r"^[0-9A-Za-z][0-9A-Za-z._-]{0,31}$"
_CLOCK = re.compile(r"^([01][0-9]|2[0-4]):([0-5][0-9])$")

Version = Annotated[str, StringConstraints(pattern=VERSION_PATTERN)]
#: Net EUR with at most two decimals: quantity × unit price is then exact, no rounding per line.
Price = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2)]


class TariffError(ValueError):
    """A tariff file is invalid or a requested version does not exist."""


def _minute_of_day(value: str) -> int:
    match = _CLOCK.match(value)
    if not match:
        raise ValueError("expected HH:MM")
    minutes = int(match.group(1)) * 60 + int(match.group(2))
    if minutes > 24 * 60:
        raise ValueError("after 24:00")
    return minutes


class Surcharge(BaseModel):
    """A percentage on the time part of a session, chosen by the session's local start time.

    ``evening``: the start lies in [from, until) (``until`` < ``from`` wraps past midnight);
    ``weekend``: the start is on a Saturday or Sunday.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    kind: Literal["evening", "weekend"]
    percent: Annotated[Decimal, Field(gt=0, le=1000, max_digits=7, decimal_places=2)]
    description: Annotated[str, StringConstraints(min_length=1, max_length=80)]
    start: str | None = Field(default=None, alias="from")
    until: str | None = None

    @field_validator("start", "until")
    @classmethod
    def _clock(cls, value: str | None) -> str | None:
        if value is not None:
            _minute_of_day(value)
        return value

    @model_validator(mode="after")
    def _window(self) -> Surcharge:
        if self.kind == "evening" and self.start is None:
            raise ValueError("an evening surcharge needs 'from'")
        if self.kind == "weekend" and (self.start or self.until):
            raise ValueError("a weekend surcharge has no time window")
        return self

    def applies(self, local_start: datetime) -> bool:
        """Whether a session starting at ``local_start`` (office time) gets this surcharge."""
        if self.kind == "weekend":
            return local_start.weekday() >= 5
        assert self.start is not None
        begin = _minute_of_day(self.start)
        end = _minute_of_day(self.until or "24:00")
        minute = local_start.hour * 60 + local_start.minute
        if begin <= end:
            return begin <= minute < end
        return minute >= begin or minute < end


class Tariff(BaseModel):
    """One version of the price list (see ``tariffs/*.toml`` in the package)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Version
    base_fee: Price = Decimal("0.00")
    interval_seconds: Annotated[int, Field(ge=1, le=86_400)]
    rate_per_interval: Price
    min_billed_seconds: Annotated[int, Field(ge=0, le=86_400)] = 0
    free_threshold_seconds: Annotated[int, Field(ge=0, le=86_400)] = 120
    vat_rate: Annotated[Decimal, Field(ge=0, lt=1, max_digits=6, decimal_places=4)] = Decimal("0.19")
    timezone: str = DEFAULT_TIMEZONE
    surcharges: tuple[Surcharge, ...] = ()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("unknown time zone") from None
        return value

    def surcharge_for(self, started_at: datetime) -> Surcharge | None:
        """The surcharge for a session started at ``started_at`` (aware), if any.

        Surcharges do not stack: the highest applicable percentage wins, so a Saturday evening
        costs the weekend rate, not weekend plus evening.
        """
        local = started_at.astimezone(ZoneInfo(self.timezone))
        matching = [s for s in self.surcharges if s.applies(local)]
        return max(matching, key=lambda s: s.percent, default=None)


def tariff_from_mapping(version: str, data: Mapping[str, Any]) -> Tariff:
    """Validate a parsed tariff file. ``version`` is the file name; a ``version`` key must match.

    Error messages name the fields only: a tariff holds no personal data, but keep the habit.
    """
    body = dict(data)
    declared = body.pop("version", version)
    if declared != version:
        raise TariffError(f"tariff file {version!r} declares version {str(declared)[:40]!r}")
    try:
        return Tariff.model_validate({"version": version, **body})
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) + ":" + e["type"] for e in exc.errors())
        raise TariffError(f"tariff {version!r} is invalid: {fields}") from None


class TariffCatalog:
    """All known tariff versions and the one used for new sessions."""

    def __init__(self, tariffs: Iterable[Tariff], selected: str | None = None) -> None:
        self._by_version: dict[str, Tariff] = {}
        for tariff in tariffs:
            if tariff.version in self._by_version and self._by_version[tariff.version] != tariff:
                raise TariffError(f"tariff {tariff.version!r} is defined twice with different content")
            self._by_version[tariff.version] = tariff
        if not self._by_version:
            raise TariffError("no tariff defined")
        # Versions are named so that they sort by time, e.g. 2026-01 < 2026-07.
        self._current = selected or max(self._by_version)
        if self._current not in self._by_version:
            raise TariffError(f"selected tariff {self._current!r} does not exist")

    @property
    def current(self) -> Tariff:
        """The tariff for sessions billed from now on."""
        return self._by_version[self._current]

    @property
    def versions(self) -> tuple[str, ...]:
        return tuple(sorted(self._by_version))

    def get(self, version: str) -> Tariff:
        """A tariff by version; :class:`TariffError` if unknown."""
        try:
            return self._by_version[version]
        except KeyError:
            raise TariffError(f"unknown tariff version {version[:40]!r}") from None
