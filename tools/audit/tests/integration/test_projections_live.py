"""The projections check against the four real services (processes) on a private NATS + PostgreSQL:
three lifecycles (invoiced, not billed, withdrawn) pass; one tampered live row fails, named."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx

from fw_audit.model import AuditReport, Status
from fw_audit.runner import Conn, export_stream, verify_bundle, verify_stream
from fw_audit.verifier import VerifyOptions
from fw_devenv.pytest_plugin import FwEnv, ServiceProcess

#: Like the e2e tariff, but a session shorter than 2 s is free: "end at once" is not billed.
TARIFF = """
version = "audit-1"
base_fee = 10.00
interval_seconds = 900
rate_per_interval = 24.00
min_billed_seconds = 900
free_threshold_seconds = 2
vat_rate = 0.19
timezone = "Europe/Berlin"
"""


def database_dsn(env: FwEnv) -> str:
    """The admin DSN pointed at this test's database."""
    parts = urlsplit(env.admin_dsn)
    return urlunsplit(parts._replace(path="/" + env.database))


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 30.0) -> Any:
    """Poll until ``check`` returns a truthy value."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.2)


async def lifecycle(http: httpx.AsyncClient, procs: dict[str, ServiceProcess], n: int, mode: str) -> str:
    """One request to its end: ``invoiced``, ``not_billed`` or ``withdrawn``; returns the request id."""
    def url(svc: str, path: str) -> str:
        return procs[svc].url + path

    r = await http.post(url("intake", "/api/support-requests"), json={
        "company": f"Audit Test {n} GmbH", "contact_name": f"Erika Test{n}", "phone": "+4930123456" + str(n),
        "terms_accepted": True, "terms_version": "2026-01"})
    assert r.status_code == 201, r.text
    request_id: str = r.json()["request_id"]
    if mode == "withdrawn":
        r = await http.post(url("intake", f"/api/support-requests/{request_id}/withdraw"))
        assert r.status_code == 200, r.text
    else:
        async def queued() -> bool:
            q = await http.get(url("session", "/api/queue"))
            return any(x["request_id"] == request_id for x in q.json())

        await eventually(queued)
        r = await http.post(url("session", "/api/sessions"), json={"request_id": request_id, "technician": "tech-01"})
        assert r.status_code == 201, r.text
        session_id = r.json()["session_id"]
        if mode == "invoiced":
            await asyncio.sleep(3.1)  # above the tariff's 2 s free threshold
        r = await http.post(url("session", f"/api/sessions/{session_id}/end"), headers={"Fw-Technician": "tech-01"})
        assert r.status_code in (200, 201), r.text

    async def erased() -> bool:
        r = await http.get(url("retention", f"/api/requests/{request_id}/status"))
        return r.status_code == 200 and r.json()["state"] == "erased"

    await eventually(erased)
    return request_id


async def cli_verify(env: FwEnv) -> tuple[int, dict[str, Any]]:
    """``python -m fw_audit audit verify --json`` with the DSN in ``FW_AUDIT_DATABASE_URL``."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "fw_audit", "audit", "verify", "--json",
        "--tariff-dir", str(env.work_dir / "tariffs"),  # re-price with this test's tariff
        env={**os.environ, "NATS_URL": env.nats_plain_url, "NATS_USER": "audit",
             "NATS_PASSWORD": env.nats_credentials("audit")[1], "FW_AUDIT_DATABASE_URL": database_dsn(env)},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None and proc.returncode != 2, err.decode()
    return proc.returncode, json.loads(out)


def audit_conn(env: FwEnv) -> Conn:
    """The stream as an auditor reads it: with the read-only ``audit`` NATS user."""
    user, password = env.nats_credentials("audit")
    return Conn(url=env.nats_plain_url, user=user, password=password)


async def verify(env: FwEnv) -> AuditReport:
    return await verify_stream(audit_conn(env), VerifyOptions(database_url=database_dsn(env)))


async def test_projections_equal_the_rebuild_and_a_tampered_row_is_named(fw_env: FwEnv, procs, http) -> None:
    invoiced = await lifecycle(http, procs, 1, "invoiced")
    not_billed = await lifecycle(http, procs, 2, "not_billed")
    withdrawn = await lifecycle(http, procs, 3, "withdrawn")

    async def settled() -> AuditReport | None:
        # the services project eventually (intake sees PersonalDataErased after retention emits it)
        report = await verify(fw_env)
        return report if report.check("projections").status is Status.PASS else None

    try:
        report = await eventually(settled, timeout=20)
    except AssertionError:
        last = await verify(fw_env)
        raise AssertionError(json.dumps(last.check("projections").to_dict(), indent=1)) from None
    proj = report.check("projections")
    assert proj.checked >= 3 + 2 + 1 + 3, proj.to_dict()
    notes = " ".join(proj.notes)
    for table in ("intake.support_requests", "session.sessions", "billing.invoices", "billing.cancellations",
                  "billing.customer_accounts", "retention.erasures"):
        assert f"{table}: " in notes and "equal" in notes
    assert "retention.erasures: 3 rows" in notes and "billing.invoices: 1 rows" in notes
    assert "session.sessions: 2 rows" in notes and "intake.support_requests: 3 rows" in notes
    # everything else passes too: the whole verify exits 0 with database access
    assert report.exit_code == 0 and report.ok, [c.to_dict() for c in report.checks if c.status is not Status.PASS]

    code, out = await cli_verify(fw_env)
    assert code == 0 and out["ok"] is True and out["skipped"] == [], out
    # an exported bundle against the live tables (sync API called inside a running loop)
    bundle = fw_env.work_dir / "bundle"
    await export_stream(audit_conn(fw_env), bundle)
    offline = verify_bundle(bundle, VerifyOptions(database_url=database_dsn(fw_env)))
    assert offline.check("projections").status is Status.PASS, offline.check("projections").to_dict()

    conn = await asyncpg.connect(database_dsn(fw_env))
    try:
        status = await conn.execute("UPDATE retention.erasures SET reason = 'withdrawn' WHERE request_id = $1",
                                    invoiced)
        assert status == "UPDATE 1"
    finally:
        await conn.close()
    report = await verify(fw_env)
    proj = report.check("projections")
    assert report.failed_checks == ["projections"] and report.exit_code == 1
    # erasures are keyed by request and step: "<request_id>/<scope>"
    assert [(f.ids["table"], f.ids["key"].split("/")[0]) for f in proj.failures] == [("retention.erasures", invoiced)]
    assert "withdrawn" not in json.dumps(proj.to_dict()["failures"])  # ids only, never the values
    assert {not_billed, withdrawn}.isdisjoint(f.ids["key"].split("/")[0] for f in proj.failures)

    code, out = await cli_verify(fw_env)
    assert code == 1 and out["failed"] == ["projections"]
    proj_json = next(c for c in out["checks"] if c["name"] == "projections")
    ids = proj_json["failures"][0]["ids"]
    assert ids["table"] == "retention.erasures" and ids["key"].split("/")[0] == invoiced
