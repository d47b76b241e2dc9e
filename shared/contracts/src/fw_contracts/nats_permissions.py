"""Who may do what on NATS: the one permission table, and its nats-server ``authorization`` block.

The table is part of the services' contracts (subjects, durables, vault callers live here too),
so both renderers read it from here: the dev environment (``fw_devenv.nats_auth``: ``make run``,
the test fixtures) and production (``deploy/render_nats_conf.py``, run inside the image, where
fw-contracts is installed). ``render_authorization(passwords)`` is the whole block, ready to
paste into a ``nats.conf``.

Principles:

* ``admin`` may do everything (provisioning the stream, tests reading the stream directly).
  Nobody else may create, update, delete or purge a stream, delete a message, or delete a
  consumer: those are explicitly denied, so a later ``allow`` cannot open them by accident.
* A service publishes only its own events (``fw.<service>.>``) and only the JetStream API calls
  its durable consumers ``<service>--<name>`` need. NATS wildcards match whole tokens only
  (``intake--*`` would be a literal name), so every durable is listed by name in
  :data:`DURABLES`; a test compares that list with what each service's bootstrap registers.
* The vault's request subjects (core request/reply, never the stream) are one per operation and
  caller (``vault.v1.get.billing``): each service may publish only on its own, so the vault
  knows who asks from the subject (and binds each caller to its purposes, see
  ``fw_retention.domain.callers``); only retention may subscribe to them, and only in its queue
  group, so nobody else can impersonate the vault.
* ``reporting`` and ``audit`` read; ``audit`` may publish its checkpoints (``fw.audit.>``).
* Nobody but admin may create a consumer without its name in the subject (ephemeral or
  ordered consumers): see :data:`_MESSAGE_GET` for why and what readers use instead. ``audit``
  has no consumer at all: it reads by batched direct get (the stream has ``allow_direct``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from fw_contracts.wire import STREAM_NAME, VaultSubject, vault_subject

ADMIN = "admin"
SERVICES: tuple[str, ...] = ("intake", "session", "billing", "retention")
READERS: tuple[str, ...] = ("reporting", "audit")
USERS: tuple[str, ...] = (ADMIN, *SERVICES, *READERS)
#: Users that run as a service process (``FW_<NAME>_NATS_USER``/``_PASSWORD``).
SERVICE_USERS: tuple[str, ...] = (*SERVICES, "reporting")

#: Durable consumers ``<user>--<name>`` each user may create, read and ack. Keep in step with
#: the services' ``runtime.consume(...)`` calls (``tests/security`` checks it).
DURABLES: dict[str, tuple[str, ...]] = {
    "intake": ("session_started", "personal_data_erased"),
    "session": ("support_request_created", "support_request_withdrawn", "personal_data_erased",
                "billing_blocked"),
    "billing": ("session_billing", "customer_promoted", "personal_data_erased"),
    "retention": ("invoice_issued", "session_not_billed", "support_request_withdrawn", "billing_blocked",
                  "invoice_delivered", "invoice_delivery_failed"),
    "reporting": ("events",),
}

#: Durables of earlier releases, renamed since: ``ensure_stream`` (the deploy init job, ``make
#: run``; admin) deletes them, so no office keeps a consumer nobody reads. Billing's
#: ``session_ended`` became ``session_billing`` (billing migration 022 moved its idempotency
#: records, so the new durable sees the old history as duplicates).
RETIRED_DURABLES: dict[str, tuple[str, ...]] = {
    "billing": ("session_ended",),
}

#: Vault operations each service may request, each on its own subject ``<operation>.<service>``
#: (the vault itself is retention; it serves exactly these, ``fw_retention.domain.callers``).
VAULT_REQUESTS: dict[str, tuple[VaultSubject, ...]] = {
    "intake": (VaultSubject.PUT, VaultSubject.CLAIM),
    "session": (VaultSubject.GET, VaultSubject.ADD_STATEMENT, VaultSubject.ADDRESS, VaultSubject.CLAIM),
    "billing": (VaultSubject.GET,),
}
VAULT_OWNER = "retention"
VAULT_QUEUE = "retention-vault"  # fw_retention.entrypoints.vault_responder.QUEUE
VAULT_ALL = VaultSubject.PUT.value.rsplit(".", 1)[0] + ".>"  # vault.v1.>

#: Replies (request/reply, JetStream API answers, publish acks, pull deliveries) arrive on inbox
#: subjects. With nats-py's default prefix every user must be allowed ``_INBOX.>``, and then
#: every user can *read every other user's replies*, vault replies with personal data included
#: (tests/security shows it). Per-user prefixes close that: each client connects with
#: ``inbox_prefix=inbox_prefix(user)`` and may subscribe only ``_INBOX_<user>.>``. Switch this on
#: together with that connect option in ``fw_platform.bus.connect`` and ``fw_audit.source.connect``.
PRIVATE_INBOXES = True
INBOX = "_INBOX.>"


def inbox_prefix(user: str) -> str:
    """The inbox prefix ``user``'s client must use when :data:`PRIVATE_INBOXES` is on."""
    return f"_INBOX_{user}"


def inbox_subscription(user: str) -> str:
    """Where ``user`` receives its replies."""
    return f"{inbox_prefix(user)}.>" if PRIVATE_INBOXES else INBOX


_API = "$JS.API"
_S = STREAM_NAME

#: Destructive or administrative JetStream calls: denied to everyone but admin.
ADMIN_ONLY: tuple[str, ...] = (
    f"{_API}.STREAM.CREATE.>",
    f"{_API}.STREAM.UPDATE.>",
    f"{_API}.STREAM.DELETE.>",
    f"{_API}.STREAM.PURGE.>",
    f"{_API}.STREAM.MSG.DELETE.>",
    f"{_API}.STREAM.SNAPSHOT.>",
    f"{_API}.STREAM.RESTORE.>",
    f"{_API}.STREAM.PEER.>",
    f"{_API}.STREAM.LEADER.>",
    f"{_API}.CONSUMER.DELETE.>",
    f"{_API}.CONSUMER.CREATE.{_S}",  # unnamed: the body's name would win (see _MESSAGE_GET)
    f"{_API}.CONSUMER.PAUSE.>",
    f"{_API}.CONSUMER.UNPIN.>",
    f"{_API}.ACCOUNT.>",
    f"{_API}.SERVER.>",
    f"{_API}.META.>",
)

#: What every non-admin user needs to look at the stream.
_STREAM_READ: tuple[str, ...] = (
    f"{_API}.INFO",  # js.account_info(); harmless
    f"{_API}.STREAM.INFO.{_S}",
)


#: Reading stored messages by sequence or "next on subject": stateless and read-only. This is
#: how readers without durables read the stream. Not ordered consumers: those are created on
#: ``$JS.API.CONSUMER.CREATE.<stream>`` (no name in the subject), and nats-server takes the
#: consumer's name from the request body there, so that permission would let the holder
#: re-create any other consumer, e.g. change billing's filter so billing never sees an event.
#: Direct get (``DIRECT.GET.<stream>``, batches included) needs ``allow_direct`` on the stream,
#: which ``fw_platform.bus.stream_config`` sets; any replica answers it. ``STREAM.MSG.GET`` works
#: without it and is answered by the stream leader (the audit confirms the end of its read there).
_MESSAGE_GET: tuple[str, ...] = (
    f"{_API}.STREAM.MSG.GET.{_S}",
    f"{_API}.DIRECT.GET.{_S}",
    f"{_API}.DIRECT.GET.{_S}.>",
)


@dataclass(frozen=True)
class Permissions:
    """One user's subject permissions (``None`` in :data:`PERMISSIONS` means: everything)."""

    publish_allow: tuple[str, ...]
    subscribe_allow: tuple[str, ...]
    publish_deny: tuple[str, ...] = ADMIN_ONLY
    subscribe_deny: tuple[str, ...] = ("vault.>",)  # nobody but the vault listens there
    #: May answer requests it received (publish to their reply subjects), once each.
    allow_responses: bool = False


def durable_api(user: str) -> tuple[str, ...]:
    """The JetStream API subjects for ``user``'s own durable consumers, and their acks."""
    subjects: list[str] = []
    for name in DURABLES.get(user, ()):
        durable = f"{user}--{name}"
        subjects += [
            # nats-py's add_consumer with durable_name (and no name): the legacy subject
            f"{_API}.CONSUMER.DURABLE.CREATE.{_S}.{durable}",
            # clients that set ``name``: with and without a filter subject
            f"{_API}.CONSUMER.CREATE.{_S}.{durable}",
            f"{_API}.CONSUMER.CREATE.{_S}.{durable}.>",
            f"{_API}.CONSUMER.INFO.{_S}.{durable}",
            f"{_API}.CONSUMER.MSG.NEXT.{_S}.{durable}",
            # ack, nak, term, in-progress: $JS.ACK.<stream>.<consumer>.<delivery tokens>
            f"$JS.ACK.{_S}.{durable}.>",
        ]
    return tuple(subjects)


#: Services that read their own erasure events back from the stream after a database restore
#: (restore safety, with :data:`_MESSAGE_GET`): retention its ``PersonalDataErased``, billing its
#: ``CustomerAccountErased``.
HISTORY_READERS: tuple[str, ...] = ("retention", "billing")


def _service(svc: str) -> Permissions:
    publish = [f"fw.{svc}.>", *_STREAM_READ, *durable_api(svc)]
    publish += [vault_subject(s, svc) for s in VAULT_REQUESTS.get(svc, ())]
    if svc in HISTORY_READERS:
        publish += _MESSAGE_GET
    if svc == VAULT_OWNER:
        return Permissions(
            publish_allow=tuple(publish),
            # only inside the vault's queue group: a plain subscription (a spy) is refused
            subscribe_allow=(inbox_subscription(svc), f"{VAULT_ALL} {VAULT_QUEUE}"),
            subscribe_deny=(),
            allow_responses=True,
        )
    return Permissions(publish_allow=tuple(publish), subscribe_allow=(inbox_subscription(svc),))


def _reporting() -> Permissions:
    return Permissions(publish_allow=(*_STREAM_READ, *durable_api("reporting")),
                       subscribe_allow=(inbox_subscription("reporting"),))


def _audit() -> Permissions:
    # fw.audit.>: signed checkpoints. Reading: direct get and message get only, no consumer (the
    # audit tool's default reader, fw_audit.source.read_direct); ``--reader ordered`` needs admin.
    return Permissions(publish_allow=("fw.audit.>", *_STREAM_READ, *_MESSAGE_GET),
                       subscribe_allow=(inbox_subscription("audit"),))


def permissions(user: str) -> Permissions | None:
    """``user``'s permissions; ``None`` for admin (unrestricted)."""
    if user == ADMIN:
        return None
    if user in SERVICES:
        return _service(user)
    if user == "reporting":
        return _reporting()
    if user == "audit":
        return _audit()
    raise KeyError(f"unknown NATS user {user!r}")


PERMISSIONS: dict[str, Permissions | None] = {u: permissions(u) for u in USERS}

# ---------------------------------------------------------------------------- passwords

#: nats-server accepts a bcrypt hash instead of a plain password when it starts like this.
_BCRYPT = re.compile(r"^\$2[abxy]\$\d{2}\$")
DEFAULT_BCRYPT_COST = 11


def hash_password(password: str, cost: int = DEFAULT_BCRYPT_COST) -> str:
    """A ``$2a$`` bcrypt hash nats-server verifies (an existing hash is returned unchanged)."""
    if _BCRYPT.match(password):
        return password
    import bcrypt  # only where configs are written (the dev tools, the deploy image): not a dependency

    return str(bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=cost, prefix=b"2a")).decode())


# ---------------------------------------------------------------------------- rendering

def _q(value: str) -> str:
    # JSON strings are valid nats.conf strings; quoting keeps "$JS..." from being read as a variable
    return json.dumps(value)


def _list(items: Iterable[str], indent: str) -> str:
    inner = "".join(f"{indent}  {_q(i)}\n" for i in items)
    return "[\n" + inner + indent + "]"


def _render_permissions(p: Permissions, indent: str) -> str:
    """One user's ``permissions { ... }``, one subject per line (it is read in reviews)."""
    i2, i3 = indent + "  ", indent + "    "
    out = [f"{indent}permissions: {{"]
    for kind, allow, deny in (("publish", p.publish_allow, p.publish_deny),
                              ("subscribe", p.subscribe_allow, p.subscribe_deny)):
        out.append(f"{i2}{kind}: {{")
        out.append(f"{i3}allow: {_list(allow, i3)}")
        if deny:
            out.append(f"{i3}deny: {_list(deny, i3)}")
        out.append(f"{i2}}}")
    if p.allow_responses:
        out.append(f"{i2}allow_responses: {{ max: 1 }}")
    out.append(f"{indent}}}")
    return "\n".join(out)


def render_authorization(passwords: Mapping[str, str], *, bcrypt_cost: int | None = DEFAULT_BCRYPT_COST,
                         users: Iterable[str] = USERS) -> str:
    """The ``authorization { users = [...] }`` block for ``nats.conf``.

    ``passwords`` maps every user to its password (or to a bcrypt hash of it). Passwords are
    written as bcrypt hashes with ``bcrypt_cost`` rounds; ``None`` writes them in plain text.
    """
    blocks: list[str] = []
    for user in users:
        pw = passwords.get(user)
        if not pw:
            raise ValueError(f"no NATS password for user {user!r}")
        stored = hash_password(pw, bcrypt_cost) if bcrypt_cost else pw
        head = f"    {{ user: {_q(user)}, password: {_q(stored)}"
        perms = PERMISSIONS[user]
        if perms is None:
            blocks.append(head + " }  # everything")
        else:
            blocks.append(head + "\n" + _render_permissions(perms, "      ") + "\n    }")
    return "authorization {\n  users = [\n" + "\n".join(blocks) + "\n  ]\n}\n"
