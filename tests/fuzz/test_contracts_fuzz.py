"""Hypothesis on the contracts: decoding never fails any other way, valid events round-trip."""

from __future__ import annotations

import enum
import json
import types
import typing
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from annotated_types import Ge, Gt, Le, Lt, MaxLen, MinLen
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import AwareDatetime, BaseModel

from fw_contracts import UndecodableEvent, decode
from fw_contracts.reference import (
    IssuerDetails,
    IssuerDetailsChanged,
    TariffContent,
    TariffPublished,
    TermsPublished,
)
from fw_contracts.registry import ALL_EVENTS

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=20), inner, max_size=6),
    max_leaves=30)
subjects = st.sampled_from([None, *(cls.subject() for cls in ALL_EVENTS), "fw.x.y.v1", ""])


def for_type(tp, metadata=()) -> st.SearchStrategy:
    """A strategy of valid values for a pydantic field type (enough for the event contracts)."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Annotated:
        return for_type(args[0], (*metadata, *args[1:]))
    if origin is typing.Literal:
        return st.sampled_from(args)
    if origin in (typing.Union, types.UnionType):
        return st.one_of(*(for_type(a, metadata) for a in args))
    if origin is tuple:
        return st.lists(for_type(args[0]), min_size=1, max_size=3).map(tuple)
    pattern = next((getattr(m, "pattern", None) for m in metadata if getattr(m, "pattern", None)), None)
    lo = next((m.ge for m in metadata if isinstance(m, Ge)), 0)
    hi = next((m.le for m in metadata if isinstance(m, Le)), 10**6)
    if tp is type(None):
        return st.none()
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return model_strategy(tp)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return st.sampled_from(list(tp))
    if tp is str:
        if pattern:
            return st.from_regex(pattern, fullmatch=True)
        size = next((m.max_length for m in metadata if isinstance(m, MaxLen)), None) or next(
            (m.max_length for m in metadata if getattr(m, "max_length", None)), 40)
        least = next((m.min_length for m in metadata if isinstance(m, MinLen)), None) or next(
            (m.min_length for m in metadata if getattr(m, "min_length", None)), 0)
        return st.text(st.characters(codec="utf-8"), min_size=least, max_size=min(size, 40))
    if tp is bool:
        return st.booleans()
    if tp is int:
        return st.integers(lo, hi)
    if tp is Decimal:
        low = next((Decimal(m.gt) + Decimal("0.01") for m in metadata if isinstance(m, Gt)), Decimal(lo))
        high = next((Decimal(m.lt) - Decimal("0.01") for m in metadata if isinstance(m, Lt)), Decimal(hi))
        return st.decimals(min_value=low, max_value=high, places=2)
    if tp is uuid.UUID:
        return st.uuids()
    if tp in (datetime, AwareDatetime):
        # hypothesis takes naive bounds and attaches the zone itself
        return st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1),  # noqa: DTZ001
                            timezones=st.just(UTC))
    raise NotImplementedError(tp)


def model_strategy(cls: type[BaseModel], **overrides: st.SearchStrategy) -> st.SearchStrategy:
    if cls in REFERENCE:
        return REFERENCE[cls]()
    fields = {name: overrides[name] if name in overrides else for_type(f.annotation, tuple(f.metadata))
              for name, f in cls.model_fields.items() if name not in ("event_type", "schema_version")}
    return st.fixed_dictionaries(fields).map(cls.model_validate)


def _at() -> st.SearchStrategy:
    return for_type(AwareDatetime)


#: The reference events carry content and its hash (and a time zone that must exist): built with
#: their own constructors from generated content, as billing and intake build them.
REFERENCE: dict[type, typing.Callable[[], st.SearchStrategy]] = {
    TariffPublished: lambda: st.builds(lambda c, at: TariffPublished.of(c, occurred_at=at), model_strategy(
        TariffContent, timezone=st.sampled_from(["Europe/Berlin", "UTC"])), _at()),
    TermsPublished: lambda: st.builds(lambda v, t, at: TermsPublished.of(v, t, occurred_at=at),
                                      st.from_regex(r"^[0-9A-Za-z._-]{1,32}$", fullmatch=True),
                                      st.text(st.characters(codec="utf-8"), min_size=1, max_size=60), _at()),
    IssuerDetailsChanged: lambda: st.builds(
        lambda d, prev, at: IssuerDetailsChanged.of(d, prev, occurred_at=at), model_strategy(IssuerDetails),
        st.one_of(st.none(), st.from_regex(r"^[0-9a-f]{64}$", fullmatch=True)), _at()),
}


FAST = settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))


@FAST
@given(payload=st.binary(max_size=300), subject=subjects)
def test_decode_of_arbitrary_bytes_raises_only_undecodable(payload: bytes, subject: str | None) -> None:
    try:
        decode(payload, subject)
    except UndecodableEvent as exc:
        assert exc.reason  # noqa: PT017 - decoding may also succeed
    # (returning an event from random bytes would be fine too, if they happen to be one)


@FAST
@given(data=json_values, subject=subjects)
def test_decode_of_arbitrary_json_raises_only_undecodable(data, subject: str | None) -> None:
    try:
        decode(json.dumps(data).encode(), subject)
    except UndecodableEvent:
        pass


@FAST
@given(cls=st.sampled_from(ALL_EVENTS), tweak=st.dictionaries(st.text(max_size=15), json_values, max_size=4),
       data=st.data())
@pytest.mark.long(14)
def test_near_valid_events_raise_only_undecodable_and_never_echo_values(cls, tweak, data) -> None:
    """Take a valid event of each type and overwrite some fields with junk."""
    event = data.draw(model_strategy(cls))
    body = json.loads(event.to_json())
    marker = "Mk7Secret"
    body.update({k: (f"{marker}{v}" if isinstance(v, str) else v) for k, v in tweak.items()})
    try:
        decoded = decode(json.dumps(body).encode(), cls.subject())
    except UndecodableEvent as exc:
        assert marker not in exc.reason  # noqa: PT017 - decoding may also succeed
    else:
        assert type(decoded) is cls


@pytest.mark.long(19)
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_every_valid_event_round_trips(data) -> None:
    for cls in ALL_EVENTS:
        event = data.draw(model_strategy(cls))
        assert decode(event.to_json(), cls.subject()) == event
