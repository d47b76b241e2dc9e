"""A faster decoder for long replays: msgspec checks the body, the pydantic models stay the contract.

:func:`decode_fast` gives exactly what :func:`fw_contracts.decode` gives (the same event objects,
the same accept/reject, the same reasons), in about half the time for a well-formed event:

* For every event class a msgspec ``Struct`` is **derived from the pydantic model at import**
  (field names, types, defaults, ``extra="forbid"``, string patterns and lengths, ``ge``, Literals,
  enums, nested models, aware datetimes). A model construct this module does not know (a new
  constraint, validator or type) raises :class:`UnsupportedContract` at import, so the two cannot
  drift silently; ``tests/test_fastdecode.py`` also feeds both decoders the same valid and invalid
  events.
* msgspec is strict where pydantic is lax (no ``"5"`` for an int, no number for a Decimal or a
  time, no missing ``event_id`` that pydantic would fill with a fresh one): whatever msgspec
  rejects goes to :func:`fw_contracts.decode`, which accepts what pydantic accepts (upcasting old
  versions) and names the reason for anything else. msgspec only ever *accepts* a subset of what
  pydantic accepts, and for those it builds the same values.
* What msgspec cannot express is checked after it: Decimal ``max_digits``/``decimal_places`` and
  finiteness (pydantic's rules, by pydantic's own validator for those fields), and ``occurred_at``
  converted to UTC as :class:`fw_contracts.base.Event` does.

The result is the pydantic event itself (built without a second validation), so callers and
checks do not change.

An event class may opt out with ``fast_decode = False`` (a ``ClassVar``): it is then never
derived and always decoded by :func:`fw_contracts.decode`. The reference data events
(``fw_contracts.reference``: a tariff's content, the terms' text, the issuer's details) do: they
are a handful per history, and their models check what msgspec cannot mirror (a model validator,
a known time zone, bounded decimals), so pydantic alone decides them.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import re
import types
import typing
import uuid
from collections.abc import Callable
from typing import Any, NoReturn

import annotated_types
import msgspec
from pydantic import AwareDatetime, BaseModel, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from fw_contracts.base import Event
from fw_contracts.registry import BY_SUBJECT, BY_TYPE, decode

__all__ = ["UnsupportedContract", "check_fast", "decode_fast", "fast_decodable", "struct_for"]


class UnsupportedContract(TypeError):
    """A model uses a construct the msgspec derivation does not mirror: extend this module."""


#: The only validator an event may have that this module mirrors (``Event._to_utc``).
_KNOWN_VALIDATORS = {("_to_utc", ("occurred_at",))}
_UTC = dt.UTC


def _pattern(p: str) -> str:
    # pydantic matches with Rust's regex, where ``$`` is the end of the text; Python's ``$`` also
    # matches before a final newline ("K7MQ-3X\n"). ``\Z`` is Rust's ``$``.
    if p.endswith("$") and not p.endswith("\\$"):
        return p[:-1] + r"\Z"
    return p


class _Field:
    """How one field is decoded: its msgspec type, and what is checked or built after msgspec."""

    def __init__(self, name: str, mtype: Any, post: Callable[[Any], Any] | None) -> None:
        self.name, self.mtype, self.post = name, mtype, post


def _meta_for(info_metadata: list[Any], where: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(msgspec Meta kwargs, Decimal constraints pydantic checks after msgspec)."""
    meta: dict[str, Any] = {}
    dec: dict[str, Any] = {}
    for m in info_metadata:
        if isinstance(m, annotated_types.Ge):
            meta["ge"] = m.ge
        elif isinstance(m, annotated_types.MinLen):
            meta["min_length"] = m.min_length
        elif isinstance(m, annotated_types.MaxLen):
            meta["max_length"] = m.max_length
        elif type(m).__name__ == "StringConstraints":
            for attr in ("strip_whitespace", "to_upper", "to_lower", "strict", "min_length", "ascii_only"):
                if getattr(m, attr) not in (None, False):
                    raise UnsupportedContract(f"{where}: StringConstraints.{attr}")
            if m.max_length is not None:
                meta["max_length"] = m.max_length
            if m.pattern is not None:
                meta["pattern"] = _pattern(m.pattern)
        elif type(m).__name__ == "_PydanticGeneralMetadata":
            extra = set(vars(m)) - {"max_digits", "decimal_places"}
            if extra:
                raise UnsupportedContract(f"{where}: constraint {sorted(extra)}")
            dec.update(vars(m))
        else:
            raise UnsupportedContract(f"{where}: constraint {m!r}")
    return meta, dec


def _digits_check(pydantic_check: Post, max_digits: int | None, places: int | None) -> Post:
    """Decimal ``max_digits``/``decimal_places``: a value that passes plainly (finite, at most
    ``places`` places, at most ``max_digits`` digits as written) passes pydantic's rule too (which
    may first drop trailing zeros: that only makes a value shorter); anything else gets pydantic's
    own verdict."""
    lo = -places if places is not None else None
    most = max_digits

    def check(value: decimal.Decimal) -> decimal.Decimal:
        t = value.as_tuple()
        e = t.exponent
        if type(e) is int and e <= 0 and (lo is None or e >= lo) and (most is None or len(t.digits) <= most) \
                and (most is None or -e <= most):
            return value
        return pydantic_check(value)  # type: ignore[no-any-return]

    return check


#: msgspec rounds a time's 7th and later fractional digits, pydantic cuts them off: a body with a
#: time of more than six fractional digits goes to pydantic (producers write at most six).
_SUBMICRO = re.compile(rb":[0-9]{2}\.[0-9]{7}").search


def _finite(value: decimal.Decimal) -> decimal.Decimal:
    if not value.is_finite():
        raise ValueError("not finite")
    return value


Post = Callable[[Any], Any]


def _convert(tp: Any, metadata: list[Any], where: str) -> tuple[Any, Post | None, Post | None]:
    """For a pydantic annotation: the msgspec type; what turns the decoded value into the model's
    value (None: nothing to do); what only checks it (None: nothing to check)."""
    meta, dec = _meta_for(metadata, where)
    if typing.get_origin(tp) is typing.Annotated:
        base, *extra = typing.get_args(tp)
        sub_meta = []
        for e in extra:
            if isinstance(e, FieldInfo):
                sub_meta.extend(e.metadata)
            else:
                sub_meta.append(e)
        return _convert(base, list(metadata) + sub_meta, where)
    if dec and tp is not decimal.Decimal:
        raise UnsupportedContract(f"{where}: decimal constraints on {tp!r}")
    if tp is decimal.Decimal:
        if meta:
            raise UnsupportedContract(f"{where}: {meta} on a Decimal")
        if dec:
            digits = _digits_check(TypeAdapter(typing.Annotated[decimal.Decimal, *metadata]).validate_python,
                                   dec.get("max_digits"), dec.get("decimal_places"))
            return decimal.Decimal, digits, digits
        return decimal.Decimal, _finite, _finite
    if tp is AwareDatetime:
        return (typing.Annotated[dt.datetime, msgspec.Meta(tz=True)], None, None) if not meta else _bad(where, meta)
    if tp is dt.datetime:
        raise UnsupportedContract(f"{where}: a naive-capable datetime (use AwareDatetime)")
    if tp in (str, int):
        return (typing.Annotated[tp, msgspec.Meta(**meta)] if meta else tp), None, None
    if tp in (bool, uuid.UUID):
        return (tp, None, None) if not meta else _bad(where, meta)
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (types.UnionType, typing.Union) and len(args) == 2 and type(None) in args:
        # pydantic applies a field's constraints (``int | None = Field(ge=0)``) to the value
        # when it is not None: so does the inner type here
        inner = args[0] if args[1] is type(None) else args[1]
        mt, post, check = _convert(inner, list(metadata), where)
        return mt | None, _optional(post), _optional(check)
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis and meta and set(meta) <= {"min_length", "max_length"}:
        # ``Field(min_length=1)`` on a tuple: the same length bounds in msgspec
        mt, post, check = _convert(tp, [], where)
        return typing.Annotated[mt, msgspec.Meta(**meta)], post, check
    if meta:
        return _bad(where, meta)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        if not issubclass(tp, str):
            raise UnsupportedContract(f"{where}: enum {tp.__name__} is not a StrEnum")
        return tp, None, None
    if origin is typing.Literal:
        if not all(type(a) in (str, int) for a in args):
            raise UnsupportedContract(f"{where}: Literal {args}")
        return tp, None, None
    if origin in (types.UnionType, typing.Union):
        raise UnsupportedContract(f"{where}: union {tp!r}")
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        mt, post, check = _convert(args[0], [], where)
        return (tuple[mt, ...], None if post is None else (lambda v, p=post: tuple(p(x) for x in v)),  # type: ignore[valid-type]
                None if check is None else (lambda v, c=check: [c(x) for x in v]))
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        model = _model(tp)
        return model.struct, model.build, model.check
    raise UnsupportedContract(f"{where}: type {tp!r}")


def _optional(f: Post | None) -> Post | None:
    return None if f is None else (lambda v: None if v is None else f(v))


def _bad(where: str, meta: dict[str, Any]) -> NoReturn:
    raise UnsupportedContract(f"{where}: constraints {meta}")


class _Model:
    """A pydantic model's msgspec Struct, and how a decoded Struct is checked or made a model."""

    def __init__(self, struct: type[msgspec.Struct], build: Post, check: Post) -> None:
        self.struct, self.build, self.check = struct, build, check


_MODELS: dict[type[BaseModel], _Model] = {}


def _check_model(cls: type[BaseModel]) -> None:
    cfg = cls.model_config
    if cfg.get("extra") != "forbid" or not cfg.get("frozen"):
        raise UnsupportedContract(f"{cls.__name__}: model_config must be frozen with extra='forbid'")
    for key in ("str_strip_whitespace", "str_to_lower", "str_to_upper", "strict", "coerce_numbers_to_str",
                "populate_by_name", "validate_by_name", "alias_generator", "str_min_length", "str_max_length"):
        if cfg.get(key):
            raise UnsupportedContract(f"{cls.__name__}: model_config {key}")
    dec = cls.__pydantic_decorators__
    found = {(v.cls_var_name, tuple(v.info.fields)) for v in dec.field_validators.values()}
    if found - _KNOWN_VALIDATORS or dec.model_validators or dec.root_validators or dec.field_serializers \
            or dec.model_serializers or dec.computed_fields:
        raise UnsupportedContract(f"{cls.__name__}: validators or serializers this module does not mirror")
    for name, info in cls.model_fields.items():
        if info.alias not in (None, name) or info.validation_alias not in (None, name):
            raise UnsupportedContract(f"{cls.__name__}.{name}: alias")


def _model(cls: type[BaseModel]) -> _Model:
    """The msgspec Struct for a pydantic model (named like it), its builder and its checker."""
    if cls in _MODELS:
        return _MODELS[cls]
    _check_model(cls)
    fields: list[tuple[Any, ...]] = []
    posts: list[tuple[str, Post]] = []
    checks: list[tuple[str, Post]] = []
    names: list[str] = []
    for name, info in cls.model_fields.items():
        mtype, post, field_check = _convert(info.annotation, list(info.metadata), f"{cls.__name__}.{name}")
        if info.default_factory is not None or info.default is PydanticUndefined:
            # required: pydantic would make up a missing event_id/occurred_at; decode() decides those
            fields.append((name, mtype))
        else:
            fields.append((name, mtype, info.default))
        names.append(name)
        if post is not None:
            posts.append((name, post))
        if field_check is not None:
            checks.append((name, field_check))
    struct = msgspec.defstruct(cls.__name__, fields, forbid_unknown_fields=True, frozen=True, kw_only=True,
                               module=__name__)
    to_utc = issubclass(cls, Event)  # Event._to_utc: occurred_at in UTC
    new = cls.__new__
    names_set = frozenset(names)
    asdict = msgspec.structs.asdict
    setattr_ = object.__setattr__
    post_fields, check_fields = tuple(posts), tuple((n, c) for n, c in checks)

    def build(value: Any) -> BaseModel:
        data = asdict(value)
        for n, p in post_fields:
            data[n] = p(data[n])
        if to_utc:
            when = data["occurred_at"]
            if when.tzinfo is not _UTC:
                data["occurred_at"] = when.astimezone(_UTC)
        obj = new(cls)
        setattr_(obj, "__dict__", data)
        setattr_(obj, "__pydantic_fields_set__", set(names_set))
        setattr_(obj, "__pydantic_extra__", None)
        setattr_(obj, "__pydantic_private__", None)
        return obj

    def check(value: Any) -> Any:
        for n, c in check_fields:
            c(getattr(value, n))
        return value

    _MODELS[cls] = model = _Model(struct, build, check)
    return model


def fast_decodable(cls: type[Event]) -> bool:
    """Whether ``cls`` gets a msgspec decoder (``False``: it opted out with ``fast_decode = False``)."""
    return bool(getattr(cls, "fast_decode", True))


def struct_for(cls: type[Event]) -> type[msgspec.Struct]:
    """The msgspec Struct derived from an event class (tests compare its fields with the model's)."""
    return _model(cls).struct


_DECODERS: dict[str, tuple[msgspec.json.Decoder[Any], _Model]] = {}
for _subject, _cls in BY_SUBJECT.items():
    if BY_TYPE.get(_cls.__name__) is _cls and fast_decodable(_cls):
        _m = _model(_cls)
        _DECODERS[_subject] = (msgspec.json.Decoder(_m.struct), _m)

_REJECTED = (msgspec.ValidationError, msgspec.DecodeError, ValidationError, ValueError, ArithmeticError)


def decode_fast(payload: bytes, subject: str | None = None) -> Event:
    """:func:`fw_contracts.decode`, faster for a well-formed event on its current subject."""
    entry = _DECODERS.get(subject) if subject is not None else None
    if entry is not None and not _SUBMICRO(payload):
        try:
            return typing.cast(Event, entry[1].build(entry[0].decode(payload)))
        except _REJECTED:
            pass
    return decode(payload, subject)


def check_fast(payload: bytes, subject: str | None = None) -> tuple[str, dt.datetime]:
    """Every check of :func:`decode_fast`, without building the event: ``(event type, occurred_at
    in UTC)``, for a reader that only counts (``fernwartung audit replay``). Raises
    :class:`~fw_contracts.UndecodableEvent` exactly where :func:`fw_contracts.decode` does."""
    entry = _DECODERS.get(subject) if subject is not None else None
    if entry is not None and not _SUBMICRO(payload):
        try:
            value = entry[1].check(entry[0].decode(payload))
            return value.event_type, value.occurred_at.astimezone(_UTC)
        except _REJECTED:
            pass
    event = decode(payload, subject)
    return event.event_type, event.occurred_at
