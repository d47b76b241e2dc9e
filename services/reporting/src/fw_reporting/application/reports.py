"""The reports: each one a query over the facts, shaped by the pure figures module."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fw_reporting.application.ports import ReportSource
from fw_reporting.domain import figures
from fw_reporting.domain.figures import Report, Value


@dataclass(frozen=True)
class ReportSpec:
    name: str
    title: str
    columns: tuple[str, ...]
    rows: Callable[[ReportSource, str], Awaitable[list[tuple[Value, ...]]]]


async def _revenue(src: ReportSource, tz: str) -> list[tuple[Value, ...]]:
    return figures.revenue(await src.invoiced(tz), await src.cancelled(tz))


async def _technicians(src: ReportSource, tz: str) -> list[tuple[Value, ...]]:
    return [(tech, started, ended, total, figures.average(total, ended), promotions)
            for tech, started, ended, total, promotions in await src.technicians()]


async def _minutes(src: ReportSource, tz: str) -> list[tuple[Value, ...]]:
    return [(month, invoices, raw, billed, figures.minutes(raw), figures.minutes(billed),
             not_billed, figures.minutes(not_billed_raw))
            for month, invoices, raw, billed, not_billed, not_billed_raw in await src.minutes(tz)]


async def _session_length(src: ReportSource, tz: str) -> list[tuple[Value, ...]]:
    per_month = await src.session_lengths(tz)
    rows: list[tuple[Value, ...]] = [(m, n, total, figures.average(total, n)) for m, n, total in per_month]
    n_all = sum(n for _, n, _ in per_month)
    total_all = sum(total for _, _, total in per_month)
    rows.append(("all", n_all, total_all, figures.average(total_all, n_all)))
    return rows


async def _promotions(src: ReportSource, tz: str) -> list[tuple[Value, ...]]:
    return [(m, promotions, accounts) for m, promotions, accounts in await src.promotions(tz)]


async def _erasure_delays(src: ReportSource, tz: str) -> list[tuple[Value, ...]]:
    return figures.erasure_delays(await src.erasure_delays())


async def _parked(src: ReportSource, tz: str) -> list[tuple[Value, ...]]:
    return [(consumer, seq, subject, event_id, reason, deliveries, parked_at.isoformat(),
             resolved_at.isoformat() if resolved_at else None)
            for consumer, seq, subject, event_id, reason, deliveries, parked_at, resolved_at
            in await src.parked()]


REPORTS: dict[str, ReportSpec] = {spec.name: spec for spec in (
    ReportSpec("revenue", "Revenue per month (net, VAT, gross; cancellations subtracted)",
               ("month", "invoices", "cancellations", "net", "vat", "gross", "cancelled_gross"), _revenue),
    ReportSpec("technicians", "Sessions per technician",
               ("technician", "sessions_started", "sessions_ended", "total_seconds", "average_seconds",
                "promotions"), _technicians),
    ReportSpec("minutes", "Billed vs raw minutes per month",
               ("month", "invoices", "raw_seconds", "billed_seconds", "raw_minutes", "billed_minutes",
                "not_billed_sessions", "not_billed_raw_minutes"), _minutes),
    ReportSpec("session-length", "Average session length per month",
               ("month", "sessions", "total_seconds", "average_seconds"), _session_length),
    ReportSpec("promotions", "Promotions and customer accounts per month",
               ("month", "promotions", "customer_accounts"), _promotions),
    ReportSpec("erasure-delays", "Erasure delays: trigger event to PersonalDataErased (seconds)",
               ("reason", "erasures", "measured", "median_seconds", "p95_seconds", "max_seconds"),
               _erasure_delays),
    ReportSpec("parked", "Parked messages of reporting's own consumer",
               ("consumer", "stream_seq", "subject", "event_id", "reason", "deliveries", "parked_at",
                "resolved_at"), _parked),
)}


class UnknownReport(Exception):
    """No report of that name."""


async def build_report(name: str, source: ReportSource, tz: str) -> Report:
    """The report ``name`` as of now; raises :class:`UnknownReport`."""
    spec = REPORTS.get(name)
    if spec is None:
        raise UnknownReport(name)
    rows = await spec.rows(source, tz)
    return Report(name=spec.name, title=spec.title, columns=spec.columns, rows=tuple(rows))
