"""Reading billing's own ``CustomerAccountErased`` history back from the stream (restore safety).

Stateless message gets ("next message on this subject from sequence n"), not a consumer, like
retention's erasure history: no consumer state to create, read-only (``fw_devenv.nats_auth``
grants billing exactly these gets).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from fw_contracts import STREAM_NAME, UndecodableEvent, decode
from fw_contracts.events import CustomerAccountErased

log = logging.getLogger(__name__)


def account_erasure_subjects() -> str:
    """Every version of the event: ``fw.billing.customer_account_erased.*``."""
    return CustomerAccountErased.subject().rsplit(".", 1)[0] + ".*"


async def account_erasure_history(js: JetStreamContext) -> AsyncIterator[CustomerAccountErased]:
    """Every ``CustomerAccountErased`` in the stream, oldest first."""
    subject, seq = account_erasure_subjects(), 1
    while True:
        try:
            msg = await js.get_msg(STREAM_NAME, seq=seq, subject=subject, next=True)
        except NotFoundError:
            return  # no further message on the subject
        seq = (msg.seq or seq) + 1
        try:
            event = decode(msg.data or b"", msg.subject)
        except UndecodableEvent as exc:
            log.warning("skipping undecodable erasure event", extra={"reason": exc.reason})
            continue
        if isinstance(event, CustomerAccountErased):
            yield event
