"""NATS/JetStream adapter: connection, the stream definition and durable consumer settings."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import NotFoundError

from fw_contracts import STREAM_NAME, STREAM_SUBJECTS
from fw_contracts.nats_permissions import RETIRED_DURABLES

log = logging.getLogger(__name__)

#: JetStream de-duplicates a Nats-Msg-Id within this window. The outbox relay retries far
#: faster than this; beyond it, every consumer's idempotency record still catches a repeat.
DUPLICATE_WINDOW_S = 15 * 60
#: How long the server waits for an ack before redelivering.
ACK_WAIT_S = 30


def stream_config(replicas: int = 1) -> StreamConfig:
    """The one append-only history: file storage, no age limit, deny delete and purge.

    ``allow_direct``: stored messages can be read by (batched) direct get, statelessly. That is
    how readers without durables read the history (the audit tool, restore safety): no reader
    needs a consumer of its own, so nobody but admin needs the unnamed consumer create
    (``fw_contracts.nats_permissions``).

    ``allow_atomic``: the outbox relay publishes a long chunk as one atomic batch, which the
    server stores with one fsync instead of one per message (:mod:`fw_platform.outbox`;
    nats-server >= 2.12.1 for ``Nats-Msg-Id`` de-duplication inside a batch).
    """
    return StreamConfig(
        name=STREAM_NAME,
        subjects=list(STREAM_SUBJECTS),
        storage=StorageType.FILE,
        retention=RetentionPolicy.LIMITS,
        max_age=0,
        max_msgs=-1,
        max_bytes=-1,
        discard=DiscardPolicy.OLD,
        num_replicas=replicas,
        duplicate_window=DUPLICATE_WINDOW_S,
        deny_delete=True,
        deny_purge=True,
        allow_rollup_hdrs=False,
        allow_direct=True,
        allow_atomic=True,
    )


async def ensure_stream(js: JetStreamContext, replicas: int = 1) -> None:
    """Create the stream, or update it to the settings above (admin credentials needed).

    The update sends the whole configuration, so a stream created by an older release gets what
    was added since (e.g. ``allow_direct``, ``allow_atomic``) the next time this runs (deploy init job, ``make
    run``); its messages stay.
    """
    cfg = stream_config(replicas)
    try:
        await js.stream_info(STREAM_NAME)
    except NotFoundError:
        await js.add_stream(cfg)
        return
    await js.update_stream(cfg)
    await remove_retired_durables(js)


async def remove_retired_durables(js: JetStreamContext) -> list[str]:
    """Delete the durables of earlier releases (``fw_contracts.nats_permissions.RETIRED_DURABLES``)
    that still exist; returns their names. Admin only; idempotent."""
    removed: list[str] = []
    for user, names in RETIRED_DURABLES.items():
        for name in names:
            durable = f"{user}--{name}"
            try:
                await js.delete_consumer(STREAM_NAME, durable)
            except NotFoundError:
                continue
            removed.append(durable)
    if removed:
        log.info("retired durables removed", extra={"durables": removed})
    return removed


def durable_consumer_config(durable: str, subjects: list[str], *, max_ack_pending: int = 1000) -> ConsumerConfig:
    """Explicit acks; unlimited server-side deliveries because *we* bound them.

    A message that keeps failing is parked by :mod:`fw_platform.failures` after a bounded number
    of attempts. The server must not stop delivering on its own: a database outage would then
    silently drop events (the message would never be seen again by this consumer).
    """
    cfg: dict[str, Any] = {
        "durable_name": durable,
        "ack_policy": AckPolicy.EXPLICIT,
        "deliver_policy": DeliverPolicy.ALL,
        "ack_wait": ACK_WAIT_S,
        "max_deliver": -1,
        "max_ack_pending": max_ack_pending,
    }
    if len(subjects) == 1:
        cfg["filter_subject"] = subjects[0]
    else:
        cfg["filter_subjects"] = subjects
    return ConsumerConfig(**cfg)


@dataclass
class BusErrors:
    """Errors nats-py reports only to its error callback (e.g. core-publish permission errors)."""

    errors: list[str] = field(default_factory=list)

    async def on_error(self, exc: Exception) -> None:
        text = f"{type(exc).__name__}: {exc}"[:300]
        self.errors.append(text)
        log.warning("nats error", extra={"error": text})

    def permission_denied(self) -> list[str]:
        return [e for e in self.errors if "permission" in e.lower()]


#: How long a service's first connect keeps trying (NATS starting, a wrong password being fixed).
CONNECT_WAIT_S = 300.0
CONNECT_RETRY_S = 2.0


async def connect(url: str, *, name: str, user: str | None = None, password: str | None = None,
                  errors: BusErrors | None = None) -> Client:
    """Connect with endless reconnects: a NATS restart must not end a service."""
    errors = errors or BusErrors()

    async def disconnected() -> None:
        log.warning("nats disconnected", extra={"client": name})

    async def reconnected() -> None:
        log.info("nats reconnected", extra={"client": name})

    opts: dict[str, Any] = {
        "servers": url.split(","),
        "name": name,
        "error_cb": errors.on_error,
        "disconnected_cb": disconnected,
        "reconnected_cb": reconnected,
        "max_reconnect_attempts": -1,
        "reconnect_time_wait": 0.5,
        "allow_reconnect": True,
        "connect_timeout": 5,
    }
    if user:
        opts["user"] = user
        opts["password"] = password or ""
        # A private reply prefix: a user may subscribe only to its own inboxes, so no service
        # can read another's replies (vault replies carry personal data).
        opts["inbox_prefix"] = f"_INBOX_{user}"
    # First connect: the server may still be starting, or the password in the deployment's .env
    # may be wrong (fixed and re-rendered while we wait). Retry with a log line each time, for
    # CONNECT_WAIT_S; then fail (the container's restart policy starts it again).
    loop = asyncio.get_running_loop()
    deadline = loop.time() + CONNECT_WAIT_S
    while True:
        try:
            nc = await nats.connect(**opts)
        except Exception as exc:
            if loop.time() > deadline:
                raise
            log.warning("nats not reachable yet; retrying",
                        extra={"client": name, "error": type(exc).__name__})
            await asyncio.sleep(CONNECT_RETRY_S)
            continue
        if nc.is_connected:
            return nc
        # nats-py returns from connect() still CONNECTING when the server's first PING comes
        # before the PONG to ours (a CONNECT whose bcrypt check took > 2 s on a busy server):
        # such a client buffers everything forever. Drop it and connect again.
        log.warning("nats connect not completed (slow server); retrying", extra={"client": name})
        with contextlib.suppress(Exception):
            await asyncio.wait_for(nc.close(), 5)
        if loop.time() > deadline:
            raise ConnectionError("nats connect did not complete")
        await asyncio.sleep(CONNECT_RETRY_S)
