"""The office's invoice list filters: from the page's query to billing's ``/api/invoice-list``.

Pure functions (no I/O): periods are calendar days in Berlin, like the dates on the invoices.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from urllib.parse import urlencode

#: billing's list statuses: ``cancelled`` is a Storno without a corrected invoice (yet), ``corrected``
#: a Storno with one.
STATUSES = {"issued": "gültig", "cancelled": "storniert, ohne Korrektur", "corrected": "storniert und korrigiert"}
KINDS = {"kleinbetrag": "Kleinbetragsrechnung", "full": "Rechnung (§ 14 UStG)", "e_invoice": "E-Rechnung (mit XML)"}
_CUSTOMER = re.compile(r"^K[0-9]{5,10}$")
_TICKET = re.compile(r"^[0-9A-Z]{4}-[0-9A-Z]{3}$")
_SEARCH = re.compile(r"^[0-9A-Z][0-9A-Z-]{0,31}$")


def month(today: date, back: int = 0) -> tuple[date, date]:
    """First and last day of the month ``back`` months before ``today``'s."""
    first = today.replace(day=1)
    for _ in range(back):
        first = (first - timedelta(days=1)).replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return first, following - timedelta(days=1)


@dataclass
class InvoiceQuery:
    """What the office asked for, checked; ``problems`` are German messages for the page."""

    von: str = ""
    bis: str = ""
    status: str = ""
    art: str = ""
    kunde: str = ""
    ticket: str = ""
    q: str = ""
    problems: list[str] = field(default_factory=list)

    @classmethod
    def parse(cls, von: str, bis: str, status: str, art: str, kunde: str, ticket: str, q: str) -> InvoiceQuery:
        """Check every field at once (all problems are reported together)."""
        query = cls(von=von.strip(), bis=bis.strip(), status=status.strip(), art=art.strip(),
                    kunde=kunde.strip().upper(), ticket=ticket.strip().upper(), q=q.strip().upper())
        dates: dict[str, date] = {}
        for name, label in (("von", "Von"), ("bis", "Bis")):
            value = getattr(query, name)
            if value:
                try:
                    dates[name] = date.fromisoformat(value)
                except ValueError:
                    query.problems.append(f"„{label}“ ist kein gültiges Datum (TT.MM.JJJJ).")
        if "von" in dates and "bis" in dates and dates["bis"] < dates["von"]:
            query.problems.append("Das Ende des Zeitraums liegt vor dem Anfang.")
        if query.status and query.status not in STATUSES:
            query.problems.append("Bitte wählen Sie einen Status aus der Liste.")
        if query.art and query.art not in KINDS:
            query.problems.append("Bitte wählen Sie eine Rechnungsart aus der Liste.")
        if query.kunde and not _CUSTOMER.fullmatch(query.kunde):
            query.problems.append("Eine Kundennummer sieht so aus: K00001.")
        if query.ticket and not _TICKET.fullmatch(query.ticket):
            query.problems.append("Eine Vorgangsnummer (Ticket) sieht so aus: K7MQ-3XA.")
        if query.q and not _SEARCH.fullmatch(query.q):
            query.problems.append("Suchen Sie nach einer Rechnungs- oder Stornonummer, einer Vorgangsnummer "
                                  "oder einer Kundennummer (nur Buchstaben, Ziffern und Bindestriche).")
        return query

    @property
    def active(self) -> bool:
        """Whether any filter is set."""
        return any((self.von, self.bis, self.status, self.art, self.kunde, self.ticket, self.q))

    def billing_params(self, limit: int, offset: int) -> dict[str, str | int]:
        """The query for billing's ``/api/invoice-list``."""
        params: dict[str, str | int] = {"limit": limit, "offset": offset}
        for ours, theirs in (("von", "from"), ("bis", "to"), ("status", "status"), ("art", "kind"),
                             ("kunde", "customer_number"), ("ticket", "ticket"), ("q", "q")):
            if getattr(self, ours):
                params[theirs] = getattr(self, ours)
        return params

    def link(self, **changes: str | int) -> str:
        """``/buero?…`` with these filters (and ``changes``, e.g. another page)."""
        values: dict[str, str | int] = {k: getattr(self, k) for k in ("von", "bis", "status", "art", "kunde", "ticket", "q")}
        values.update(changes)
        return "/buero?" + urlencode({k: v for k, v in values.items() if v not in ("", None)})
