"""Schemathesis against every service's own OpenAPI document, on the real running processes.

Bounded: a few examples per operation, so the whole run stays well under two minutes. Checks on
every answer: no 5xx, the process still answers, and a refusal (4xx) never echoes a value the
client sent (a generated string of 8+ characters, or our marker planted in every string).
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

MARKER = "ZZMARKER7Q"
EXAMPLES = 12


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        # keys are field names the API itself names in its answers (its own "field" locations)
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _strings(v)]
    return []


def _plant(value: Any) -> Any:
    """Put the marker into every string the fuzzer generated."""
    if isinstance(value, str):
        return value + MARKER
    if isinstance(value, dict):
        return {k: _plant(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plant(v) for v in value]
    return value


def _fuzz_operation(op: schemathesis.APIOperation, http: httpx.Client, problems: list[str]) -> None:
    """Fuzz one operation; appends the problems found (a function of its own: `run` binds this `op`)."""
    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(case=op.as_strategy(), planted=st.booleans())
    def run(case: schemathesis.Case, planted: bool) -> None:
        body = _plant(case.body) if planted and isinstance(case.body, dict | list | str) else case.body
        # 8+ characters and not a bare lowercase word (those are the API's own enum values)
        sent = [s for s in _strings(body) + _strings(case.query or {})
                if len(s) >= 8 and not re.fullmatch(r"[a-z_]+", s)]
        kwargs: dict[str, Any] = {"params": case.query or None}
        if body is not None and case.media_type == "application/json":
            kwargs["content"] = json.dumps(body).encode()
            kwargs["headers"] = {"content-type": "application/json"}
        try:
            resp = http.request(case.method, case.formatted_path, **kwargs)
        except httpx.TransportError as exc:
            problems.append(f"{case.method} {op.path}: no answer ({type(exc).__name__})")
            return
        if resp.status_code >= 500:
            problems.append(f"{case.method} {op.path}: {resp.status_code} {resp.text[:200]}")
        if resp.status_code >= 400:
            text = resp.text
            echoed = [s for s in sent if s in text]
            if echoed or MARKER in text:
                problems.append(f"{case.method} {op.path}: {resp.status_code} echoes input "
                                f"{(echoed or [MARKER])[0]!r}: {text[:300]}")

    run()


def fuzz_service(base_url: str) -> list[str]:
    """Fuzz every operation of one service; returns the problems found."""
    schema = schemathesis.openapi.from_url(base_url + "/openapi.json")
    problems: list[str] = []
    http = httpx.Client(base_url=base_url, timeout=10)
    for result in schema.get_all_operations():
        op = result.ok()
        if op.path == "/metrics":
            continue
        _fuzz_operation(op, http, problems)
    alive = http.get("/healthz")
    if alive.status_code != 200:
        problems.append("service no longer healthy after fuzzing")
    http.close()
    return problems


@pytest.mark.long(25)
async def test_no_5xx_and_no_echo_on_any_operation(api_procs) -> None:
    found: dict[str, list[str]] = {}
    for svc, proc in api_procs.items():
        problems = fuzz_service(proc.url)
        if problems:
            found[svc] = sorted(set(problems))[:15]
    assert not found, json.dumps(found, indent=1)
