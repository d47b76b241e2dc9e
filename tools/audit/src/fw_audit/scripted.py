"""Scripted histories: every kind of request lifecycle, for tests and benchmarks.

The invoices are priced by the shipped tariff ``2026-01`` (15-minute intervals at 24.00 EUR net,
at least one interval, free below 120 s, 19 % VAT). Sessions start on weekdays between 08:00 and
17:00 office time, where that tariff has no surcharge, so the generator needs no billing code
and billing's own pricing re-prices every invoice identically.
"""

from __future__ import annotations

import hashlib
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fw_audit.chain import Chain, sign
from fw_audit.model import Record
from fw_contracts import Event
from fw_contracts import events as ev
from fw_contracts.reference import (
    IssuerDetails,
    IssuerDetailsChanged,
    TariffContent,
    TariffPublished,
    TariffSurcharge,
    TermsPublished,
)

OFFICE = ZoneInfo("Europe/Berlin")
TARIFF = "2026-01"
INTERVAL, RATE, MIN_BILLED, FREE_BELOW, VAT = 900, Decimal("24.00"), 900, 120, Decimal("0.19")
ERASURE_DELAY = timedelta(seconds=2)
#: The terms text the scripted requests accept (intake publishes it: ``TermsPublished``).
TERMS_TEXT = "agb"
#: The shipped tariff 2026-01 as billing publishes it (``TariffPublished``).
TARIFF_2026_01 = TariffContent(
    version=TARIFF, base_fee=Decimal("0.00"), interval_seconds=INTERVAL, rate_per_interval=RATE,
    min_billed_seconds=MIN_BILLED, free_threshold_seconds=FREE_BELOW, vat_rate=VAT, timezone="Europe/Berlin",
    surcharges=(TariffSurcharge(kind="evening", percent=Decimal(25), description="Abendzuschlag",
                                start="18:00", until="24:00"),
                TariffSurcharge(kind="weekend", percent=Decimal(50), description="Wochenendzuschlag")))
#: billing's shipped example issuer (``fw_billing.domain.issuer.EXAMPLE_ISSUER``) as published.
EXAMPLE_ISSUER = IssuerDetails(
    name="Beispiel Fernwartung GmbH (Beispiel)", street="Beispielstraße 1", postal_code="10115", city="Berlin",
    country="DE", tax_number="12/345/67890", vat_id="DE123456789",
    trade_register="HRB 00000 (Beispiel), Amtsgericht Berlin-Charlottenburg", iban="DE02120300000000202051",
    bic="BYLADEM1001", bank="Beispielbank")


@dataclass
class Item:
    """One message to be stored: an event, or raw bytes that bypass the model."""

    subject: str
    body: bytes
    time: datetime
    event: Event | None = None


def _ticket(rng: random.Random) -> str:
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
    return "".join(rng.choice(alphabet) for _ in range(4)) + "-" + "".join(rng.choice(alphabet) for _ in range(3))


def price_2026_01(raw_seconds: int) -> tuple[int, tuple[ev.InvoiceLine, ...], Decimal, Decimal, Decimal]:
    """``(billed seconds, lines, net, vat, gross)`` by tariff 2026-01 without surcharge."""
    intervals = -(-max(raw_seconds, MIN_BILLED) // INTERVAL)
    net = (RATE * intervals).quantize(Decimal("0.01"))
    line = ev.InvoiceLine(description="Fernwartung je angefangene 15 Min.", quantity=Decimal(intervals),
                          unit="C62", unit_price=RATE, net=net)
    vat = (net * VAT).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return intervals * INTERVAL, (line,), net, vat, net + vat


@dataclass
class History:
    """A growing scripted history; :meth:`items` returns it in time order (the stream order)."""

    seed: int = 7
    _items: list[Item] = field(default_factory=list)
    _numbers: dict[tuple[str, int], int] = field(default_factory=dict)
    _customers: int = 0
    #: The hash of the published tariff (None: an older history without TariffPublished).
    _tariff_sha: str | None = None

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    # ------------------------------------------------------------------ building blocks
    def add(self, event: Event, time: datetime | None = None) -> Event:
        """Append an event (stored at its ``occurred_at`` unless ``time`` is given)."""
        self._items.append(Item(event.subject(), event.to_json(), time or event.occurred_at, event))
        return event

    def remove(self, event: Event) -> None:
        """Drop ``event`` from the history (a defect: e.g. a missing erasure)."""
        self._items = [i for i in self._items if i.event is not event]

    def replace(self, old: Event, new: Event) -> None:
        """Put ``new`` where ``old`` was (stored at ``new.occurred_at``)."""
        self._items = [Item(new.subject(), new.to_json(), new.occurred_at, new) if i.event is old else i
                       for i in self._items]

    def add_raw(self, subject: str, body: bytes, time: datetime) -> None:
        """Append raw bytes that bypass the contracts (e.g. an injected defect)."""
        self._items.append(Item(subject, body, time))

    def reference(self, at: datetime, tariff: TariffContent = TARIFF_2026_01,
                  issuer: IssuerDetails = EXAMPLE_ISSUER) -> tuple[TariffPublished, IssuerDetailsChanged]:
        """The reference data at ``at``: intake's terms, billing's tariff and issuer (invoices then
        name the tariff's hash)."""
        published = TariffPublished.of(tariff, occurred_at=at)
        changed = IssuerDetailsChanged.of(issuer, None, occurred_at=at)
        self.add(TermsPublished.of("2026-01", TERMS_TEXT, occurred_at=at))
        self.add(changed)
        self.add(published)
        self._tariff_sha = published.tariff_sha256
        return published, changed

    def _number(self, series: str, at: datetime) -> str:
        year = at.astimezone(OFFICE).year
        n = self._numbers.get((series, year), 0) + 1
        self._numbers[(series, year)] = n
        return f"{series}-{year}-{n:06d}"

    def _created(self, at: datetime, **kw: object) -> ev.SupportRequestCreated:
        terms = ev.TermsAcceptance(terms_version="2026-01", terms_sha256=hashlib.sha256(TERMS_TEXT.encode()).hexdigest(),
                                   accepted_at=at)
        return ev.SupportRequestCreated(request_id=uuid.uuid4(), ticket=_ticket(self.rng), terms=terms,
                                        occurred_at=at, **kw)  # type: ignore[arg-type]

    def _erase(self, req: ev.SupportRequestCreated, reason: ev.ErasureReason, at: datetime,
               trigger: Event | None = None) -> ev.PersonalDataErased:
        caused = trigger.caused() if trigger else {"correlation_id": req.correlation_id}
        return ev.PersonalDataErased(request_id=req.request_id, reason=reason,
                                     trigger_event_id=trigger.event_id if trigger else None,
                                     erased_at=at, occurred_at=at, **caused)

    def _session(self, req: ev.SupportRequestCreated, start: datetime, seconds: int,
                 promoted: bool = False) -> list[Event]:
        sid = uuid.uuid4()
        tech = f"tech-{self.rng.randint(1, 9):02d}"
        out: list[Event] = [ev.SessionStarted(**req.caused(session_id=sid, request_id=req.request_id,
                                                          technician=tech, started_at=start, occurred_at=start))]
        end = start + timedelta(seconds=seconds)
        if promoted:
            at = start + timedelta(seconds=seconds // 2)
            out.append(ev.CustomerPromoted(**req.caused(session_id=sid, request_id=req.request_id, technician=tech,
                                                        statement_sha256=hashlib.sha256(sid.bytes).hexdigest(),
                                                        stated_at=at, occurred_at=at)))
        out.append(ev.SessionEnded(**req.caused(session_id=sid, request_id=req.request_id, technician=tech,
                                                started_at=start, ended_at=end, duration_seconds=seconds,
                                                promoted=promoted, occurred_at=end)))
        return out

    # ------------------------------------------------------------------ lifecycles
    def invoiced(self, created: datetime, seconds: int = 1500, promoted: bool = False) -> dict[str, Event]:
        """Request → session → (promotion →) invoice → erasure on the invoice."""
        req = self.add(self._created(created))
        assert isinstance(req, ev.SupportRequestCreated)
        start = created + timedelta(minutes=2)
        session = [self.add(e) for e in self._session(req, start, seconds, promoted)]
        ended = session[-1]
        assert isinstance(ended, ev.SessionEnded)
        out: dict[str, Event] = {"created": req, "ended": ended}
        at = ended.ended_at + timedelta(seconds=1)
        customer = None
        if promoted:
            self._customers += 1
            customer = f"K{self._customers:05d}"
            out["account"] = self.add(ev.CustomerAccountCreated(**ended.caused(
                customer_number=customer, request_id=req.request_id, session_id=ended.session_id, occurred_at=at)))
        billed, lines, net, vat, gross = price_2026_01(seconds)
        kind = ev.InvoiceKind.SMALL if gross <= Decimal("250.00") else ev.InvoiceKind.FULL
        inv = ev.InvoiceIssued(**ended.caused(
            invoice_number=self._number("FW", at), session_id=ended.session_id, request_id=req.request_id,
            kind=kind, issued_at=at, service_date=ended.ended_at, tariff_version=TARIFF, raw_seconds=seconds,
            billed_seconds=billed, lines=lines, net_total=net, vat_rate=VAT, vat_total=vat, gross_total=gross,
            customer_number=customer, occurred_at=at, tariff_sha256=self._tariff_sha))
        out["invoice"] = self.add(inv)
        out["erased"] = self.add(self._erase(req, ev.ErasureReason.INVOICE_ISSUED, at + ERASURE_DELAY, inv))
        return out

    def invoiced_by_email(self, created: datetime, *, outcome: str | None = "delivered",
                          outcome_after: timedelta = timedelta(minutes=5),
                          second_after: timedelta = ERASURE_DELAY,
                          delivery_hold: timedelta = timedelta(days=14)) -> dict[str, Event]:
        """An invoice to be e-mailed: the first erasure step keeps the address, the delivery's
        outcome (``delivered``/``failed``; None: none, the hold ends) erases it."""
        out = self.invoiced(created)
        first = out["erased"]
        inv = out["invoice"]
        assert isinstance(first, ev.PersonalDataErased) and isinstance(inv, ev.InvoiceIssued)
        kept = first.model_copy(update={"scope": ev.ErasureScope.ALL_BUT_DELIVERY_EMAIL,
                                        "delivery_hold_until": inv.occurred_at + delivery_hold})
        self.replace(first, kept)
        out["erased"] = kept
        req = out["created"]
        assert isinstance(req, ev.SupportRequestCreated)
        trigger: Event | None = None
        if outcome is not None:
            at = inv.occurred_at + outcome_after
            common = {"document_number": inv.invoice_number, "document_type": "invoice",
                      "request_id": req.request_id, "attempts": 1, "occurred_at": at}
            trigger = self.add(ev.InvoiceDelivered(**inv.caused(channel=ev.DeliveryChannel.EMAIL, delivered_at=at,
                                                                **common)) if outcome == "delivered"
                               else ev.InvoiceDeliveryFailed(**inv.caused(failure=ev.DeliveryFailure.MAILBOX_UNKNOWN,
                                                                          failed_at=at, **common)))
            out["outcome"] = trigger
            at = at + second_after
            reason = (ev.ErasureReason.INVOICE_DELIVERED if outcome == "delivered"
                      else ev.ErasureReason.INVOICE_DELIVERY_FAILED)
        else:
            at = inv.occurred_at + delivery_hold + second_after
            reason = ev.ErasureReason.DELIVERY_HOLD_ENDED
        second = self._erase(req, reason, at, trigger)
        out["erased_email"] = self.add(second.model_copy(update={"scope": ev.ErasureScope.DELIVERY_EMAIL}))
        return out

    def not_billed(self, created: datetime, seconds: int = 60) -> dict[str, Event]:
        """A session below the free threshold: not billed, erased."""
        req = self.add(self._created(created))
        assert isinstance(req, ev.SupportRequestCreated)
        ended = [self.add(e) for e in self._session(req, created + timedelta(minutes=1), seconds)][-1]
        assert isinstance(ended, ev.SessionEnded)
        at = ended.ended_at + timedelta(seconds=1)
        nb = self.add(ev.SessionNotBilled(**ended.caused(session_id=ended.session_id, request_id=req.request_id,
                                                         reason=ev.NotBilledReason.FREE_THRESHOLD,
                                                         tariff_version=TARIFF, raw_seconds=seconds, occurred_at=at)))
        erased = self.add(self._erase(req, ev.ErasureReason.NOT_BILLED, at + ERASURE_DELAY, nb))
        return {"created": req, "ended": ended, "not_billed": nb, "erased": erased}

    def withdrawn(self, created: datetime) -> dict[str, Event]:
        """The customer withdraws before any session."""
        req = self.add(self._created(created))
        assert isinstance(req, ev.SupportRequestCreated)
        at = created + timedelta(minutes=3)
        w = self.add(ev.SupportRequestWithdrawn(**req.caused(request_id=req.request_id, occurred_at=at)))
        erased = self.add(self._erase(req, ev.ErasureReason.WITHDRAWN, at + ERASURE_DELAY, w))
        return {"created": req, "withdrawn": w, "erased": erased}

    def abandoned(self, created: datetime, after: timedelta = timedelta(days=14)) -> dict[str, Event]:
        """Nobody came back: erased by the retention sweep after the deadline."""
        req = self.add(self._created(created))
        assert isinstance(req, ev.SupportRequestCreated)
        erased = self.add(self._erase(req, ev.ErasureReason.ABANDONED, created + after + timedelta(minutes=5)))
        return {"created": req, "erased": erased}

    def billing_held(self, created: datetime, erased_after: timedelta = timedelta(days=90),
                     seconds: int = 10 * 900) -> dict[str, Event]:
        """A full invoice blocked for want of the address; nobody provides it: retention holds
        the request (billing hold), erases it ``erased_after`` after the block (reason
        ``abandoned``), and billing closes the session as a lost claim (``recipient_data_erased``)."""
        req = self.add(self._created(created))
        assert isinstance(req, ev.SupportRequestCreated)
        ended = [self.add(e) for e in self._session(req, created + timedelta(minutes=2), seconds)][-1]
        assert isinstance(ended, ev.SessionEnded)
        at = ended.ended_at + timedelta(seconds=1)
        blocked = self.add(ev.BillingBlocked(**ended.caused(session_id=ended.session_id, request_id=req.request_id,
                                                            missing=("billing_address",), occurred_at=at)))
        erased = self.add(self._erase(req, ev.ErasureReason.ABANDONED, at + erased_after))
        lost_at = erased.occurred_at + ERASURE_DELAY
        lost = self.add(ev.SessionNotBilled(**erased.caused(
            session_id=ended.session_id, request_id=req.request_id, reason=ev.NotBilledReason.RECIPIENT_DATA_ERASED,
            tariff_version=TARIFF, raw_seconds=seconds, occurred_at=lost_at)))
        return {"created": req, "ended": ended, "blocked": blocked, "erased": erased, "not_billed": lost}

    def open_request(self, created: datetime) -> dict[str, Event]:
        """A request still inside its deadline at the end of the history (pending)."""
        return {"created": self.add(self._created(created))}

    def cancel(self, invoice: ev.InvoiceIssued, at: datetime) -> ev.InvoiceCancelled:
        """A Storno of ``invoice`` with its own number from the ``FW-S`` series."""
        c = ev.InvoiceCancelled(**invoice.caused(
            cancellation_number=self._number("FW-S", at), invoice_number=invoice.invoice_number,
            request_id=invoice.request_id, cancelled_at=at, reason_code="goodwill",
            net_total=invoice.net_total, vat_total=invoice.vat_total, gross_total=invoice.gross_total,
            occurred_at=at))
        self.add(c)
        return c

    def correct(self, invoice: ev.InvoiceIssued, at: datetime, priced_seconds: int) -> ev.InvoiceIssued:
        """The corrected invoice replacing ``invoice`` (cancel it first), priced by a corrected duration."""
        billed, lines, net, vat, gross = price_2026_01(priced_seconds)
        kind = ev.InvoiceKind.SMALL if gross <= Decimal("250.00") else ev.InvoiceKind.FULL
        fixed = ev.InvoiceIssued(**invoice.caused(
            invoice_number=self._number("FW", at), session_id=invoice.session_id, request_id=invoice.request_id,
            kind=kind, issued_at=at, service_date=invoice.service_date, tariff_version=invoice.tariff_version,
            raw_seconds=invoice.raw_seconds, billed_seconds=billed, lines=lines, net_total=net, vat_rate=VAT,
            vat_total=vat, gross_total=gross, customer_number=invoice.customer_number,
            corrects=invoice.invoice_number, correction_reason=ev.CorrectionReason.WRONG_DURATION,
            priced_seconds=priced_seconds, occurred_at=at, tariff_sha256=invoice.tariff_sha256))
        self.add(fixed)
        return fixed

    # ------------------------------------------------------------------ output
    def items(self) -> list[Item]:
        """All messages in stream order (by time; ties keep insertion order)."""
        self._items.sort(key=lambda i: i.time)
        return list(self._items)

    def seal(self, key: Ed25519PrivateKey, time: datetime | None = None) -> ev.AuditCheckpoint:
        """Append a signed checkpoint over everything so far (as stored from seq 1 in a fresh stream)."""
        items = self.items()
        chain = Chain()
        for seq, item in enumerate(items, 1):
            chain.add(seq, item.subject, item.body)
        at = time or (items[-1].time + timedelta(seconds=1))
        public, signature = sign(key, chain.seq, chain.head.hex())
        cp = ev.AuditCheckpoint(checkpoint_seq=chain.seq, chain_hash=chain.head.hex(), public_key=public,
                                signature=signature, signed_at=at, occurred_at=at)
        self.add(cp)
        return cp

    def records(self) -> list[Record]:
        """The messages as a fresh stream would store them (seq from 1)."""
        return [Record(seq, i.subject, i.time, i.body) for seq, i in enumerate(self.items(), 1)]


def office_day_start(day: datetime, rng: random.Random) -> datetime:
    """A time on ``day``'s office date between 08:00 and 17:00 office time (weekday assumed).

    The office date, not ``day``'s own: callers check the weekday in office time, and after 22:00
    UTC in summer (23:00 in winter) the UTC date is the day before; a Sunday session priced as
    a weekday's made the audit's re-pricing disagree with the history whenever a test ran late.
    """
    office = day.astimezone(OFFICE)
    local = datetime(office.year, office.month, office.day, 8, 0, tzinfo=OFFICE)
    # UTC like every service's clock; also keeps timedelta arithmetic absolute across DST.
    return (local + timedelta(seconds=rng.randint(0, 9 * 3600))).astimezone(UTC)


def every_lifecycle(end: datetime, seed: int = 7,
                    reference: bool = True) -> tuple[History, dict[str, dict[str, Event]]]:
    """One request of each kind, all settled before ``end`` (plus one still open at ``end``).

    ``reference``: billing published its tariff and issuer first (False: an older history).
    """
    h = History(seed=seed)
    if reference:
        h.reference(end - timedelta(days=30))
    days: list[datetime] = []
    day = end - timedelta(days=20)
    while len(days) < 8:  # weekdays well before the end: no surcharge, no open deadline
        day += timedelta(days=1)
        if day.astimezone(OFFICE).weekday() < 5:
            days.append(day)
    rng = h.rng
    script = {
        "invoice": h.invoiced(office_day_start(days[1], rng), seconds=1500),
        "invoice_full": h.invoiced(office_day_start(days[2], rng), seconds=9 * 900 + 30),
        "not_billed": h.not_billed(office_day_start(days[2], rng), seconds=45),
        "withdrawn": h.withdrawn(office_day_start(days[3], rng)),
        "abandoned": h.abandoned(office_day_start(days[0], rng) - timedelta(days=3)),
        "promoted": h.invoiced(office_day_start(days[4], rng), seconds=2000, promoted=True),
        "cancelled": h.invoiced(office_day_start(days[5], rng), seconds=700),
        "invoice_later": h.invoiced(office_day_start(days[6], rng), seconds=3600),
        "open": h.open_request(end - timedelta(hours=2)),
    }
    inv = script["cancelled"]["invoice"]
    assert isinstance(inv, ev.InvoiceIssued)
    script["cancelled"]["cancellation"] = h.cancel(inv, inv.issued_at + timedelta(days=1))
    return h, script


def bulk_history(min_events: int, end: datetime, seed: int = 11) -> History:
    """A long history (benchmarks): a mix of all lifecycles on weekdays up to ``end``."""
    h = History(seed=seed)
    rng = h.rng
    per_day = 40
    days_needed = min_events // (per_day * 6) + 2
    day = end - timedelta(days=int(days_needed * 1.5) + 20)
    h.reference(day)  # billing's tariff and issuer, before the first lifecycle
    count = 0
    while count < min_events:
        day += timedelta(days=1)
        if day.astimezone(OFFICE).weekday() >= 5:
            continue
        for _ in range(per_day):
            start = office_day_start(day, rng)
            roll = rng.random()
            if roll < 0.6:
                out = h.invoiced(start, seconds=rng.randint(300, 6000), promoted=rng.random() < 0.05)
            elif roll < 0.8:
                out = h.not_billed(start, seconds=rng.randint(5, 119))
            elif roll < 0.95:
                out = h.withdrawn(start)
            else:
                out = h.abandoned(start) if start + timedelta(days=15) < end else h.withdrawn(start)
            count += len(out) + (1 if "ended" in out else 0)  # SessionStarted is not in ``out``
    return h


async def publish(js: Any, items: list[Item], *, window: int = 2000) -> list[int]:
    """Publish ``items`` in order into a stream (``Nats-Msg-Id`` = event id where there is one).

    Publishes are pipelined (``publish_async`` on one connection keeps the order), with at most
    ``window`` awaiting their ack. Returns the stream sequence of each item.
    """
    import asyncio

    futures: list[asyncio.Future[Any]] = []
    seqs: list[int] = []
    for i, item in enumerate(items):
        msg_id = (str(item.event.event_id) if item.event is not None
                  else f"raw-{i}-{hashlib.sha256(item.body).hexdigest()}")
        futures.append(await js.publish_async(item.subject, item.body, headers={"Nats-Msg-Id": msg_id}))
        if len(futures) >= window:
            seqs += [ack.seq for ack in await asyncio.gather(*futures)]
            futures = []
    seqs += [ack.seq for ack in await asyncio.gather(*futures)]
    return seqs
