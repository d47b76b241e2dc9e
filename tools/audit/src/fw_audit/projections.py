"""Check ``projections``: each service's live tables equal a rebuild from the stream.

The verifier feeds every decoded event to :class:`ProjectionsCheck`, which rebuilds the *expected*
keyed rows (key -> normalised value tuple) of these tables:

==========================  ======================  ==========================================
table                       key                     value
==========================  ======================  ==========================================
intake.support_requests     request_id              status (open/in_session/withdrawn/erased)
session.sessions            session_id              request_id, ended?, duration_seconds,
                                                    technician (after any SessionTakenOver)
billing.invoices            number                  session_id, gross_total
billing.session_billing     session_id              status, block_reason (while blocked): billing's
                                                    fold ``fw_contracts.billing_case.next_outcome``
billing.cancellations       number                  invoice_number
billing.customer_accounts   request_id              customer_number, closed? (CustomerAccountErased)
retention.erasures          request_id/scope        reason
==========================  ======================  ==========================================

:func:`read_live` then reads the same columns with asyncpg from each service's read-only
``audit_*`` view (its own migration 019; ids, statuses and amounts only: no column that holds
personal data is ever selected), and :meth:`ProjectionsCheck.result` compares
per table the row count and a SHA-256 over the sorted ``key<TAB>value`` lines. A mismatch names
the table and up to :data:`SHOW_KEYS` differing keys (ids only).

Without a database URL the check is *skipped*: it is not a pass (see ``AuditReport.ok``).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from fw_audit.checks import Seen
from fw_audit.model import CheckResult
from fw_contracts.billing_case import PENDING, BillingOutcome, next_outcome
from fw_contracts.events import (
    BillingBlocked,
    CustomerAccountCreated,
    CustomerAccountErased,
    InvoiceCancelled,
    InvoiceIssued,
    PersonalDataErased,
    SessionEnded,
    SessionNotBilled,
    SessionStarted,
    SessionTakenOver,
    SupportRequestCreated,
    SupportRequestWithdrawn,
)

NAME = "projections"
TITLE = "Live projections equal a rebuild from the stream"
#: How many differing keys a finding names per table.
SHOW_KEYS = 10

Rows = dict[str, tuple[str, ...]]

#: table -> the one SELECT that reads its live rows as (key, value…), from the read-only view the
#: owning service defines for the audit in its own migration (``019_audit_views.sql``): the audit
#: never reads a service's tables. Only ids, statuses and amounts.
QUERIES: dict[str, str] = {
    "intake.support_requests": "SELECT request_id, status FROM intake.audit_support_requests",
    "session.sessions": ("SELECT session_id, request_id, ended, duration_seconds, technician"
                         " FROM session.audit_sessions"),
    "billing.invoices": "SELECT number, session_id, gross_total FROM billing.audit_invoices",
    # the billing case of each ended session (billing's migration 022)
    "billing.session_billing": "SELECT session_id, status, block_reason FROM billing.audit_session_billing",
    "billing.cancellations": "SELECT number, invoice_number FROM billing.audit_cancellations",
    # closed, never a personal column: an erased account keeps its row and number
    "billing.customer_accounts": "SELECT request_id, customer_number, closed FROM billing.audit_customer_accounts",
    # one row per erasure step (scope all, or all_but_delivery_email then delivery_email)
    "retention.erasures": "SELECT request_id || '/' || scope, reason FROM retention.audit_erasures",
}

#: Intake's status order (``fw_intake.domain.request._RANK``): statuses only move up, so the
#: result does not depend on the order in which intake's consumers saw the events.
_RANK = {"open": 0, "in_session": 1, "withdrawn": 2, "erased": 3}


def norm(value: object) -> str:
    """One column value as text, the same for the stream and the database."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return f"{value.quantize(Decimal('0.01'))}"
    return str(value)


def checksum(rows: Mapping[str, tuple[str, ...]]) -> str:
    """SHA-256 over the sorted ``key<TAB>value…`` lines of a table."""
    h = hashlib.sha256()
    for key in sorted(rows):
        h.update("\t".join((key, *rows[key])).encode() + b"\n")
    return h.hexdigest()


@dataclass
class LiveTables:
    """The live rows per table, or why a table could not be read (error type only)."""

    rows: dict[str, Rows] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    #: Keys that occur more than once in a table's SELECT (a second SessionEnded, …).
    duplicates: dict[str, list[str]] = field(default_factory=dict)


async def read_live(dsn: str) -> LiveTables:
    """Read every table of :data:`QUERIES` (read-only, in one repeatable-read snapshot)."""
    import asyncpg  # only needed with --database-url

    live = LiveTables()
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            for table, sql in QUERIES.items():
                try:
                    async with conn.transaction():  # a savepoint: one missing table spoils no other
                        records = await conn.fetch(sql)
                except asyncpg.PostgresError as exc:
                    # The type and SQLSTATE only: a server message may quote values.
                    live.errors[table] = f"{type(exc).__name__} ({exc.sqlstate})"
                    continue
                rows: Rows = {}
                for r in records:
                    key = norm(r[0])
                    if key in rows:
                        live.duplicates.setdefault(table, []).append(key)
                    rows[key] = tuple(norm(v) for v in tuple(r)[1:])
                live.rows[table] = rows
    finally:
        await conn.close()
    return live


class ProjectionsCheck:
    """Rebuilds the expected rows from the stream; compares them with :class:`LiveTables`."""

    def __init__(self) -> None:
        self._intake: dict[uuid.UUID, str] = {}
        self._sessions: dict[uuid.UUID, tuple[str, str, str, str]] = {}
        self._invoices: Rows = {}
        #: Billing's case per session, folded with billing's own rule (the audit imports no service).
        self._billing: dict[uuid.UUID, BillingOutcome] = {}
        self._cancellations: Rows = {}
        self._accounts: Rows = {}
        self._erasures: Rows = {}

    def feed(self, seen: Seen) -> None:
        """Take one decoded event into account (stream order)."""
        e = seen.event
        if isinstance(e, SupportRequestCreated):
            self._intake.setdefault(e.request_id, "open")
        elif isinstance(e, (SessionStarted, SupportRequestWithdrawn, PersonalDataErased)):
            self._raise_status(e)
        if isinstance(e, SessionStarted):
            if e.session_id not in self._sessions:
                self._sessions[e.session_id] = (str(e.request_id), "false", "", e.technician)
        elif isinstance(e, SessionTakenOver):
            # the session belongs to the new technician from now on (the live row moves with it)
            request_id, ended, duration, _ = self._sessions.get(
                e.session_id, (str(e.request_id), "false", "", ""))
            self._sessions[e.session_id] = (request_id, ended, duration, e.to_technician)
        elif isinstance(e, SessionEnded):
            # ended by the session's technician at that moment (the owner after any takeover)
            self._sessions[e.session_id] = (str(e.request_id), "true", str(e.duration_seconds), e.technician)
        elif isinstance(e, InvoiceIssued):
            self._invoices[e.invoice_number] = (str(e.session_id), norm(e.gross_total))
        elif isinstance(e, InvoiceCancelled):
            self._cancellations[e.cancellation_number] = (e.invoice_number,)
        elif isinstance(e, CustomerAccountCreated):
            # an erasure may be seen first only in a broken history; it is then kept
            closed = self._accounts.get(str(e.request_id), ("", "false"))[1]
            self._accounts[str(e.request_id)] = (e.customer_number, closed)
        elif isinstance(e, CustomerAccountErased):
            # the account stays (closed); its number is unchanged
            self._accounts[str(e.request_id)] = (e.customer_number, "true")
        elif isinstance(e, PersonalDataErased):
            # retention keeps the first erasure of each step of a request (its primary key)
            self._erasures.setdefault(f"{e.request_id}/{e.scope.value}", (e.reason.value,))
        if isinstance(e, InvoiceIssued | SessionNotBilled | BillingBlocked):
            self._billing[e.session_id] = next_outcome(self._billing.get(e.session_id, PENDING), e)

    def _raise_status(self, e: SessionStarted | SupportRequestWithdrawn | PersonalDataErased) -> None:
        current = self._intake.get(e.request_id)
        if current is None:
            return  # intake keeps only requests it created
        new = ("in_session" if isinstance(e, SessionStarted)
               else "withdrawn" if isinstance(e, SupportRequestWithdrawn) else "erased")
        if _RANK[new] > _RANK[current]:
            self._intake[e.request_id] = new

    def expected(self) -> dict[str, Rows]:
        """The rebuilt rows per table."""
        return {
            "intake.support_requests": {str(k): (v,) for k, v in self._intake.items()},
            "session.sessions": {str(k): v for k, v in self._sessions.items()},
            "billing.invoices": dict(self._invoices),
            "billing.session_billing": {str(k): (o.status.value, norm(o.block_reason and o.block_reason.value))
                                        for k, o in self._billing.items()},
            "billing.cancellations": dict(self._cancellations),
            "billing.customer_accounts": dict(self._accounts),
            "retention.erasures": dict(self._erasures),
        }

    def result(self, live: LiveTables | None, skip_reason: str = "no database access") -> CheckResult:
        """The verdict; ``live`` None means the check could not run (skipped, not passed)."""
        res = CheckResult(NAME, TITLE)
        if live is None:
            res.skipped = skip_reason
            res.notes.append(f"skipped: {skip_reason} (give --database-url to run it)")
            return res
        for table, want in self.expected().items():
            res.checked += len(want)
            if table in live.errors:
                res.fail(f"{table}: could not be read: {live.errors[table]}", table=table)
                continue
            have = live.rows.get(table, {})
            for key in live.duplicates.get(table, [])[:SHOW_KEYS]:
                res.fail(f"{table}: key occurs more than once in the live table", table=table, key=key)
            want_sum, have_sum = checksum(want), checksum(have)
            if want_sum == have_sum and not live.duplicates.get(table):
                res.notes.append(f"{table}: {len(have)} rows, sha256 {have_sum[:16]}… equal")
                continue
            differing = sorted(k for k in want.keys() | have.keys() if want.get(k) != have.get(k))
            res.notes.append(f"{table}: rebuilt {len(want)} rows sha256 {want_sum[:16]}…, "
                             f"live {len(have)} rows sha256 {have_sum[:16]}…, {len(differing)} keys differ")
            for key in differing[:SHOW_KEYS]:
                what = ("missing in the live table" if key not in have
                        else "not in the stream" if key not in want else "differs from the rebuild")
                res.fail(f"{table}: row {what}", table=table, key=key)
            if len(differing) > SHOW_KEYS:
                res.fail(f"{table}: {len(differing) - SHOW_KEYS} more keys differ", table=table)
        res.notes.append("live tables are eventually consistent: audit a quiet system (or expect "
                         "in-flight events to show as differences)")
        return res
