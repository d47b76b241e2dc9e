"""Base class of every event: frozen, strict, self-describing, without personal data."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from fw_contracts.wire import SUBJECT_PREFIX


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class Event(BaseModel):
    """An immutable fact. Subclasses set ``producer`` and ``version``.

    Events carry pseudonymous ids only: never a name, company, phone, address or e-mail.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=False)

    producer: ClassVar[str] = ""
    version: ClassVar[int] = 1
    # Subclasses narrow these two to Literals so that a body is self-describing.
    event_type: str
    schema_version: int
    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    occurred_at: AwareDatetime = Field(default_factory=utcnow)
    correlation_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    causation_id: uuid.UUID | None = None

    @field_validator("occurred_at")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)

    @classmethod
    def subject(cls) -> str:
        """``fw.<producer>.<event_snake>.v<version>``, derived from the class."""
        return f"{SUBJECT_PREFIX}.{cls.producer}.{_snake(cls.__name__)}.v{cls.version}"

    @classmethod
    def type_name(cls) -> str:
        return cls.__name__

    def caused(self, **changes: Any) -> dict[str, Any]:
        """Correlation/causation fields for an event caused by this one."""
        return {"correlation_id": self.correlation_id, "causation_id": self.event_id, **changes}

    def to_json(self) -> bytes:
        return self.model_dump_json().encode()
