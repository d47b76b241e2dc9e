"""Reading history back from the stream (restore safety): retention's own ``PersonalDataErased``
and billing's ``BillingBlocked`` (the billing holds recorded since a restored backup was taken).

Stateless message gets ("next message on this subject from sequence n"), not a consumer: the
NATS permissions allow services no unnamed consumers (a holder of that permission could re-create
any other service's consumer), and a read-only get needs no consumer state at all.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import TypeVar

from fw_contracts import STREAM_NAME, Event, UndecodableEvent, decode
from fw_contracts.events import BillingBlocked, PersonalDataErased
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

log = logging.getLogger(__name__)

E = TypeVar("E", bound=Event)


def erasure_subjects() -> str:
    """Every version of the event: ``fw.retention.personal_data_erased.*``."""
    return _all_versions(PersonalDataErased)


def _all_versions(cls: type[Event]) -> str:
    return cls.subject().rsplit(".", 1)[0] + ".*"


async def _history(js: JetStreamContext, cls: type[E]) -> AsyncIterator[E]:
    subject, seq = _all_versions(cls), 1
    while True:
        try:
            msg = await js.get_msg(STREAM_NAME, seq=seq, subject=subject, next=True)
        except NotFoundError:
            return  # no further message on the subject
        seq = (msg.seq or seq) + 1
        try:
            event = decode(msg.data or b"", msg.subject)
        except UndecodableEvent as exc:
            # Nothing we could act on; the audit reports invalid events.
            log.warning("skipping undecodable event in history", extra={"reason": exc.reason})
            continue
        if isinstance(event, cls):
            yield event


def erasure_history(js: JetStreamContext) -> AsyncIterator[PersonalDataErased]:
    """Every ``PersonalDataErased`` in the stream, oldest first."""
    return _history(js, PersonalDataErased)


def billing_block_history(js: JetStreamContext) -> AsyncIterator[BillingBlocked]:
    """Every ``BillingBlocked`` in the stream, oldest first (the billing holds, after a restore)."""
    return _history(js, BillingBlocked)
