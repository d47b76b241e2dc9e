"""HTTP: one JSON and one CSV route per report, and an index. Thin: build the report, render it."""

from __future__ import annotations

import csv
import io
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, FastAPI, Response
from fastapi.responses import JSONResponse

from fw_reporting.application.ports import ReportSource
from fw_reporting.application.reports import REPORTS, build_report
from fw_reporting.domain.figures import Report, Value

PREFIX = "/api/reports"


def _json_value(value: Value) -> Any:
    # Decimals as strings, as in the events: exact, and no float rounding in a client.
    return str(value) if isinstance(value, Decimal) else value


def _csv_cell(value: Value) -> str:
    if value is None:
        return ""
    text = str(value)
    # A text cell starting like a formula would be run by a spreadsheet (CSV injection).
    if isinstance(value, str) and text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


def report_json(report: Report) -> dict[str, Any]:
    """``{report, title, columns, rows: [{column: value}]}``."""
    return {"report": report.name, "title": report.title, "columns": list(report.columns),
            "rows": [{k: _json_value(v) for k, v in r.items()} for r in report.records()]}


def report_csv(report: Report) -> str:
    """RFC 4180 CSV (comma, CRLF, header row), decimals with a point."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(report.columns)
    for row in report.rows:
        writer.writerow([_csv_cell(v) for v in row])
    return out.getvalue()


def build_router(source: ReportSource, tz: str) -> APIRouter:
    """The report routes over ``source``; months are in the time zone ``tz``."""
    router = APIRouter(prefix=PREFIX, tags=["reports"])

    @router.get("", summary="The reports and how far the projection has read the stream")
    async def index() -> dict[str, Any]:
        handled, last_seq = await source.progress()
        return {
            "reports": [{"name": s.name, "title": s.title, "json": f"{PREFIX}/{s.name}",
                         "csv": f"{PREFIX}/{s.name}.csv"} for s in REPORTS.values()],
            "events_handled": handled,
            "last_stream_seq": last_seq,
            "timezone": tz,
        }

    def json_route(name: str) -> Callable[[], Awaitable[JSONResponse]]:
        async def route() -> JSONResponse:
            return JSONResponse(report_json(await build_report(name, source, tz)))
        return route

    def csv_route(name: str) -> Callable[[], Awaitable[Response]]:
        async def route() -> Response:
            body = report_csv(await build_report(name, source, tz))
            return Response(body, media_type="text/csv; charset=utf-8",
                            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})
        return route

    for spec in REPORTS.values():
        router.add_api_route(f"/{spec.name}", json_route(spec.name), methods=["GET"],
                             summary=spec.title, response_class=JSONResponse)
        router.add_api_route(f"/{spec.name}.csv", csv_route(spec.name), methods=["GET"],
                             summary=f"{spec.title} (CSV)", response_class=Response)
    return router


def install(app: FastAPI, source: ReportSource, tz: str) -> None:
    """Add the report routes to ``app``."""
    app.include_router(build_router(source, tz))
