"""Decoding and counting every message: ``fernwartung audit replay`` (and the first step of ``verify``).

Kept apart from the checks so that ``replay`` starts without importing them (a third of the
command's start-up was imports it does not use).
"""

from __future__ import annotations

import time

from fw_audit.model import InvalidEvent, Record, ReplaySummary
from fw_contracts import Event, UndecodableEvent, decode
from fw_contracts.fastdecode import check_fast


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
