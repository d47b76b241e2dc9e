"""Every support request ends in erasure (on time) or in promotion (DESIGN.md, LEGAL.md L9/L10).

An erasure is due at the *first* trigger of its request (invoice issued, session not billed,
request withdrawn) plus ``max_delay``, and at the latest at creation + ``abandon_after`` +
``abandon_slack`` (the retention sweep). A request whose due time lies after ``as_of`` (the end
of the audited history) is pending, not failed.

Billing hold: while billing waits for the recipient's address (``BillingBlocked`` for the
request), retention does not erase it as abandoned; the latest erasure is then
``max(creation + abandon_after, first block + billing_hold) + abandon_slack`` — the same rule as
``fw_retention.domain.rules.erasure_deadline``. So an erasure on day 60 of a blocked request is on
time, one after the hold is late. Only blocks and triggers *before* the request's first erasure
count: billing answers the hold's erasure with ``SessionNotBilled`` (``recipient_data_erased``),
which comes after the erasure and does not make it "late after its trigger".

Delivery (LEGAL.md L21): an invoice to be e-mailed erases everything but the e-mail address
(``scope=all_but_delivery_email``). That address is a second step (``scope=delivery_email``),
due at the first ``InvoiceDelivered``/``InvoiceDeliveryFailed`` of the request plus
``max_delay``, and at the latest at the invoice + ``delivery_hold`` + ``abandon_slack`` (retention's
delivery hold) — each delay measured from its own trigger. A first step without its second is
pending until then and missing after it; a first step whose announced hold is longer than
``delivery_hold`` fails. A delivery event before the first step is a trigger like the invoice
(retention erases everything at once then).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from fw_audit.checks import Seen
from fw_audit.model import CheckResult
from fw_contracts.events import (
    BillingBlocked,
    CustomerAccountCreated,
    CustomerPromoted,
    ErasureReason,
    ErasureScope,
    InvoiceDelivered,
    InvoiceDeliveryFailed,
    InvoiceIssued,
    PersonalDataErased,
    SessionNotBilled,
    SupportRequestCreated,
    SupportRequestWithdrawn,
)

NAME = "erasure"
TITLE = "Every request erased on time or promoted"

#: Which erasure reason each trigger event justifies.
TRIGGER_REASON: dict[type, ErasureReason] = {
    InvoiceIssued: ErasureReason.INVOICE_ISSUED,
    SessionNotBilled: ErasureReason.NOT_BILLED,
    SupportRequestWithdrawn: ErasureReason.WITHDRAWN,
    InvoiceDelivered: ErasureReason.INVOICE_DELIVERED,
    InvoiceDeliveryFailed: ErasureReason.INVOICE_DELIVERY_FAILED,
}
#: The events that end the delivery the kept e-mail address serves.
DELIVERY_TRIGGERS = (InvoiceDelivered, InvoiceDeliveryFailed)


@dataclass(frozen=True, slots=True)
class _Mark:
    seq: int
    at: datetime
    event_id: uuid.UUID
    kind: str


@dataclass
class _Request:
    created: _Mark | None = None
    triggers: list[_Mark] = field(default_factory=list)
    blocks: list[_Mark] = field(default_factory=list)
    deliveries: list[_Mark] = field(default_factory=list)
    erasures: list[tuple[_Mark, PersonalDataErased]] = field(default_factory=list)
    promoted: list[_Mark] = field(default_factory=list)


class ErasureCheck:
    """Collects the lifecycle of every request, then judges it at ``as_of``."""

    def __init__(self, *, max_delay: timedelta, abandon_after: timedelta, abandon_slack: timedelta,
                 billing_hold: timedelta = timedelta(days=90),
                 delivery_hold: timedelta = timedelta(days=14)) -> None:
        self.max_delay = max_delay
        self.abandon_after = abandon_after
        self.abandon_slack = abandon_slack
        self.billing_hold = billing_hold
        self.delivery_hold = delivery_hold
        self._requests: dict[uuid.UUID, _Request] = {}
        self._triggers: dict[uuid.UUID, tuple[uuid.UUID, _Mark]] = {}
        #: Erasure delays in seconds (after the trigger, or after the abandonment deadline).
        self.delays: list[float] = []

    def _req(self, request_id: uuid.UUID) -> _Request:
        return self._requests.setdefault(request_id, _Request())

    def feed(self, seen: Seen) -> None:
        """Take one decoded event into account."""
        e = seen.event
        mark = _Mark(seen.seq, e.occurred_at, e.event_id, type(e).__name__)
        if isinstance(e, SupportRequestCreated):
            req = self._req(e.request_id)
            if req.created is None:
                req.created = mark
        elif isinstance(e, (InvoiceIssued, SessionNotBilled, SupportRequestWithdrawn)):
            self._req(e.request_id).triggers.append(mark)
            self._triggers[e.event_id] = (e.request_id, mark)
        elif isinstance(e, DELIVERY_TRIGGERS):
            req = self._req(e.request_id)
            req.triggers.append(mark)  # before the first step it erases everything
            req.deliveries.append(mark)
            self._triggers[e.event_id] = (e.request_id, mark)
        elif isinstance(e, BillingBlocked):
            self._req(e.request_id).blocks.append(mark)
        elif isinstance(e, PersonalDataErased):
            self._req(e.request_id).erasures.append((_Mark(seen.seq, e.erased_at, e.event_id, "erased"), e))
        elif isinstance(e, (CustomerAccountCreated, CustomerPromoted)):
            self._req(e.request_id).promoted.append(mark)

    def _due(self, req: _Request) -> tuple[datetime, _Mark | None, _Mark | None]:
        """``(due, first trigger, first billing block)``, counting only what came before the
        request's first erasure (everything while it is not erased)."""
        assert req.created is not None
        before = min((m.seq for m, _ in req.erasures), default=None)

        def counts(m: _Mark) -> bool:
            return before is None or m.seq < before

        latest = req.created.at + self.abandon_after
        block = min(filter(counts, req.blocks), key=lambda m: m.at, default=None)
        if block is not None:
            latest = max(latest, block.at + self.billing_hold)
        latest += self.abandon_slack
        first = min(filter(counts, req.triggers), key=lambda m: m.seq, default=None)
        if first is None:
            return latest, None, block
        return min(first.at + self.max_delay, latest), first, block

    def result(self, as_of: datetime) -> CheckResult:
        """The verdict for the history up to ``as_of``."""
        res = CheckResult(NAME, TITLE)
        erased = promoted = orphans = repeated = held = kept = 0
        for request_id, req in self._requests.items():
            if req.created is None:
                orphans += 1  # e.g. withdrawn before intake stored anything: nothing to prove
                continue
            res.checked += 1
            due, trigger, block = self._due(req)
            held += block is not None
            if req.erasures:
                erased += 1
                first = min(req.erasures, key=lambda pair: pair[0].seq)[1]
                two_steps = first.scope is ErasureScope.ALL_BUT_DELIVERY_EMAIL
                kept += two_steps
                repeated += len(req.erasures) > (2 if two_steps else 1)
                self._judge_erasure(res, request_id, req, due, trigger, block)
                if two_steps:
                    self._judge_second_step(res, request_id, req, as_of)
            elif req.promoted:
                promoted += 1
            elif as_of > due:
                seqs = ([trigger.seq] if trigger else []) + [req.created.seq] + ([block.seq] if block else [])
                cause = (f"{trigger.kind} at seq {trigger.seq}" if trigger
                         else f"end of the billing hold after BillingBlocked at seq {block.seq}" if block
                         else "abandonment deadline")
                res.fail(f"missing erasure: due {due.isoformat()} ({cause}), none by {as_of.isoformat()}",
                         *seqs, request_id=request_id)
            else:
                why = " (billing hold: billing waits for the address)" if block is not None and trigger is None else ""
                res.pend(f"open, erasure due by {due.isoformat()}{why}", req.created.seq, request_id=request_id)
        res.notes.append(f"{res.checked} requests: {erased} erased, {promoted} promoted without erasure, "
                         f"{len(res.pending)} pending; max delay after a trigger "
                         f"{self.max_delay.total_seconds():g} s, abandonment after "
                         f"{self.abandon_after.total_seconds() / 86400:g} d + "
                         f"{self.abandon_slack.total_seconds():g} s; billing hold "
                         f"{self.billing_hold.total_seconds() / 86400:g} d after the first BillingBlocked "
                         f"({held} requests); delivery e-mail kept until the delivery, at most "
                         f"{self.delivery_hold.total_seconds() / 86400:g} d after the invoice ({kept} requests)")
        if orphans:
            res.notes.append(f"{orphans} request ids have events but no SupportRequestCreated in this history")
        if repeated:
            res.notes.append(f"{repeated} requests were erased more than once (only the first counts, "
                             "and the second step of a kept delivery e-mail)")
        return res

    def _judge_erasure(self, res: CheckResult, request_id: uuid.UUID, req: _Request, due: datetime,
                       trigger: _Mark | None, block: _Mark | None) -> None:
        assert req.created is not None
        mark, event = min(req.erasures, key=lambda pair: pair[0].seq)
        if event.trigger_event_id is not None:
            named = self._triggers.get(event.trigger_event_id)
            if named is None or named[0] != request_id:
                res.fail("erasure names a trigger event that is not a trigger of this request",
                         mark.seq, req.created.seq, request_id=request_id,
                         trigger_event_id=event.trigger_event_id)
                return
        if event.reason is not ErasureReason.ABANDONED and trigger is None:
            res.fail(f"erasure for reason {event.reason.value} without any trigger event",
                     mark.seq, req.created.seq, request_id=request_id)
            return
        if trigger is not None:
            self.delays.append((mark.at - trigger.at).total_seconds())
        else:
            self.delays.append((mark.at - (due - self.abandon_slack)).total_seconds())
        if mark.at > due:
            if trigger is not None and trigger.at + self.max_delay <= due:
                late = (mark.at - trigger.at).total_seconds()
                why = (f"late erasure: {late:g} s after {trigger.kind} (seq {trigger.seq}), "
                       f"allowed {self.max_delay.total_seconds():g} s")
            elif block is not None:
                why = (f"late erasure: after the end of the billing hold {due.isoformat()} "
                       f"({self.billing_hold.total_seconds() / 86400:g} d after BillingBlocked at seq {block.seq})")
            else:
                why = f"late erasure: after the abandonment deadline {due.isoformat()}"
            seqs = [mark.seq, req.created.seq] + ([trigger.seq] if trigger else []) + ([block.seq] if block else [])
            res.fail(why, *seqs, request_id=request_id, erasure_event_id=mark.event_id)

    def _judge_second_step(self, res: CheckResult, request_id: uuid.UUID, req: _Request,
                           as_of: datetime) -> None:
        """The kept delivery e-mail address: erased at the first delivery outcome (+ max_delay),
        at the latest at the invoice + delivery_hold (+ slack)."""
        ordered = sorted(req.erasures, key=lambda pair: pair[0].seq)
        first_mark, first = ordered[0]
        issued = self._triggers.get(first.trigger_event_id) if first.trigger_event_id else None
        start = issued[1] if issued else first_mark  # the invoice (or, unnamed, the first step)
        hold_end = start.at + self.delivery_hold
        if first.delivery_hold_until is None or first.delivery_hold_until > hold_end:
            res.fail(f"delivery e-mail kept beyond the delivery hold of "
                     f"{self.delivery_hold.total_seconds() / 86400:g} d (announced until "
                     f"{first.delivery_hold_until.isoformat() if first.delivery_hold_until else 'never'})",
                     first_mark.seq, start.seq, request_id=request_id)
            return
        second = next(((m, e) for m, e in ordered[1:] if e.scope is not ErasureScope.ALL_BUT_DELIVERY_EMAIL), None)
        before = second[0].seq if second else None
        outcome = min((m for m in req.deliveries if before is None or m.seq < before),
                      key=lambda m: m.seq, default=None)
        latest = hold_end + self.abandon_slack
        due = min(outcome.at + self.max_delay, latest) if outcome else latest
        if second is None:
            if as_of > due:
                cause = (f"{outcome.kind} at seq {outcome.seq}" if outcome
                         else f"end of the delivery hold {hold_end.isoformat()}")
                res.fail(f"missing erasure of the kept delivery e-mail: due {due.isoformat()} ({cause}), "
                         f"none by {as_of.isoformat()}", first_mark.seq, *([outcome.seq] if outcome else []),
                         request_id=request_id)
            else:
                res.pend(f"delivery e-mail kept, erasure due by {due.isoformat()}", first_mark.seq,
                         request_id=request_id)
            return
        mark, event = second
        if event.trigger_event_id is not None:
            named = self._triggers.get(event.trigger_event_id)
            if named is None or named[0] != request_id:
                res.fail("erasure of the delivery e-mail names a trigger event that is not one of this request",
                         mark.seq, first_mark.seq, request_id=request_id, trigger_event_id=event.trigger_event_id)
                return
        self.delays.append((mark.at - (outcome.at if outcome else hold_end)).total_seconds())
        if mark.at > due:
            why = (f"late erasure of the delivery e-mail: {(mark.at - outcome.at).total_seconds():g} s after "
                   f"{outcome.kind} (seq {outcome.seq}), allowed {self.max_delay.total_seconds():g} s"
                   if outcome and outcome.at + self.max_delay <= latest
                   else f"late erasure of the delivery e-mail: after the end of the delivery hold "
                        f"{hold_end.isoformat()}")
            res.fail(why, mark.seq, first_mark.seq, *([outcome.seq] if outcome else []),
                     request_id=request_id, erasure_event_id=mark.event_id)
