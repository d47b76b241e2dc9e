"""One office server, as deploy/README.md sets it up: the steps run literally, then what
production promises is checked from the outside (through Caddy) and from the engine.

The tests of this module run in order on one deployment (a story: install, use, restart,
back up, restore); each states what it proves.
"""

from __future__ import annotations

import collections
import json
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from deployment import APP_SERVICES, DB_SERVICES, Deployment, scan_for
from engine import run, timed
from office import Lifecycle, Office, markers, needles

from fw_devenv.testing import eventually_sync


@pytest.fixture(scope="module")
def office(images: dict[str, str], workroot: Path) -> Iterator[Office]:
    dep = Deployment(workroot / "single")
    dep.prepare()
    dep.compose("down", "-v", "--remove-orphans", check=False)  # a previous run's leftovers
    dep.render_nats_conf(images["project"])
    dep.up(label="first start: ")
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

    eventually_sync(back, timeout=180, what=f"{service} restarted by its restart policy and healthy")


def test_a_crashed_container_comes_back_and_no_event_is_lost_or_doubled(office: Office) -> None:
    """restart: unless-stopped. billing and retention are killed (SIGKILL) while a session is
    open; the session is ended while they are down; after their restart the invoice is issued
    and the data erased exactly once."""
    from office import download_pdf, end_session, send_form, take_from_queue, wait_invoice

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
    office.dep.up(label="down, then up: ")
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


def _raw_scan(office: Office, needles_: list[bytes]) -> list[str]:
    office.dep.psql("CHECKPOINT")
    return scan_for(office.dep.volume_paths().values(), needles_)


def test_backup_then_restore_brings_no_erased_customer_back(office: Office) -> None:
    """backup.sh; customer A (promoted before the backup) is erased after it, customer B is
    created and erased after it; restore.sh from the backup. Neither A's nor B's personal data
    are in any volume afterwards (raw scan of the files), the office sees A as erased and B as
    unknown, and the office keeps working with fresh invoice numbers."""
    from office import customer_number, erase_customer

    ma = markers()
    lca = office.lifecycle_for(ma, statement="Ja, wir möchten Stammkunde werden.")
    num_a = customer_number(office.desk, lca.invoice)
    office.wait_erased(lca)

    # the scan can see data in PostgreSQL's files (control: a plain value written just now)
    probe = f"scanprobe{os.urandom(6).hex()}"
    office.dep.psql(f"CREATE TABLE public.fw_scan_probe (t text); INSERT INTO public.fw_scan_probe VALUES ('{probe}')")
    assert _raw_scan(office, [probe.encode()]), "the raw scan does not see PostgreSQL's files"
    office.dep.psql("DROP TABLE public.fw_scan_probe")

    with timed("backup.sh"):
        out = run(["./backup.sh"], capture=True, cwd=office.dep.dir).stdout
    stamp = out.strip().splitlines()[-1].rsplit("/", 1)[-1]
    backup = office.dep.dir / "backups" / stamp
    assert {p.name for p in backup.iterdir()} >= {f"{s}.dump" for s in DB_SERVICES} | {"stream.tar", "MANIFEST"}
    assert (backup.stat().st_mode & 0o777) == 0o700

    erase_customer(office.desk, num_a)
    ma_b = markers()
    lcb = office.lifecycle_for(ma_b, statement="Ja, wir möchten Stammkunde werden.")
    num_b = customer_number(office.desk, lcb.invoice)
    office.wait_erased(lcb)
    erase_customer(office.desk, num_b)
    issued_before_restore = {x.invoice for x in office.done}

    with timed("restore.sh"):
        run(["./restore.sh", f"backups/{stamp}"], capture=True, cwd=office.dep.dir, input="restore\n",
            timeout=900)
    office.dep.wait_healthy()
    office.sign_in()

    page_a = office.desk.get(f"/buero/kunden/{num_a}")
    assert page_a.status_code in (200, 404)
    page_b = office.desk.get(f"/buero/kunden/{num_b}")
    assert page_b.status_code == 404, page_b.status_code
    for m in (ma, ma_b):
        for text in (page_a.text, page_b.text):
            assert not any(n.decode() in text for n in needles(m))
    hits = _raw_scan(office, needles(ma) + needles(ma_b))
    assert not hits, f"erased personal data back after the restore: {hits[:5]}"

    lc = office.run_lifecycle()
    assert lc.invoice not in issued_before_restore, f"invoice number {lc.invoice} issued twice"


def test_faults_missing_secret_wrong_password_and_init_again(office: Office) -> None:
    """Bad input and faults: compose refuses a .env without a secret (naming it); a service with a
    wrong database password waits and says so (no password, no address in the log); the init
    job runs again and changes nothing."""
    dep = office.dep
    env_text = (dep.dir / ".env").read_text()
    broken = dep.dir / "broken.env"
    broken.write_text("\n".join("NATS_PW_INTAKE=" if line.startswith("NATS_PW_INTAKE=") else line
                                for line in env_text.splitlines()) + "\n")
    refused = dep.compose("--env-file", "broken.env", "config", "-q", check=False)
    broken.unlink()
    assert refused.returncode != 0 and "NATS_PW_INTAKE" in refused.stderr, refused.stderr

    wrong = f"wrong{os.urandom(4).hex()}"
    name = "fernwartung-wrongpw"
    dep.compose("run", "-d", "--no-deps", "--name", name, "-e",
                f"FW_INTAKE_DATABASE_URL=postgresql://fw_intake:{wrong}@postgres:5432/fernwartung", "intake")
    try:
        def waiting() -> str | None:
            logs = run(["docker", "logs", name], capture=True, check=False)
            text = logs.stdout + logs.stderr
            return text if text.count("postgresql not reachable yet; retrying") >= 2 else None

        text = eventually_sync(waiting, timeout=60, what="the wrong-password intake says it waits")
        assert "InvalidPasswordError" in text
        assert wrong not in text and "postgresql://" not in text
        assert office.dep.inspect(name)["State"]["Running"] is True  # waiting, not crashed
    finally:
        run(["docker", "rm", "-f", name], capture=True, check=False)

    before = office.dep.psql("SELECT count(*) FROM pg_roles WHERE rolname LIKE 'fw_%'")
    for _ in range(2):
        out = dep.compose("run", "--rm", "--no-deps", "-T", "init")
        assert "stream ready" in out.stdout + out.stderr
    assert office.dep.psql("SELECT count(*) FROM pg_roles WHERE rolname LIKE 'fw_%'") == before
    lc = office.run_lifecycle()  # the services still work with their roles
    office.wait_erased(lc)
