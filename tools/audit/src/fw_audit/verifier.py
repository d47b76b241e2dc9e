"""One pass over the history: decode, count, and feed every check.

:class:`Replay` only decodes and counts (``fernwartung audit replay``); :class:`Verifier` adds the
checks (``verify``). Both take records one at a time in stream order, so a reader can stream a
long history through them without holding it in memory.
"""

from __future__ import annotations

import time
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
from fw_audit.model import AuditReport, CheckResult, InvalidEvent, Record, ReplaySummary
from fw_audit.projections import LiveTables, ProjectionsCheck
from fw_contracts import Event, UndecodableEvent, decode
from fw_contracts.fastdecode import check_fast
from fw_contracts.reference import TariffContent


class Replay:
    """Decodes every message (with upcasting) and counts per type.

    ``counts_only`` (``fernwartung audit replay``): every message gets every check of the
    contract (``fw_contracts.fastdecode.check_fast``: msgspec, the same verdicts and reasons as the
    pydantic models) but no event object is built; :meth:`feed` then returns None.
    """

    def __init__(self, stream: str, *, counts_only: bool = False) -> None:
        self.summary = ReplaySummary(stream=stream)
        self._t0 = time.perf_counter()
        self._counts_only = counts_only

    def feed(self, record: Record) -> Event | None:
        """Decode one message; an undecodable one is listed with its reason and returns None."""
        s = self.summary
        if s.messages == 0:
            s.first_seq = record.seq
        s.messages += 1
        s.last_seq = record.seq
        try:
            if self._counts_only:
                event = None
                name, occurred_at = check_fast(record.body, record.subject)
            else:
                event = decode(record.body, record.subject)
                name, occurred_at = type(event).__name__, event.occurred_at
        except UndecodableEvent as exc:
            s.invalid.append(InvalidEvent(record.seq, record.subject, exc.reason))
            s.counts["(invalid)"] = s.counts.get("(invalid)", 0) + 1
            day = record.time.date().isoformat()
            s.per_day[day] = s.per_day.get(day, 0) + 1
            return None
        s.counts[name] = s.counts.get(name, 0) + 1
        day = occurred_at.date().isoformat()
        s.per_day[day] = s.per_day.get(day, 0) + 1
        return event

    def finish(self) -> ReplaySummary:
        """The summary, with the elapsed time."""
        self.summary.seconds = time.perf_counter() - self._t0
        return self.summary


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

    def feed(self, record: Record) -> None:
        """Take one message (in stream order) through every check."""
        self.last_time = record.time
        self.integrity.feed_record(record)
        event = self.replay.feed(record)
        self.pii.feed_record(record, None if event is not None else self.replay.summary.invalid[-1].reason)
        if event is None:
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
