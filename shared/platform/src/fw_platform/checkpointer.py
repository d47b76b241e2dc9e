"""The scheduled checkpoint job: seals the stream with a signed ``AuditCheckpoint`` by default.

``python -m fw_platform.checkpointer`` runs next to the services (``make run``,
``deploy/compose.yaml``) as the NATS user ``audit`` (read the stream by message get, publish
``fw.audit.>``). It keeps the hash chain of :mod:`fw_platform.audit_chain` over every message, and publishes a checkpoint over the
current head whenever ``every`` new messages (other than its own checkpoints) arrived, or
``interval`` passed since the last checkpoint with at least one new message. An idle stream gets
no checkpoints; a busy one one per ``every`` messages.

At start it reads the whole stream and checks every checkpoint signed with its own key against
the chain: if one does not match, the history was altered after it was sealed, and the job
**refuses to seal it** (it logs the checkpoint's sequence and stops), so a rewritten history never
gets a fresh valid seal from the office's key.

The key: ``FW_CHECKPOINT_KEY`` (from a secret in production: the PEM text, or base64 of the
32-byte Ed25519 seed as ``deploy/gen_env.py`` makes it) or
``FW_CHECKPOINT_KEY_FILE`` (a file as written by ``fernwartung audit keygen``; with
``FW_CHECKPOINT_GENERATE_KEY=1``, as ``make run`` sets it, a missing file is created on first
start, with ``KEY_FILE.pub`` beside it: the public key to pin with ``verify --public-key``).
Event ids are derived from ``(checkpoint_seq, chain_hash)``, so two instances sealing the same
head publish one message (``Nats-Msg-Id``).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
import os
import signal
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nats
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from fw_contracts import STREAM_NAME, Header, UndecodableEvent, decode
from fw_contracts.events import AuditCheckpoint
from fw_platform.audit_chain import (
    Chain,
    KeyFileError,
    generate_key,
    load_key,
    public_hex,
    sign,
    signature_valid,
)

log = logging.getLogger(__name__)
#: Namespace of the checkpoints' event ids (fixed: never change it).
CHECKPOINT_NAMESPACE = uuid.UUID("0f6f2a52-7c1e-4a8e-9d3b-6a1f4f0c8b17")


@dataclass(frozen=True, slots=True)
class Record:
    """One stored message: what the chain covers."""

    seq: int
    subject: str
    body: bytes


class TamperedHistory(RuntimeError):
    """A checkpoint signed with this job's key does not match the chain: nothing is sealed."""


def checkpoint_event_id(seq: int, chain_hash_hex: str) -> uuid.UUID:
    return uuid.uuid5(CHECKPOINT_NAMESPACE, f"{seq}:{chain_hash_hex}")


@dataclass
class Sealer:
    """The chain and the schedule, without I/O: feed records in order, ask :meth:`due`."""

    key: Ed25519PrivateKey
    every: int = 1000
    interval: timedelta = timedelta(minutes=10)
    chain: Chain = field(default_factory=Chain)
    #: Messages (not counting checkpoints) since the last checkpoint.
    pending: int = 0
    last_sealed_at: datetime | None = None
    last_sealed_seq: int = 0

    def __post_init__(self) -> None:
        self.public = public_hex(self.key)
        self._heads: dict[int, bytes] = {}
        self._checkpoint_seqs: set[int] = set()

    def feed(self, record: Record) -> None:
        """Extend the chain; a checkpoint by this key is checked against it (TamperedHistory)."""
        if record.seq != self.chain.seq + 1:
            raise TamperedHistory(f"stream does not continue at seq {self.chain.seq + 1} (found {record.seq}): "
                                  "a gap cannot be sealed")
        self.chain.add(record.seq, record.subject, record.body)
        self._heads[record.seq] = self.chain.head
        if record.subject != AuditCheckpoint.subject():
            self.pending += 1
            return
        try:
            event = decode(record.body, record.subject)
        except UndecodableEvent:
            self.pending += 1
            return
        assert isinstance(event, AuditCheckpoint)
        self._checkpoint_seqs.add(record.seq)
        if event.public_key != self.public:
            return  # someone else's checkpoint (e.g. `fernwartung audit checkpoint`): verify checks it
        head = self._heads.get(event.checkpoint_seq)
        if not signature_valid(event.public_key, event.signature, event.checkpoint_seq, event.chain_hash) \
                or (head is not None and head.hex() != event.chain_hash):
            raise TamperedHistory(f"the checkpoint at seq {record.seq} (over seq {event.checkpoint_seq}) does not "
                                  "match the history: a message up to it was altered; not sealing")
        self.last_sealed_seq = max(self.last_sealed_seq, event.checkpoint_seq)
        self.last_sealed_at = event.signed_at
        # only heads after the last own checkpoint can be needed again; what came after it
        # (besides checkpoints) is still to be sealed
        self._heads = {s: h for s, h in self._heads.items() if s > event.checkpoint_seq}
        self._checkpoint_seqs = {s for s in self._checkpoint_seqs if s > event.checkpoint_seq}
        self._checkpoint_seqs.add(record.seq)
        self.pending = len(set(self._heads) - self._checkpoint_seqs)

    def feed_all(self, records: Iterable[Record]) -> None:
        for record in records:
            self.feed(record)

    def due(self, now: datetime) -> bool:
        """Whether a checkpoint is to be published now."""
        if self.pending == 0:
            return False
        if self.pending >= self.every:
            return True
        return self.last_sealed_at is None or now - self.last_sealed_at >= self.interval

    def seal(self, now: datetime) -> AuditCheckpoint:
        """The checkpoint over the current head (call :meth:`sealed` once it is published)."""
        seq, head = self.chain.seq, self.chain.head.hex()
        public, signature = sign(self.key, seq, head)
        return AuditCheckpoint(checkpoint_seq=seq, chain_hash=head, public_key=public, signature=signature,
                               signed_at=now, event_id=checkpoint_event_id(seq, head))

    def sealed(self, event: AuditCheckpoint) -> None:
        self.pending = 0
        self.last_sealed_at = event.signed_at
        self.last_sealed_seq = event.checkpoint_seq


def load_signing_key(environ: dict[str, str] | None = None) -> Ed25519PrivateKey:
    """The office's checkpoint key from the environment (see the module docstring)."""
    env = os.environ if environ is None else environ
    pem = env.get("FW_CHECKPOINT_KEY", "").strip()
    if pem and not pem.startswith("-----BEGIN"):
        # base64 of the 32-byte seed (deploy/gen_env.py makes one with the standard library)
        try:
            seed = base64.b64decode(pem, validate=True)
        except (binascii.Error, ValueError):
            seed = b""
        if len(seed) != 32:
            raise KeyFileError("FW_CHECKPOINT_KEY is neither a PEM private key nor base64 of 32 bytes")
        return Ed25519PrivateKey.from_private_bytes(seed)
    if pem:
        try:
            key = serialization.load_pem_private_key(pem.encode(), password=None)
        except (ValueError, TypeError):
            raise KeyFileError("FW_CHECKPOINT_KEY is not an unencrypted PEM private key") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise KeyFileError("FW_CHECKPOINT_KEY does not hold an Ed25519 private key")
        return key
    path = env.get("FW_CHECKPOINT_KEY_FILE", "").strip()
    if not path:
        raise KeyFileError("no checkpoint key: set FW_CHECKPOINT_KEY (PEM) or FW_CHECKPOINT_KEY_FILE")
    file = Path(path)
    if not file.exists() and env.get("FW_CHECKPOINT_GENERATE_KEY") == "1":
        file.parent.mkdir(parents=True, exist_ok=True)
        public = generate_key(file)
        log.info("checkpoint key created", extra={"key_file": str(file), "public_key": public})
    return load_key(file)


@dataclass
class JobSettings:
    nats_url: str
    user: str | None
    password: str | None
    stream: str = STREAM_NAME
    every: int = 1000
    interval: timedelta = timedelta(minutes=10)
    poll: float = 5.0
    #: Touched after every round: the container's health check reads its age (``--health``).
    heartbeat: Path | None = None

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> JobSettings:
        env = os.environ if environ is None else environ
        try:
            every = int(env.get("FW_CHECKPOINT_EVERY", "1000"))
            minutes = float(env.get("FW_CHECKPOINT_INTERVAL_MINUTES", "10"))
            poll = float(env.get("FW_CHECKPOINT_POLL_S", "5"))
        except ValueError:
            raise ValueError("FW_CHECKPOINT_EVERY, _INTERVAL_MINUTES and _POLL_S must be numbers") from None
        if every < 1 or minutes <= 0 or poll <= 0:
            raise ValueError("FW_CHECKPOINT_EVERY must be >= 1, _INTERVAL_MINUTES and _POLL_S > 0")
        return cls(nats_url=env.get("FW_CHECKPOINT_NATS_URL") or env.get("NATS_URL", "nats://127.0.0.1:4222"),
                   user=env.get("FW_CHECKPOINT_NATS_USER") or None,
                   password=env.get("FW_CHECKPOINT_NATS_PASSWORD") or None,
                   stream=env.get("FW_CHECKPOINT_STREAM", STREAM_NAME), every=every,
                   interval=timedelta(minutes=minutes), poll=poll,
                   heartbeat=Path(env["FW_CHECKPOINT_HEARTBEAT"]) if env.get("FW_CHECKPOINT_HEARTBEAT") else None)


async def stored_messages(js: JetStreamContext, stream: str, start: int, end: int) -> AsyncIterator[Record]:
    """The messages ``start..end`` in order by message get (deleted ones are not there: the chain
    then refuses the gap)."""
    seq = start
    while seq <= end:
        try:
            msg = await js.get_msg(stream, seq=seq, subject="fw.>", next=True)
        except NotFoundError:
            return
        if msg.seq is None or msg.seq > end:
            return
        yield Record(msg.seq, msg.subject or "", msg.data or b"")
        seq = msg.seq + 1


async def run(settings: JobSettings, key: Ed25519PrivateKey, stop: asyncio.Event,
              clock: Callable[[], datetime] = lambda: datetime.now(UTC),
              sealer: Sealer | None = None) -> Sealer:
    """Catch up with the stream, then seal on schedule until ``stop`` is set."""
    sealer = sealer or Sealer(key, every=settings.every, interval=settings.interval)
    opts: dict[str, object] = {"servers": settings.nats_url.split(","), "name": "fw-checkpoint"}
    if settings.user:
        opts |= {"user": settings.user, "password": settings.password or "",
                 "inbox_prefix": f"_INBOX_{settings.user}"}  # private replies (fw_contracts.nats_permissions)
    nc = await nats.connect(**opts)  # type: ignore[arg-type]
    js = nc.jetstream()
    try:
        while not stop.is_set():
            info = await js.stream_info(settings.stream)
            async for record in stored_messages(js, settings.stream, sealer.chain.seq + 1, info.state.last_seq):
                sealer.feed(record)
            if settings.heartbeat is not None:
                settings.heartbeat.touch()
            now = clock()
            if sealer.due(now):
                event = sealer.seal(now)
                ack = await js.publish(event.subject(), event.to_json(), stream=settings.stream,
                                       headers={Header.MSG_ID: str(event.event_id)})
                sealer.sealed(event)
                log.info("checkpoint published", extra={"seq": ack.seq, "checkpoint_seq": event.checkpoint_seq})
                continue  # read the checkpoint itself back into the chain at once
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), settings.poll)
    finally:
        await nc.close()
    return sealer


def healthy(settings: JobSettings, now: float) -> bool:
    """The job made a round recently (its heartbeat file is younger than a few polls)."""
    if settings.heartbeat is None:
        return False
    try:
        age = now - settings.heartbeat.stat().st_mtime
    except OSError:
        return False
    return age < 3 * settings.poll + 60


def main(argv: list[str] | None = None) -> int:
    """``python -m fw_platform.checkpointer [--health | --public-key]``: exit 2 on bad settings,
    3 on a tampered history. ``--health``: 0 if the running job's heartbeat is fresh;
    ``--public-key``: print the public key to pin (``verify --public-key``)."""
    import sys
    import time

    args = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        settings = JobSettings.from_env()
        if "--health" in args:
            return 0 if healthy(settings, time.time()) else 1
        key = load_signing_key()
    except (ValueError, OSError) as exc:
        log.error("checkpoint job cannot start: %s", exc)
        return 2
    if "--public-key" in args:
        print(public_hex(key))
        return 0
    log.info("checkpoint job: every %d messages or %s, public key %s", settings.every, settings.interval,
             public_hex(key))

    async def go() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await run(settings, key, stop)
        except TamperedHistory as exc:
            log.error("%s", exc)
            return 3
        return 0

    return asyncio.run(go())


if __name__ == "__main__":
    raise SystemExit(main())
