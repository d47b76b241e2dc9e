"""The audit's value types: a stored message, a finding, a check's verdict and the report.

Findings carry evidence as stream sequences and pseudonymous ids only. They never quote a
message body: a body that fails the personal-data scan must not be repeated in the report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


@dataclass(frozen=True, slots=True)
class Record:
    """One message of the stream exactly as stored: the unit the hash chain covers."""

    seq: int
    subject: str
    #: The server's store time of the message (aware UTC).
    time: datetime
    body: bytes


class Status(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    #: The check could not run (e.g. no database access): not a pass.
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Finding:
    """One piece of evidence: a failure or a pending item, pointing at stream sequences."""

    reason: str
    #: The first sequence is *the* one the finding is about (e.g. the late erasure); the others
    #: are related evidence (e.g. the request's creation and the erasure's trigger).
    seqs: tuple[int, ...] = ()
    ids: dict[str, str] = field(default_factory=dict)

    @property
    def seq(self) -> int | None:
        """The stream sequence this finding is about (None if it names none)."""
        return self.seqs[0] if self.seqs else None

    def to_dict(self) -> dict[str, Any]:
        return {"reason": self.reason, "seq": self.seq, "seqs": list(self.seqs), "ids": dict(self.ids)}


@dataclass
class CheckResult:
    """The verdict of one check with its evidence."""

    name: str
    title: str
    failures: list[Finding] = field(default_factory=list)
    #: Items not yet due (e.g. a request still inside its erasure deadline): not failures.
    pending: list[Finding] = field(default_factory=list)
    #: What was checked (counts) and any limitation of the check, stated plainly.
    notes: list[str] = field(default_factory=list)
    checked: int = 0
    #: Why the check did not run (None: it ran). A skipped check has not passed.
    skipped: str | None = None

    @property
    def status(self) -> Status:
        if self.failures:
            return Status.FAIL
        return Status.SKIPPED if self.skipped is not None else Status.PASS

    @property
    def ok(self) -> bool:
        """No failure found (a skipped check is "ok" here but not passed: see ``AuditReport.ok``)."""
        return not self.failures

    @property
    def first_failing_seq(self) -> int | None:
        """The lowest sequence any failure is about."""
        seqs = [f.seq for f in self.failures if f.seq is not None]
        return min(seqs) if seqs else None

    def fail(self, reason: str, *seqs: int, **ids: object) -> None:
        """Record a failure about ``seqs[0]`` (others are evidence) with pseudonymous ``ids``."""
        self.failures.append(Finding(reason, tuple(seqs), {k: str(v) for k, v in ids.items()}))

    def pend(self, reason: str, *seqs: int, **ids: object) -> None:
        """Record an item that is not yet due."""
        self.pending.append(Finding(reason, tuple(seqs), {k: str(v) for k, v in ids.items()}))

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "title": self.title, "status": self.status.value, "skipped": self.skipped,
            "checked": self.checked, "first_failing_seq": self.first_failing_seq,
            "failures": [f.to_dict() for f in self.failures],
            "pending": [p.to_dict() for p in self.pending], "notes": list(self.notes),
        }


@dataclass(frozen=True)
class InvalidEvent:
    """A message that does not decode into its contract (reason names fields, never values)."""

    seq: int
    subject: str
    reason: str


@dataclass
class ReplaySummary:
    """What ``replay`` reports: counts per type and the invalid messages."""

    stream: str
    first_seq: int = 0
    last_seq: int = 0
    messages: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    invalid: list[InvalidEvent] = field(default_factory=list)
    #: Events per UTC day (the event's ``occurred_at``; the store time for invalid messages).
    per_day: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "stream": self.stream, "first_seq": self.first_seq, "last_seq": self.last_seq,
            "messages": self.messages, "counts": dict(sorted(self.counts.items())),
            "invalid": [{"seq": i.seq, "subject": i.subject, "reason": i.reason} for i in self.invalid],
            "per_day": dict(sorted(self.per_day.items())), "seconds": round(self.seconds, 3),
        }


@dataclass
class AuditReport:
    """The result of ``verify``: every check with its verdict, plus the replay summary."""

    summary: ReplaySummary
    checks: list[CheckResult]
    as_of: datetime
    source: str
    #: Seconds between each erasure's trigger (or deadline) and the erasure, for the chart.
    erasure_delays: list[float] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every check ran and passed. A skipped check (e.g. no database access) is not a pass."""
        return all(c.status is Status.PASS for c in self.checks)

    @property
    def failed_checks(self) -> list[str]:
        """The names of the checks that found a failure."""
        return [c.name for c in self.checks if c.failures]

    @property
    def skipped_checks(self) -> list[str]:
        """The names of the checks that did not run (and found nothing, so they are not failures)."""
        return [c.name for c in self.checks if c.status is Status.SKIPPED]

    @property
    def exit_code(self) -> int:
        """0 every check passed, 1 a check failed, 3 nothing failed but a check was skipped."""
        if self.failed_checks:
            return 1
        return 3 if self.skipped_checks else 0

    def check(self, name: str) -> CheckResult:
        """The result of the check called ``name``."""
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok, "failed": self.failed_checks, "skipped": self.skipped_checks,
            "source": self.source, "as_of": self.as_of.isoformat(),
            "summary": self.summary.to_dict(), "checks": [c.to_dict() for c in self.checks],
            "erasure_delays_seconds": [round(d, 3) for d in self.erasure_delays],
        }
