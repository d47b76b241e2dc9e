"""Consumer contracts against the producers' committed JSON Schemas.

Each consumer declares the fields it reads (``ServiceContract.consumes``). What such a field
looked like when the consumer started relying on it is *recorded* (the expectations file,
``tests/contracts/consumer_expectations.json``): required or not, nullable or not, and its
schema without annotations. The check then compares the producer's current committed schema
with every recorded expectation and reports, per consumer and field, what broke:

* ``removed``: the field is gone (removed or renamed);
* ``no longer required``: it was required and now is optional;
* ``now nullable``: it could not be null and now can;
* ``type changed`` / ``schema changed``: its JSON type, or any constraint, enum value, format
  or nested structure differs.

Recording never overwrites an existing expectation unless asked to (``accept``): loosening a
field a consumer relies on must be a visible, reviewed change of that file.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fw_contracts.base import Event
from fw_contracts.catalog import ServiceContract
from fw_contracts.schemas import SCHEMA_DIR, schema_file_name

Schema = dict[str, Any]

#: Words of a JSON Schema that describe rather than constrain.
ANNOTATIONS = frozenset({"title", "description", "default", "examples", "$comment"})
#: The platform resolves these by version (upcasting); a consumer only needs them present.
VERSIONED = frozenset({"event_type", "schema_version"})


def committed_schemas(schema_dir: Path = SCHEMA_DIR) -> dict[str, Schema]:
    """File name -> committed JSON Schema (the producers' published contracts)."""
    return {p.name: json.loads(p.read_text(encoding="utf-8")) for p in sorted(schema_dir.glob("*.json"))}


def schema_of(cls: type[Event], schemas: Mapping[str, Schema]) -> Schema | None:
    """The committed schema of ``cls``'s current version, if there is one."""
    return schemas.get(schema_file_name(cls))


def _resolve(node: Any, defs: Mapping[str, Any], depth: int = 0) -> Any:
    if depth > 32:
        raise ValueError("schema nesting too deep (recursive $ref?)")
    if isinstance(node, list):
        return [_resolve(n, defs, depth + 1) for n in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        ref = str(node["$ref"])
        if not ref.startswith("#/$defs/"):
            raise ValueError(f"unsupported $ref {ref!r}")
        target = _resolve(defs[ref.removeprefix("#/$defs/")], defs, depth + 1)
        rest = {k: v for k, v in node.items() if k != "$ref"}
        return {**target, **_resolve(rest, defs, depth + 1)}
    out: dict[str, Any] = {}
    for key, value in sorted(node.items()):
        if key in ANNOTATIONS:
            continue
        value = _resolve(value, defs, depth + 1)
        if key in ("enum", "required") and isinstance(value, list):
            value = sorted(value, key=json.dumps)
        out[key] = value
    return out


@dataclass(frozen=True)
class FieldShape:
    """What a consumer can count on about one field."""

    required: bool
    nullable: bool
    schema: Any

    def as_json(self) -> dict[str, Any]:
        return {"required": self.required, "nullable": self.nullable, "schema": self.schema}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FieldShape:
        return cls(required=bool(data["required"]), nullable=bool(data["nullable"]), schema=data["schema"])


def field_shape(schema: Schema, name: str) -> FieldShape | None:
    """The field's shape in ``schema`` (annotations dropped, ``$ref`` resolved, null split off)."""
    prop = schema.get("properties", {}).get(name)
    if prop is None:
        return None
    resolved = _resolve(prop, schema.get("$defs", {}))
    nullable = False
    options = resolved.get("anyOf")
    if isinstance(options, list) and {"type": "null"} in options:
        nullable = True
        rest = [o for o in options if o != {"type": "null"}]
        others = {k: v for k, v in resolved.items() if k != "anyOf"}
        resolved = {**rest[0], **others} if len(rest) == 1 else {**others, "anyOf": rest}
    if resolved.get("type") == "null":
        nullable = True
    return FieldShape(required=name in schema.get("required", []), nullable=nullable, schema=resolved)


# ------------------------------------------------------------------------------ expectations
#: {consumer: {event type: {"agreed_version": n, "fields": {field: FieldShape json}}}}
Expectations = dict[str, dict[str, dict[str, Any]]]


def load_expectations(path: Path) -> Expectations:
    if not path.exists():
        return {}
    data: Expectations = json.loads(path.read_text(encoding="utf-8"))
    return data


def render_expectations(expectations: Expectations) -> str:
    return json.dumps(expectations, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def record_expectations(contracts: Iterable[ServiceContract], schemas: Mapping[str, Schema],
                        existing: Expectations, *, accept: bool = False) -> Expectations:
    """Expectations for every declared (consumer, event, field), keeping recorded ones.

    New declarations are recorded from the current schema; declarations that were dropped are
    forgotten. With ``accept`` every expectation is re-recorded from the current schema (after
    the consumers were checked against a producer's change). Raises ``KeyError`` for a declared
    field the producer does not have.
    """
    out: Expectations = {}
    for contract in contracts:
        for cls in contract.consumes:
            schema = schema_of(cls, schemas)
            if schema is None:
                raise KeyError(f"{contract.service}: no committed schema for {cls.__name__}")
            old = existing.get(contract.service, {}).get(cls.__name__)
            entry: dict[str, Any] = {"agreed_version": cls.current_schema_version(), "fields": {}}
            if old is not None and not accept:
                entry["agreed_version"] = old["agreed_version"]
            for name in sorted(contract.relied_on(cls)):
                if old is not None and not accept and name in old["fields"]:
                    entry["fields"][name] = old["fields"][name]
                    continue
                shape = field_shape(schema, name)
                if shape is None:
                    raise KeyError(f"{contract.service}: {cls.__name__} has no field {name!r}")
                entry["fields"][name] = shape.as_json()
            out.setdefault(contract.service, {})[cls.__name__] = entry
    return out


@dataclass(frozen=True)
class Breach:
    consumer: str
    event: str
    field: str
    problem: str

    def __str__(self) -> str:
        return f"{self.event}.{self.field} relied on by {self.consumer}: {self.problem}"


def _type_of(schema: Any) -> Any:
    return schema.get("type", "$ref/anyOf") if isinstance(schema, dict) else schema


def compare(expected: FieldShape, current: FieldShape | None) -> list[str]:
    """Why ``current`` no longer gives a consumer what ``expected`` recorded (empty: fine)."""
    if current is None:
        return ["removed (or renamed)"]
    problems = []
    if expected.required and not current.required:
        problems.append("no longer required")
    if not expected.nullable and current.nullable:
        problems.append("now nullable")
    if _type_of(expected.schema) != _type_of(current.schema):
        problems.append(f"type changed ({_type_of(expected.schema)} -> {_type_of(current.schema)})")
    elif expected.schema != current.schema:
        problems.append("schema changed (format, constraint, enum or nested structure)")
    return problems


def check(contracts: Iterable[ServiceContract], schemas: Mapping[str, Schema],
          expectations: Expectations, events_by_type: Mapping[str, type[Event]]) -> list[Breach]:
    """Every breach of a recorded expectation by the producers' current schemas.

    Also reports declared (consumer, event, field)s that have no recorded expectation, and
    recorded ones nobody declares any more, so the file cannot drift from the declarations.
    """
    breaches: list[Breach] = []
    declared = {(c.service, cls.__name__, f) for c in contracts for cls in c.consumes for f in c.relied_on(cls)}
    recorded = {(svc, ev, f) for svc, evs in expectations.items() for ev, e in evs.items() for f in e["fields"]}
    for svc, ev, f in sorted(declared - recorded):
        breaches.append(Breach(svc, ev, f, "declared but not recorded (run: python -m fw_contracts_docs "
                                           "expectations)"))
    for svc, ev, f in sorted(recorded - declared):
        breaches.append(Breach(svc, ev, f, "recorded but no longer declared (run: python -m "
                                           "fw_contracts_docs expectations)"))
    for svc, evs in sorted(expectations.items()):
        for ev, entry in sorted(evs.items()):
            cls = events_by_type.get(ev)
            schema = schema_of(cls, schemas) if cls else None
            if schema is None:
                breaches.append(Breach(svc, ev, "*", "the event or its committed schema is gone"))
                continue
            for name, data in sorted(entry["fields"].items()):
                current = field_shape(schema, name)
                if name in VERSIONED:
                    problems = [] if current is not None else ["removed (or renamed)"]
                else:
                    problems = compare(FieldShape.from_json(data), current)
                breaches.extend(Breach(svc, ev, name, p) for p in problems)
    return breaches
