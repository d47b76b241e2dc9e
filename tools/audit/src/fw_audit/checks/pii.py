"""No personal data in any event: the schema allow-list plus a pattern scan of the raw bytes.

Allow-list: every message must validate against its contract, whose models forbid extra fields
(``extra="forbid"``) and constrain every string. Pattern scan: phone numbers (E.164 / ``00``
international, German national formats), e-mail addresses and German street addresses (street +
house number, postcode + town) anywhere in the body, also inside JSON string escapes.

The scan is a heuristic: it finds the usual spellings, not every possible one. Findings name
the sequence, the kind of pattern and the byte offset, never the matched text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

from fw_audit.model import CheckResult, Record
from fw_contracts import BY_SUBJECT
from fw_contracts.reference import without_office_business_data

NAME = "personal_data"
TITLE = "No personal data in any event (allow-list + pattern scan)"

# Look-arounds keep ids, hashes, timestamps, decimals and invoice numbers out: a phone number
# never continues or is continued by a word, a hex run, a UUID group ("04729745-7a61"), a date
# ("-01") or a number ("24.00"). Each pattern starts with a plain character (the look-behind
# follows it) because Python's regex engine skips ahead much faster to a literal first char:
# the scan runs on every message of a long history.
_INTL = re.compile(r"[+0](?<![\w+.:/-][+0])(?:(?<=\+)|(?<=0)0)[1-9][\d \-/().]{5,22}\d(?![\w.-])")
_NATIONAL = re.compile(r"[(0](?<![\w+.:/-][(0])(?:(?<=\()0\d{1,5}\)|(?<=0)[1-9]\d{1,5})[ \-/]?\d[\d \-]{2,14}\d"
                       r"(?![\w.-])")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_STREET = re.compile(
    r"[A-ZÄÖÜ](?<!\w[A-ZÄÖÜ])(?:[a-zäöüß-]*(?:straße|strasse|str\.|weg|gasse|allee|platz|ring|damm|ufer"
    r"|chaussee|markt)|(?<=S)(?:traße|trasse|tr\.)|(?<=W)eg|(?<=G)asse|(?<=A)llee|(?<=P)latz|(?<=R)ing"
    r"|(?<=D)amm|(?<=U)fer|(?<=C)haussee|(?<=M)arkt)\s*\d{1,4}\s?[a-zA-Z]?(?![\w.:-])"
)
_POSTCODE_TOWN = re.compile(r"\s(?<=(?<![\w.:-])\d{5}\s)\s*[A-ZÄÖÜ][a-zäöüß]{2,}")

PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("phone (international)", _INTL),
    ("phone (German national)", _NATIONAL),
    ("e-mail address", _EMAIL),
    ("street address", _STREET),
    ("postcode and town", _POSTCODE_TOWN),
)


def _digits(text: str) -> int:
    return sum(c.isdigit() for c in text)


def _plausible(kind: str, text: str) -> bool:
    if kind == "phone (international)":
        return 8 <= _digits(text) <= 15
    if kind == "phone (German national)":
        return 7 <= _digits(text) <= 14
    return True


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def scan(body: bytes) -> list[tuple[str, int]]:
    """``(pattern kind, offset)`` of every suspected personal datum in ``body``.

    The raw text is scanned, and the decoded JSON strings too, so that ``\\u`` escapes do not
    hide anything; offsets of the second pass are ``-1`` (not a raw byte position).
    """
    text = body.decode("utf-8", errors="replace")
    hits: list[tuple[str, int]] = []
    seen: set[str] = set()
    for kind, pattern in PATTERNS:
        if kind == "e-mail address" and "@" not in text:
            continue
        for m in pattern.finditer(text):
            if _plausible(kind, m.group()):
                start = m.start() - 5 if pattern is _POSTCODE_TOWN else m.start()  # match starts after the digits
                hits.append((kind, len(text[:start].encode())))
                seen.add(kind)
    if "\\u" in text:
        try:
            decoded = "\n".join(_strings(json.loads(text)))
        except ValueError:
            decoded = ""
        for kind, pattern in PATTERNS:
            if kind not in seen and any(_plausible(kind, m.group()) for m in pattern.finditer(decoded)):
                hits.append((kind, -1))
    return hits


def scanned_part(record: Record) -> bytes:
    """The body, without the fields its contract declares as the office's own business data
    (``office_business_data``: the terms text, the issuer's address printed on every invoice).
    Everything else of such a message is scanned; offsets then refer to that remainder."""
    cls = BY_SUBJECT.get(record.subject)
    if cls is None or not getattr(cls, "office_business_data", None):
        return record.body
    try:
        data = json.loads(record.body)
    except ValueError:
        return record.body
    if not isinstance(data, dict):
        return record.body
    return json.dumps(without_office_business_data(cls, data), ensure_ascii=False).encode()


class PersonalDataCheck:
    """Collects schema violations and pattern hits per message."""

    def __init__(self) -> None:
        self.res = CheckResult(NAME, TITLE)

    def feed_record(self, record: Record, invalid_reason: str | None = None) -> None:
        """Scan one raw message; ``invalid_reason`` when it failed its contract (not on the allow-list).

        One finding per message, naming everything wrong with it.
        """
        self.res.checked += 1
        problems = []
        if invalid_reason is not None:
            problems.append(f"not on the schema allow-list: {invalid_reason}")
        hits = scan(scanned_part(record))
        if hits:
            kinds = sorted({k for k, _ in hits})
            offsets = sorted({o for _, o in hits if o >= 0})
            where = f" at byte offset(s) {', '.join(map(str, offsets[:5]))}" if offsets else ""
            problems.append(f"pattern scan: {', '.join(kinds)}{where}")
        if problems:
            self.res.fail("; ".join(problems), record.seq, subject=record.subject)

    def result(self) -> CheckResult:
        """The verdict over everything fed."""
        self.res.notes.append(f"{self.res.checked} messages scanned for phone numbers, e-mail addresses "
                              "and German street addresses (heuristic patterns); every message validated "
                              "against its contract (extra fields forbidden)")
        return self.res
