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
    """Request/reply subjects of the personal-data vault (owned by retention)."""

    PUT = f"{VAULT_PREFIX}.put"
    GET = f"{VAULT_PREFIX}.get"
    ADD_STATEMENT = f"{VAULT_PREFIX}.statement"
    EXPORT = f"{VAULT_PREFIX}.export"
    #: Add or replace the billing address of a stored request (session, when billing is blocked).
    ADDRESS = f"{VAULT_PREFIX}.address"


class Header(StrEnum):
    """NATS headers set on every event message. None of them carries personal data."""

    MSG_ID = "Nats-Msg-Id"  # JetStream de-duplication key = event_id
    EVENT_TYPE = "Fw-Event-Type"
    SCHEMA_VERSION = "Fw-Schema-Version"
    CORRELATION_ID = "Fw-Correlation-Id"
