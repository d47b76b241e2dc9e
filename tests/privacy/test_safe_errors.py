"""Unit checks of the two places that turn validation errors into text, and of the scan's needles."""

from __future__ import annotations

import base64
import json
import os

import pytest
from privacy_kit import Markers, MarkerSearch, find, find_slow, needles
from pydantic import BaseModel, ConfigDict, ValidationError

from fw_contracts import UndecodableEvent, decode
from fw_platform.http import field_errors

SECRET = "Erika Mustermann +49 170 1234567"


def test_decode_never_echoes_unknown_types_or_keys() -> None:
    for body in ({"event_type": SECRET, "schema_version": 1},
                 {"event_type": "SessionStarted", "schema_version": 1, SECRET: 1, "callback": 2}):
        with pytest.raises(UndecodableEvent) as info:
            decode(json.dumps(body).encode())
        assert "Erika" not in info.value.reason and "1234567" not in info.value.reason
    assert "callback:extra_forbidden" in info.value.reason  # a field-like name still helps debugging
    assert "*:extra_forbidden" in info.value.reason


def test_field_errors_never_echo_unknown_keys() -> None:
    class Body(BaseModel):
        model_config = ConfigDict(extra="forbid")
        name: int

    with pytest.raises(ValidationError) as info:
        Body.model_validate({"name": SECRET, SECRET: 1, "note": 2})
    errors = field_errors(list(info.value.errors()))
    assert SECRET not in json.dumps(errors)
    assert {(e["field"], e["code"]) for e in errors} == {("name", "int_parsing"), ("*", "extra_forbidden"),
                                                          ("note", "extra_forbidden")}


def test_needles_find_every_encoding() -> None:
    m = Markers("t")
    for value in (m.company, m.contact_name, m.phone_e164, m.street):
        raw = value.encode()
        for blob in (raw, raw.upper(), json.dumps(value).encode(), raw.hex().encode(), value.encode("utf-16-le"),
                     base64.b64encode(b"x" + raw), base64.b64encode(b"xy" + raw), base64.b64encode(raw)):
            assert find(b"..." + blob + b"...", [m]), (value, blob[:30])
    assert find(b"call 030 " + m.subscriber[:4].encode() + b" " + m.subscriber[4:].encode(), [m])
    assert not find(b"nothing personal here", [m])
    assert all(n for _, n, _ in needles("abcdefghijklmnop"))


def test_the_one_pass_search_finds_what_one_needle_at_a_time_finds() -> None:
    """The raw scans search every needle in one pass; the same hits, in the same order, as
    looking for each needle on its own: in clear text, every encoding, zeros (WAL), random bytes
    and upper case, with and without markers."""
    ms = [Markers(label) for label in ("a", "b", "c")]
    a, b = ms[0], ms[1]
    planted = [a.company.encode(), json.dumps(a.statement).encode(), a.street.encode("utf-16-le"),
               base64.b64encode(b"xy" + b.contact_name.encode()), b.email.upper().encode(), a.phone_e164.encode(),
               ("030 " + b.subscriber[:4] + " " + b.subscriber[4:]).encode(), b.city.encode().hex().encode()]
    blobs = [b"", bytes(1 << 16), os.urandom(1 << 16), b"\0".join(planted), os.urandom(999) + planted[3] + bytes(99),
             b"nothing personal here"]
    for blob in blobs:
        assert find(blob, ms) == find_slow(blob, ms), blob[:40]
    everything = find(b"|".join(planted), ms)
    assert everything == find_slow(b"|".join(planted), ms)
    assert {"a.company(plain)", "a.statement(json)", "a.street_token(utf16)", "b.contact_name(base64/2)", "b.email(plain)",
            "a.phone_e164(plain)", "b.phone_typed(plain)", "b.city(hex)"} <= set(everything), everything
    assert not [h for h in everything if h.startswith("c.")]
    search = MarkerSearch(ms)  # built once, used for many blobs
    assert [search.find(x) for x in blobs] == [find_slow(x, ms) for x in blobs]
