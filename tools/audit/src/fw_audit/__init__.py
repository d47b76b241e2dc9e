"""fernwartung audit: replays the event history and proves compliance, integrity and consistency.

Everything the checks need is read from the stream (or an exported bundle); the checks
themselves are pure functions over :class:`fw_audit.model.Record` objects, so they run the same
on a live stream, a bundle and an in-memory list in a unit test.
"""

from fw_audit.model import AuditReport, CheckResult, Finding, Record

__all__ = ["AuditReport", "CheckResult", "Finding", "Record"]
