"""``App``: what every service's ``bootstrap.build(settings)`` returns.

One small type for all six services: the HTTP app, the runtime (pool, NATS, outbox relay,
durable consumers; ``None`` for web, which has neither), the steps that run once at start before
the API answers and before any consumer runs, the background loops beside the consumers, and
the steps that release what the start took. Nothing connects or runs before :meth:`App.start`; the HTTP app's lifespan calls
:meth:`App.start` and :meth:`App.stop` (build the FastAPI app with ``lifespan=lifespan``), and
tests that need no HTTP call them directly.

``service`` is the service's application object (its use cases: what routes, workers and tests
call); a service without one passes ``None``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from fastapi import FastAPI

from fw_contracts import Event
from fw_platform.handling import Handler
from fw_platform.runtime import Runtime

log = logging.getLogger(__name__)

S = TypeVar("S")
#: A start or stop step, or a background loop (runs until cancelled).
Step = Callable[[], Awaitable[object]]
#: A service's handler table, built in its ``application/consumers.py``: ``{durable name (without
#: the ``<service>--`` prefix): {event class: handler}}``; bootstrap registers each entry.
Consumers = dict[str, dict[type[Event], Handler]]


def register(runtime: Runtime, consumers: Consumers) -> Runtime:
    """``runtime.consume`` for every durable of the table (nothing connects yet)."""
    for name, handlers in consumers.items():
        runtime.consume(name, handlers)
    return runtime


@dataclass(eq=False)
class App(Generic[S]):
    """A built service; :meth:`start` and :meth:`stop` bracket everything that connects or runs."""

    http: FastAPI
    service: S
    runtime: Runtime | None = None
    #: In order, after the runtime connected, before its consumers run and before the API
    #: answers (e.g. re-apply erasures: no event is handled against a restored database first).
    #: If one fails, the app stops again and the error is raised: the service does not start.
    on_start: Sequence[Step] = ()
    #: Long-running loops (workers, sweeps), started after ``on_start``, cancelled by :meth:`stop`.
    background: Sequence[Step] = ()
    #: Run by :meth:`stop` in reverse order after the loops ended; each must also work when its
    #: counterpart in ``on_start`` never ran (a failed start stops through the same path).
    on_stop: Sequence[Step] = ()
    _tasks: list[asyncio.Task[None]] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        # The lifespan, routes and tests find the parts from the HTTP app.
        self.http.state.app = self
        self.http.state.service = self.service
        self.http.state.runtime = self.runtime

    async def start(self) -> None:
        """Runtime connects, ``on_start`` in order, consumers, then the background loops."""
        if self.runtime is not None:
            await self.runtime.open()
        try:
            for step in self.on_start:
                await step()
            if self.runtime is not None:
                self.runtime.start_consumers()
        except BaseException:
            await self.stop()
            raise
        self._tasks = [asyncio.create_task(_run(loop), name=_name(loop)) for loop in self.background]

    async def stop(self) -> None:
        """Background loops, ``on_stop`` (reversed), then the runtime; safe to call twice."""
        for task in self._tasks:
            await _cancel(task)
        self._tasks.clear()
        for step in reversed(self.on_stop):
            try:
                await step()
            except Exception as exc:  # noqa: BLE001  # the remaining steps and the runtime must still stop
                log.warning("stop step failed", extra={"error": type(exc).__name__})
        if self.runtime is not None:
            await self.runtime.stop()


@contextlib.asynccontextmanager
async def lifespan(http: FastAPI) -> AsyncIterator[None]:
    """The FastAPI lifespan of every service: start the :class:`App` built around ``http``."""
    app: App[object] = http.state.app
    await app.start()
    try:
        yield
    finally:
        await app.stop()


async def _cancel(task: asyncio.Task[None]) -> None:
    """Cancel ``task`` and wait until it ended. A loop may swallow one cancellation (Python 3.11's
    ``asyncio.wait_for`` does when its awaitable completes at the same moment, e.g. a worker
    woken just then), so the cancellation is repeated until the task is done."""
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=1.0)
    if not task.cancelled() and task.exception() is not None:
        log.warning("background loop ended with an error", extra={"error": type(task.exception()).__name__})


async def _run(loop: Step) -> None:
    await loop()


def _name(loop: Step) -> str:
    inner = getattr(loop, "func", loop)  # a functools.partial names its function
    return str(getattr(inner, "__qualname__", None) or type(inner).__name__)
