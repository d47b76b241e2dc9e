"""The AVV template file and the register of AVV requests on PostgreSQL."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from pathlib import Path

import asyncpg
from markdown_it import MarkdownIt

from fw_retention.application.avv import AvvChannel, AvvDocument, AvvRequest

DOCUMENTS = Path(__file__).resolve().parent.parent / "documents"
_FILE = re.compile(r"^avv-(?P<version>[0-9A-Za-z._-]{1,32})\.de\.md$")


def load_avv(directory: Path = DOCUMENTS) -> AvvDocument:
    """The newest AVV template in ``directory`` (versions sort by name: ``2026-01`` < ``2026-07``)."""
    found = sorted((m.group("version"), p) for p in directory.glob("avv-*.de.md")
                   if (m := _FILE.match(p.name)))
    if not found:
        raise FileNotFoundError(f"no AVV template (avv-<version>.de.md) in {directory}")
    version, path = found[-1]
    raw = path.read_bytes()
    return AvvDocument(version=version, sha256=hashlib.sha256(raw).hexdigest(), markdown=raw.decode("utf-8"))


_PAGE = """<!doctype html>
<html lang="de"><head><meta charset="utf-8">
<title>Auftragsverarbeitungsvertrag (Vorlage {version})</title>
<style>body{{font-family:sans-serif;max-width:52em;margin:2em auto;line-height:1.45;padding:0 1em}}
table{{border-collapse:collapse}}td,th{{border:1px solid #999;padding:.3em .5em;vertical-align:top}}
blockquote{{border-left:4px solid #c60;margin-left:0;padding-left:1em;color:#520}}</style>
</head><body>
{body}
<hr><p><small>Fassung {version}, SHA-256 {sha256}</small></p>
</body></html>
"""


def render_html(document: AvvDocument) -> str:
    """The template as a standalone HTML page (raw HTML in the Markdown is not passed through)."""
    body = MarkdownIt("commonmark", {"html": False}).enable("table").render(document.markdown)
    return _PAGE.format(version=document.version, sha256=document.sha256, body=body)


class PgAvvRegister:
    """:class:`~fw_retention.application.avv.AvvRegister` on PostgreSQL."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def add(self, request: AvvRequest) -> None:
        await self._conn.execute(
            "INSERT INTO avv_requests(id, requested_at, channel, customer_number, ticket, avv_version,"
            " avv_sha256) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            request.id, request.requested_at, request.channel.value, request.customer_number,
            request.ticket, request.avv_version, request.avv_sha256)

    async def newest(self, limit: int) -> list[AvvRequest]:
        rows = await self._conn.fetch(
            "SELECT id, requested_at, channel, customer_number, ticket, avv_version, avv_sha256"
            "  FROM avv_requests ORDER BY requested_at DESC, id LIMIT $1", limit)
        return [AvvRequest(id=r["id"], requested_at=r["requested_at"], channel=AvvChannel(r["channel"]),
                           customer_number=r["customer_number"], ticket=r["ticket"],
                           avv_version=r["avv_version"], avv_sha256=r["avv_sha256"]) for r in rows]

    async def prune(self, before: datetime) -> int:
        deleted = await self._conn.fetchval(
            "WITH d AS (DELETE FROM avv_requests WHERE requested_at < $1 RETURNING 1) SELECT count(*) FROM d",
            before)
        return int(deleted)
