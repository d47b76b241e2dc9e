"""Base class of every event: frozen, strict, self-describing, without personal data."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal, get_args, get_origin

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from fw_contracts.wire import SUBJECT_PREFIX


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class Event(BaseModel):
    """An immutable fact. Subclasses set ``producer`` and narrow ``event_type`` and ``schema_version``.

    ``schema_version`` is the one version number of an event type's contract. A subclass declares
    it once, as ``schema_version: Literal[N] = N`` (checked when the class is made); every body
    carries it (the wire field ``schema_version``, in every stored event since the start), the
    subject ends in ``.v<N>`` (:meth:`subject`), and a body with a smaller number is upcast on
    decode (``fw_contracts.registry``). :meth:`current_schema_version` reads N from the class.

    Events carry pseudonymous ids only: never a name, company, phone, address or e-mail.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=False)

    producer: ClassVar[str] = ""
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
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        field = cls.model_fields["schema_version"]
        if field.annotation is int and field.is_required():  # an abstract class: no version of its own
            return
        if (get_origin(field.annotation) is not Literal or get_args(field.annotation) != (field.default,)
                or type(field.default) is not int or field.default < 1):
            raise TypeError(f"{cls.__name__}: declare the schema version once, as "
                            "schema_version: Literal[N] = N with a whole number N >= 1")

    @classmethod
    def current_schema_version(cls) -> int:
        """The schema version this build writes and reads natively (older bodies are upcast)."""
        version = cls.model_fields["schema_version"].default
        assert type(version) is int, f"{cls.__name__} has no schema version of its own"
        return version

    @classmethod
    def subject(cls) -> str:
        """``fw.<producer>.<event_snake>.v<schema_version>``, derived from the class."""
        return f"{SUBJECT_PREFIX}.{cls.producer}.{_snake(cls.__name__)}.v{cls.current_schema_version()}"

    @classmethod
    def type_name(cls) -> str:
        return cls.__name__

    def caused(self, **changes: Any) -> dict[str, Any]:
        """Correlation/causation fields for an event caused by this one."""
        return {"correlation_id": self.correlation_id, "causation_id": self.event_id, **changes}

    def to_json(self) -> bytes:
        return self.model_dump_json().encode()
