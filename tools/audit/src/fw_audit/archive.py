"""Billing's invoice archive for the audit bundle: read through billing's audit views, decrypt
with the shared archive format, write.

Billing keeps every issued document AES-256-GCM encrypted with the data key of its year, which is
stored wrapped under the archive master key (``FW_BILLING_ARCHIVE_KEY``). The format is shared
and documented (``docs/archive-format.md``, :mod:`fw_platform.sealed_archive`): the audit needs no
billing code. It reads only billing's read-only views (migration 019: ``billing.audit_archive``,
``audit_archive_keys``, ``audit_archive_destructions``, ``audit_invoices``,
``audit_cancellations``), in one read-only repeatable-read transaction, with a DSN that may read
them (the read-only role ``fw_audit_ro`` suffices) and the master key.

Only documents of invoice/cancellation numbers that occur in the exported events go into the
bundle (the archive is read *after* the stream: billing commits a document before its event is
published, so every exported event's document is visible). Years whose archive key was destroyed
after the retention period are reported, not treated as an error. Messages name years and
document numbers, never document content (the documents name the recipient).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg

from fw_audit.checks.documents import DEFAULT_TIMEZONE, NUMBER, pdf_name, xml_name
from fw_platform import sealed_archive as fmt

#: The environment variable with the archive key itself (base64), when no ``--archive-key`` file.
KEY_ENV = "FW_AUDIT_ARCHIVE_KEY"
#: Billing's schema (its ``audit_*`` views).
SCHEMA = "billing"


class ArchiveError(Exception):
    """The archive cannot be exported (key, access, billing code); nothing was written."""


def load_archive_key(path: Path | None, environ: dict[str, str] | None = None) -> bytes | None:
    """The archive master key from ``path`` (a file like ``var/billing-archive.key``) or from
    ``$FW_AUDIT_ARCHIVE_KEY``, in billing's format: base64 of 32 bytes. None if neither is given.
    Errors name the source, never the value."""
    env = os.environ if environ is None else environ
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ArchiveError(f"--archive-key {path}: cannot be read ({type(exc).__name__})") from None
        source = f"--archive-key {path}"
    elif env.get(KEY_ENV):
        text, source = env[KEY_ENV], f"${KEY_ENV}"
    else:
        return None
    try:
        return fmt.decode_master_key(text)
    except ValueError:
        raise ArchiveError(f"{source}: not an archive key in billing's format (base64 of 32 bytes, as in "
                           "FW_BILLING_ARCHIVE_KEY)") from None


@dataclass
class ArchiveSource:
    """Where billing's archive is, and how to open it."""

    database_url: str
    master_key: bytes = field(repr=False)
    with_pdfs: bool = False


@dataclass
class DocumentIndex:
    """The manifest's ``invoice_documents`` section, built while the documents are written."""

    timezone: str = DEFAULT_TIMEZONE
    pdfs: bool = False
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)
    destroyed_years: dict[int, dict[str, Any]] = field(default_factory=dict)
    left_out: int = 0
    xml_count: int = 0
    pdf_count: int = 0

    @property
    def problems(self) -> list[str]:
        """``number: problem`` for every document the export could not include."""
        return [f"{n}: {e['problem']}" for n, e in sorted(self.documents.items()) if e.get("problem")]

    def section(self) -> dict[str, Any]:
        return {
            "included": True,
            "source": "billing.invoice_archive, decrypted with the archive key (as issued, not re-rendered)",
            "timezone": self.timezone, "pdfs": self.pdfs, "xml_count": self.xml_count,
            "pdf_count": self.pdf_count, "left_out": self.left_out,
            "destroyed_years": {str(y): info for y, info in sorted(self.destroyed_years.items())},
            "documents": dict(sorted(self.documents.items())),
        }


def not_included(reason: str) -> dict[str, Any]:
    """The manifest's section when the export had no archive access."""
    return {"included": False, "reason": reason}


#: ``(bundle path, bytes)`` -> None: writes one file into the bundle.
Sink = Callable[[str, bytes], None]


async def _connect(dsn: str) -> asyncpg.Connection:
    return await asyncpg.connect(dsn, server_settings={"application_name": "fw-audit", "timezone": "UTC"},
                                 command_timeout=120)


async def _unwrap_all(conn: asyncpg.Connection, master_key: bytes) -> dict[int, bytes]:
    """Every archive year's data key; :class:`ArchiveError` when the master key opens none/some."""
    out: dict[int, bytes] = {}
    wrong: list[int] = []
    for row in await conn.fetch(f"SELECT year, wrapped FROM {SCHEMA}.audit_archive_keys ORDER BY year"):
        year = int(row["year"])
        try:
            out[year] = fmt.unwrap_data_key(master_key, "archive", year, bytes(row["wrapped"]))
        except fmt.DecryptionFailed:
            wrong.append(year)
    if wrong:
        raise ArchiveError(
            f"the archive key does not fit: the data key of year(s) {', '.join(map(str, wrong))} cannot be "
            "unwrapped with it. Is it the key billing runs with (FW_BILLING_ARCHIVE_KEY)? Nothing was exported.")
    return out


async def check_access(source: ArchiveSource) -> None:
    """Before anything is written: the DSN reaches billing's archive and the key opens it."""
    conn = await _connect(source.database_url)
    try:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            await _unwrap_all(conn, source.master_key)
    finally:
        await conn.close()


async def export_documents(source: ArchiveSource, wanted: dict[str, datetime], sink: Sink) -> DocumentIndex:
    """Write the archived documents of ``wanted`` (number -> issue time) through ``sink``.

    The index says per number: type, year, billing's e-invoice flag, the bundle files, or the
    problem that kept the document out; and which years' archives were destroyed.
    """
    from zoneinfo import ZoneInfo

    index = DocumentIndex(timezone=DEFAULT_TIMEZONE, pdfs=source.with_pdfs)
    numbers = sorted(n for n in wanted if NUMBER.match(n))
    for bad in sorted(set(wanted) - set(numbers)):
        index.documents[bad[:40]] = {"problem": "number is not a valid document number: not exported"}
    conn = await _connect(source.database_url)
    try:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            data_keys = await _unwrap_all(conn, source.master_key)
            destroyed = {int(r["year"]): r for r in await conn.fetch(
                f"SELECT year, destroyed_at, documents FROM {SCHEMA}.audit_archive_destructions")}
            flags = {r["number"]: r["e_invoice"] for r in await conn.fetch(
                f"SELECT number, e_invoice FROM {SCHEMA}.audit_invoices WHERE number = ANY($1::text[])"
                f" UNION ALL SELECT number, e_invoice FROM {SCHEMA}.audit_cancellations"
                " WHERE number = ANY($1::text[])", numbers)}
            pdf_col = "pdf_enc" if source.with_pdfs else "NULL::bytea AS pdf_enc"
            seen: set[str] = set()
            query = (f"SELECT document_number, document_type, year, xml_enc, {pdf_col} FROM {SCHEMA}.audit_archive"
                     " WHERE document_number = ANY($1::text[]) ORDER BY document_number")
            async for row in conn.cursor(query, numbers, prefetch=200):
                number = str(row["document_number"])
                seen.add(number)
                index.documents[number] = _open_row(row, data_keys, flags.get(number), sink, index)
            index.left_out = int(await conn.fetchval(
                f"SELECT count(*) FROM {SCHEMA}.audit_archive WHERE NOT (document_number = ANY($1::text[]))",
                numbers))
    finally:
        await conn.close()
    tz = ZoneInfo(DEFAULT_TIMEZONE)
    for number in numbers:
        if number in seen:
            continue
        year = wanted[number].astimezone(tz).year
        if year in destroyed:
            row = destroyed[year]
            info = index.destroyed_years.setdefault(year, {
                "destroyed_at": row["destroyed_at"].isoformat(), "documents_destroyed": int(row["documents"]),
                "in_bundle": 0})
            info["in_bundle"] += 1
        else:
            index.documents[number] = {"year": year, "problem": "not in billing's archive"}
    return index


def _open_row(row: asyncpg.Record, data_keys: dict[int, bytes], e_invoice: bool | None,
              sink: Sink, index: DocumentIndex) -> dict[str, Any]:
    number, year = str(row["document_number"]), int(row["year"])
    entry: dict[str, Any] = {"type": row["document_type"], "year": year}
    if e_invoice is not None:
        entry["e_invoice"] = bool(e_invoice)
    key = data_keys.get(year)
    if key is None:  # rows without a key: billing deletes both in one transaction
        entry["problem"] = f"the archive key of {year} is missing although its documents are not destroyed"
        return entry
    try:
        xml = fmt.open_sealed(key, fmt.archive_xml_aad(number), bytes(row["xml_enc"])) \
            if row["xml_enc"] is not None else None
        pdf = fmt.open_sealed(key, fmt.archive_pdf_aad(number), bytes(row["pdf_enc"])) \
            if row["pdf_enc"] is not None else None
    except fmt.DecryptionFailed:
        entry["problem"] = "the archived document does not decrypt (altered or moved ciphertext)"
        return entry
    if xml is not None:
        sink(xml_name(number), xml)
        entry["xml"] = xml_name(number)
        index.xml_count += 1
    if pdf is not None:
        sink(pdf_name(number), pdf)
        entry["pdf"] = pdf_name(number)
        index.pdf_count += 1
    return entry
