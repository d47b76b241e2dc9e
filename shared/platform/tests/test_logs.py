"""``fw_platform.logs``: one JSON object per line, whitelisted context only, and nothing gathered
for a record that no line shows."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from fw_platform import logs


@pytest.fixture
def configured() -> Iterator[io.StringIO]:
    saved = (logging._srcfile, logging.logThreads, logging.logProcesses, logging.logMultiprocessing,
             list(logging.getLogger().handlers), logging.getLogger().level)
    logs.configure("svc")
    out = io.StringIO()
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(out)
    try:
        yield out
    finally:
        (logging._srcfile, logging.logThreads, logging.logProcesses, logging.logMultiprocessing,
         logging.getLogger().handlers[:], level) = saved
        logging.getLogger().setLevel(level)


def test_a_line_has_the_fixed_fields_and_only_whitelisted_context(configured: io.StringIO) -> None:
    logging.getLogger("fw_x.app").info("queue entry updated", extra={"request_id": "r-1", "phone": "+49301234"})
    line = json.loads(configured.getvalue())
    assert set(line) == {"ts", "level", "service", "logger", "msg", "request_id", "phone"}
    assert (line["level"], line["service"], line["logger"], line["msg"]) == ("info", "svc", "fw_x.app",
                                                                            "queue entry updated")
    assert line["request_id"] == "r-1" and line["phone"] == "[dropped]"


def test_a_record_gathers_no_caller_thread_or_process(configured: io.StringIO) -> None:
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger = logging.getLogger("fw_x.lean")
    logger.addHandler(keep := Keep())
    try:
        logger.info("x")
    finally:
        logger.removeHandler(keep)
    (record,) = records
    assert record.funcName != "test_a_record_gathers_no_caller_thread_or_process"  # no stack walk
    assert record.thread is None and record.process is None
