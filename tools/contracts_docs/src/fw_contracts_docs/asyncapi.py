"""AsyncAPI 3.0 documents, one per service, generated from its declared contract.

Written by hand rather than by FastStream's generator: the services do not run FastStream apps
(the platform's consumer is plain nats-py), the message payloads must be the *committed*
contract files verbatim (FastStream would derive validation-mode schemas from the models), the
vault's request/reply needs AsyncAPI's ``reply``, and the output must be byte-stable so a test
can keep the committed documents current.

Payloads are the committed schemas unchanged: each has an ``$id``, so its ``#/$defs/...``
references resolve inside the schema itself (JSON Schema base-URI rules).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from importlib import metadata
from typing import Any

from pydantic import BaseModel

from fw_contracts import STREAM_NAME, STREAM_SUBJECTS, Header
from fw_contracts import vault as vault_contract
from fw_contracts.base import Event
from fw_contracts.catalog import ServiceContract
from fw_contracts.vault import ClaimRequest, GetRequest, PutRequest, StatementRequest, VaultReply
from fw_contracts.wire import VaultSubject
from fw_contracts_docs.compat import Schema, schema_of

#: Request model of each vault subject (the reply is always :class:`VaultReply`). A subject
#: without a model here cannot be documented: add it when the vault contract gains one.
VAULT_REQUESTS: dict[VaultSubject, type[BaseModel]] = {
    VaultSubject.PUT: PutRequest,
    VaultSubject.GET: GetRequest,
    VaultSubject.ADD_STATEMENT: StatementRequest,
    VaultSubject.CLAIM: ClaimRequest,
}
# The address request is newer than the rest of the vault contract: documented when present.
if hasattr(VaultSubject, "ADDRESS") and hasattr(vault_contract, "AddressRequest"):
    VAULT_REQUESTS[VaultSubject("vault.v1.address")] = vault_contract.AddressRequest
REPLY_CHANNEL = "vault.v1.reply"
SERVER = {
    "local": {
        "host": "127.0.0.1:14222",
        "protocol": "nats",
        "title": "make run",
        "description": (f"The embedded nats-server of `make run` (offices: their own URL). Events live in "
                        f"the JetStream stream {STREAM_NAME} (subjects {', '.join(STREAM_SUBJECTS)}: file "
                        "storage, no age limit, deny delete and purge). Each service connects as its own "
                        "NATS user with subject permissions."),
    },
}


def _ref(*path: str) -> dict[str, str]:
    return {"$ref": "#/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in path)}


def _version(service: str) -> str:
    try:
        return metadata.version(f"fw-{service}")
    except metadata.PackageNotFoundError:
        return "0.0.0"


def _event_message(cls: type[Event]) -> dict[str, Any]:
    key = f"{cls.__name__}.v{cls.current_schema_version()}"
    return {
        "name": cls.__name__,
        "title": f"{cls.__name__} v{cls.current_schema_version()}",
        "summary": (cls.__doc__ or cls.__name__).strip().splitlines()[0],
        "contentType": "application/json",
        "correlationId": {"location": "$message.payload#/correlation_id"},
        "headers": {
            "type": "object",
            "properties": {
                Header.MSG_ID.value: {"type": "string", "format": "uuid",
                                      "description": "= event_id: JetStream drops a repeat in its duplicate window"},
                Header.EVENT_TYPE.value: {"type": "string", "const": cls.__name__},
            },
        },
        "payload": _ref("components", "schemas", key),
    }


def _vault_schema(model: type[BaseModel], mode: str) -> Schema:
    schema = model.model_json_schema(mode=mode)  # type: ignore[arg-type]
    # An $id makes the schema's own "#/$defs/..." references resolve inside it, as in the events.
    return {"$id": f"urn:fernwartung:vault:v1:{model.__name__}", **schema}


def build(contract: ServiceContract, schemas: Mapping[str, Schema]) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of one service."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    comp_schemas: dict[str, Any] = {}

    def event_channel(cls: type[Event]) -> tuple[str, str]:
        subject, key = cls.subject(), f"{cls.__name__}.v{cls.current_schema_version()}"
        schema = schema_of(cls, schemas)
        if schema is None:
            raise KeyError(f"no committed schema for {cls.__name__} (python -m fw_contracts.schemas)")
        comp_schemas[key] = schema
        messages[key] = _event_message(cls)
        channels[subject] = {
            "address": subject,
            "title": f"{cls.__name__} v{cls.current_schema_version()} (producer: {cls.producer})",
            "messages": {cls.__name__: _ref("components", "messages", key)},
        }
        return subject, cls.__name__

    for cls in contract.publishes:
        channel, msg = event_channel(cls)
        operations[f"publish{cls.__name__}"] = {
            "action": "send",
            "channel": _ref("channels", channel),
            "summary": f"Emits {cls.__name__} through the transactional outbox",
            "description": ("Written to the outbox in the transaction of the state change, then published to "
                            "JetStream with a publish ack and `Nats-Msg-Id = event_id`."),
            "messages": [_ref("channels", channel, "messages", msg)],
        }
    for cls in contract.consumes:
        channel, msg = event_channel(cls)
        own = cls in contract.publishes
        operations[f"consume{cls.__name__}"] = {
            "action": "receive",
            "channel": _ref("channels", channel),
            "summary": (f"Reads its own {cls.__name__} history back" if own
                        else f"Consumes {cls.__name__} with a durable consumer"),
            "description": (
                "Read back from the stream (ephemeral, ack-less reader)." if own else
                f"Durable JetStream pull consumer `{contract.service}--<name>` (explicit ack, deliver "
                "policy all: backfills from the first event). Handled idempotently by `event_id` in the "
                "transaction of the state change; a message that keeps failing is parked with its reason."),
            "messages": [_ref("channels", channel, "messages", msg)],
            "x-relied-on-fields": sorted(contract.relied_on(cls)),
        }

    vault = [(s, "send") for s in contract.vault_requests] + [(s, "receive") for s in contract.vault_serves]
    if vault:
        comp_schemas["vault.VaultReply"] = _vault_schema(VaultReply, "serialization")
        messages["vault.VaultReply"] = {
            "name": "VaultReply", "title": "Vault reply", "contentType": "application/json",
            "summary": "ok, or an error code; a get's reply carries the entry (personal data)",
            "payload": _ref("components", "schemas", "vault.VaultReply"),
        }
        channels[REPLY_CHANNEL] = {
            "address": None,
            "title": "Vault replies",
            "description": "The request's own reply subject (`_INBOX.>`), chosen by the client library.",
            "messages": {"VaultReply": _ref("components", "messages", "vault.VaultReply")},
        }
    for subject, action in vault:
        model = VAULT_REQUESTS.get(subject)
        if model is None:
            raise KeyError(f"vault subject {subject.value} has no request model in VAULT_REQUESTS")
        key = f"vault.{model.__name__}"
        comp_schemas[key] = _vault_schema(model, "validation")
        messages[key] = {
            "name": model.__name__, "title": f"Vault request {subject.value}", "contentType": "application/json",
            "summary": "Personal data: core NATS request/reply only, never the stream, never logged.",
            "payload": _ref("components", "schemas", key),
        }
        # one subject per caller: a sender uses its own, the vault serves every caller's
        channels[subject.value] = {
            "address": (f"{subject.value}.{contract.service}" if action == "send" else f"{subject.value}.{{caller}}"),
            "title": f"Vault {subject.value.rsplit('.', 1)[-1]} (owner: retention)",
            "description": ("Not under `fw.>`: the stream never captures personal data. The last token is the "
                            "caller: NATS lets each service publish only on its own, and the vault binds each "
                            "caller to its purposes."),
            "messages": {model.__name__: _ref("components", "messages", key)},
        }
        if action == "receive":
            channels[subject.value]["parameters"] = {"caller": {"description": "intake, session or billing"}}
        op: dict[str, Any] = {
            "action": action,
            "channel": _ref("channels", subject.value),
            "summary": (f"Requests {subject.value} from the vault" if action == "send"
                        else f"Answers {subject.value} (the personal-data vault)"),
            "messages": [_ref("channels", subject.value, "messages", model.__name__)],
            "reply": {"channel": _ref("channels", REPLY_CHANNEL),
                      "messages": [_ref("channels", REPLY_CHANNEL, "messages", "VaultReply")]},
        }
        if action == "receive" and contract.vault_queue:
            op["bindings"] = {"nats": {"queue": contract.vault_queue, "bindingVersion": "0.1.0"}}
        verb = "request" if action == "send" else "serve"
        operations[f"{verb}Vault{subject.value.rsplit('.', 1)[-1].capitalize()}"] = op

    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": f"fernwartung {contract.service}",
            "version": _version(contract.service),
            "description": (f"Messages {contract.service} sends and receives. Generated from "
                            f"`fw_{contract.service}/contract.py` and the committed JSON Schemas by "
                            "`make docs`; do not edit."),
        },
        "defaultContentType": "application/json",
        "servers": SERVER,
        "channels": dict(sorted(channels.items())),
        "operations": dict(sorted(operations.items())),
        "components": {"messages": dict(sorted(messages.items())), "schemas": dict(sorted(comp_schemas.items()))},
    }


def render(document: Mapping[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
