"""One office server, as deploy/README.md sets it up: the steps run literally, then what
production promises is checked from the outside (through Caddy) and from the engine.

The tests of this module run in order on one deployment (a story: install, use, restart,
back up, restore); each states what it proves.
"""

from __future__ import annotations

import collections
import json
import os
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from deployment import APP_SERVICES, DB_SERVICES, Deployment, scan_for
from engine import TIMINGS, log, run, timed
from office import Browser, Lifecycle, eventually, lifecycle, markers, needles

#: Event types one lifecycle produces exactly once.
ONCE = ("SupportRequestCreated", "SessionStarted", "SessionEnded", "InvoiceIssued", "PersonalDataErased")


class Office:
    """The running deployment plus the people using it."""

    def __init__(self, dep: Deployment, ca: Path) -> None:
        self.dep = dep
        self.ca = ca
        self.tls = ssl.create_default_context(cafile=str(ca))
        self.tech = Browser(ca)
        self.desk = Browser(ca)
        self.signed_in = False
        self.done: list[Lifecycle] = []
        self.marks: list[dict[str, str]] = []

    def sign_in(self) -> None:
        self.tech = Browser(self.ca)
        self.desk = Browser(self.ca)
        self.tech.sign_in("tech-01", self.dep.passwords["tech-01"])
        self.desk.sign_in("buero", self.dep.passwords["buero"])

    def run_lifecycle(self, **kw: str) -> Lifecycle:
        m = markers()
        lc = lifecycle(self.ca, self.tech, self.desk, m, **kw)
        self.done.append(lc)
        self.marks.append(m)
        return lc

    def events_by_type(self) -> dict[str, list[dict]]:
        out: dict[str, list[dict]] = collections.defaultdict(list)
        for ev in self.dep.stream_events():
            out[ev["body"]["event_type"]].append(ev)
        return out

    def assert_each_lifecycle_once(self) -> None:
        """Every lifecycle's events exactly once; no message id twice in the stream."""
        events = self.dep.stream_events()
        ids = [e["msg_id"] for e in events]
        dupes = [i for i, n in collections.Counter(ids).items() if n > 1]
        assert not dupes, f"message ids twice in the stream: {dupes[:5]}"
        for lc in self.done:
            mine = [e["body"]["event_type"] for e in events
                    if e["body"].get("request_id") == lc.request_id or e["body"].get("session_id") == lc.session_id]
            counts = collections.Counter(mine)
            for t in ONCE:
                assert counts[t] == 1, (lc, t, counts)

    def wait_erased(self, lc: Lifecycle) -> None:
        def erased() -> bool:
            status, body = self.dep.api("retention", "GET", f"/api/requests/{lc.request_id}/status")
            return status == 200 and isinstance(body, dict) and body.get("state") == "erased"

        eventually(erased, 60, f"request {lc.request_id} erased")


@pytest.fixture(scope="module")
def office(images: dict[str, str], workroot: Path) -> Iterator[Office]:
    dep = Deployment(workroot / "single")
    dep.prepare()
    dep.compose("down", "-v", "--remove-orphans", check=False)  # a previous run's leftovers
    dep.render_nats_conf(images["project"])
    TIMINGS["first start until healthy"] = dep.up()
    dep.add_staff()
    dep.wait_healthy()
    ca = dep.caddy_root_ca(workroot / "caddy-root.crt")
    office = Office(dep, ca)
    office.sign_in()
    try:
        yield office
    finally:
        if os.environ.get("FW_DEPLOY_KEEP") != "1":
            dep.compose("down", "-v", "--remove-orphans", check=False)


def test_the_lifecycle_through_caddy(office: Office) -> None:
    """form -> queue -> session -> end -> invoice PDF -> erasure, over HTTPS (Caddy's internal
    CA for FW_DOMAIN=localhost); port 80 redirects to HTTPS."""
    with timed("one lifecycle through Caddy"):
        lc = office.run_lifecycle()
        office.wait_erased(lc)
    office.assert_each_lifecycle_once()
    plain = httpx.get("http://localhost/", follow_redirects=False, timeout=10)
    assert plain.status_code in (301, 308) and plain.headers["location"].startswith("https://localhost")
    https = httpx.get("https://localhost/", verify=office.tls, timeout=10)
    assert https.status_code == 200 and https.http_version in ("HTTP/1.1", "HTTP/2")
    assert "Strict-Transport-Security" in https.headers and "server" not in {k.lower() for k in https.headers}
    # the services' APIs and metrics are not reachable through Caddy
    assert httpx.get("https://localhost/metrics", verify=office.tls, timeout=10).status_code == 404
    assert httpx.get("https://localhost/api/queue", verify=office.tls, timeout=10).status_code in (401, 403, 404)


def test_only_caddy_publishes_ports(office: Office) -> None:
    published = {}
    for row in office.dep.containers():
        info = office.dep.inspect(row["Name"])
        ports = {k: v for k, v in (info["NetworkSettings"]["Ports"] or {}).items() if v}
        if ports:
            published[row["Service"]] = sorted(ports)
    assert published == {"caddy": ["443/tcp", "443/udp", "80/tcp"]}


def test_services_run_as_non_root(office: Office) -> None:
    for svc in APP_SERVICES:
        uid = office.dep.compose("exec", "-T", svc, "id", "-u").stdout.strip()
        assert uid == "10001", (svc, uid)
        info = office.dep.inspect(office.dep.containers(svc)[0]["Name"])
        assert info["Config"]["User"] == "fw:fw"
        assert info["HostConfig"]["ReadonlyRootfs"] is True
        assert "ALL" in (info["HostConfig"]["CapDrop"] or [])


def _ips(office: Office) -> dict[str, str]:
    """``{container ip on backend: service}``."""
    out = {}
    for row in office.dep.containers():
        nets = office.dep.inspect(row["Name"])["NetworkSettings"]["Networks"]
        for name, net in nets.items():
            if name.endswith("_backend") and net.get("IPAddress"):
                out[net["IPAddress"]] = row["Service"]
    return out


def test_each_service_has_its_own_nats_user_and_postgres_role(office: Office) -> None:
    ips = _ips(office)
    rows = office.dep.psql("SELECT DISTINCT host(client_addr), usename FROM pg_stat_activity "
                           "WHERE client_addr IS NOT NULL AND usename IS NOT NULL")
    roles: dict[str, set[str]] = collections.defaultdict(set)
    for line in rows.splitlines():
        ip, user = line.split("|")
        if ip in ips:
            roles[ips[ip]].add(user)
    assert {svc: roles[svc] for svc in DB_SERVICES} == {svc: {f"fw_{svc}"} for svc in DB_SERVICES}, roles
    connz = json.loads(office.dep.admin_python(
        "import json, urllib.request; print(json.dumps(json.load(urllib.request.urlopen("
        "'http://nats:8222/connz?auth=true&limit=1024'))))"
    ).strip().splitlines()[-1])
    users: dict[str, set[str]] = collections.defaultdict(set)
    for conn in connz["connections"]:
        if conn["ip"] in ips:
            users[ips[conn["ip"]]].add(conn.get("authorized_user", ""))
    assert {svc: users[svc] for svc in DB_SERVICES} == {svc: {svc} for svc in DB_SERVICES}, users
    # ... and a service's user cannot do what another's may: the stream admin API is the admin's
    assert "fw_intake" not in office.dep.psql("SELECT rolname FROM pg_roles WHERE rolsuper")


def _crash(office: Office, service: str) -> int:
    """SIGKILL the service's main process from the host (a crash, not `docker stop`); returns
    the restart count before."""
    name = office.dep.containers(service)[0]["Name"]
    info = office.dep.inspect(name)
    run(["kill", "-9", str(info["State"]["Pid"])])
    return int(info["RestartCount"])


def _wait_restarted(office: Office, service: str, before: int) -> None:
    name = office.dep.containers(service, all_=True)[0]["Name"]

    def back() -> bool:
        info = office.dep.inspect(name)
        return int(info["RestartCount"]) > before and info["State"]["Running"] \
            and info["State"].get("Health", {}).get("Status") == "healthy"

    eventually(back, 180, f"{service} restarted by its restart policy and healthy")


def test_a_crashed_container_comes_back_and_no_event_is_lost_or_doubled(office: Office) -> None:
    """restart: unless-stopped. billing and retention are killed (SIGKILL) while a session is
    open; the session is ended while they are down; after their restart the invoice is issued
    and the data erased exactly once."""
    from office import end_session, send_form, take_from_queue, wait_invoice, download_pdf

    m = markers()
    ticket = send_form(office.ca, m)
    request_id, session_id = take_from_queue(office.tech, ticket)
    before = {svc: _crash(office, svc) for svc in ("billing", "retention")}
    end_session(office.tech, session_id)
    for svc, n in before.items():
        _wait_restarted(office, svc, n)
    number = wait_invoice(office.tech, session_id)
    download_pdf(office.desk, number)
    lc = Lifecycle(ticket, request_id, session_id, number)
    office.done.append(lc)
    office.marks.append(m)
    office.wait_erased(lc)
    office.assert_each_lifecycle_once()
    numbers = [e["body"].get("invoice_number") or e["body"].get("number") for e in office.dep.stream_events()
               if e["body"]["event_type"] == "InvoiceIssued"]
    assert len(numbers) == len(set(numbers)) == len(office.done)


def test_data_survive_compose_down_and_up(office: Office) -> None:
    """Volumes: stream, databases, sign-ins and Caddy's CA survive `docker compose down && up -d`."""
    before = office.dep.stream_events()
    office.dep.down()
    assert office.dep.containers(all_=True) == []
    TIMINGS["restart (down, up) until healthy"] = office.dep.up()
    assert office.dep.caddy_root_ca(office.ca.with_name("caddy-root-2.crt")).read_bytes() == office.ca.read_bytes()
    office.sign_in()  # the users file in the webdata volume
    from office import download_pdf

    for lc in office.done:
        download_pdf(office.desk, lc.invoice)  # the invoice archive in PostgreSQL
    after = office.dep.stream_events()
    assert [e["msg_id"] for e in after[:len(before)]] == [e["msg_id"] for e in before]
    lc = office.run_lifecycle()
    office.wait_erased(lc)
    office.assert_each_lifecycle_once()
    numbers = [x.invoice for x in office.done]
    assert len(set(numbers)) == len(numbers), numbers  # the counter continued, nothing reused
