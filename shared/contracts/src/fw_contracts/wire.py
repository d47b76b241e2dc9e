"""Wire names: the stream, subject prefixes and header names live here and nowhere else."""

from __future__ import annotations

from enum import StrEnum

STREAM_NAME = "FERNWARTUNG"
#: Every event subject starts with this prefix; the stream captures ``fw.>``.
SUBJECT_PREFIX = "fw"
STREAM_SUBJECTS = [f"{SUBJECT_PREFIX}.>"]

#: Vault request/reply subjects carry personal data and therefore must NOT match ``fw.>``:
#: the stream would otherwise store them forever.
VAULT_PREFIX = "vault.v1"


class VaultSubject(StrEnum):
    """The vault's operations (owned by retention). A request goes to the operation's subject
    followed by the caller's name, e.g. ``vault.v1.get.billing`` (:func:`vault_subject`)."""

    PUT = f"{VAULT_PREFIX}.put"
    GET = f"{VAULT_PREFIX}.get"
    ADD_STATEMENT = f"{VAULT_PREFIX}.statement"
    EXPORT = f"{VAULT_PREFIX}.export"
    #: Add or replace the billing address of a stored request (session, when billing is blocked).
    ADDRESS = f"{VAULT_PREFIX}.address"
    #: Decide the request's one outcome, first come first served: a session starts or the
    #: customer withdraws (``ClaimRequest``; docs/reliability.md).
    CLAIM = f"{VAULT_PREFIX}.claim"


class VaultCaller(StrEnum):
    """Who asks the vault. Each caller has its own subjects, and NATS lets each service user
    publish only on its own: the vault knows the caller from the subject, never from the body."""

    INTAKE = "intake"
    SESSION = "session"
    BILLING = "billing"


def vault_subject(operation: VaultSubject, caller: VaultCaller | str) -> str:
    """The subject ``caller`` sends ``operation`` requests to, e.g. ``vault.v1.get.session``."""
    return f"{operation.value}.{VaultCaller(caller).value}"


class Header(StrEnum):
    """NATS headers set on every event message. None of them carries personal data."""

    MSG_ID = "Nats-Msg-Id"  # JetStream de-duplication key = event_id
    EVENT_TYPE = "Fw-Event-Type"
    SCHEMA_VERSION = "Fw-Schema-Version"
    CORRELATION_ID = "Fw-Correlation-Id"
