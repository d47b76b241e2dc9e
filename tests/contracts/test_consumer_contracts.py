"""Consumer contracts: a producer's change that would break a declared consumer fails here.

Each service declares in ``fw_<svc>/contract.py`` what it publishes and which fields of which
events it reads. ``consumer_expectations.json`` records what those fields looked like when the
consumer started relying on them; the producers' *committed* JSON Schemas must keep giving
every consumer what was recorded. The mutation tests below prove that each kind of breaking
change (removed, renamed, made optional, made nullable, retyped) is caught.
"""

from __future__ import annotations

import ast
import copy
import importlib
import json
from pathlib import Path
from typing import Any

import pytest

from fw_contracts import ALL_EVENTS, BY_TYPE
from fw_contracts.catalog import ServiceContract
from fw_contracts.events import InvoiceIssued, SessionEnded
from fw_contracts.schemas import schema_file_name
from fw_contracts_docs import compat
from fw_contracts_docs.services import SERVICES, load_contracts
from fw_devenv.pytest_plugin import FwEnv

ROOT = Path(__file__).resolve().parents[2]
EXPECTATIONS = ROOT / "tests" / "contracts" / "consumer_expectations.json"
CONTRACTS = load_contracts()


def breaches(schemas: dict[str, Any]) -> list[compat.Breach]:
    return compat.check(CONTRACTS.values(), schemas, compat.load_expectations(EXPECTATIONS), BY_TYPE)


# ------------------------------------------------------------------------------ the real state

def test_every_service_in_the_repository_declares_a_contract() -> None:
    on_disk = {p.parents[2].name for p in ROOT.glob("services/*/src/fw_*/contract.py")}
    assert on_disk == set(SERVICES) == set(CONTRACTS)


@pytest.mark.parametrize("service", SERVICES)
def test_services_publish_and_consume_only_catalogued_events(service: str) -> None:
    contract = CONTRACTS[service]
    schemas = compat.committed_schemas()
    for cls in (*contract.publishes, *contract.consumes):
        assert cls in ALL_EVENTS and BY_TYPE[cls.__name__] is cls, f"{cls.__name__} is not in the catalogue"
        assert schema_file_name(cls) in schemas, f"{cls.__name__} has no committed JSON Schema"
    for cls in contract.publishes:
        # NATS lets a service publish only under fw.<service>.>: its own events
        assert cls.producer == service, f"{service} declares it publishes {cls.__name__} of {cls.producer}"


def test_the_producers_current_schemas_keep_every_consumer_whole() -> None:
    found = breaches(compat.committed_schemas())
    assert not found, "a producer change breaks a consumer:\n" + "\n".join(map(str, found))


def test_the_expectations_file_is_exactly_what_record_would_write() -> None:
    recorded = compat.record_expectations(CONTRACTS.values(), compat.committed_schemas(),
                                          compat.load_expectations(EXPECTATIONS))
    assert EXPECTATIONS.read_text(encoding="utf-8") == compat.render_expectations(recorded), (
        "run: python -m fw_contracts_docs expectations")


# ------------------------------------------------------------------------------ breaking changes
def mutated(cls: type, change: Any) -> dict[str, Any]:
    schemas = copy.deepcopy(compat.committed_schemas())
    change(schemas[schema_file_name(cls)])
    return schemas


def _remove(field: str) -> Any:
    def change(s: dict[str, Any]) -> None:
        del s["properties"][field]
        s["required"] = [r for r in s.get("required", []) if r != field]
    return change


def _rename(field: str, new: str) -> Any:
    def change(s: dict[str, Any]) -> None:
        s["properties"][new] = s["properties"].pop(field)
        s["required"] = [new if r == field else r for r in s.get("required", [])]
    return change


def _optional(field: str) -> Any:
    def change(s: dict[str, Any]) -> None:
        s["required"].remove(field)
        s["properties"][field]["default"] = 0
    return change


def _nullable(field: str) -> Any:
    def change(s: dict[str, Any]) -> None:
        prop = s["properties"][field]
        s["properties"][field] = {"anyOf": [prop, {"type": "null"}], "default": None}
    return change


def _retype(field: str, new_type: str) -> Any:
    def change(s: dict[str, Any]) -> None:
        s["properties"][field] = {"type": new_type}
    return change


def _narrow_pattern(field: str) -> Any:
    def change(s: dict[str, Any]) -> None:
        s["properties"][field]["pattern"] = "^tech-[0-9]{2}$"
    return change


@pytest.mark.parametrize(("change", "problem"), [
    (_remove("duration_seconds"), "removed (or renamed)"),
    (_rename("duration_seconds", "duration_s"), "removed (or renamed)"),
    (_optional("duration_seconds"), "no longer required"),
    (_nullable("duration_seconds"), "now nullable"),
    (_retype("duration_seconds", "string"), "type changed (integer -> string)"),
], ids=["removed", "renamed", "optional", "nullable", "retyped"])
def test_a_breaking_change_names_every_consumer_that_relies_on_the_field(change: Any, problem: str) -> None:
    found = breaches(mutated(SessionEnded, change))
    assert {(b.consumer, b.event, b.field, b.problem) for b in found} == {
        ("billing", "SessionEnded", "duration_seconds", problem),
        ("reporting", "SessionEnded", "duration_seconds", problem),
    }


def test_a_changed_constraint_is_a_breach_too() -> None:
    found = breaches(mutated(SessionEnded, _narrow_pattern("technician")))
    assert [(b.consumer, b.field, b.problem) for b in found] == [
        ("reporting", "technician", "schema changed (format, constraint, enum or nested structure)")]


def test_changes_nobody_relies_on_pass() -> None:
    def additive(s: dict[str, Any]) -> None:
        s["properties"]["billable_hint"] = {"type": "boolean", "default": False}  # a new optional field
        s["properties"]["vat_rate"] = {"type": "number"}  # retyped, but no consumer reads it
    assert breaches(mutated(InvoiceIssued, additive)) == []


def test_an_event_removed_from_the_catalogue_breaks_its_consumers() -> None:
    schemas = compat.committed_schemas()
    del schemas[schema_file_name(SessionEnded)]
    assert {(b.consumer, b.problem) for b in breaches(schemas)} == {
        ("billing", "the event or its committed schema is gone"),
        ("reporting", "the event or its committed schema is gone")}


def test_an_undeclared_read_or_a_stale_record_is_reported() -> None:
    widened = {**CONTRACTS, "intake": ServiceContract(
        service="intake", publishes=CONTRACTS["intake"].publishes,
        consumes={**CONTRACTS["intake"].consumes, SessionEnded: {"technician"}})}
    found = compat.check(widened.values(), compat.committed_schemas(),
                         compat.load_expectations(EXPECTATIONS), BY_TYPE)
    assert {(b.consumer, b.event, b.field) for b in found} == {
        ("intake", "SessionEnded", f) for f in ("technician", "event_id", "event_type", "schema_version")}
    assert all("declared but not recorded" in b.problem for b in found)


# ------------------------------------------------------------------------------ code vs declaration
def _constructed_events(service: str) -> set[str]:
    """Event classes whose constructor the service's source calls (that is how events are made)."""
    names: set[str] = set()
    for path in (ROOT / "services" / service / "src").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                func = node.func
                name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
                if isinstance(func, ast.Attribute) and func.attr == "of" and isinstance(func.value, ast.Name):
                    name = func.value.id  # a constructing classmethod (``TariffPublished.of(...)``)
                if name in BY_TYPE:
                    names.add(name)
    return names


@pytest.mark.parametrize("service", SERVICES)
def test_declared_publishes_are_the_events_the_code_creates(service: str) -> None:
    assert _constructed_events(service) == {cls.__name__ for cls in CONTRACTS[service].publishes}


def _registered_consumers(service: str) -> set[str]:
    """Event types the service's bootstrap registers with ``runtime.consume`` (nothing connects)."""
    bootstrap = importlib.import_module(f"fw_{service}.bootstrap")
    settings = importlib.import_module(f"fw_{service}.settings")
    runtime = bootstrap.build(settings.Settings()).runtime
    return {cls.__name__ for _, handlers in runtime._consumer_specs for cls in handlers}


@pytest.mark.parametrize("service", SERVICES)
def test_declared_consumes_are_what_the_bootstrap_registers(
        service: str, fw_env: FwEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    # The service's own settings from the environment, as the test fixtures give them to it.
    for key, value in fw_env.settings_env(service).items():
        monkeypatch.setenv(key, value)
    contract = CONTRACTS[service]
    registered = _registered_consumers(service)
    declared = {cls.__name__ for cls in contract.consumes}
    # a service may also read its own events back from the stream (retention: restore)
    own = {cls.__name__ for cls in contract.publishes}
    assert registered <= declared and declared - registered <= own, (registered, declared)


def test_the_expectations_file_is_valid_json_sorted_by_consumer() -> None:
    data = json.loads(EXPECTATIONS.read_text(encoding="utf-8"))
    assert set(data) == {svc for svc, c in CONTRACTS.items() if c.consumes}


# ------------------------------------------------------------------------------ vault request/reply
def test_vault_requests_declared_are_those_nats_permits() -> None:
    from fw_devenv.nats_auth import VAULT_OWNER, VAULT_REQUESTS
    for svc, contract in CONTRACTS.items():
        assert set(contract.vault_requests) == set(VAULT_REQUESTS.get(svc, ())), svc
        assert bool(contract.vault_serves) == (svc == VAULT_OWNER), svc


def test_vault_subjects_served_are_the_responders_routes_with_the_documented_models() -> None:
    from fw_contracts import vault_subject
    from fw_contracts_docs.asyncapi import VAULT_REQUESTS as DOCUMENTED
    from fw_devenv.nats_auth import VAULT_REQUESTS
    from fw_retention.entrypoints.vault_responder import ROUTES
    served = CONTRACTS["retention"].vault_serves
    # one subject per operation and caller: exactly what NATS lets each caller publish
    assert {vault_subject(op, svc) for svc, ops in VAULT_REQUESTS.items() for op in ops} == set(ROUTES)
    assert {op for op, _ in (s.rsplit(".", 1) for s in ROUTES)} == {s.value for s in served}
    assert {k: DOCUMENTED[s] for k in ROUTES for s in served if k.rsplit(".", 1)[0] == s.value} == {
        k: model for k, (model, _, _) in ROUTES.items()}
    assert all(caller.value == k.rsplit(".", 1)[1] for k, (_, _, caller) in ROUTES.items())
