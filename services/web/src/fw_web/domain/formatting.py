"""German formatting for the pages: money, times, durations, status words, the terms text."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from zoneinfo import ZoneInfo

import phonenumbers
from markupsafe import Markup, escape

BERLIN = ZoneInfo("Europe/Berlin")

#: Status words of the services, in German.
WORDS: dict[str, str] = {
    # session
    "running": "läuft", "ended": "beendet",
    # billing session status
    "invoiced": "abgerechnet", "not_billed": "nicht abgerechnet",
    "blocked": "Rechnung angehalten (Rechnungsanschrift fehlt)",
    # invoice kinds
    "small": "Kleinbetragsrechnung", "full": "Rechnung",
    "kleinbetrag": "Kleinbetragsrechnung",  # billing before InvoiceIssued v3
    # erasure reasons
    "invoice_issued": "Rechnung erstellt", "withdrawn": "Anfrage zurückgezogen", "abandoned": "Frist abgelaufen",
    "invoice_delivered": "Rechnung zugestellt", "invoice_delivery_failed": "Zustellung aufgegeben",
    "delivery_hold_ended": "Zustellfrist abgelaufen",
    # erasure scopes
    "all": "alle Daten", "all_but_delivery_email": "alle Daten bis auf die E-Mail-Adresse für die Rechnung",
    "delivery_email": "E-Mail-Adresse für die Rechnung",
    # customer types
    "business": "Unternehmen", "consumer": "Verbraucher/in",
}


def word(value: object) -> str:
    """The German word for a status value (the value itself when unknown)."""
    return WORDS.get(str(value), str(value))


def parse_time(value: object) -> datetime | None:
    """An ISO 8601 time from a JSON API, or None."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def local_time(value: object, *, seconds: bool = False) -> str:
    """``17.05.2026, 14:03 Uhr`` in Berlin time; ``–`` when there is no time."""
    t = parse_time(value)
    if t is None:
        return "–"
    if t.tzinfo is None:  # the services send aware UTC; never guess otherwise
        return t.strftime("%d.%m.%Y, %H:%M")
    fmt = "%d.%m.%Y, %H:%M:%S Uhr" if seconds else "%d.%m.%Y, %H:%M Uhr"
    return t.astimezone(BERLIN).strftime(fmt)


def duration(seconds: object) -> str:
    """``1:02:05`` (h:mm:ss) for a number of seconds."""
    try:
        total = max(0, int(str(seconds)))
    except ValueError:
        return "–"
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}"


def phone(value: object) -> str:
    """An E.164 number spaced for reading aloud: ``+49 170 5551234``; other text as it is."""
    text = "" if value is None else str(value)
    try:
        number = phonenumbers.parse(text, "DE")
    except phonenumbers.NumberParseException:
        return text
    if not phonenumbers.is_valid_number(number):
        return text
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL))


def waiting(value: object, now: datetime | None = None) -> str:
    """How long since ``value`` (a time, or a number of seconds already waited): ``2 Min.``,
    ``1 Std. 5 Min.``, ``3 Tage``; ``–`` without one."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = int(value)
    else:
        t = parse_time(value)
        if t is None or t.tzinfo is None:
            return "–"
        seconds = int(((now or datetime.now(UTC)) - t).total_seconds())
    minutes = max(0, seconds) // 60
    if minutes < 1:
        return "weniger als 1 Min."
    if minutes < 60:
        return f"{minutes} Min."
    hours, rest = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} Std. {rest} Min." if rest else f"{hours} Std."
    days = hours // 24
    return "1 Tag" if days == 1 else f"{days} Tage"


def money(value: object, currency: str = "EUR") -> str:
    """``1.234,56 €`` (German separators, two decimals, half-up)."""
    try:
        amount = Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    except (InvalidOperation, ValueError):
        return "–"
    sign = "-" if amount < 0 else ""
    whole, frac = f"{abs(amount):.2f}".split(".")
    groups: list[str] = []
    while whole:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    symbol = "€" if currency == "EUR" else currency
    return f"{sign}{'.'.join(groups)},{frac} {symbol}"


def percent(value: object) -> str:
    """``19 %`` for ``0.19``."""
    try:
        p = (Decimal(str(value)) * 100).normalize()
    except (InvalidOperation, ValueError):
        return "–"
    return f"{p:f}".replace(".", ",") + " %"


_HEADING = re.compile(r"^(#{1,4})\s+(.*)$")
_STRONG = re.compile(r"\*\*(\S(?:.*?\S)?)\*\*")


def _strong(text: str) -> str:
    """Escaped text with ``**bold**`` as ``<strong>`` (the only inline markup the terms use)."""
    return _STRONG.sub(r"<strong>\1</strong>", str(escape(text)))


def simple_markdown(text: str) -> Markup:
    """Headings, paragraphs and ``-`` lists of a Markdown text as HTML; everything else escaped.

    The terms are our own files, but escaping everything keeps a slip in them from becoming markup.
    Headings are shifted down by one level because the page has its own ``<h1>``.
    """
    out: list[str] = []
    para: list[str] = []
    items: list[str] = []

    def flush() -> None:
        if para:
            out.append("<p>" + " ".join(_strong(p) for p in para) + "</p>")
            para.clear()
        if items:
            out.append("<ul>" + "".join(f"<li>{_strong(i)}</li>" for i in items) + "</ul>")
            items.clear()

    for raw in text.splitlines():
        line = raw.strip()
        heading = _HEADING.match(line)
        if not line:
            flush()
        elif heading:
            flush()
            level = min(6, len(heading.group(1)) + 1)
            out.append(f"<h{level}>{escape(heading.group(2))}</h{level}>")
        elif line.startswith(("- ", "* ")):
            if para:
                flush()
            items.append(line[2:])
        elif items:
            items[-1] += " " + line  # continuation of a list item
        else:
            para.append(line)
    flush()
    return Markup("\n".join(out))
