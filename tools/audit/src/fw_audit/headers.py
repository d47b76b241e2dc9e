"""The header parsing of nats-py, without its per-character generator, for the audit's connection.

Batched direct get answers every message with eight headers (the message's own two and six
``Nats-*`` ones the audit needs: sequence, subject, store time ...). nats-py 2.x parses each
header name with ``any(c.isspace() for c in key)``, a Python generator per character: on a replay
that was about a third of the whole process's time (profiled on 100k events). This is nats-py's
own ``Client._parse_header_lines``, line for line, with that test done by one regular-expression
search (``\\s`` matches exactly what ``str.isspace`` accepts), installed on the audit's client
only. Blocks of printable ASCII (every reply the server sends: names are tokens, values
sequences, subjects and times) take a shorter path on the decoded text, where the only
whitespace is the space. ``tests/unit/test_headers.py`` compares both on every ASCII character and on generated
header blocks. If a nats-py release no longer has the method (or reads headers another way),
nothing is installed and nats-py parses as before.
"""

from __future__ import annotations

import re

from nats.aio.client import Client

_CRLF = b"\r\n"
_WHITESPACE = re.compile(r"\s").search


def parse_header_lines(raw: bytes) -> dict[str, str]:
    """``Name: Value`` lines of a NATS header block, as nats-py's ``_parse_header_lines`` gives them."""
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        return _parse_any(raw)
    lines = text.split("\r\n")
    if not "".join(lines).isprintable():
        return _parse_any(raw)  # tabs, control characters, a lone CR or LF
    # Printable ASCII: bytes.strip() and str.isspace() see only the space; UTF-8 decoding is the
    # identity. So this is nats-py's loop, on text, with one test less per line.
    out: dict[str, str] = {}
    for line in lines:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep:
            continue
        key = name.strip(" ")
        if " " in key:
            continue
        out[key] = value.strip(" ")
    return out


def _parse_any(raw: bytes) -> dict[str, str]:
    """nats-py's loop for any block (non-ASCII bytes, control characters)."""
    out: dict[str, str] = {}
    for line in raw.split(_CRLF):
        if not line:
            continue
        name, sep, value = line.partition(b":")
        if not sep:
            continue
        try:
            key = name.strip().decode("ascii")
        except UnicodeDecodeError:
            continue
        if _WHITESPACE(key):
            continue
        out[key] = value.strip().decode("utf-8", "replace")
    return out


def install(nc: Client) -> bool:
    """Let ``nc`` parse headers with :func:`parse_header_lines`; False if this nats-py has no such hook."""
    if not callable(getattr(Client, "_parse_header_lines", None)):
        return False
    nc._parse_header_lines = parse_header_lines  # type: ignore[method-assign]
    return True
