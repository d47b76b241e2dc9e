"""Reading retention's own ``PersonalDataErased`` history back from the stream (restore safety)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from fw_contracts import STREAM_NAME, UndecodableEvent, decode
from fw_contracts.events import PersonalDataErased
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

log = logging.getLogger(__name__)


def erasure_subjects() -> str:
    """Every version of the event: ``fw.retention.personal_data_erased.*``."""
    return PersonalDataErased.subject().rsplit(".", 1)[0] + ".*"


async def erasure_history(js: JetStreamContext, *, batch: int = 1000,
                          timeout: float = 5.0) -> AsyncIterator[PersonalDataErased]:
    """Every ``PersonalDataErased`` in the stream, oldest first (an ephemeral, ack-less reader)."""
    config = ConsumerConfig(ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.ALL,
                            inactive_threshold=60.0, max_ack_pending=-1)
    psub = await js.pull_subscribe(erasure_subjects(), stream=STREAM_NAME, config=config)
    name: str | None = None
    try:
        info = await psub.consumer_info()
        name, remaining = info.name, info.num_pending or 0
        while remaining > 0:
            msgs = await psub.fetch(min(batch, remaining), timeout=timeout)
            for msg in msgs:
                remaining = msg.metadata.num_pending if msg.metadata else remaining - 1
                try:
                    event = decode(msg.data, msg.subject)
                except UndecodableEvent as exc:
                    # Nothing we could act on; the audit reports invalid events.
                    log.warning("skipping undecodable erasure event", extra={"reason": exc.reason})
                    continue
                if isinstance(event, PersonalDataErased):
                    yield event
    finally:
        with contextlib.suppress(Exception):
            await psub.unsubscribe()
        if name:
            with contextlib.suppress(Exception):  # ephemeral: it would expire on its own anyway
                await js.delete_consumer(STREAM_NAME, name)
