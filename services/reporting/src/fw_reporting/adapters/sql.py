"""PostgreSQL adapters: the fact store (writes, in the consumer's transaction) and the report
source (reads). Tables are unqualified: the pool's search_path is schema ``reporting``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg

from fw_reporting.domain.facts import (
    AccountFact,
    CancellationFact,
    ErasureFact,
    ErasureTriggerFact,
    Fact,
    InvoiceFact,
    NotBilledFact,
    PromotionFact,
    SessionEndFact,
    SessionStartFact,
)
from fw_reporting.domain.figures import MonthSums

_INSERT: dict[type, str] = {
    InvoiceFact: "INSERT INTO invoices(invoice_number, session_id, request_id, kind, issued_at,"
                 " tariff_version, raw_seconds, billed_seconds, net_total, vat_total, gross_total, event_id)"
                 " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING",
    CancellationFact: "INSERT INTO cancellations(cancellation_number, invoice_number, cancelled_at,"
                      " reason_code, net_total, vat_total, gross_total, event_id)"
                      " VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
    SessionStartFact: "INSERT INTO sessions(session_id, request_id, technician, started_at)"
                      " VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
    NotBilledFact: "INSERT INTO not_billed(session_id, request_id, reason, raw_seconds, occurred_at)"
                   " VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
    PromotionFact: "INSERT INTO promotions(session_id, request_id, technician, stated_at)"
                   " VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
    AccountFact: "INSERT INTO customer_accounts(customer_number, request_id, created_at)"
                 " VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
    ErasureTriggerFact: "INSERT INTO erasure_triggers(event_id, event_type, request_id, occurred_at)"
                        " VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
    ErasureFact: "INSERT INTO erasures(event_id, request_id, reason, trigger_event_id, erased_at, had_data)"
                 " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
}

# The end completes a row the start may or may not have written; the first end wins.
_SESSION_END = (
    "INSERT INTO sessions(session_id, request_id, technician, started_at, ended_at, duration_seconds, promoted)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7)"
    " ON CONFLICT (session_id) DO UPDATE SET ended_at = EXCLUDED.ended_at,"
    " duration_seconds = EXCLUDED.duration_seconds, promoted = EXCLUDED.promoted"
    " WHERE sessions.ended_at IS NULL"
)


def _values(fact: Fact) -> tuple[Any, ...]:
    return tuple(getattr(fact, f) for f in fact.__dataclass_fields__)


class SqlFactStore:
    """Writes facts with the caller's connection (inside the consumer's transaction)."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def record_many(self, facts: Sequence[Fact]) -> None:
        """One ``executemany`` (pipelined by asyncpg) per fact kind, each kind in the given order."""
        by_sql: dict[str, list[tuple[Any, ...]]] = {}
        for fact in facts:
            sql = _SESSION_END if isinstance(fact, SessionEndFact) else _INSERT[type(fact)]
            by_sql.setdefault(sql, []).append(_values(fact))
        for sql, rows in by_sql.items():
            await self._conn.executemany(sql, rows)


def _month(column: str) -> str:
    # $1 is the office's time zone: months are its calendar months
    return f"to_char({column} AT TIME ZONE $1::text, 'YYYY-MM')"


class SqlReportSource:
    """Aggregates for the reports; each call uses one pooled connection."""

    def __init__(self, pool: Callable[[], asyncpg.Pool]) -> None:
        self._pool = pool

    async def _fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        async with self._pool().acquire() as conn:
            rows: list[asyncpg.Record] = await conn.fetch(sql, *args)
            return rows

    async def _sums(self, table: str, at: str, absolute: bool, tz: str) -> list[MonthSums]:
        f = "abs" if absolute else ""
        rows = await self._fetch(
            f"SELECT {_month(at)} AS month, count(*) AS n, sum({f}(net_total)) AS net,"
            f" sum({f}(vat_total)) AS vat, sum({f}(gross_total)) AS gross FROM {table} GROUP BY 1", tz)
        return [MonthSums(r["month"], r["n"], r["net"], r["vat"], r["gross"]) for r in rows]

    async def invoiced(self, tz: str) -> list[MonthSums]:
        return await self._sums("invoices", "issued_at", False, tz)

    async def cancelled(self, tz: str) -> list[MonthSums]:
        return await self._sums("cancellations", "cancelled_at", True, tz)

    async def technicians(self) -> list[tuple[str, int, int, int, int]]:
        rows = await self._fetch(
            "WITH t AS (SELECT technician FROM sessions UNION SELECT technician FROM promotions)"
            " SELECT t.technician,"
            "  (SELECT count(*) FROM sessions s WHERE s.technician = t.technician) AS started,"
            "  (SELECT count(*) FROM sessions s WHERE s.technician = t.technician"
            "    AND s.ended_at IS NOT NULL) AS ended,"
            "  (SELECT coalesce(sum(duration_seconds), 0) FROM sessions s"
            "    WHERE s.technician = t.technician) AS total,"
            "  (SELECT count(*) FROM promotions p WHERE p.technician = t.technician) AS promotions"
            " FROM t ORDER BY t.technician")
        return [(r["technician"], r["started"], r["ended"], int(r["total"]), r["promotions"]) for r in rows]

    async def minutes(self, tz: str) -> list[tuple[str, int, int, int, int, int]]:
        rows = await self._fetch(
            f"WITH i AS (SELECT {_month('issued_at')} AS month, count(*) AS n,"
            "   sum(raw_seconds) AS raw, sum(billed_seconds) AS billed FROM invoices GROUP BY 1),"
            f" nb AS (SELECT {_month('occurred_at')} AS month, count(*) AS n, sum(raw_seconds) AS raw"
            "   FROM not_billed GROUP BY 1)"
            " SELECT coalesce(i.month, nb.month) AS month, coalesce(i.n, 0) AS invoices,"
            "  coalesce(i.raw, 0) AS raw, coalesce(i.billed, 0) AS billed,"
            "  coalesce(nb.n, 0) AS nb_n, coalesce(nb.raw, 0) AS nb_raw"
            " FROM i FULL JOIN nb ON nb.month = i.month ORDER BY 1", tz)
        return [(r["month"], r["invoices"], int(r["raw"]), int(r["billed"]), r["nb_n"], int(r["nb_raw"]))
                for r in rows]

    async def session_lengths(self, tz: str) -> list[tuple[str, int, int]]:
        rows = await self._fetch(
            f"SELECT {_month('ended_at')} AS month, count(*) AS n, sum(duration_seconds) AS total"
            " FROM sessions WHERE ended_at IS NOT NULL GROUP BY 1 ORDER BY 1", tz)
        return [(r["month"], r["n"], int(r["total"])) for r in rows]

    async def promotions(self, tz: str) -> list[tuple[str, int, int]]:
        rows = await self._fetch(
            f"WITH p AS (SELECT {_month('stated_at')} AS month, count(*) AS n FROM promotions GROUP BY 1),"
            f" a AS (SELECT {_month('created_at')} AS month, count(*) AS n FROM customer_accounts GROUP BY 1)"
            " SELECT coalesce(p.month, a.month) AS month, coalesce(p.n, 0) AS promotions,"
            "  coalesce(a.n, 0) AS accounts FROM p FULL JOIN a ON a.month = p.month ORDER BY 1", tz)
        return [(r["month"], r["promotions"], r["accounts"]) for r in rows]

    async def erasure_delays(self) -> list[tuple[str, Decimal | None]]:
        rows = await self._fetch(
            "SELECT e.reason, EXTRACT(EPOCH FROM (e.erased_at - t.occurred_at)) AS delay"
            " FROM erasures e LEFT JOIN erasure_triggers t ON t.event_id = e.trigger_event_id")
        return [(r["reason"], r["delay"]) for r in rows]

    async def parked(self) -> list[tuple[str, int, str, str | None, str, int, datetime, datetime | None]]:
        rows = await self._fetch(
            "SELECT consumer, stream_seq, subject, event_id, reason, deliveries, parked_at, resolved_at"
            " FROM dead_letters ORDER BY id")
        return [(r["consumer"], r["stream_seq"], r["subject"],
                 str(r["event_id"]) if r["event_id"] else None, r["reason"], r["deliveries"],
                 r["parked_at"], r["resolved_at"]) for r in rows]

    async def progress(self) -> tuple[int, int | None]:
        """How many events the consumer has handled, and the last stream sequence among them."""
        rows = await self._fetch("SELECT count(*) AS n, max(stream_seq) AS last FROM processed_events")
        return rows[0]["n"], rows[0]["last"]
