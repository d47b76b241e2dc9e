"""Pull requests to a durable JetStream consumer, answered into a callback subscription.

nats-py's ``PullSubscription.fetch`` waits for every message with ``sub.next_msg()``, which builds
a uuid4, a Task and a ``wait_for`` per message (about 33 µs of client CPU against 11.5 µs for a
message handed to a subscription callback, ``bench/ANALYSIS.md``); draining a stream in batches
of 100 with acks took 58 µs of client CPU per message through ``fetch`` and 15 µs here. A consumer
fetches on its hot path, so it asks here instead: the same ``$JS.API.CONSUMER.MSG.NEXT`` request,
its replies collected by a callback, one future and one timer per request.

One request is outstanding at a time (the consumer's loop fetches, handles, fetches again). A
request ends when ``batch`` messages came, or with the server's status: ``408`` (the request
expired), ``404`` (no messages, the end of a ``no_wait`` request), ``409`` (a conflict such as
too many waiting pulls; ``409 Consumer Deleted`` raises :class:`ConsumerGone`, so the caller
creates it again instead of asking a consumer that is no more); any other status raises
:class:`PullError`. A message that arrives after its request was given up (a reply
delayed beyond the wait, e.g. across a reconnect) is not dropped: it is handed out with the next
request's messages, so it is handled now instead of after the ack wait's redelivery.
"""

from __future__ import annotations

import asyncio
import json

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

#: How long after a request's own expiry a reply may still come before the request is given up
#: (the server answers an expired request with 408 at once; this covers a reply lost in a reconnect).
GRACE_SECONDS = 1.0

_STATUS = "Status"
_DESCRIPTION = "Description"
_HEARTBEAT = "100"
_ENDS_REQUEST = frozenset({"404", "408", "409"})


class ConsumerGone(Exception):
    """The server says the durable consumer was deleted (``409 Consumer Deleted``)."""


class PullError(Exception):
    """The server answered a pull request with an unexpected status (code and description only)."""


class Puller:
    """Fetches from one durable consumer; :meth:`start` before the first :meth:`fetch`."""

    def __init__(self, nc: Client, stream: str, durable: str, *, api_prefix: str = "$JS.API") -> None:
        self._nc = nc
        self._next = f"{api_prefix}.CONSUMER.MSG.NEXT.{stream}.{durable}"
        self._inbox = nc.new_inbox()
        self._sub: Subscription | None = None
        self._got: list[Msg] = []
        self._want = 0
        self._done: asyncio.Future[None] | None = None
        self._error: Exception | None = None

    async def start(self) -> None:
        self._sub = await self._nc.subscribe(self._inbox, cb=self._on_msg)

    async def stop(self) -> None:
        if self._sub is not None:
            sub, self._sub = self._sub, None
            await sub.unsubscribe()

    async def fetch(self, batch: int, timeout: float) -> list[Msg]:
        """Up to ``batch`` messages: those waiting at once, then whatever comes within ``timeout``
        until there are ``batch`` (the server ends the request at ``timeout`` with 408). Messages
        left from an earlier request come first and count towards ``batch``."""
        if self._sub is None:
            raise RuntimeError("Puller.fetch before start()")
        if len(self._got) >= batch:
            return self._take()
        request = {"batch": batch - len(self._got),
                   "expires": max(int(timeout * 1_000_000_000) - 100_000, 1_000_000)}
        self._want = batch
        self._error = None
        loop = asyncio.get_running_loop()
        self._done = done = loop.create_future()
        # no reply at all (a reconnect lost the request): what came so far, after the grace
        timer = loop.call_later(timeout + GRACE_SECONDS, _resolve, done)
        try:
            await self._nc.publish(self._next, json.dumps(request).encode(), reply=self._inbox)
            await done
        finally:
            timer.cancel()
            self._done = None
        if self._error is not None:
            error, self._error = self._error, None
            self._got.clear()  # what a deleted consumer delivered is redelivered by the new one
            raise error
        return self._take()

    def _take(self) -> list[Msg]:
        got, self._got = self._got, []
        return got

    def _finish(self) -> None:
        if self._done is not None:
            _resolve(self._done)

    async def _on_msg(self, msg: Msg) -> None:
        headers = msg.headers
        status = headers.get(_STATUS) if headers else None
        if status is None:
            self._got.append(msg)
            if len(self._got) >= self._want:
                self._finish()
            return
        if status == _HEARTBEAT:
            return
        if self._done is None:
            return  # the end of a request given up already
        description = headers.get(_DESCRIPTION, "") if headers else ""
        if status == "409" and "consumer deleted" in description.lower():
            self._error = ConsumerGone(description)
        elif status not in _ENDS_REQUEST:
            self._error = PullError(f"{status} {description}".strip())
        self._finish()


def _resolve(done: asyncio.Future[None]) -> None:
    if not done.done():
        done.set_result(None)
