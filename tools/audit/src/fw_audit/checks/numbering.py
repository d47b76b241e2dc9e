"""No unexplained invoice number (LEGAL.md L3, DESIGN.md "Billing rules").

Numbers look like ``<series>-<YYYY>-<NNNNNN>`` (``FW-2026-000001``; a cancellation series such as
``FW-S-2026-000001``). Per series and year the sequence parts must run 1, 2, 3, … without a gap,
every number ends in exactly one terminal event (one ``InvoiceIssued`` for an invoice number, one
``InvoiceCancelled`` for a cancellation number), a cancellation references an invoice issued
before it, and no invoice is cancelled twice. A corrected invoice (``InvoiceIssued.corrects``,
LEGAL.md L18) replaces an invoice of the same session that was issued and cancelled before it,
with a reason, and each invoice is corrected at most once. The contracts have no event that
voids a number, so every gap is unexplained.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

from fw_audit.checks import Seen
from fw_audit.model import CheckResult
from fw_contracts.events import InvoiceCancelled, InvoiceIssued

NAME = "invoice_numbers"
TITLE = "Invoice numbers unique, gapless, each in exactly one terminal event"

NUMBER = re.compile(r"^(?P<series>[A-Z0-9][A-Z0-9-]*?)-(?P<year>\d{4})-(?P<seq>\d{1,12})$")


@dataclass(frozen=True, slots=True)
class _Use:
    seq: int
    kind: str  # "InvoiceIssued" or "InvoiceCancelled"


class NumberingCheck:
    """Collects every number's uses, then checks uniqueness, references and gaps."""

    def __init__(self) -> None:
        self._uses: dict[str, list[_Use]] = defaultdict(list)
        self._cancels: list[tuple[int, InvoiceCancelled]] = []
        self._issued: dict[str, tuple[int, InvoiceIssued]] = {}
        self._corrections: list[tuple[int, InvoiceIssued]] = []

    def feed(self, seen: Seen) -> None:
        """Take one decoded event into account."""
        e = seen.event
        if isinstance(e, InvoiceIssued):
            self._uses[e.invoice_number].append(_Use(seen.seq, "InvoiceIssued"))
            self._issued.setdefault(e.invoice_number, (seen.seq, e))
            if e.corrects is not None or e.correction_reason is not None:
                self._corrections.append((seen.seq, e))
        elif isinstance(e, InvoiceCancelled):
            self._uses[e.cancellation_number].append(_Use(seen.seq, "InvoiceCancelled"))
            self._cancels.append((seen.seq, e))

    def result(self) -> CheckResult:
        """The verdict over everything fed."""
        res = CheckResult(NAME, TITLE)
        res.checked = len(self._uses)
        for number, uses in self._uses.items():
            if len(uses) > 1:
                res.fail(f"number {number} is used by {len(uses)} terminal events "
                         f"({', '.join(u.kind for u in uses)})", *[u.seq for u in uses[1:]], uses[0].seq,
                         number=number)
        self._check_cancellations(res)
        self._check_corrections(res)
        self._check_gaps(res)
        series = {self._series_key(n) for n in self._uses} - {None}
        res.notes.append(f"{len(self._uses)} numbers in {len(series)} series/years; "
                         f"{len(self._cancels)} cancellations")
        return res

    def _check_cancellations(self, res: CheckResult) -> None:
        cancelled: dict[str, int] = {}
        for seq, c in self._cancels:
            issued = [u for u in self._uses.get(c.invoice_number, []) if u.kind == "InvoiceIssued"]
            if not issued:
                res.fail(f"cancellation {c.cancellation_number} references {c.invoice_number}, "
                         "which was never issued", seq, number=c.cancellation_number)
            elif issued[0].seq > seq:
                res.fail(f"cancellation {c.cancellation_number} precedes the invoice it cancels",
                         seq, issued[0].seq, number=c.cancellation_number)
            if c.invoice_number in cancelled:
                res.fail(f"invoice {c.invoice_number} is cancelled twice", seq, cancelled[c.invoice_number],
                         number=c.invoice_number)
            cancelled.setdefault(c.invoice_number, seq)

    def _check_corrections(self, res: CheckResult) -> None:
        cancelled_at = {c.invoice_number: seq for seq, c in self._cancels}
        corrected: dict[str, int] = {}
        for seq, e in self._corrections:
            number = e.invoice_number
            if e.corrects is None or e.correction_reason is None:
                res.fail(f"invoice {number} is a correction without {'reason' if e.corrects else 'reference'}",
                         seq, number=number)
                continue
            original = self._issued.get(e.corrects)
            if original is None or original[0] > seq:
                res.fail(f"invoice {number} corrects {e.corrects}, which was not issued before it", seq,
                         number=number)
                continue
            if original[1].session_id != e.session_id:
                res.fail(f"invoice {number} corrects {e.corrects} of another session", seq, original[0],
                         number=number)
            if cancelled_at.get(e.corrects, seq + 1) > seq:
                res.fail(f"invoice {number} corrects {e.corrects}, which was not cancelled before it "
                         "(two valid invoices for one service)", seq, original[0], number=number)
            if e.corrects in corrected:
                res.fail(f"invoice {e.corrects} is corrected twice", seq, corrected[e.corrects], number=number)
            corrected.setdefault(e.corrects, seq)

    @staticmethod
    def _series_key(number: str) -> tuple[str, int] | None:
        m = NUMBER.match(number)
        return (m["series"], int(m["year"])) if m else None

    def _check_gaps(self, res: CheckResult) -> None:
        ranges: dict[tuple[str, int], dict[int, tuple[str, int]]] = defaultdict(dict)
        for number, uses in self._uses.items():
            m = NUMBER.match(number)
            if m is None:
                res.fail(f"number {number} does not follow <series>-<YYYY>-<NNNNNN>: gaps cannot be checked",
                         uses[0].seq, number=number)
                continue
            ranges[(m["series"], int(m["year"]))][int(m["seq"])] = (number, uses[0].seq)
        for (series, year), by_n in sorted(ranges.items()):
            previous = 0
            for n in sorted(by_n):
                if n > previous + 1:
                    number, seq = by_n[n]
                    missing = (f"{previous + 1}" if n == previous + 2 else f"{previous + 1}..{n - 1}")
                    before = f" after {by_n[previous][0]} (seq {by_n[previous][1]})" if previous else ""
                    res.fail(f"gap in {series}-{year}: number(s) {missing} missing{before}; next is {number}",
                             seq, *([by_n[previous][1]] if previous else []), number=number)
                previous = n
