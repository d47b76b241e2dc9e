"""The audit's use cases, wired to NATS or a bundle: replay, verify, export, checkpoint.

The CLI calls these; tests call them directly too. Progress is reported through a callback
``(done_seq, end_seq)`` so that the terminal UI stays in the CLI.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fw_audit.archive import (
    ArchiveSource,
    DocumentIndex,
    check_access,
    export_documents,
)
from fw_audit.bundle import Bundle, BundleWriter, open_bundle
from fw_audit.chain import Chain, load_key, sign
from fw_audit.checks.documents import FOLDER, InvoiceDocumentsCheck
from fw_audit.checks.signature import check_bundle_signature
from fw_audit.model import AuditReport, Record
from fw_audit.projections import LiveTables, read_live
from fw_audit.reading import EVERYTHING, Conn, Progress, records, replay_stream
from fw_audit.source import Until, connect
from fw_audit.verifier import Verifier, VerifyOptions
from fw_contracts import STREAM_NAME, UndecodableEvent, decode
from fw_contracts.events import AuditCheckpoint, InvoiceCancelled, InvoiceIssued

__all__ = ["EVERYTHING", "Conn", "Progress", "export_stream", "load_reference", "publish_checkpoint",
           "replay_stream", "verify_bundle", "verify_stream"]

def _as_of(until: Until, last: datetime | None, fallback: datetime) -> datetime:
    if until.time is not None:
        return until.time
    if until.seq is not None and last is not None:
        return last
    return fallback


async def verify_stream(conn: Conn, options: VerifyOptions, until: Until = EVERYTHING,
                        as_of: datetime | None = None, progress: Progress | None = None) -> AuditReport:
    """Run every check over the live stream. ``as_of`` defaults to now (or the ``until`` point)."""
    verifier: Verifier | None = None
    async for state, record in records(conn, until, progress):
        if verifier is None:
            options.stream_config = state.config()
            options.config_source = f"live stream {conn.stream}"
            verifier = Verifier(conn.stream, options)
        if record is not None:
            verifier.feed(record)
    assert verifier is not None
    if options.database_url:
        verifier.live = await read_live(options.database_url)
    when = as_of or _as_of(until, verifier.last_time, datetime.now(UTC))
    return verifier.finish(when, f"nats stream {conn.stream}")


def verify_bundle(directory: Path, options: VerifyOptions, until: Until = EVERYTHING,
                  as_of: datetime | None = None, progress: Progress | None = None) -> AuditReport:
    """Run every check over an exported bundle alone (no NATS); the manifest's signature is
    checked against ``options.trusted_keys`` (the ``--public-key`` keys)."""
    bundle = open_bundle(directory)
    options.stream_config = bundle.stream_config
    options.config_source = "recorded at export"
    if options.reference is None:
        # The chain values written at export: a body edited without them is pinpointed.
        options.reference, options.reference_name = bundle.recorded_chain(), "recorded in events.jsonl"
    verifier = Verifier(str(bundle.stream_config.get("name", STREAM_NAME)), options)
    # Manifest problems of the invoice documents are that check's findings (by document number).
    documents_problems = {p: msg for p, msg in bundle.file_problems.items() if p.startswith(f"{FOLDER}/")}
    verifier.documents = InvoiceDocumentsCheck(directory, bundle.invoice_documents, bundle.exported_at,
                                               file_problems=documents_problems,
                                               complete=until.seq is None and until.time is None)
    verifier.bundle_signature = check_bundle_signature(directory, options.trusted_keys)
    end = int(bundle.meta.get("last_seq", 0))
    for record in bundle.records():
        if until.stops_before(record):
            break
        verifier.feed(record)
        if progress:
            progress(record.seq, end)
    for problem in bundle.manifest_problems:
        if problem not in documents_problems.values():
            verifier.integrity.res.fail(f"bundle manifest: {problem}")
    if options.database_url:
        verifier.live = _read_live_sync(options.database_url)
    when = as_of or _as_of(until, verifier.last_time, bundle.exported_at)
    return verifier.finish(when, f"bundle {directory}")


def _read_live_sync(dsn: str) -> LiveTables:
    """:func:`read_live` from synchronous code, also when an event loop is already running."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(read_live(dsn))
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, read_live(dsn)).result()


def load_reference(directory: Path) -> tuple[dict[int, bytes], str]:
    """The recorded chain of an earlier (intact) bundle, to pinpoint an altered message."""
    bundle: Bundle = open_bundle(directory)
    if bundle.manifest_problems:
        raise ValueError(f"reference bundle {directory} is not intact: {bundle.manifest_problems[0]}")
    return bundle.recorded_chain(), f"bundle {directory}"


def _document_number(record: Record) -> tuple[str, datetime] | None:
    """``(number, issue time)`` of an invoice or cancellation message (None for any other)."""
    if not record.subject.startswith("fw.billing.invoice_"):
        return None
    try:
        event = decode(record.body, record.subject)
    except UndecodableEvent:
        return None  # verify reports it
    if isinstance(event, InvoiceIssued):
        return event.invoice_number, event.issued_at
    if isinstance(event, InvoiceCancelled):
        return event.cancellation_number, event.cancelled_at
    return None


async def export_stream(conn: Conn, directory: Path, until: Until = EVERYTHING,
                        progress: Progress | None = None,
                        archive: ArchiveSource | None = None,
                        signing_key: Ed25519PrivateKey | None = None) -> dict[str, object]:
    """Write an offline audit bundle of the stream; returns its manifest.

    With ``archive`` the bundle also holds billing's archived invoice XMLs (and PDFs if asked)
    of the exported invoices and cancellations; the key is checked before anything is written
    (:class:`fw_audit.archive.ArchiveError`). With ``signing_key`` the manifest is signed
    (``manifest.sig``, ``manifest.sig.json``).
    """
    if archive is not None:
        await check_access(archive)
    writer = BundleWriter(directory)
    config: dict[str, object] = {}
    wanted: dict[str, datetime] = {}
    async for state, record in records(conn, until, progress):
        if record is None:
            config = state.config()
        else:
            writer.add(record)
            if archive is not None and (found := _document_number(record)) is not None:
                wanted.setdefault(*found)
    index: DocumentIndex | None = None
    if archive is not None:
        # after the stream: every exported event's document was committed before it was published
        index = await export_documents(archive, wanted, writer.add_file)
    return writer.close(config, datetime.now(UTC), index.section() if index is not None else None, signing_key)


async def publish_checkpoint(conn: Conn, key_file: Path,
                             progress: Progress | None = None) -> tuple[int, AuditCheckpoint]:
    """Seal the stream as it is now: chain up to the last message, sign, publish.

    Returns ``(stream sequence of the checkpoint, the event)``.
    """
    key = load_key(key_file)
    chain = Chain()
    expected = 1
    async for _, record in records(conn, EVERYTHING, progress):
        if record is None:
            continue
        if record.seq != expected:
            raise RuntimeError(f"stream does not continue at seq {expected} (found {record.seq}): "
                               "a gap cannot be sealed")
        chain.add(record.seq, record.subject, record.body)
        expected += 1
    public, signature = sign(key, chain.seq, chain.head.hex())
    event = AuditCheckpoint(checkpoint_seq=chain.seq, chain_hash=chain.head.hex(), public_key=public,
                            signature=signature, signed_at=datetime.now(UTC))
    nc = await connect(conn.url, conn.user, conn.password)
    try:
        ack = await nc.jetstream().publish(event.subject(), event.to_json(), stream=conn.stream,
                                           headers={"Nats-Msg-Id": str(event.event_id)})
    finally:
        await nc.close()
    return ack.seq, event
