"""``fw_platform.logs``: one JSON object per line, whitelisted context only, and nothing gathered
for a record that no line shows."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from fw_platform import logs

#: Loggers ``configure`` changes besides the root; restored after each test, or a later test in
#: the same process (uvicorn's access log captured by web's tests) would find them disabled.
_TOUCHED = ("uvicorn.access", "uvicorn", "uvicorn.error", "fontTools")


@pytest.fixture
def configured() -> Iterator[io.StringIO]:
    saved = (logging._srcfile, logging.logThreads, logging.logProcesses, logging.logMultiprocessing,
             list(logging.getLogger().handlers), logging.getLogger().level)
    touched = {name: (lg.disabled, list(lg.handlers), lg.propagate, lg.level)
               for name, lg in ((n, logging.getLogger(n)) for n in _TOUCHED)}
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
        for name, (disabled, handlers, propagate, lvl) in touched.items():
            lg = logging.getLogger(name)
            lg.disabled, lg.handlers[:], lg.propagate = disabled, handlers, propagate
            lg.setLevel(lvl)


def test_a_line_has_the_fixed_fields_and_only_whitelisted_context(configured: io.StringIO) -> None:
    assert logging.getLogger("uvicorn.access").disabled  # configure's own doing, undone after the test
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
