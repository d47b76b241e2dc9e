"""What each service publishes and what it relies on: the consumer side of the contracts.

Every service declares one :class:`ServiceContract` in ``fw_<service>/contract.py``. The
declarations feed the consumer-contract test (``tests/contracts``), the AsyncAPI documents and
the event catalogue (``make docs``). They are plain data: nothing here checks them against the
models at import time, so a producer's change can never stop a consumer from starting; the
tests do the checking.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from fw_contracts.base import Event
from fw_contracts.wire import VaultSubject

#: Fields the platform reads from every consumed event (decoding, idempotency record). A
#: consumer relies on them without declaring them.
ENVELOPE_FIELDS: frozenset[str] = frozenset({"event_type", "schema_version", "event_id"})


@dataclass(frozen=True)
class ServiceContract:
    """One service's use of the public contracts.

    * ``publishes``: the event classes the service emits (each must be its own: ``producer``).
    * ``consumes``: event class -> names of the top-level fields its code reads (besides
      :data:`ENVELOPE_FIELDS`). Name a field here when the code uses it; the test then fails
      when a producer removes, renames, loosens or retypes it.
    * ``vault_requests``: vault subjects the service sends requests to.
    * ``vault_serves`` / ``vault_queue``: subjects the service answers and its queue group.
    """

    service: str
    publishes: tuple[type[Event], ...] = ()
    consumes: Mapping[type[Event], frozenset[str]] = field(default_factory=dict)
    vault_requests: tuple[VaultSubject, ...] = ()
    vault_serves: tuple[VaultSubject, ...] = ()
    vault_queue: str | None = None

    def __init__(self, *, service: str, publishes: Iterable[type[Event]] = (),
                 consumes: Mapping[type[Event], Iterable[str]] | None = None,
                 vault_requests: Iterable[VaultSubject] = (), vault_serves: Iterable[VaultSubject] = (),
                 vault_queue: str | None = None) -> None:
        # Normalised to immutable, ordered values so that generated documents are stable.
        object.__setattr__(self, "service", service)
        object.__setattr__(self, "publishes", tuple(publishes))
        object.__setattr__(self, "consumes", {cls: frozenset(fields) for cls, fields in (consumes or {}).items()})
        object.__setattr__(self, "vault_requests", tuple(vault_requests))
        object.__setattr__(self, "vault_serves", tuple(vault_serves))
        object.__setattr__(self, "vault_queue", vault_queue)

    def relied_on(self, cls: type[Event]) -> frozenset[str]:
        """Every field of ``cls`` this service depends on: the declared ones and the envelope."""
        return self.consumes.get(cls, frozenset()) | ENVELOPE_FIELDS

    @property
    def published_subjects(self) -> list[str]:
        return [cls.subject() for cls in self.publishes]

    @property
    def consumed_subjects(self) -> list[str]:
        return [cls.subject() for cls in self.consumes]
