"""Structured JSON logs. Only whitelisted context keys are written: ids, counts, error types.

Personal data never reach a log line: services log ids, never payloads; the whitelist makes a
slip (``extra={"phone": ...}``) drop the value instead of writing it.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

SAFE_KEYS = frozenset({
    "service", "consumer", "event_id", "event_type", "stream_seq", "request_id", "session_id",
    "invoice_number", "customer_number", "reason", "kind", "error", "deliveries", "client",
    "schema", "migrations", "count", "status", "route", "method", "duration_ms", "url", "port",
    "purpose", "erasure_reason", "ticket",
})
_STD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self._service,
            "logger": record.name,
            "msg": _message(record),
        }
        for key, value in record.__dict__.items():
            if key in _STD or key.startswith("_") or key == "color_message":
                continue
            out[key] = value if key in SAFE_KEYS else "[dropped]"
        if record.exc_info and record.exc_info[0] is not None:
            # The type only: exception messages may quote input values.
            out["exc_type"] = record.exc_info[0].__name__
        return json.dumps(out, default=str, ensure_ascii=False)


def _message(record: logging.LogRecord) -> str:
    # Our own code logs fixed texts and ids in ``extra``; %-arguments are filled in only for the
    # server's own messages (pids, ports), never for ours, where an argument could be anything.
    if record.args and record.name.startswith("uvicorn"):
        return record.getMessage()
    return str(record.msg)


def configure(service: str, level: str = "INFO") -> None:
    # What a record would gather and the line never shows (caller's file and line, thread,
    # process): off, as the logging HOWTO's "Optimization" section describes; ~4 of ~21 µs a line.
    logging._srcfile = None  # no stack walk for the caller
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # uvicorn's access log prints query strings; we log requests ourselves without them.
    logging.getLogger("uvicorn.access").disabled = True
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # Libraries that narrate their work at INFO (fontTools' subsetter: about 70 lines per font
    # subset in billing) only speak up when something is wrong.
    for name in ("fontTools",):
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
