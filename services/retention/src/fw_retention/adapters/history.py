"""Reading retention's own ``PersonalDataErased`` history back from the stream (restore safety).

Stateless message gets ("next message on this subject from sequence n"), not a consumer: the
NATS permissions allow services no unnamed consumers (a holder of that permission could re-create
any other service's consumer), and a read-only get needs no consumer state at all.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from fw_contracts import STREAM_NAME, UndecodableEvent, decode
from fw_contracts.events import PersonalDataErased
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

log = logging.getLogger(__name__)


def erasure_subjects() -> str:
    """Every version of the event: ``fw.retention.personal_data_erased.*``."""
    return PersonalDataErased.subject().rsplit(".", 1)[0] + ".*"


async def erasure_history(js: JetStreamContext) -> AsyncIterator[PersonalDataErased]:
    """Every ``PersonalDataErased`` in the stream, oldest first."""
    subject, seq = erasure_subjects(), 1
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
            log.warning("skipping undecodable erasure event", extra={"reason": exc.reason})
            continue
        if isinstance(event, PersonalDataErased):
            yield event
