"""Reading one event type's history back from the stream, oldest first (restore safety).

Stateless message gets ("next message on this subject from sequence n"), not a consumer: the
NATS permissions give services no unnamed consumers (a holder of that permission could re-create
any other service's consumer), and a read-only get needs no consumer state. The caller's NATS
user needs ``$JS.API.STREAM.MSG.GET.<stream>`` (``fw_contracts.nats_permissions``).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import TypeVar

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from fw_contracts import STREAM_NAME, Event, UndecodableEvent, decode

log = logging.getLogger(__name__)

E = TypeVar("E", bound=Event)


def all_versions(cls: type[Event]) -> str:
    """The subject filter of every version of ``cls``: ``fw.<producer>.<event>.*``."""
    return cls.subject().rsplit(".", 1)[0] + ".*"


async def event_history(js: JetStreamContext, cls: type[E], *, stream: str = STREAM_NAME) -> AsyncIterator[E]:
    """Every ``cls`` event in the stream (any version, upcast), oldest first.

    An undecodable message is skipped with a warning (nothing here could act on it; the audit
    reports invalid events).
    """
    subject, seq = all_versions(cls), 1
    while True:
        try:
            msg = await js.get_msg(stream, seq=seq, subject=subject, next=True)
        except NotFoundError:
            return  # no further message on the subject
        seq = (msg.seq or seq) + 1
        try:
            event = decode(msg.data or b"", msg.subject)
        except UndecodableEvent as exc:
            log.warning("skipping undecodable event in history", extra={"reason": exc.reason})
            continue
        if isinstance(event, cls):
            yield event
