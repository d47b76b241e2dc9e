"""The msgspec decoder (``fw_contracts.fastdecode``) against the pydantic models, the contract.

Both decoders get the same bodies: valid events generated from every model's fields (patterns,
enums, Literals, nested models, Decimals, aware times in several offsets and spellings), and the
same events broken one field at a time (missing, null, wrong type, numbers as strings, naive or
odd times, NaN and over-long money, trailing newlines after patterns, extra fields, duplicate
keys, bad UTF-8 ...). They must accept and refuse the same bodies, refuse with the same reason,
and accept into equal values (same types, same UTC offsets).
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import json
import types
import typing
import uuid
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import AwareDatetime, BaseModel, ConfigDict, field_validator
from pydantic.fields import FieldInfo

from fw_contracts import ALL_EVENTS, BY_SUBJECT, UndecodableEvent, decode
from fw_contracts import events as ev
from fw_contracts.fastdecode import UnsupportedContract, _model, check_fast, decode_fast, fast_decodable, struct_for

CURRENT = [cls for cls in ALL_EVENTS if BY_SUBJECT.get(cls.subject()) is cls and fast_decodable(cls)]
#: Events that opted out (``fast_decode = False``): always decoded by pydantic.
PYDANTIC_ONLY = [cls for cls in ALL_EVENTS if not fast_decodable(cls)]
TZS = [dt.UTC, dt.timezone(dt.timedelta(hours=1)), dt.timezone(dt.timedelta(hours=-5, minutes=-30))]


def _times() -> st.SearchStrategy[str]:
    # hypothesis takes naive bounds and attaches the zone itself
    base = st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2100, 1, 1),  # noqa: DTZ001
                        timezones=st.sampled_from(TZS))
    return base.flatmap(lambda d: st.sampled_from([
        d.isoformat(), d.isoformat().replace("+00:00", "Z"), d.replace(microsecond=0).isoformat(),
        d.isoformat(timespec="milliseconds")]))


def _decimals(places: int | None) -> st.SearchStrategy[str]:
    if places is not None:
        return st.decimals(min_value=-10 ** 11, max_value=10 ** 11, places=places).map(str)
    return st.decimals(allow_nan=False, allow_infinity=False, min_value=-10 ** 6, max_value=10 ** 6).map(str)


def _strategy(tp: Any, metadata: list[Any]) -> st.SearchStrategy[Any]:
    """Valid JSON values for a pydantic annotation (what a producer writes)."""
    pattern = next((m.pattern for m in metadata if getattr(m, "pattern", None)), None)
    max_len = next((m.max_length for m in metadata if getattr(m, "max_length", None)), None)
    places = next((getattr(m, "decimal_places", None) for m in metadata if hasattr(m, "decimal_places")), None)
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Annotated:  # e.g. ``Sha256Hex | None``: the alias's own constraints
        base, *extra = args
        return _strategy(base, list(metadata) + [m for e in extra
                                                 for m in (e.metadata if isinstance(e, FieldInfo) else [e])])
    if tp is str:
        if pattern:
            return st.from_regex(pattern, fullmatch=True)
        return st.text(max_size=max_len or 20)
    if tp is int:
        return st.integers(0, 10 ** 9)
    if tp is bool:
        return st.booleans()
    if tp is uuid.UUID:
        return st.uuids().map(str)
    if tp is AwareDatetime:
        return _times()
    if tp is decimal.Decimal:
        return _decimals(places)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return st.sampled_from([m.value for m in tp])
    if origin is typing.Literal:
        return st.sampled_from(args)
    if origin in (types.UnionType, typing.Union):
        inner = next(a for a in args if a is not type(None))
        return st.none() | _strategy(inner, metadata)
    if origin is tuple:
        min_len = next((m.min_length for m in metadata if getattr(m, "min_length", None)), 0)
        return st.lists(_strategy(args[0], []), min_size=min_len, max_size=max(3, min_len))
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return _body(tp)
    raise AssertionError(f"no example strategy for {tp!r}: extend this test")


def _body(cls: type[BaseModel]) -> st.SearchStrategy[dict[str, Any]]:
    required, optional = {}, {}
    for name, info in cls.model_fields.items():
        s = _strategy(info.annotation, list(info.metadata))
        (optional if not info.is_required() else required)[name] = s
    # event_id/occurred_at/correlation_id have factories: a producer always writes them
    for name in ("event_id", "occurred_at", "correlation_id"):
        if name in optional:
            required[name] = optional.pop(name)
    return st.fixed_dictionaries(required, optional=optional)


NASTY: list[Any] = [
    None, 0, -1, 1, 1.5, 2 ** 70, True, False, "", "x", "5", "1.0", [], {}, ["x"], {"a": 1},
    "NaN", "Infinity", "-Infinity", "sNaN", "1e2", "1E-2", "12.345", "0.10", " 1.00", "1.00 ", "1_000.00", "+1.00",
    "-0", "-0.00", "123456789012345.00", "0.001", "1.000", 12.5, 12,
    "2026-01-01T00:00:00", "2026-01-01T00:00:00Z", "2026-01-01t00:00:00z", "2026-01-01 00:00:00+00:00",
    "2026-01-01T00:00:00.1234567+01:00", "2026-01-01T00:00:00.123456789Z", "2026-01-01T23:59:60Z",
    "2026-01-01T24:00:00Z", "2026-01-01", "2026-01-01T00:00Z", "2026-01-01T00:00:00+0100", "2026-01-01T00:00:00+01",
    "2026-01-01T00:00:00-00:00", "2026-01-01T00:00:00+23:59", "0001-01-01T00:00:00Z", "2026-02-30T00:00:00Z",
    1700000000, "1700000000", 1700000000.5,
    "B1A2C3D4-E5F6-4A7B-8C9D-0E1F2A3B4C5D", "b1a2c3d4e5f64a7b8c9d0e1f2a3b4c5d", "{b1a2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d}",
    "urn:uuid:b1a2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d", "b1a2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5", "00000000-0000-0000-0000-000000000000",
    "true", "false", "K7MQ-3X", "K7MQ-3X\n", "k7mq-3x", "tech-01", "tech-01\n", "FW-2026-000001", "FW-2026-000001\n",
    "K00001", "\ud800", "a" * 201, "a" * 200, "business", "BUSINESS", "full", "kleinbetrag", "C62", "EUR", "eur",
    "billing_address", ["billing_address"], ["billing_address", "x"], "0" * 64, "0" * 64 + "\n", "A" * 64,
]


def _mutations(value: Any) -> st.SearchStrategy[Any]:
    """A body broken (or oddly but validly spelled) in one place."""
    def edit(data: dict[str, Any], key: str, how: str, new: Any) -> dict[str, Any]:
        data = json.loads(json.dumps(data))
        if how == "drop":
            data.pop(key, None)
        elif how == "set":
            data[key] = new
        elif how == "suffix" and isinstance(data.get(key), str) and isinstance(new, str):
            data[key] = data[key] + new
        elif how == "case" and isinstance(data.get(key), str):
            data[key] = data[key].upper() if new else data[key].lower()
        return data

    def at(data: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
        keys = [*sorted(data), "extra_field", "Not A Field"]
        return st.tuples(st.sampled_from(keys), st.sampled_from(["drop", "set", "set", "suffix", "case"]),
                         st.sampled_from([*NASTY, "\n", " ", "0", True, False])).map(lambda t: edit(data, *t))

    def nested(data: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
        inner = [k for k, v in data.items() if isinstance(v, dict) or (isinstance(v, list) and v and isinstance(v[0], dict))]
        if not inner:
            return at(data)
        key = inner[0]

        def put(sub: dict[str, Any]) -> dict[str, Any]:
            out = dict(data)
            out[key] = sub if isinstance(data[key], dict) else [sub, *data[key][1:]]
            return out

        return at(data[key] if isinstance(data[key], dict) else data[key][0]).map(put)

    return st.one_of(at(value), nested(value))


def _raw_bodies(data: dict[str, Any]) -> list[bytes]:
    body = json.dumps(data).encode()
    first = next(iter(data))
    return [body, body + b" ", b" " + body, body + b"x", body[:-1], body.replace(b"{", b"[", 1),
            body[:-1] + b', "' + first.encode() + b'": ' + json.dumps(data[first]).encode() + b"}",  # duplicate key
            body.replace(b'"', b"\xff", 1), b"null", b"{}"]


def _outcome(fn: Any, body: bytes, subject: str) -> tuple[str, Any]:
    try:
        return "ok", fn(body, subject)
    except UndecodableEvent as exc:
        return "refused", exc.reason


def _same_value(a: Any, b: Any, path: str) -> None:
    assert type(a) is type(b) or (isinstance(a, BaseModel) and type(b).__name__ == type(a).__name__), \
        f"{path}: {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, dt.datetime):
        assert a == b and a.utcoffset() == b.utcoffset() and a.tzinfo is not None, f"{path}: {a!r} != {b!r}"
    elif isinstance(a, decimal.Decimal):
        assert a.as_tuple() == b.as_tuple(), f"{path}: {a!r} != {b!r}"
    elif isinstance(a, BaseModel):
        for name in type(a).model_fields:
            _same_value(getattr(a, name), getattr(b, name), f"{path}.{name}")
    elif isinstance(a, tuple):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same_value(x, y, f"{path}[{i}]")
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


def _json_or_error(event: Any) -> bytes | str:
    try:
        return event.to_json()  # type: ignore[no-any-return]
    except ValueError as exc:  # e.g. a lone surrogate ("\ud800"), which pydantic accepts but cannot write
        return type(exc).__name__


def _compare(body: bytes, subject: str) -> None:
    ref = _outcome(decode, body, subject)
    fast = _outcome(decode_fast, body, subject)
    checked = _outcome(check_fast, body, subject)
    assert ref[0] == fast[0] == checked[0], f"{subject}: pydantic {ref[0]}, msgspec {fast[0]}/{checked[0]}: {body!r}"
    if ref[0] == "refused":
        assert ref[1] == fast[1] == checked[1]
        return
    try:
        present = set(json.loads(body))
    except ValueError:
        present = set()
    made_up = {"event_id", "occurred_at", "correlation_id"} - present  # pydantic's factories: random/now
    a, b, c = ref[1], fast[1], checked[1]
    assert type(a) is type(b)
    for name in type(a).model_fields:
        if name in made_up:
            continue
        _same_value(getattr(a, name), getattr(b, name), name)
    assert c[0] == a.event_type
    if "occurred_at" not in made_up:
        _same_value(a.occurred_at, c[1], "check_fast occurred_at")
    if not made_up:
        assert a == b
        assert _json_or_error(a) == _json_or_error(b)


@pytest.mark.parametrize("cls", CURRENT, ids=lambda c: c.__name__)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_valid_and_broken_events_decode_alike(cls: type[ev.Event], data: st.DataObject) -> None:
    valid = data.draw(_body(cls), label="valid")
    _compare(json.dumps(valid).encode(), cls.subject())
    broken = data.draw(_mutations(valid), label="broken")
    _compare(json.dumps(broken).encode(), cls.subject())
    for body in _raw_bodies(valid):
        _compare(body, cls.subject())


@pytest.mark.parametrize("cls", CURRENT, ids=lambda c: c.__name__)
def test_every_nasty_value_in_every_field(cls: type[ev.Event]) -> None:
    """Deterministic: each field of one valid event replaced by each odd value in turn."""
    valid = _body(cls).example()
    for key in [*list(valid), "extra_field"]:
        for value in NASTY:
            _compare(json.dumps({**valid, key: value}).encode(), cls.subject())
        rest = dict(valid)
        rest.pop(key, None)
        _compare(json.dumps(rest).encode(), cls.subject())


def test_well_formed_events_take_the_msgspec_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """The speed-up is real: a producer's event never reaches pydantic's decode."""
    import fw_contracts.fastdecode as fd

    def no_pydantic(*_: object, **__: object) -> None:
        raise AssertionError("fell back to pydantic")

    monkeypatch.setattr(fd, "decode", no_pydantic)
    for cls in CURRENT:
        body = json.dumps(_body(cls).example()).encode()
        assert fd.check_fast(body, cls.subject())[0] == cls.__name__
        assert type(fd.decode_fast(body, cls.subject())) is cls


def test_old_versions_and_other_subjects_go_through_upcasting_and_subject_checks() -> None:
    v2 = ev.SessionNotBilled(session_id=uuid.uuid4(), request_id=uuid.uuid4(), reason=ev.NotBilledReason.GOODWILL,
                             tariff_version="2026-01", raw_seconds=3)
    v1 = {**json.loads(v2.to_json()), "schema_version": 1}
    old_subject = v2.subject().rsplit(".", 1)[0] + ".v1"
    for body, subject in [(json.dumps(v1).encode(), old_subject), (json.dumps(v1).encode(), v2.subject()),
                          (v2.to_json(), old_subject), (v2.to_json(), ev.SessionEnded.subject()),
                          (v2.to_json(), "fw.unknown.thing.v1"), (v2.to_json(), None)]:
        _compare(body, subject)  # type: ignore[arg-type]
    assert decode_fast(json.dumps(v1).encode(), old_subject) == decode(json.dumps(v1).encode(), old_subject)


def _wire_fields(struct: type[msgspec.Struct]) -> dict[str, Any]:
    return {f.name: f.type for f in msgspec.structs.fields(struct)}


@pytest.mark.parametrize("cls", [*(c for c in ALL_EVENTS if fast_decodable(c)), ev.InvoiceLine, ev.TermsAcceptance],
                         ids=lambda c: c.__name__)
def test_the_structs_have_exactly_the_models_fields(cls: type[BaseModel]) -> None:
    struct = _model(cls).struct
    assert set(_wire_fields(struct)) == set(cls.model_fields)
    assert struct.__struct_config__.forbid_unknown_fields
    if cls in ALL_EVENTS and cls in CURRENT:
        assert struct_for(cls) is struct  # type: ignore[arg-type]


def test_a_construct_the_derivation_does_not_know_is_refused_at_import() -> None:
    class WithFloat(BaseModel):
        model_config = ConfigDict(frozen=True, extra="forbid")
        amount: float

    class WithValidator(BaseModel):
        model_config = ConfigDict(frozen=True, extra="forbid")
        code: str

        @field_validator("code")
        @classmethod
        def _upper(cls, v: str) -> str:
            return v.upper()

    class Lax(BaseModel):
        model_config = ConfigDict(frozen=True, extra="ignore")
        code: str

    class NaiveTime(BaseModel):
        model_config = ConfigDict(frozen=True, extra="forbid")
        at: dt.datetime

    for model in (WithFloat, WithValidator, Lax, NaiveTime):
        with pytest.raises(UnsupportedContract):
            _model(model)
    assert isinstance(FieldInfo, type)


def test_the_reference_events_opt_out_and_decode_as_pydantic_does(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the reference data events opt out; they never take the msgspec path, and the fast
    decoder gives exactly what decode() gives for them (valid or not)."""
    import fw_contracts.fastdecode as fd
    from fw_contracts.reference import (
        IssuerDetails,
        IssuerDetailsChanged,
        TariffContent,
        TariffPublished,
        TermsPublished,
    )

    assert {c.__name__ for c in PYDANTIC_ONLY} == {"TariffPublished", "TermsPublished", "IssuerDetailsChanged"}
    tariff = TariffPublished.of(TariffContent(version="2026-01", rate_per_interval=Decimal("12.50"),
                                              interval_seconds=900))
    terms = TermsPublished.of("2026-01", "AGB")
    issuer = IssuerDetailsChanged.of(IssuerDetails(name="Büro", street="Weg 1", postal_code="12345", city="Ort",
                                                   country="DE", iban="DE02120300000000202051"), None)
    for event in (tariff, terms, issuer):
        body = event.to_json()
        assert decode_fast(body, event.subject()) == decode(body, event.subject()) == event
        assert check_fast(body, event.subject()) == (event.event_type, event.occurred_at)
        bad = json.dumps({**json.loads(body), "extra_field": 1}).encode()
        _compare(bad, event.subject())
    wrong = json.dumps({**json.loads(tariff.to_json()), "tariff_version": "2027-01"}).encode()
    _compare(wrong, tariff.subject())
    calls: list[str] = []
    real = fd.decode
    monkeypatch.setattr(fd, "decode", lambda *a, **k: calls.append("pydantic") or real(*a, **k))
    decode_fast(tariff.to_json(), tariff.subject())
    assert calls == ["pydantic"]
