"""The vocabulary of the retention map: activities, personal-data entries, deletion rules, TOMs.

Plain frozen data. German texts are what the rendered documents show (the office's language);
identifiers and code references stay English.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Role(StrEnum):
    """Art. 30(1) (own processing) or Art. 30(2) (processing on behalf of a customer)."""

    CONTROLLER = "controller"
    PROCESSOR = "processor"


@dataclass(frozen=True)
class ProcessingActivity:
    """A processing activity (Verarbeitungstätigkeit) of the Art. 30 record."""

    key: str
    name: str
    role: Role
    purpose: str
    legal_basis: tuple[str, ...]
    data_subjects: tuple[str, ...]
    recipients: tuple[str, ...]
    third_countries: str = "keine Übermittlung in Drittländer durch dieses System"
    services: tuple[str, ...] = ()


@dataclass(frozen=True)
class Place:
    """A database column where a personal field is stored: ``service.schema.table.column``.

    The schema is the service's own (every service has one schema of its name).
    """

    service: str
    table: str
    column: str

    @property
    def schema(self) -> str:
        return self.service

    def __str__(self) -> str:
        return f"{self.service}.{self.schema}.{self.table}.{self.column}"


@dataclass(frozen=True)
class OtherPlace:
    """Storage outside the service databases (event stream, files, logs, memory)."""

    kind: str
    where: str
    note: str = ""


@dataclass(frozen=True)
class Loeschklasse:
    """A deletion class in the DIN 66398 manner: a deletion period counted from a start event."""

    key: str
    period: str
    start: str


@dataclass(frozen=True)
class DeletionRule:
    """When and how a field is deleted (a Löschregel of the deletion concept)."""

    loeschklasse: str
    trigger: str
    deadline: str
    mechanism: str
    #: Code (module paths) or tests that carry the rule out / prove it.
    implemented_in: tuple[str, ...] = ()
    automated: bool = True
    #: What is not implemented yet (listed as an open point in the deletion concept).
    open_point: str | None = None


@dataclass(frozen=True)
class Tom:
    """A technical or organisational measure (Art. 32 GDPR) with its evidence."""

    key: str
    title: str
    description: str
    goal: str
    evidence: tuple[str, ...] = ()
    #: False: organisational, outside what this system can prove (placeholder for the office).
    in_system: bool = True


@dataclass(frozen=True)
class RetentionEntry:
    """One kind of stored personal data: what, why, where, for whom, until when, protected how."""

    key: str
    title: str
    activity: str
    data_category: str
    data_items: tuple[str, ...]
    data_subjects: tuple[str, ...]
    purpose: str
    legal_basis: tuple[str, ...]
    recipients: tuple[str, ...]
    deletion: DeletionRule
    toms: tuple[str, ...]
    places: tuple[Place, ...] = ()
    #: Pseudonymous identifiers: every column with one of these names, in every schema, belongs
    #: here (so a new table keyed by ``request_id`` is classified without editing the map).
    column_names: frozenset[str] = frozenset()
    other_places: tuple[OtherPlace, ...] = ()
    encrypted_at_rest: bool = False
    pseudonymous: bool = False
    notes: tuple[str, ...] = field(default=())
