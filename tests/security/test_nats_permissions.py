"""Every NATS user can do its own job and nothing else, on a real nats-server with the real config.

A refused core publish is never an exception in nats-py: the server answers ``-ERR Permissions
Violation`` and the client hands it to the error callback. A refused JetStream API call is simply
never answered, so the call times out. Each denial test therefore shows both: the call fails
*and* the server said "Permissions Violation" for exactly that subject (not some other error),
and afterwards the stream (read as admin) shows that nothing happened.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import nats.errors
import pytest
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js.api import ConsumerConfig, DeliverPolicy
from security_kit import DENIED_TIMEOUT as DENIED
from security_kit import ConnectAs, NatsUser, StartServices, first_event_subject

from fw_contracts import ALL_EVENTS, STREAM_NAME, VaultCaller, VaultSubject, vault_subject
from fw_contracts.events import AuditCheckpoint, InvoiceIssued
from fw_contracts.vault import PersonalData, PromotionStatement
from fw_devenv.nats_auth import (
    DURABLES,
    SERVICE_USERS,
    SERVICES,
    USERS,
    VAULT_QUEUE,
    VAULT_REQUESTS,
)
from fw_devenv.pytest_plugin import FwEnv
from fw_platform.bus import durable_consumer_config, stream_config
from fw_platform.vault_client import VaultClient, VaultRefused, VaultUnavailable

S = STREAM_NAME
NON_ADMIN = tuple(u for u in USERS if u != "admin")
PROBE = "fw.security.probe.v1"  # published by admin only, consumed in the tests


def personal_data() -> PersonalData:
    return PersonalData(company="Probe GmbH", contact_name="Pia Probe", phone="+4930999888777")


async def stream_messages(admin: NatsUser) -> int:
    return (await admin.js.stream_info(S)).state.messages


# ------------------------------------------------------------------------------ own jobs

async def test_every_service_publishes_its_own_events_with_a_publish_ack(connect_as: ConnectAs) -> None:
    for svc in (*SERVICES, "audit"):
        user = await connect_as(svc)
        for cls in (c for c in ALL_EVENTS if c.producer == svc):
            ack = await user.js.publish(cls.subject(), b"{}", timeout=3)
            assert ack.stream == S and ack.seq > 0
        user.assert_no_denials()


@pytest.mark.parametrize("user_name", [*DURABLES])
async def test_consumer_users_create_read_and_ack_their_own_durables(
        user_name: str, connect_as: ConnectAs, admin: NatsUser) -> None:
    await admin.js.publish(PROBE, b"{}")
    user = await connect_as(user_name)
    for name in DURABLES[user_name]:
        durable = f"{user_name}--{name}"
        # the platform's way: add_consumer with a durable name, bind, fetch
        await user.js.add_consumer(S, config=durable_consumer_config(durable, [PROBE]))
        psub = await user.js.pull_subscribe_bind(durable=durable, stream=S)
        [msg] = await psub.fetch(1, timeout=3)
        await msg.in_progress()
        await msg.nak(delay=0.05)
        [msg] = await psub.fetch(1, timeout=3)
        assert msg.metadata.num_delivered == 2
        await msg.ack_sync()
        info = await user.js.consumer_info(S, durable)
        assert info.num_ack_pending == 0 and info.delivered.stream_seq == 1
        await psub.unsubscribe()
        # nats-py's other way (name + filter in the subject) works for the same durable
        psub = await user.js.pull_subscribe(PROBE, durable=durable, stream=S)
        await psub.unsubscribe()
    # a durable that is not in the table is refused, even with the user's own prefix
    stray = f"{user_name}--not_in_the_table"
    with pytest.raises(nats.errors.TimeoutError):
        await user.js.add_consumer(S, config=durable_consumer_config(stray, [PROBE]))
    await user.denied(f"$JS.API.CONSUMER.DURABLE.CREATE.{S}.{stray}")


async def test_every_service_runs_as_its_own_user(start_services: StartServices) -> None:
    """The real services start, bind all their durables and serve, with their own credentials."""
    running = await start_services(*SERVICE_USERS)
    for svc, service in running.items():
        runtime = service.runtime
        assert runtime.settings.nats_user == svc
        # the table lists exactly the consumers each bootstrap registers (else: no permission)
        assert {c.durable for c in runtime.consumers} == {f"{svc}--{n}" for n in DURABLES[svc]}
        assert runtime.bus_errors.permission_denied() == []


async def test_the_vault_serves_the_services_allowed_to_use_it(
        start_services: StartServices, connect_as: ConnectAs) -> None:
    running = await start_services("retention")
    rid = uuid.uuid4()
    await VaultClient((await connect_as("intake")).nc, "intake").put(rid, personal_data())
    session = VaultClient((await connect_as("session")).nc, "session")
    stated = PromotionStatement(text="Ja, bitte.", technician="t1", stated_at=datetime.now(UTC))
    await session.add_statement(rid, stated)
    assert (await session.get(rid, "queue")).data == personal_data()
    entry = await VaultClient((await connect_as("billing")).nc, "billing").get(rid, "billing")
    assert entry.data == personal_data() and entry.statement == stated
    # the replies went out under allow_responses, without any violation
    assert running["retention"].runtime.bus_errors.permission_denied() == []


# ------------------------------------------------------------------------------ events

async def test_intake_cannot_publish_an_invoice_issued(connect_as: ConnectAs, admin: NatsUser) -> None:
    intake = await connect_as("intake")
    subject = InvoiceIssued.subject()
    assert subject == "fw.billing.invoice_issued.v3"
    with pytest.raises(nats.errors.TimeoutError):  # no publish ack: the message never got in
        await intake.js.publish(subject, b"{}")
    assert "permissions violation" in (await intake.denied(subject)).lower()
    assert await stream_messages(admin) == 0


@pytest.mark.parametrize("user_name", NON_ADMIN)
async def test_nobody_publishes_events_of_another_producer(
        user_name: str, connect_as: ConnectAs, admin: NatsUser) -> None:
    user = await connect_as(user_name)
    others = sorted({c.producer for c in ALL_EVENTS} - {user_name})
    for producer in others:
        await user.publish_denied(first_event_subject(producer))
    await user.publish_denied(PROBE)  # nor anything outside its own fw.<self>.>
    assert await stream_messages(admin) == 0


async def test_audit_reads_everything_and_publishes_only_checkpoints(
        connect_as: ConnectAs, admin: NatsUser) -> None:
    from fw_audit.source import read_direct, stream_state

    for producer in ("intake", "session", "billing"):
        await admin.js.publish(first_event_subject(producer), b"{}")
    audit = await connect_as("audit")
    assert (await audit.js.get_msg(S, 2)).subject == first_event_subject("session")  # one by one
    state = await stream_state(audit.js, S)  # the stream as every start leaves it: allow_direct
    assert state.messages == 3 and state.deny_delete and state.deny_purge and state.allow_direct
    # the audit tool's reader: batched direct get, several filters, no consumer
    assert [r.seq async for r in read_direct(audit.nc, state, ["fw.>"])] == [1, 2, 3]
    assert [r.seq async for r in read_direct(audit.nc, state, ["fw.billing.>", "fw.intake.>"])] == [1, 3]
    with pytest.raises(nats.errors.TimeoutError):  # an ordered consumer: see the next test for why
        await audit.js.subscribe("fw.>", stream=S, ordered_consumer=True)
    await audit.denied(f"$JS.API.CONSUMER.CREATE.{S}")
    audit.errors.errors.clear()
    ack = await audit.js.publish(AuditCheckpoint.subject(), b"{}")
    assert ack.seq == 4
    audit.assert_no_denials()

    with pytest.raises(nats.errors.TimeoutError):
        await audit.js.publish(first_event_subject("intake"), b"{}")
    await audit.denied(first_event_subject("intake"))
    with pytest.raises(nats.errors.TimeoutError):  # no durable consumers at all
        await audit.js.add_consumer(S, config=durable_consumer_config("audit--x", ["fw.>"]))
    await audit.denied(f"$JS.API.CONSUMER.DURABLE.CREATE.{S}.audit--x")
    assert await stream_messages(admin) == 4


@pytest.mark.parametrize("user_name", NON_ADMIN)
async def test_nobody_rewrites_another_consumer_through_the_unnamed_create(
        user_name: str, connect_as: ConnectAs, admin: NatsUser) -> None:
    """On ``$JS.API.CONSUMER.CREATE.<stream>`` the server takes the name from the body: whoever
    may send there can re-create billing's consumer with a filter that matches nothing."""
    await admin.js.add_consumer(S, config=durable_consumer_config("billing--session_billing", [PROBE]))
    user = await connect_as(user_name)
    hijack = {"stream_name": S, "config": {"name": "billing--session_billing", "filter_subject": "fw.void",
                                           "ack_policy": "explicit", "deliver_policy": "all"}}
    with pytest.raises(nats.errors.TimeoutError):
        await user.nc.request(f"$JS.API.CONSUMER.CREATE.{S}", json.dumps(hijack).encode(), timeout=DENIED)
    await user.denied(f"$JS.API.CONSUMER.CREATE.{S}")
    assert (await admin.js.consumer_info(S, "billing--session_billing")).config.filter_subject == PROBE


async def test_audit_can_neither_create_nor_update_nor_delete_any_consumer(
        connect_as: ConnectAs, admin: NatsUser) -> None:
    """Every way to create or change a consumer, by name or not, with or without a filter."""
    await admin.js.publish(PROBE, b"{}")
    await admin.js.add_consumer(S, config=durable_consumer_config("billing--session_billing", [PROBE]))
    audit = await connect_as("audit")
    victim = "billing--session_billing"
    body = {"stream_name": S, "config": {"durable_name": victim, "name": victim, "filter_subject": "fw.void",
                                         "ack_policy": "explicit", "deliver_policy": "all"}}
    attempts = {
        f"$JS.API.CONSUMER.DURABLE.CREATE.{S}.{victim}": body,
        f"$JS.API.CONSUMER.CREATE.{S}.{victim}": body,
        f"$JS.API.CONSUMER.CREATE.{S}.{victim}.fw.void": body,
        f"$JS.API.CONSUMER.CREATE.{S}": body | {"action": "update"},  # the unnamed update
        f"$JS.API.CONSUMER.CREATE.{S}.audit--own": body | {"config": {"name": "audit--own", "durable_name":
                                                                      "audit--own"}},
        f"$JS.API.CONSUMER.DELETE.{S}.{victim}": None,
    }
    for subject, request in attempts.items():
        with pytest.raises(nats.errors.TimeoutError):
            await audit.nc.request(subject, json.dumps(request).encode() if request else b"", timeout=DENIED)
        await audit.denied(subject)
    with pytest.raises(nats.errors.TimeoutError):  # nats-py's ephemeral and ordered consumers
        await audit.js.add_consumer(S, config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL))
    assert [c.name for c in await admin.js.consumers_info(S)] == [victim]
    assert (await admin.js.consumer_info(S, victim)).config.filter_subject == PROBE


@pytest.mark.long(14)
async def test_the_audit_tool_runs_with_the_audit_users_own_credentials(
        fw_env: FwEnv, admin: NatsUser, tmp_path: Path) -> None:
    """``fernwartung audit replay / verify / export`` as a real process with the audit user, and
    nothing on the server changed by it; ``--reader ordered`` (an ordered consumer) is refused."""
    from fw_audit.scripted import every_lifecycle, publish

    history, _ = every_lifecycle(datetime.now(UTC))
    items = history.items()
    await publish(admin.nc.jetstream(), items)
    user, password = fw_env.nats_credentials("audit")
    env = {**os.environ, "NATS_URL": fw_env.nats_plain_url, "NATS_USER": user, "NATS_PASSWORD": password,
           "COLUMNS": "200"}

    async def audit(*args: str) -> tuple[int, str, str]:
        proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "fw_audit", "audit", *args, env=env,
                                                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode is not None
        return proc.returncode, out.decode(), err.decode()

    code, out, err = await audit("replay", "--json")
    assert code == 0 and json.loads(out)["messages"] == len(items) and json.loads(out)["invalid"] == [], err
    code, out, err = await audit("verify", "--json")
    report = json.loads(out)
    # no database access: projections skipped (exit 3); every check that ran passed
    assert code == 3 and report["failed"] == [] and report["skipped"] == ["projections"], err
    code, out, err = await audit("export", str(tmp_path / "bundle"))
    assert code == 0 and (tmp_path / "bundle" / "manifest.json").is_file(), err
    assert len((tmp_path / "bundle" / "events.jsonl").read_text().splitlines()) == len(items)

    code, out, err = await audit("replay", "--json", "--reader", "ordered")
    assert code == 2 and "Only admin may create one" in " ".join(err.split()), err  # the unnamed create

    info = await admin.js.stream_info(S)
    assert info.state.messages == len(items) and info.config.deny_delete and info.config.deny_purge
    assert await admin.js.consumers_info(S) == []


async def test_retention_reads_its_erasure_history_without_a_consumer(
        connect_as: ConnectAs, admin: NatsUser) -> None:
    """Restore safety reads every PersonalDataErased back with stateless gets (nothing to create)."""
    from fw_contracts.events import ErasureReason, PersonalDataErased
    from fw_retention.adapters.history import erasure_history

    events = [PersonalDataErased(request_id=uuid.uuid4(), reason=reason, erased_at=datetime.now(UTC))
              for reason in (ErasureReason.WITHDRAWN, ErasureReason.ABANDONED)]
    for body in (events[0].to_json(), b"{}", events[1].to_json()):
        subject = events[0].subject() if body != b"{}" else PROBE
        await admin.js.publish(subject, body)
    retention = await connect_as("retention")
    assert [e async for e in erasure_history(retention.js)] == events
    retention.assert_no_denials()


async def test_billing_reads_its_account_erasure_history_without_a_consumer(
        connect_as: ConnectAs, admin: NatsUser) -> None:
    """Billing's restore safety reads every CustomerAccountErased back with stateless gets; it
    still cannot create a consumer beyond its own durables."""
    from fw_billing.adapters.history import account_erasure_history
    from fw_contracts.events import AccountErasureReason, CustomerAccountErased

    events = [CustomerAccountErased(customer_number=f"K0000{i}", request_id=uuid.uuid4(), reason=reason,
                                    erased_at=datetime.now(UTC))
              for i, reason in enumerate(AccountErasureReason, start=1)]
    for body in (events[0].to_json(), b"{}", events[1].to_json()):
        subject = events[0].subject() if body != b"{}" else PROBE
        await admin.js.publish(subject, body)
    billing = await connect_as("billing")
    assert [e async for e in account_erasure_history(billing.js)] == events
    billing.assert_no_denials()
    with pytest.raises(nats.errors.TimeoutError):
        await billing.nc.request(f"$JS.API.CONSUMER.CREATE.{S}", b"{}", timeout=DENIED)
    await billing.denied(f"$JS.API.CONSUMER.CREATE.{S}")


# ------------------------------------------------------------------------------ consumers

async def test_intake_cannot_create_or_use_billings_consumers(connect_as: ConnectAs, admin: NatsUser) -> None:
    await admin.js.publish(PROBE, b"{}")
    await admin.js.add_consumer(S, config=durable_consumer_config("billing--session_billing", [PROBE]))
    intake = await connect_as("intake")

    with pytest.raises(nats.errors.TimeoutError):
        await intake.js.add_consumer(S, config=durable_consumer_config("billing--x", [PROBE]))
    await intake.denied(f"$JS.API.CONSUMER.DURABLE.CREATE.{S}.billing--x")
    with pytest.raises(nats.errors.TimeoutError):  # nor with the name in the subject
        await intake.js.add_consumer(S, config=ConsumerConfig(name="billing--x", durable_name="billing--x",
                                                              filter_subject=PROBE))
    await intake.denied(f"$JS.API.CONSUMER.CREATE.{S}.billing--x.{PROBE}")
    with pytest.raises(nats.errors.TimeoutError):  # nor an unnamed one (it could read anything)
        await intake.js.add_consumer(S, config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL))
    await intake.denied(f"$JS.API.CONSUMER.CREATE.{S}")
    with pytest.raises(nats.errors.TimeoutError):
        await intake.js.consumer_info(S, "billing--session_billing")
    await intake.denied(f"$JS.API.CONSUMER.INFO.{S}.billing--session_billing")
    # pulling billing's messages away
    psub = await intake.js.pull_subscribe_bind(durable="billing--session_billing", stream=S)
    with pytest.raises(nats.errors.TimeoutError):
        await psub.fetch(1, timeout=DENIED)
    await intake.denied(f"$JS.API.CONSUMER.MSG.NEXT.{S}.billing--session_billing")
    # acking billing's message for it (admin fetched it; intake learns the ack subject)
    admin_psub = await admin.js.pull_subscribe_bind(durable="billing--session_billing", stream=S)
    [msg] = await admin_psub.fetch(1, timeout=3)
    await intake.publish_denied(msg.reply, b"+ACK")

    assert [c.name for c in await admin.js.consumers_info(S)] == ["billing--session_billing"]
    info = await admin.js.consumer_info(S, "billing--session_billing")
    assert info.num_ack_pending == 1  # still billing's to handle



@pytest.mark.parametrize("user_name", NON_ADMIN)
async def test_only_admin_may_delete_purge_or_change_the_stream(
        user_name: str, connect_as: ConnectAs, admin: NatsUser) -> None:
    await admin.js.publish(PROBE, b"{}")
    victim = f"{user_name}--{DURABLES[user_name][0]}" if user_name in DURABLES else "billing--session_billing"
    await admin.js.add_consumer(S, config=durable_consumer_config(victim, [PROBE]))
    user = await connect_as(user_name)
    js = user.js
    loosened = stream_config().evolve(deny_delete=False, deny_purge=False)
    calls = {
        f"$JS.API.STREAM.DELETE.{S}": js.delete_stream(S),
        f"$JS.API.STREAM.PURGE.{S}": js.purge_stream(S),
        # nats-py's delete_msg waits a fixed 5 s; we do not
        f"$JS.API.STREAM.MSG.DELETE.{S}": asyncio.wait_for(js.delete_msg(S, 1), DENIED + 0.5),
        f"$JS.API.STREAM.UPDATE.{S}": js.update_stream(loosened),
        "$JS.API.STREAM.CREATE.SHADOW": js.add_stream(name="SHADOW", subjects=["shadow.>"]),
        f"$JS.API.CONSUMER.DELETE.{S}.{victim}": js.delete_consumer(S, victim),
    }
    results = await asyncio.gather(*calls.values(), return_exceptions=True)
    for subject, result in zip(calls, results, strict=True):
        assert isinstance(result, TimeoutError), (subject, result)  # nats-py's is one too
        await user.denied(subject)

    info = await admin.js.stream_info(S)
    assert info.state.messages == 1 and info.config.deny_delete and info.config.deny_purge
    assert [c.name for c in await admin.js.consumers_info(S)] == [victim]
    assert [s.config.name for s in await admin.js.streams_info()] == [S]


# ------------------------------------------------------------------------------ vault

async def test_session_cannot_put_into_the_vault(start_services: StartServices, connect_as: ConnectAs) -> None:
    await start_services("retention")
    session = await connect_as("session")
    rid = uuid.uuid4()
    with pytest.raises(VaultUnavailable):
        await VaultClient(session.nc, "session", timeout=DENIED).put(rid, personal_data())
    await session.denied(vault_subject(VaultSubject.PUT, "session"))
    # nor by claiming to be intake: intake's subject is intake's alone
    with pytest.raises(VaultUnavailable):
        await VaultClient(session.nc, "intake", timeout=DENIED).put(rid, personal_data())
    await session.denied(vault_subject(VaultSubject.PUT, "intake"))
    # nothing was stored: the vault does not know the request (and intake may still store it)
    with pytest.raises(Exception, match="not_found"):
        await VaultClient(session.nc, "session").get(rid, "queue")
    await VaultClient((await connect_as("intake")).nc, "intake").put(rid, personal_data())


async def test_the_vault_knows_the_caller_and_binds_it_to_its_purposes(
        start_services: StartServices, connect_as: ConnectAs, admin: NatsUser) -> None:
    """Finding 7: with session's or billing's credentials nobody reads for the other's purpose."""
    running = await start_services("retention")
    rid = uuid.uuid4()
    await VaultClient((await connect_as("intake")).nc, "intake").put(rid, personal_data())
    session, billing = await connect_as("session"), await connect_as("billing")
    # billing cannot read with purpose "queue", session not with "billing"
    for user, caller, purpose in ((billing, "billing", "queue"), (session, "session", "billing"),
                                  (session, "session", "customer_account")):
        with pytest.raises(VaultRefused) as refused:
            await VaultClient(user.nc, caller).get(rid, purpose)  # type: ignore[arg-type]
        assert refused.value.error.value == "forbidden" and refused.value.reply.entry is None
        assert b"Pia Probe" not in refused.value.reply.model_dump_json().encode()
    # session's user cannot even publish on billing's subject (a NATS permission violation)
    with pytest.raises(VaultUnavailable):
        await VaultClient(session.nc, "billing", timeout=DENIED).get(rid, "billing")
    assert "permissions violation" in (await session.denied(vault_subject(VaultSubject.GET, "billing"))).lower()
    with pytest.raises(VaultUnavailable):
        await VaultClient(billing.nc, "session", timeout=DENIED).get(rid, "queue")
    await billing.denied(vault_subject(VaultSubject.GET, "session"))
    # their own purposes on their own subjects are served
    assert (await VaultClient(session.nc, "session").get(rid, "queue")).data == personal_data()
    assert (await VaultClient(billing.nc, "billing").get(rid, "billing")).data == personal_data()
    assert running["retention"].runtime.bus_errors.permission_denied() == []
    # the access log names caller and purpose of every read, the refused ones too
    pool = running["retention"].runtime.pool
    rows = await pool.fetch("SELECT caller, purpose, outcome FROM vault_access_log WHERE request_id = $1"
                            " ORDER BY id", rid)
    assert [tuple(r) for r in rows] == [("billing", "queue", "forbidden"), ("session", "billing", "forbidden"),
                                        ("session", "customer_account", "forbidden"), ("session", "queue", "ok"),
                                        ("billing", "billing", "ok")]


@pytest.mark.parametrize("user_name", NON_ADMIN)
async def test_vault_requests_only_where_allowed(user_name: str, connect_as: ConnectAs) -> None:
    user = await connect_as(user_name)
    allowed = {vault_subject(op, user_name) for op in VAULT_REQUESTS.get(user_name, ())}
    for op in VaultSubject:
        for caller in VaultCaller:
            if vault_subject(op, caller) not in allowed:
                await user.publish_denied(vault_subject(op, caller))
        await user.publish_denied(op.value)  # the shared subjects of old: nobody's any more
    await user.publish_denied("vault.v2.get")  # nor any other vault subject


async def test_billing_cannot_impersonate_the_vault(connect_as: ConnectAs) -> None:
    billing = await connect_as("billing")
    caught: list[bytes] = []

    async def spy(msg: Msg) -> None:
        caught.append(msg.data)

    await billing.nc.subscribe("vault.v1.>", cb=spy)
    await billing.nc.subscribe(vault_subject(VaultSubject.GET, "session"), queue=VAULT_QUEUE, cb=spy)
    await billing.nc.flush()
    await billing.denied("vault.v1.>", action="subscription")
    await billing.denied(vault_subject(VaultSubject.GET, "session"), action="subscription")
    # a request from session reaches nobody (there is no vault running here)
    session = await connect_as("session")
    with pytest.raises(VaultUnavailable):
        await VaultClient(session.nc, "session", timeout=0.5).get(uuid.uuid4(), "queue")
    assert caught == []


@pytest.mark.parametrize("user_name", [u for u in NON_ADMIN if u != "retention"])
async def test_nobody_but_retention_listens_on_vault_subjects(user_name: str, connect_as: ConnectAs) -> None:
    user = await connect_as(user_name)
    await user.nc.subscribe("vault.>")
    await user.nc.subscribe(vault_subject(VaultSubject.PUT, "intake"), queue=VAULT_QUEUE)
    await user.nc.flush()
    await user.denied("vault.>", action="subscription")
    await user.denied(vault_subject(VaultSubject.PUT, "intake"), action="subscription")


async def test_retention_listens_only_in_the_vault_queue_group(connect_as: ConnectAs) -> None:
    retention = await connect_as("retention")
    await retention.nc.subscribe("vault.v1.>", queue=VAULT_QUEUE)
    await retention.nc.flush()
    await retention.nc.subscribe("vault.v1.>")  # a plain listener would see every request
    await retention.nc.flush()
    await retention.denied("vault.v1.>", action="subscription")
    assert len(retention.errors.permission_denied()) == 1


async def test_nobody_reads_someone_elses_vault_replies(
        start_services: StartServices, connect_as: ConnectAs) -> None:
    """Replies go to each user's private inbox prefix, which no other user may subscribe to: not
    the shared ``_INBOX.>``, not the session's ``_INBOX_session.>``, not everything."""
    await start_services("retention")
    rid = uuid.uuid4()
    await VaultClient((await connect_as("intake")).nc, "intake").put(rid, personal_data())
    audit = await connect_as("audit")
    overheard: list[bytes] = []

    async def spy(msg: Msg) -> None:
        overheard.append(msg.data)

    for subject in ("_INBOX.>", "_INBOX_session.>", ">"):
        await audit.nc.subscribe(subject, cb=spy)
        await audit.denied(subject, action="subscription")  # the server refused the subscription
    session = await connect_as("session")
    assert session.nc.new_inbox().startswith("_INBOX_session.")
    entry = await VaultClient(session.nc, "session").get(rid, "queue")
    assert entry.data == personal_data()
    assert overheard == []


async def test_a_wrong_or_missing_password_is_refused(fw_env: FwEnv) -> None:
    for credentials in ({"user": "billing", "password": "wrong"}, {"user": "billing"}, {}):
        nc = NATS()
        with pytest.raises(nats.errors.Error, match="Authorization Violation"):
            await nc.connect(fw_env.nats_plain_url, allow_reconnect=False, max_reconnect_attempts=0,
                             connect_timeout=2, **credentials)
        await nc.close()
