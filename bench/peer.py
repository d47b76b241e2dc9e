"""The peer: the ``eventsourcing`` library (PostgreSQL, psycopg binary) replaying the same history.

Every event of the replay section's history is stored a second time, as an ``eventsourcing``
domain event in the library's own PostgreSQL recorder (the bench's PostgreSQL cluster, a database
of its own): one event class per event type of ours, its state the event's fields as Python
values (UUIDs, aware datetimes, Decimals, nested lines), the originator the request (or, without
one, the event itself). The library's mapper and JSON transcoder (``UUIDAsHex``, ``DecimalAsStr``,
``DatetimeAsISO``) encode them.

The replay (``python -m bench.peer DSN N``, a process of its own like ``fernwartung audit
replay``) reads the application's notification log in sections of 5000 and turns every
notification back into a typed domain event with the library's mapper: the library's replay with
decode, as a projection or a process application does it.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from eventsourcing.application import Application
from eventsourcing.domain import DomainEvent
from eventsourcing.persistence import StoredEvent

from fw_contracts import BY_TYPE, Event

SECTION = 5000


def _event_class(name: str) -> type[DomainEvent]:
    return type(name, (DomainEvent,), {"__module__": __name__, "__qualname__": name})


#: One ``eventsourcing`` event class per event type of ours (module level, so topics resolve).
PEER_EVENTS: dict[str, type[DomainEvent]] = {name: _event_class(name) for name in BY_TYPE}
globals().update(PEER_EVENTS)


def peer_env(dsn: str) -> dict[str, str]:
    """The library's settings for a PostgreSQL database given as a URL."""
    u = urlsplit(dsn)
    return {"PERSISTENCE_MODULE": "eventsourcing.postgres", "POSTGRES_DBNAME": u.path.lstrip("/"),
            "POSTGRES_HOST": u.hostname or "127.0.0.1", "POSTGRES_PORT": str(u.port or 5432),
            "POSTGRES_USER": u.username or "postgres", "POSTGRES_PASSWORD": u.password or "",
            "POSTGRES_POOL_SIZE": "2", "CREATE_TABLE": "y"}


def _peer_event(event: Event, version: int) -> DomainEvent:
    """Our event as the library's event: the same fields and Python types."""
    state: dict[str, Any] = event.model_dump()
    originator = state.get("request_id") or event.event_id
    state.update(originator_id=originator, originator_version=version, timestamp=event.occurred_at)
    peer = object.__new__(PEER_EVENTS[type(event).__name__])
    object.__setattr__(peer, "__dict__", state)
    return peer


def store(dsn: str, events: Iterable[Event], *, chunk: int = 500) -> dict[str, Any]:
    """Write ``events`` into the library's recorder (``dsn``: an empty database); counts and seconds.

    ``chunk``: events per ``insert_events`` call. With 5,000 the official run of 2026-12-03 hung
    for good (psycopg 3.3.9 in pipeline mode: the client waiting in ``Pipeline.sync``, the server
    in ``ClientRead``; a known class of pipeline deadlocks with large batches, psycopg issue 685);
    500 keeps each pipeline small. Only the store is chunked; the replay being measured is not."""
    app = Application(env=peer_env(dsn))
    versions: dict[uuid.UUID, int] = {}
    batch: list[StoredEvent] = []
    n = 0
    t = time.perf_counter()
    try:
        for event in events:
            originator = getattr(event, "request_id", None) or event.event_id
            version = versions[originator] = versions.get(originator, 0) + 1
            batch.append(app.mapper.to_stored_event(_peer_event(event, version)))
            if len(batch) >= chunk:
                app.recorder.insert_events(batch)
                n += len(batch)
                batch = []
        if batch:
            app.recorder.insert_events(batch)
            n += len(batch)
    finally:
        app.close()
    return {"events": n, "store_s": round(time.perf_counter() - t, 1)}


def replay(dsn: str, until: int) -> dict[str, Any]:
    """Read notifications 1..``until`` and decode each into its domain event; counts per type."""
    t0 = time.perf_counter()
    app = Application(env=peer_env(dsn) | {"CREATE_TABLE": "n"})
    mapper, recorder = app.mapper, app.recorder
    counts: dict[str, int] = {}
    n, start = 0, 1
    t = time.perf_counter()
    try:
        while n < until:
            notifications = recorder.select_notifications(start, min(SECTION, until - n))
            if not notifications:
                break
            for notification in notifications:
                event = mapper.to_domain_event(notification)
                name = type(event).__name__
                counts[name] = counts.get(name, 0) + 1
            n += len(notifications)
            start = notifications[-1].id + 1
    finally:
        app.close()
    read_s = time.perf_counter() - t
    return {"events": n, "counts": counts, "read_s": read_s, "process_s_without_imports": time.perf_counter() - t0}


if __name__ == "__main__":
    print(json.dumps(replay(sys.argv[1], int(sys.argv[2]))))
