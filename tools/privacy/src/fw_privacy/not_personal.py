"""Columns that hold no personal data, each with a one-line reason (the explicit allow-list).

Keys are ``schema.table.column``; ``*`` as schema stands for the platform tables that every
service schema has. A column listed here must not also be a place in the retention map.
Attributes of a pseudonymous row (times, amounts, flags, states) are listed here: they relate to
a person only through the row's identifier, which the retention map classifies (see
:mod:`fw_privacy.retention_map`).
"""

from __future__ import annotations

_ATTR = "attribute of a pseudonymous record; personal only via its identifier (classified)"
_TIME = "technical timestamp of a pseudonymous record"
_EVENT_ID = "id of an event or row (random UUID/serial), identifies no person"
_MONEY = "amount computed from the tariff; personal only via the invoice's identifiers"
_COUNTER = "number-range counter of the office, no relation to a person"
_KEY = "key-management metadata; no personal content"


def _cols(table: str, reason: str, *columns: str) -> dict[str, str]:
    return {f"{table}.{c}": reason for c in columns}


NOT_PERSONAL: dict[str, str] = {
    # ------------------------------------------------------------ platform tables, every schema
    **_cols("*.outbox", _EVENT_ID, "id", "event_id"),
    "*.outbox.subject": "subject name derived from the event class (no data)",
    "*.outbox.event_type": "event class name",
    "*.outbox.created_at": _TIME,
    **_cols("*.processed_events", _EVENT_ID, "event_id", "stream_seq"),
    "*.processed_events.consumer": "durable consumer name (code constant)",
    "*.processed_events.processed_at": _TIME,
    **_cols("*.dead_letters", _EVENT_ID, "id", "event_id", "stream_seq"),
    "*.dead_letters.consumer": "durable consumer name (code constant)",
    "*.dead_letters.subject": "subject name (no data); subjects never carry personal data",
    "*.dead_letters.reason": "error type and field names only, never values (tested: no marker in dead_letters)",
    "*.dead_letters.reason_code": "code constant: undecodable, rejected, failing (unclassified: parked before the column)",
    "*.dead_letters.deliveries": "delivery count",
    **_cols("*.dead_letters", _TIME, "parked_at", "resolved_at"),
    "*.schema_migrations.name": "migration file name",
    "*.schema_migrations.sha256": "hash of a migration file",
    "*.schema_migrations.applied_at": _TIME,
    # ------------------------------------------------------------ intake
    **_cols("intake.support_requests", _ATTR, "customer_type", "status", "withdrawal_waiver"),
    "intake.support_requests.terms_version": "version of the office's terms text",
    "intake.support_requests.terms_sha256": "hash of the office's terms text (not of personal data)",
    **_cols("intake.support_requests", _TIME, "created_at", "updated_at"),
    "intake.published_terms.terms_version": "version of the office's terms text",
    "intake.published_terms.terms_sha256": "hash of the office's terms text (not of personal data)",
    "intake.published_terms.event_id": _EVENT_ID,
    "intake.published_terms.published_at": _TIME,
    # ------------------------------------------------------------ session
    **_cols("session.requests", _ATTR, "customer_type", "status"),
    **_cols("session.requests", _TIME, "created_at", "erased_at", "updated_at"),
    **_cols("session.requests", _EVENT_ID, "correlation_id", "created_event_id"),
    "session.requests.erasure_reason": "code of the erasure reason (invoice_issued, not_billed, withdrawn, abandoned)",
    "session.sessions.version": "optimistic-concurrency counter",
    **_cols("session.sessions", _TIME, "started_at", "ended_at"),
    "session.sessions.duration_seconds": _ATTR,
    **_cols("session.session_events", _EVENT_ID, "event_id"),
    "session.session_events.event_type": "event class name",
    "session.session_events.version": "position in the session's event list",
    "session.session_events.recorded_at": _TIME,
    "session.billing_blocks.missing": "codes of missing fields (e.g. billing_address), never the values",
    **_cols("session.billing_blocks", _TIME, "blocked_at", "address_provided_at"),
    **_cols("session.billing_blocks", _EVENT_ID, "blocked_event_id", "correlation_id", "provided_event_id"),
    # ------------------------------------------------------------ billing
    **_cols("billing.session_billing", _ATTR, "promoted", "raw_seconds", "status", "tariff_version"),
    **_cols("billing.session_billing", _TIME, "started_at", "ended_at", "received_at", "decided_at"),
    "billing.session_billing.source_event_id": _EVENT_ID,
    "billing.session_billing.block_reason": "code of why issuing is blocked (e.g. document_render_failed), never data",
    # published reference data (migration 019): hashes of the office's tariffs and issuer details
    **_cols("billing.published_reference", _EVENT_ID, "id", "event_id"),
    "billing.published_reference.kind": "code constant: tariff or issuer",
    "billing.published_reference.key": "a tariff version or the hash of earlier issuer details (office data)",
    "billing.published_reference.sha256": "hash of a tariff or of the office's own issuer details",
    "billing.published_reference.published_at": _TIME,
    **_cols("billing.invoices", _MONEY, "net_total", "vat_total", "gross_total", "vat_rate", "currency"),
    "billing.invoices.lines": "invoice lines generated from the tariff (text + amounts), never typed by anyone",
    **_cols("billing.invoices", _ATTR, "kind", "e_invoice", "raw_seconds", "billed_seconds", "tariff_version",
            "year", "seq"),
    "billing.invoices.tax_case": "tax case (domestic, reverse_charge, ...), derived; the VAT id stays encrypted",
    "billing.invoices.corrects": "number of the cancelled invoice a corrected invoice replaces",
    "billing.invoices.correction_reason": "reason code of a correction (wrong_duration, ...), never free text",
    "billing.invoices.priced_seconds": "corrected duration a corrected invoice is priced by",
    **_cols("billing.invoices", _TIME, "issued_at", "service_date"),
    "billing.invoices.event_id": _EVENT_ID,
    **_cols("billing.cancellations", _MONEY, "net_total", "vat_total", "gross_total", "vat_rate", "currency"),
    "billing.cancellations.lines": "lines generated from the cancelled invoice, never typed by anyone",
    **_cols("billing.cancellations", _ATTR, "reason_code", "e_invoice", "year", "seq"),
    "billing.cancellations.issued_at": _TIME,
    "billing.cancellations.event_id": _EVENT_ID,
    **_cols("billing.invoice_counters", _COUNTER, "year", "last_seq"),
    **_cols("billing.cancellation_counters", _COUNTER, "year", "last_seq"),
    **_cols("billing.invoice_recipients", _ATTR, "kind", "year"),
    "billing.invoice_recipients.recorded_at": _TIME,
    **_cols("billing.invoice_archive", _ATTR, "document_type", "year"),
    "billing.invoice_archive.archived_at": _TIME,
    **_cols("billing.customer_accounts", _KEY, "key_year"),
    "billing.customer_accounts.created_at": _TIME,
    "billing.customer_accounts.closed_at": _TIME,
    "billing.customer_accounts.closure_reason": "code of the erasure reason (customer_request, relationship_ended)",
    "billing.work_notes.key_year": _KEY,
    "billing.work_notes.written_at": _TIME,
    **_cols("billing.data_keys", _KEY, "purpose", "year", "created_at"),
    "billing.data_keys.wrapped": "wrapped key material (no personal content); destroyed with the archive year",
    **_cols("billing.deliveries", _ATTR, "status", "attempts", "year"),
    "billing.deliveries.id": _EVENT_ID,
    "billing.deliveries.last_error_type": "error label only, never a server's message (checked by a CHECK constraint)",
    "billing.deliveries.channel": "code: email or manual (handed over by hand)",
    **_cols("billing.deliveries", _TIME, "created_at", "next_attempt_at", "last_attempt_at", "sent_at"),
    **_cols("billing.archive_destructions", "proof of a destruction: a year and counts only",
            "year", "destroyed_at", "documents", "recipients"),
    **_cols("billing.request_facts", _ATTR, "customer_type", "has_email", "has_billing_address"),
    "billing.request_facts.download_sha256": "SHA-256 of a random 256-bit download code (a capability, "
                                             "not derived from any personal data; the code itself is not kept)",
    "billing.request_facts.recorded_at": _TIME,
    # ------------------------------------------------------------ retention
    **_cols("retention.vault_entries", "random AES-GCM nonce", "nonce"),
    "retention.vault_entries.stored_at": _TIME,
    **_cols("retention.vault_statements", "random AES-GCM nonce", "nonce"),
    **_cols("retention.vault_delivery_emails", "random AES-GCM nonce", "nonce"),
    "retention.vault_delivery_emails.kept_at": _TIME,
    "retention.vault_statements.stored_at": _TIME,
    "retention.vault_keys.kek_id": "hash prefix naming the master key (not the key, no personal data)",
    "retention.vault_keys.created_at": _TIME,
    "retention.vault_access_log.id": _EVENT_ID,
    "retention.vault_access_log.caller": "name of the asking service (intake, session, billing, retention), no person",
    "retention.vault_entries.claimed_outcome": _ATTR,
    "retention.vault_entries.claimed_at": _TIME,
    "retention.avv_requests.id": _EVENT_ID,
    "retention.avv_requests.avv_version": "version of the office's AVV template",
    "retention.avv_requests.avv_sha256": "hash of the office's AVV template",
    "retention.billing_holds.blocked_at": _TIME,
    "retention.billing_holds.blocked_event_id": _EVENT_ID,
    # ------------------------------------------------------------ reporting (facts copied from events)
    **_cols("reporting.invoices", _MONEY, "net_total", "vat_total", "gross_total"),
    **_cols("reporting.invoices", _ATTR, "kind", "raw_seconds", "billed_seconds", "tariff_version"),
    "reporting.invoices.issued_at": _TIME,
    "reporting.invoices.event_id": _EVENT_ID,
    **_cols("reporting.cancellations", _MONEY, "net_total", "vat_total", "gross_total"),
    "reporting.cancellations.reason_code": _ATTR,
    "reporting.cancellations.cancelled_at": _TIME,
    "reporting.cancellations.event_id": _EVENT_ID,
    **_cols("reporting.sessions", _ATTR, "duration_seconds", "promoted"),
    **_cols("reporting.sessions", _TIME, "started_at", "ended_at"),
    **_cols("reporting.not_billed", _ATTR, "reason", "raw_seconds"),
    "reporting.not_billed.occurred_at": _TIME,
    "reporting.promotions.stated_at": _TIME,
    "reporting.customer_accounts.created_at": _TIME,
    "reporting.erasure_triggers.event_id": _EVENT_ID,
    "reporting.erasure_triggers.event_type": "event class name",
    "reporting.erasure_triggers.occurred_at": _TIME,
    **_cols("reporting.erasures", _EVENT_ID, "event_id", "trigger_event_id"),
    **_cols("reporting.erasures", _ATTR, "reason", "had_data"),
    "reporting.erasures.erased_at": _TIME,
}
