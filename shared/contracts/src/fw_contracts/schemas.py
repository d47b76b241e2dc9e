"""JSON Schemas of the public contracts; ``python -m fw_contracts.schemas`` rewrites them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fw_contracts.registry import ALL_EVENTS

SCHEMA_DIR = Path(__file__).parent / "schemas"


def schema_file_name(cls: type) -> str:
    return f"{cls.subject()}.json"  # type: ignore[attr-defined]


def current_schemas() -> dict[str, dict[str, Any]]:
    """File name -> JSON Schema generated from the models in this build."""
    out: dict[str, dict[str, Any]] = {}
    for cls in ALL_EVENTS:
        schema = cls.model_json_schema(mode="serialization")
        schema["$id"] = f"urn:fernwartung:event:{cls.subject()}"
        schema["x-subject"] = cls.subject()
        schema["x-producer"] = cls.producer
        out[schema_file_name(cls)] = schema
    return out


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write() -> list[Path]:
    SCHEMA_DIR.mkdir(exist_ok=True)
    written = []
    for name, schema in current_schemas().items():
        path = SCHEMA_DIR / name
        path.write_text(render(schema), encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for p in write():
        print(p)
