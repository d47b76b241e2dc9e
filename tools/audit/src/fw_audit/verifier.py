"""One pass over the history: decode, count, and feed every check.

:class:`Replay` only decodes and counts (``fernwartung audit replay``); :class:`Verifier` adds the
checks (``verify``). Both take records one at a time in stream order, so a reader can stream a
long history through them without holding it in memory.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from fw_audit.checks import Seen
from fw_audit.checks.documents import InvoiceDocumentsCheck
from fw_audit.checks.erasure import ErasureCheck
from fw_audit.checks.integrity import IntegrityCheck
from fw_audit.checks.numbering import NumberingCheck
from fw_audit.checks.pii import PersonalDataCheck
from fw_audit.checks.terms import TermsCheck
from fw_audit.checks.totals import TotalsCheck
from fw_audit.model import AuditReport, CheckResult, Record
from fw_audit.projections import LiveTables, ProjectionsCheck
from fw_audit.replay import Replay
from fw_contracts.reference import TariffContent

__all__ = ["Replay", "Verifier", "VerifyOptions", "verify_records"]


@dataclass
class VerifyOptions:
    """Everything the checks can be configured with (CLI options map onto these)."""

    max_erasure_delay: timedelta = timedelta(seconds=60)
    abandon_after: timedelta = timedelta(days=14)
    abandon_slack: timedelta = timedelta(hours=1)
    #: Retention's billing hold (``FW_RETENTION_BILLING_HOLD_DAYS``): a request billing waits on
    #: is erased at the latest this long after its first BillingBlocked (plus the slack).
    billing_hold: timedelta = timedelta(days=90)
    #: Retention's delivery hold (``FW_RETENTION_DELIVERY_HOLD_DAYS``): an e-mail address kept for
    #: an invoice's delivery is erased at the latest this long after the invoice (plus the slack).
    delivery_hold: timedelta = timedelta(days=14)
    trusted_keys: frozenset[str] = frozenset()
    #: Tariffs from ``--tariff-dir`` files: only for invoices without a ``TariffPublished`` in the
    #: stream (histories from before billing published its tariffs).
    tariff_files: dict[str, TariffContent] = field(default_factory=dict)
    tariff_files_note: str = ""
    reference: Mapping[int, bytes] | None = None
    reference_name: str = ""
    stream_config: Mapping[str, object] | None = None
    config_source: str = "live stream"
    #: DSN of the ``fernwartung`` database (admin or read-only) for the projections check;
    #: None: that check is skipped (and the verify cannot fully pass).
    database_url: str | None = None


_SEQ_BITS = 48  # stream sequences stay far below 2**48 (a million events a day for 700 years)
_SEQ_MASK = (1 << _SEQ_BITS) - 1


class Verifier:
    """Runs replay and every check in a single pass."""

    def __init__(self, stream: str, options: VerifyOptions) -> None:
        self.options = options
        self.replay = Replay(stream)
        self.erasure = ErasureCheck(max_delay=options.max_erasure_delay, abandon_after=options.abandon_after,
                                    abandon_slack=options.abandon_slack, billing_hold=options.billing_hold,
                                    delivery_hold=options.delivery_hold)
        self.numbering = NumberingCheck()
        self.totals = TotalsCheck(options.tariff_files, options.tariff_files_note)
        self.pii = PersonalDataCheck()
        self.terms = TermsCheck()
        self.integrity = IntegrityCheck(trusted_keys=options.trusted_keys, reference=options.reference,
                                        reference_name=options.reference_name,
                                        stream_config=options.stream_config,
                                        config_source=options.config_source)
        self.projections = ProjectionsCheck()
        #: Only when verifying a bundle: its invoice documents against the events.
        self.documents: InvoiceDocumentsCheck | None = None
        #: Only when verifying a bundle: the verdict on its manifest's signature.
        self.bundle_signature: CheckResult | None = None
        #: The live tables, read by the runner after the last record (None: not read).
        self.live: LiveTables | None = None
        self.last_time: datetime | None = None
        #: Every event id met so far: ``event_id.int`` -> ``digest << 48 | seq`` (two ints per event:
        #: 136 bytes each with the dict, measured; 140 MB for a million events).
        self._ids: dict[int, int] = {}

    def feed(self, record: Record) -> None:
        """Take one message (in stream order) through every check."""
        self.last_time = record.time
        self.integrity.feed_record(record)
        event = self.replay.feed(record)
        self.pii.feed_record(record, None if event is not None else self.replay.summary.invalid[-1].reason)
        if event is None or self._stored_before(record, event.event_id.int):
            return
        seen = Seen(record.seq, record.time, event)
        self.erasure.feed(seen)
        self.numbering.feed(seen)
        self.totals.feed(seen)
        self.terms.feed(seen)
        self.integrity.feed(seen)
        self.projections.feed(seen)
        if self.documents is not None:
            self.documents.feed(seen)

    def _stored_before(self, record: Record, event_id: int) -> bool:
        """Whether this event id was met before: then the message is left out of the checks that
        follow requests, numbers and sessions (the services' consumers drop it the same way, by
        their idempotency records).

        The outbox relay publishes a row again when it cannot know that the first publish was
        stored (a crash between JetStream's ack and the row's delete); within the stream's
        duplicate window JetStream drops the copy, after it (the office restarted the next morning)
        the stream holds the same message twice. Such a copy is listed in the integrity check's
        notes, not failed. A message with a known id but other content is no copy: a failure.
        """
        digest = int.from_bytes(hashlib.blake2b(record.body, digest_size=8).digest(), "big")
        mark = digest << _SEQ_BITS | record.seq
        first = self._ids.setdefault(event_id, mark)
        if first == mark:
            return False
        self.integrity.stored_again(event_id, first & _SEQ_MASK, record.seq, same=first >> _SEQ_BITS == digest)
        return True

    def feed_all(self, records: Iterable[Record]) -> Verifier:
        """Feed every record of ``records``."""
        for record in records:
            self.feed(record)
        return self

    def finish(self, as_of: datetime, source: str) -> AuditReport:
        """The report: ``as_of`` is the end of the audited history (pending vs. missing erasure)."""
        checks = [self.erasure.result(as_of), self.numbering.result(), self.totals.result(),
                  self.terms.result(), self.pii.result(), self.integrity.result(), self.projections.result(self.live)]
        if self.documents is not None:
            checks.append(self.documents.result())
        if self.bundle_signature is not None:
            checks.append(self.bundle_signature)
        return AuditReport(summary=self.replay.finish(), checks=checks, as_of=as_of, source=source,
                           erasure_delays=list(self.erasure.delays))


def verify_records(records: Iterable[Record], as_of: datetime, *, options: VerifyOptions | None = None,
                   stream: str = "FERNWARTUNG", source: str = "in-memory") -> AuditReport:
    """Verify an in-memory history (unit tests, small tools)."""
    return Verifier(stream, options or VerifyOptions()).feed_all(records).finish(as_of, source)
