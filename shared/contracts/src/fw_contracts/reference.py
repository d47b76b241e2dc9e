"""Reference data in the stream: the tariffs, terms and issuer details that decide an invoice.

An auditor with read access to the stream needs nothing else to re-price an invoice, to read
the terms a customer accepted, or to check the issuer printed on an invoice:

* :class:`TariffPublished` (billing): one tariff version's whole content and its hash, published
  when billing starts with that version in its catalogue (once per version: billing records it).
* :class:`TermsPublished` (intake): one version of the terms of use, its text and hash.
* :class:`IssuerDetailsChanged` (billing): the office's own name, address, tax numbers and bank,
  published whenever billing's issuer settings differ from the last published.

These are the office's **business data**, printed on every invoice and in its terms — not
personal data of customers. The fields that hold them are declared in ``office_business_data``
of their class, and only those fields are exempt from the personal-data guards (the contract
test and the audit's pattern scan); see ``docs/events.md``.

Hashes are SHA-256 over :func:`canonical_json` (tariff, issuer) or over the terms' UTF-8 bytes.
Event ids are derived from the content (:func:`reference_event_id`), so a re-publication carries
the same ``Nats-Msg-Id`` and the stream's duplicate window drops it.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from fw_contracts.base import Event
from fw_contracts.events import Sha256Hex

#: Same rule as billing's tariff versions (``fw_billing.domain.tariff.VERSION_PATTERN``).
TariffVersion = Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z][0-9A-Za-z._-]{0,31}$")]
#: Same rule as ``TermsAcceptance.terms_version``.
TermsVersion = Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z._-]{1,32}$")]
Clock = Annotated[str, StringConstraints(pattern=r"^([01][0-9]|2[0-4]):[0-5][0-9]$")]
TimeZoneName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_+/-]{1,63}$")]
Price = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2)]

#: Namespace of the content-derived event ids (a fixed random UUID: never change it).
REFERENCE_NAMESPACE = uuid.UUID("5b0c7d8e-2f7a-4c61-9a43-0d6f3f1e9c21")


def canonical_json(value: BaseModel) -> bytes:
    """The bytes a content hash covers: JSON of the model (``mode="json"``: decimals as strings),
    keys sorted, no whitespace, UTF-8."""
    return json.dumps(value.model_dump(mode="json"), sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode()


def content_sha256(value: BaseModel) -> str:
    """SHA-256 (hex) of :func:`canonical_json`."""
    return hashlib.sha256(canonical_json(value)).hexdigest()


def reference_event_id(kind: str, *parts: str) -> uuid.UUID:
    """The deterministic event id of a reference event (used as ``Nats-Msg-Id``)."""
    return uuid.uuid5(REFERENCE_NAMESPACE, ":".join((kind, *parts)))


# ---------------------------------------------------------------- tariff
class TariffSurcharge(BaseModel):
    """A percentage on the time part, chosen by the session's local start time.

    ``evening``: the start lies in [start, until) (``until`` < ``start`` wraps past midnight;
    no ``until`` = 24:00); ``weekend``: the start is on a Saturday or Sunday.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["evening", "weekend"]
    percent: Annotated[Decimal, Field(gt=0, le=1000, max_digits=7, decimal_places=2)]
    description: Annotated[str, StringConstraints(min_length=1, max_length=80)]
    start: Clock | None = None
    until: Clock | None = None


class TariffContent(BaseModel):
    """One tariff version, exactly the values that price a session (billing's ``Tariff``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: TariffVersion
    base_fee: Price = Decimal("0.00")
    interval_seconds: Annotated[int, Field(ge=1, le=86_400)]
    rate_per_interval: Price
    min_billed_seconds: Annotated[int, Field(ge=0, le=86_400)] = 0
    free_threshold_seconds: Annotated[int, Field(ge=0, le=86_400)] = 120
    vat_rate: Annotated[Decimal, Field(ge=0, lt=1, max_digits=6, decimal_places=4)] = Decimal("0.19")
    timezone: TimeZoneName = "Europe/Berlin"
    surcharges: tuple[TariffSurcharge, ...] = ()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("unknown time zone") from None
        return value


def tariff_sha256(content: TariffContent) -> str:
    """The content hash an invoice names (``InvoiceIssued.tariff_sha256``)."""
    return content_sha256(content)


class TariffPublished(Event):
    """A tariff version's whole content (billing publishes each version it can price with)."""

    producer = "billing"
    #: decoded by pydantic only (rare; validators msgspec cannot mirror): ``fw_contracts.fastdecode``
    fast_decode: ClassVar[bool] = False
    event_type: Literal["TariffPublished"] = "TariffPublished"
    schema_version: Literal[1] = 1

    tariff_version: TariffVersion
    tariff_sha256: Sha256Hex
    tariff: TariffContent

    @model_validator(mode="after")
    def _version_matches(self) -> TariffPublished:
        if self.tariff.version != self.tariff_version:
            raise ValueError("tariff.version differs from tariff_version")
        return self

    @classmethod
    def of(cls, content: TariffContent, **envelope: Any) -> TariffPublished:
        """The event for ``content`` with its hash and deterministic id."""
        sha = tariff_sha256(content)
        envelope.setdefault("event_id", reference_event_id("TariffPublished", content.version, sha))
        return cls(tariff_version=content.version, tariff_sha256=sha, tariff=content, **envelope)


# ---------------------------------------------------------------- terms
class TermsPublished(Event):
    """A version of the terms of use as shown to customers (intake publishes each shipped one).

    ``terms_sha256`` is SHA-256 of the text's UTF-8 bytes: the value
    ``SupportRequestCreated.terms.terms_sha256`` names.
    """

    producer = "intake"
    #: decoded by pydantic only (rare; validators msgspec cannot mirror): ``fw_contracts.fastdecode``
    fast_decode: ClassVar[bool] = False
    #: The office's own published text, not personal data (see the module docstring).
    office_business_data: ClassVar[frozenset[str]] = frozenset({"text"})
    event_type: Literal["TermsPublished"] = "TermsPublished"
    schema_version: Literal[1] = 1

    terms_version: TermsVersion
    terms_sha256: Sha256Hex
    text: Annotated[str, StringConstraints(min_length=1, max_length=200_000)]

    @classmethod
    def of(cls, version: str, text: str, **envelope: Any) -> TermsPublished:
        sha = hashlib.sha256(text.encode()).hexdigest()
        envelope.setdefault("event_id", reference_event_id("TermsPublished", version, sha))
        return cls(terms_version=version, terms_sha256=sha, text=text, **envelope)


# ---------------------------------------------------------------- issuer
_Line = Annotated[str, StringConstraints(min_length=1, max_length=120)]
_Optional = Annotated[str, StringConstraints(min_length=1, max_length=120)] | None


class IssuerDetails(BaseModel):
    """The office as it is printed on its invoices (§14 Abs. 4 Nr. 1–2 UStG): name, address,
    tax numbers, bank. Not the office's e-mail or phone (not needed to check an invoice)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: _Line
    street: _Line
    postal_code: Annotated[str, StringConstraints(min_length=3, max_length=10)]
    city: _Line
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
    tax_number: _Optional = None
    vat_id: _Optional = None
    trade_register: _Optional = None
    iban: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$")]
    bic: _Optional = None
    bank: _Optional = None


def issuer_sha256(details: IssuerDetails) -> str:
    return content_sha256(details)


class IssuerDetailsChanged(Event):
    """The issuer details in force from this event on (billing publishes them when its settings
    differ from the last published, before it issues anything with them)."""

    producer = "billing"
    #: decoded by pydantic only (rare; validators msgspec cannot mirror): ``fw_contracts.fastdecode``
    fast_decode: ClassVar[bool] = False
    #: The office's own business data, printed on every invoice: not personal data of customers.
    office_business_data: ClassVar[frozenset[str]] = frozenset({"issuer"})
    event_type: Literal["IssuerDetailsChanged"] = "IssuerDetailsChanged"
    schema_version: Literal[1] = 1

    issuer_sha256: Sha256Hex
    issuer: IssuerDetails
    previous_sha256: Sha256Hex | None = None

    @classmethod
    def of(cls, details: IssuerDetails, previous_sha256: str | None, **envelope: Any) -> IssuerDetailsChanged:
        sha = issuer_sha256(details)
        envelope.setdefault("event_id", reference_event_id("IssuerDetailsChanged", previous_sha256 or "-", sha))
        return cls(issuer_sha256=sha, issuer=details, previous_sha256=previous_sha256, **envelope)


def without_office_business_data(cls: type[Event], data: dict[str, Any]) -> dict[str, Any]:
    """``data`` (a decoded body) without the fields ``cls`` declares as office business data."""
    exempt: frozenset[str] = getattr(cls, "office_business_data", frozenset())
    return {k: v for k, v in data.items() if k not in exempt}


_CLOCK = re.compile(r"^(\d\d):(\d\d)$")


def minute_of_day(clock: str) -> int:
    m = _CLOCK.match(clock)
    if m is None:
        raise ValueError("expected HH:MM")
    return int(m[1]) * 60 + int(m[2])


def surcharge_applies(surcharge: TariffSurcharge, local_start: datetime) -> bool:
    """Whether a session starting at ``local_start`` (office time) gets ``surcharge``."""
    if surcharge.kind == "weekend":
        return local_start.weekday() >= 5
    begin = minute_of_day(surcharge.start or "00:00")
    end = minute_of_day(surcharge.until or "24:00")
    minute = local_start.hour * 60 + local_start.minute
    if begin <= end:
        return begin <= minute < end
    return minute >= begin or minute < end
