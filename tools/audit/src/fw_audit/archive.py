"""Billing's invoice archive for the audit bundle: read, decrypt with billing's own code, write.

Billing keeps every issued document in ``billing.invoice_archive``, AES-256-GCM encrypted with
the data key of its year, which is stored wrapped under the archive master key
(``FW_BILLING_ARCHIVE_KEY``; see ``fw_billing.adapters.keys``). The export needs a DSN with
read access to billing's schema and that master key; it decrypts with billing's
:class:`~fw_billing.adapters.keys.KeyRing`, :func:`~fw_billing.adapters.keys.open_sealed` and the
AAD labels of :mod:`fw_billing.adapters.sealed`, in one read-only repeatable-read transaction.

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

#: The environment variable with the archive key itself (base64), when no ``--archive-key`` file.
KEY_ENV = "FW_AUDIT_ARCHIVE_KEY"
#: Billing's schema.
SCHEMA = "billing"


class ArchiveError(Exception):
    """The archive cannot be exported (key, access, billing code); nothing was written."""


def _billing() -> Any:
    """billing's key and label functions (the export decrypts with billing's own code)."""
    try:
        from fw_billing.adapters import keys, sealed
        from fw_billing.domain.tariff import DEFAULT_TIMEZONE as billing_tz
        from fw_billing.settings import decode_archive_key
    except ImportError:
        raise ArchiveError("opening billing's archive needs fw_billing (pip install 'fw-audit[billing]')") from None
    return keys, sealed, decode_archive_key, billing_tz


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
    _, _, decode, _ = _billing()
    try:
        return bytes(decode(text))
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
    # billing's KeyRing reads ``data_keys`` unqualified: the connection sees billing's schema.
    return await asyncpg.connect(dsn, server_settings={"search_path": SCHEMA, "application_name": "fw-audit",
                                                       "timezone": "UTC"}, command_timeout=120)


async def _unwrap_all(conn: asyncpg.Connection, ring: Any, keys: Any) -> dict[int, bytes]:
    """Every archive year's data key; :class:`ArchiveError` when the master key opens none/some."""
    years = [int(r["year"]) for r in await conn.fetch(
        "SELECT year FROM data_keys WHERE purpose = 'archive' ORDER BY year")]
    out: dict[int, bytes] = {}
    wrong: list[int] = []
    for year in years:
        try:
            out[year] = await ring.existing_key(conn, keys.KeyPurpose.ARCHIVE, year)
        except keys.DecryptionFailed:
            wrong.append(year)
    if wrong:
        raise ArchiveError(
            f"the archive key does not fit: the data key of year(s) {', '.join(map(str, wrong))} cannot be "
            "unwrapped with it. Is it the key billing runs with (FW_BILLING_ARCHIVE_KEY)? Nothing was exported.")
    return out


async def check_access(source: ArchiveSource) -> None:
    """Before anything is written: the DSN reaches billing's archive and the key opens it."""
    keys, _, _, _ = _billing()
    conn = await _connect(source.database_url)
    try:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            await _unwrap_all(conn, keys.KeyRing(source.master_key), keys)
    finally:
        await conn.close()


async def export_documents(source: ArchiveSource, wanted: dict[str, datetime], sink: Sink) -> DocumentIndex:
    """Write the archived documents of ``wanted`` (number -> issue time) through ``sink``.

    The index says per number: type, year, billing's e-invoice flag, the bundle files, or the
    problem that kept the document out; and which years' archives were destroyed.
    """
    keys, sealed, _, billing_tz = _billing()
    from zoneinfo import ZoneInfo

    index = DocumentIndex(timezone=billing_tz, pdfs=source.with_pdfs)
    numbers = sorted(n for n in wanted if NUMBER.match(n))
    for bad in sorted(set(wanted) - set(numbers)):
        index.documents[bad[:40]] = {"problem": "number is not a valid document number: not exported"}
    conn = await _connect(source.database_url)
    try:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            data_keys = await _unwrap_all(conn, keys.KeyRing(source.master_key), keys)
            destroyed = {int(r["year"]): r for r in await conn.fetch(
                "SELECT year, destroyed_at, documents FROM archive_destructions")}
            flags = {r["number"]: r["e_invoice"] for r in await conn.fetch(
                "SELECT number, e_invoice FROM invoices WHERE number = ANY($1::text[])"
                " UNION ALL SELECT number, e_invoice FROM cancellations WHERE number = ANY($1::text[])", numbers)}
            pdf_col = "pdf_enc" if source.with_pdfs else "NULL::bytea AS pdf_enc"
            seen: set[str] = set()
            query = (f"SELECT document_number, document_type, year, xml_enc, {pdf_col} FROM invoice_archive"
                     " WHERE document_number = ANY($1::text[]) ORDER BY document_number")
            async for row in conn.cursor(query, numbers, prefetch=200):
                number = str(row["document_number"])
                seen.add(number)
                index.documents[number] = _open_row(row, data_keys, keys, sealed, flags.get(number), sink, index)
            index.left_out = int(await conn.fetchval(
                "SELECT count(*) FROM invoice_archive WHERE NOT (document_number = ANY($1::text[]))", numbers))
    finally:
        await conn.close()
    tz = ZoneInfo(billing_tz)
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


def _open_row(row: asyncpg.Record, data_keys: dict[int, bytes], keys: Any, sealed: Any, e_invoice: bool | None,
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
        xml = keys.open_sealed(key, sealed.archive_xml_aad(number), bytes(row["xml_enc"])) \
            if row["xml_enc"] is not None else None
        pdf = keys.open_sealed(key, sealed.archive_pdf_aad(number), bytes(row["pdf_enc"])) \
            if row["pdf_enc"] is not None else None
    except keys.DecryptionFailed:
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
