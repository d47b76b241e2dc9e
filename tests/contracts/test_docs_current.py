"""The committed contract documents are what ``make docs`` would write now, and they hold together.

Regenerates every document in memory and compares it with ``docs/``; checks that each AsyncAPI
document is a well-formed 3.0 document (every ``$ref`` resolves, operations use their channel's
messages) whose payloads are the committed JSON Schemas verbatim.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fw_contracts import ALL_EVENTS
from fw_contracts.schemas import schema_file_name
from fw_contracts_docs import __main__ as cli
from fw_contracts_docs import compat
from fw_contracts_docs.services import SERVICES, load_contracts

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = cli.documents(ROOT)


@pytest.mark.parametrize("rel", sorted(DOCUMENTS), ids=str)
def test_committed_document_is_current(rel: Path) -> None:
    path = ROOT / rel
    assert path.exists(), f"{rel} missing: run make docs"
    assert path.read_text(encoding="utf-8") == DOCUMENTS[rel], f"{rel} is stale: run make docs"


def test_no_stray_asyncapi_documents() -> None:
    assert {p.stem for p in (ROOT / "docs" / "asyncapi").glob("*.json")} == set(SERVICES)


def _pointer(doc: Any, ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node = doc
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _refs(node: Any, *, skip_payloads: bool = True, path: tuple[str, ...] = ()) -> list[str]:
    """Every document-level ``$ref`` (payload schemas resolve inside themselves via their $id)."""
    if isinstance(node, dict):
        if skip_payloads and path[:2] == ("components", "schemas"):
            return []
        out = [node["$ref"]] if "$ref" in node else []
        for k, v in node.items():
            out += _refs(v, skip_payloads=skip_payloads, path=(*path, k))
        return out
    if isinstance(node, list):
        return [r for v in node for r in _refs(v, skip_payloads=skip_payloads, path=path)]
    return []


@pytest.mark.parametrize("service", SERVICES)
def test_asyncapi_document_is_well_formed(service: str) -> None:
    doc = json.loads(DOCUMENTS[Path("docs/asyncapi") / f"{service}.json"])
    assert doc["asyncapi"] == "3.0.0" and doc["info"]["title"] and doc["info"]["version"]
    for ref in _refs(doc):
        _pointer(doc, ref)  # KeyError if dangling
    for op_id, op in doc["operations"].items():
        assert op["action"] in ("send", "receive"), op_id
        channel_ref = op["channel"]["$ref"]
        for msg in op["messages"]:
            assert msg["$ref"].startswith(channel_ref + "/messages/"), (op_id, msg)
        if "reply" in op:
            for msg in op["reply"]["messages"]:
                assert msg["$ref"].startswith(op["reply"]["channel"]["$ref"] + "/messages/")
    for schema in doc["components"]["schemas"].values():
        assert "$id" in schema  # its own "#/$defs" references resolve inside it
        for ref in _refs(schema, skip_payloads=False):
            _pointer(schema, ref)


@pytest.mark.parametrize("service", SERVICES)
def test_asyncapi_channels_are_the_contract(service: str) -> None:
    contract = load_contracts()[service]
    doc = json.loads(DOCUMENTS[Path("docs/asyncapi") / f"{service}.json"])
    committed = compat.committed_schemas()
    event_channels = {c for c in doc["channels"] if c.startswith("fw.")}
    assert event_channels == {cls.subject() for cls in (*contract.publishes, *contract.consumes)}
    actions = {(doc["operations"][op]["channel"]["$ref"].rsplit("/", 1)[-1], doc["operations"][op]["action"])
               for op in doc["operations"]}
    assert {(cls.subject(), "send") for cls in contract.publishes} <= actions
    assert {(cls.subject(), "receive") for cls in contract.consumes} <= actions
    vault = {c for c in doc["channels"] if c.startswith("vault.")}
    expected_vault = {s.value for s in (*contract.vault_requests, *contract.vault_serves)}
    assert vault == (expected_vault | {"vault.v1.reply"} if expected_vault else set())
    for cls in (*contract.publishes, *contract.consumes):
        # the message payload IS the committed contract file
        assert doc["components"]["schemas"][f"{cls.__name__}.v{cls.current_schema_version()}"] == committed[schema_file_name(cls)]


def test_catalogue_lists_every_event_with_its_subject() -> None:
    text = DOCUMENTS[Path("docs/events.md")]
    for cls in ALL_EVENTS:
        assert f"## {cls.__name__}\n" in text and f"`{cls.subject()}`" in text


def test_the_vault_queue_in_the_contract_is_the_responders() -> None:
    from fw_retention.entrypoints.vault_responder import QUEUE
    assert load_contracts()["retention"].vault_queue == QUEUE
