"""What the use cases need from storage: the :class:`VaultStore` port and its row types.

The store only ever sees ciphertext and ids; encryption happens in the application layer.
One store instance works inside one transaction (a connection of a unit of work).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Literal, Protocol

from fw_contracts import Event
from fw_contracts.events import ErasureReason, ErasureScope
from fw_retention.domain.rules import Erasure

#: The injectable clock (tests move time with it).
Clock = Callable[[], datetime]


class Part(Enum):
    """What a ciphertext holds; selects its associated data (the value is appended to the id)."""

    ENTRY = b""
    STATEMENT = b"/statement"
    KEY = b"/key"
    #: The e-mail address kept for the invoice's delivery after the first erasure step.
    DELIVERY_EMAIL = b"/delivery_email"


class Cipher(Protocol):
    """Envelope encryption with one data key per request (AES-256-GCM in production)."""

    kek_id: str

    def new_data_key(self, request_id: uuid.UUID) -> tuple[bytes, bytes]:
        """A fresh data key and its wrapped (storable) form."""

    def unwrap(self, request_id: uuid.UUID, wrapped: bytes) -> bytes: ...

    def seal(self, key: bytes, request_id: uuid.UUID, plaintext: bytes, part: Part) -> tuple[bytes, bytes]:
        """Returns ``(nonce, ciphertext)``."""

    def open(self, key: bytes, request_id: uuid.UUID, nonce: bytes, ciphertext: bytes, part: Part) -> bytes: ...


@dataclass(frozen=True)
class Sealed:
    """One encrypted blob."""

    nonce: bytes
    ciphertext: bytes


@dataclass(frozen=True)
class SealedEntry:
    """A request's vault rows as stored: wrapped key, encrypted data, encrypted statement."""

    request_id: uuid.UUID
    wrapped_key: bytes
    kek_id: str
    data: Sealed
    stored_at: datetime
    statement: Sealed | None = None


@dataclass(frozen=True)
class ErasureRecord:
    """A row of the erasure log."""

    request_id: uuid.UUID
    reason: ErasureReason
    trigger_event_id: uuid.UUID | None
    erased_at: datetime
    had_data: bool
    scope: ErasureScope = ErasureScope.ALL
    delivery_hold_until: datetime | None = None

    @property
    def partial(self) -> bool:
        """Only the first step: the delivery e-mail address is still kept."""
        return self.scope is ErasureScope.ALL_BUT_DELIVERY_EMAIL


@dataclass(frozen=True)
class HeldEmail:
    """A kept delivery e-mail address (ciphertext) with the key it is sealed under."""

    request_id: uuid.UUID
    wrapped_key: bytes
    email: Sealed


@dataclass(frozen=True)
class AccessRecord:
    """One row of the vault's access log: who read or wrote a request's data, and why. No data."""

    request_id: uuid.UUID
    purpose: str
    outcome: str
    at: datetime
    #: The service that asked (``intake``/``session``/``billing``, ``retention`` for its own
    #: export); None on rows from before migration 014.
    caller: str | None = None


@dataclass(frozen=True)
class StoredRef:
    """A stored entry without its data: for the sweep and the pending list."""

    request_id: uuid.UUID
    stored_at: datetime
    #: When billing first announced that it waits for the recipient's address (the billing hold
    #: is counted from it); None: billing never blocked on this request.
    billing_blocked_at: datetime | None = None


#: What :meth:`VaultStore.put_new` did.
PutOutcome = Literal["stored", "erased", "exists"]
#: What :meth:`VaultStore.claim_new` did.
ClaimNewOutcome = Literal["stored", "other"]


class VaultStore(Protocol):
    """Persistence of the vault and the erasure log (PostgreSQL in production, a fake in tests)."""

    async def lock(self, request_id: uuid.UUID) -> None:
        """Serialise all work on one request until the transaction ends (put vs. erasure race)."""

    async def lock_all(self, request_ids: Sequence[uuid.UUID]) -> None:
        """:meth:`lock` for each request, in an order every caller keeps (no crosswise waits)."""

    async def erasure(self, request_id: uuid.UUID) -> ErasureRecord | None:
        """The request's marker: a final one (scope ``all``/``delivery_email``) if there is one,
        else the first step's (``all_but_delivery_email``), else None. Any marker refuses writes."""

    async def load(self, request_id: uuid.UUID) -> SealedEntry | None: ...

    async def current(self, request_id: uuid.UUID) -> tuple[ErasureRecord | None, SealedEntry | None]:
        """``(erasure(id), None)`` if there is a marker, else ``(None, load(id))``: what a vault
        request reads after its lock, in one look-up."""

    async def current_all(self, request_ids: Sequence[uuid.UUID],
                          ) -> dict[uuid.UUID, tuple[ErasureRecord | None, SealedEntry | None]]:
        """:meth:`current` of each request, in one look-up."""

    async def stored_at(self, request_id: uuid.UUID) -> datetime | None:
        """When the request's data were stored (None if there is no entry)."""

    async def put_new(self, entry: SealedEntry) -> PutOutcome:
        """Store a new request's entry in one step under its lock: ``stored``; ``erased`` (a
        marker) or ``exists`` (an entry or key) write nothing. Outside a transaction: it commits
        by itself."""

    async def claim_new(self, request_id: uuid.UUID, outcome: str, at: datetime, *, purpose: str,
                        caller: str) -> ClaimNewOutcome:
        """A request's first outcome in one step under its lock: with an entry, no marker and no
        outcome yet, store ``outcome`` and the access-log row (``ok``): ``stored``. Anything else
        writes nothing: ``other``. Outside a transaction: it commits by itself."""

    async def insert_entry(self, entry: SealedEntry) -> None:
        """Insert key and data rows (the statement, if any, is added separately)."""

    async def insert_statement(self, request_id: uuid.UUID, statement: Sealed, at: datetime) -> None: ...

    async def log_access(self, request_id: uuid.UUID, purpose: str, outcome: str, at: datetime, *,
                         caller: str) -> None:
        """Record who (``caller``) asked for what (``purpose``) and what came of it. No data."""

    async def claim_of(self, request_id: uuid.UUID) -> str | None:
        """The outcome claimed for a stored request (``session_started``/``withdrawn``), or None."""

    async def claim_state(self, request_id: uuid.UUID) -> tuple[ErasureRecord | None, bool, str | None]:
        """``(erasure(id), False, None)`` if there is a marker, else ``(None, stored_at(id) is not
        None, claim_of(id))``: what a claim reads after its lock, in one look-up."""

    async def set_claim(self, request_id: uuid.UUID, outcome: str, at: datetime) -> None:
        """Record the outcome with the stored entry (erased with it)."""

    async def access_log(self, request_id: uuid.UUID) -> list[AccessRecord]:
        """The access log of one request, oldest first (for the Art. 15 export)."""

    async def prune_access_log(self, before: datetime) -> int:
        """Delete access-log rows older than ``before``; returns how many."""

    async def replace_data(self, request_id: uuid.UUID, data: Sealed) -> None:
        """Overwrite the encrypted data of a stored entry (same key, new nonce); ``stored_at`` stays."""

    async def delete_data(self, request_id: uuid.UUID, *, keep_key: bool = False) -> bool:
        """DELETE entry, statement, kept delivery e-mail and key rows; True if there was an entry
        or a key. ``keep_key``: entry and statement only (the first step keeps the key for the
        delivery e-mail row); True if there was an entry."""

    async def delete_data_all(self, requests: Sequence[tuple[uuid.UUID, bool]]) -> dict[uuid.UUID, bool]:
        """:meth:`delete_data` of each ``(request_id, keep_key)`` (different requests), in one go."""

    async def insert_delivery_email(self, request_id: uuid.UUID, email: Sealed, at: datetime) -> None:
        """Keep the delivery e-mail address (sealed under the request's data key)."""

    async def insert_delivery_emails(self, emails: Sequence[tuple[uuid.UUID, Sealed]], at: datetime) -> None:
        """:meth:`insert_delivery_email` of each (different requests), in one go."""

    async def load_delivery_email(self, request_id: uuid.UUID) -> HeldEmail | None:
        """The kept delivery e-mail address, or None."""

    async def due_delivery_holds(self, now: datetime, limit: int) -> list[ErasureRecord]:
        """First-step markers whose delivery hold ended at or before ``now`` and that have no
        final marker yet, earliest hold end first."""

    async def insert_erasure(self, erasure: Erasure, event: Event | None = None) -> bool:
        """Write the permanent marker; False if the request already had one. With ``event``
        (its PersonalDataErased), the event's outbox row is written in the same statement, only
        if the marker was new (the caller declares it with ``uow.written``)."""

    async def insert_erasures(self, erasures: Sequence[tuple[Erasure, Event]]) -> set[uuid.UUID]:
        """:meth:`insert_erasure` with its event for each marker (different requests), in one go;
        the requests whose marker was new (only their events' outbox rows are written)."""

    async def stored_before(self, cutoff: datetime, limit: int) -> list[StoredRef]:
        """Entries stored at or before ``cutoff``, oldest first."""

    async def record_billing_block(self, request_id: uuid.UUID, session_id: uuid.UUID, blocked_at: datetime,
                                   event_id: uuid.UUID) -> bool:
        """Remember that billing waits for this request's address; the earliest block is kept.
        True if the row was inserted or moved to an earlier block."""

    async def billing_blocked_at(self, request_id: uuid.UUID) -> datetime | None:
        """When billing first blocked on the request (None: never)."""

    async def due_for_erasure(self, stored_before: datetime, blocked_before: datetime,
                              limit: int) -> list[StoredRef]:
        """Entries stored at or before ``stored_before`` that billing never blocked on, or whose
        first block was at or before ``blocked_before``; oldest first, with the block time."""

    async def pending(self, limit: int) -> list[StoredRef]:
        """All stored entries, oldest first, with the block time if billing blocked on them."""

    async def list_erasures(self, limit: int) -> list[ErasureRecord]:
        """The erasure log, newest first."""

    async def purge_erased(self) -> int:
        """Delete vault rows of every request in the erasure log; returns how many requests."""

    async def add_markers(self, erasures: Iterable[ErasureRecord]) -> int:
        """Insert markers that are missing (after a restore); returns how many were added."""


#: Builds a store on a transaction's connection; bootstrap passes the PostgreSQL one. An optional
#: second argument, ``UnitOfWork.write_at_commit``, lets it send its final writes with the COMMIT.
StoreFactory = Callable[..., VaultStore]
