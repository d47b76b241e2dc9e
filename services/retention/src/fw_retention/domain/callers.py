"""Who may ask the vault what: each caller has its own subjects and is bound to its purposes.

The caller is never taken from a request body: it is the last token of the subject
(``vault.v1.get.billing``), and NATS lets each service user publish only on its own subjects
(``fw_contracts.nats_permissions``, which renders the same table into the server's permissions). Here the
vault binds each caller to the purposes it may read for and the outcome it may claim, so even
with a caller's credentials nobody reads for another caller's purpose.
"""

from __future__ import annotations

from dataclasses import dataclass

from fw_contracts.vault import ClaimOutcome, Purpose
from fw_contracts.wire import VaultCaller, VaultSubject
from fw_retention.domain.rules import Write


@dataclass(frozen=True)
class CallerRights:
    """What one caller may ask: operations, purposes of a read, the outcome it may claim."""

    operations: frozenset[VaultSubject]
    purposes: frozenset[Purpose] = frozenset()
    claims: frozenset[ClaimOutcome] = frozenset()


#: The one table of the vault's callers. ``data_subject_access`` is nobody's over NATS: the
#: Art. 15 export runs inside retention itself.
CALLERS: dict[VaultCaller, CallerRights] = {
    # writes the request's data; the customer's withdrawal claims the request's outcome
    VaultCaller.INTAKE: CallerRights(frozenset({VaultSubject.PUT, VaultSubject.CLAIM}),
                                     claims=frozenset({"withdrawn"})),
    # shows the waiting requests to technicians; stores the statement and a missing address;
    # a start claims the request's outcome
    VaultCaller.SESSION: CallerRights(
        frozenset({VaultSubject.GET, VaultSubject.ADD_STATEMENT, VaultSubject.ADDRESS, VaultSubject.CLAIM}),
        purposes=frozenset({"queue"}), claims=frozenset({"session_started"})),
    # the invoice's recipient, the permanent customer account, and the e-mail address the
    # invoice is delivered to (also after the first erasure step kept just that address)
    VaultCaller.BILLING: CallerRights(frozenset({VaultSubject.GET}),
                                      purposes=frozenset({"billing", "customer_account", "delivery"})),
}


def may_read(caller: VaultCaller, purpose: str) -> bool:
    """Whether ``caller`` may read a request's data for ``purpose``."""
    rights = CALLERS.get(caller)
    return rights is not None and purpose in rights.purposes


def may_claim(caller: VaultCaller, outcome: str) -> bool:
    """Whether ``caller`` may decide a request's outcome to be ``outcome``."""
    rights = CALLERS.get(caller)
    return rights is not None and outcome in rights.claims


def decide_claim(*, erased: bool, has_entry: bool, existing: str | None, new: str) -> Write:
    """A request's outcome is decided once, first come first served.

    A session start and the customer's withdrawal exclude each other; the same claim again is an
    idempotent retry (a start or withdrawal whose commit failed is simply sent again). After the
    erasure the marker refuses both: it outlives the entry (and its claim).
    """
    if erased:
        return Write.ERASED
    if not has_entry:
        return Write.NOT_FOUND
    if existing is None:
        return Write.STORE
    return Write.UNCHANGED if existing == new else Write.CONFLICT
