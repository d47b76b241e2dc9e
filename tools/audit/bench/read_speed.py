"""Measure how fast the audit reads and verifies a long history (not part of `make test`).

    python tools/audit/bench/read_speed.py 100000

Starts a private nats-server, publishes a scripted history into a stream with the FERNWARTUNG
settings (allow_direct included), then times: ordered consumer, direct-get batches, and a full verify.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from fw_audit.html import render_html
from fw_audit.scripted import bulk_history, publish
from fw_audit.source import connect, read_direct, read_ordered, stream_state
from fw_audit.verifier import Verifier, VerifyOptions
from fw_devenv._util import free_port
from fw_devenv.nats import NatsServer
from fw_platform.bus import stream_config


async def main(n: int) -> None:
    end = datetime.now(UTC)
    t = time.perf_counter()
    items = bulk_history(n, end).items()
    print(f"generated {len(items)} events in {time.perf_counter() - t:.1f}s")
    with tempfile.TemporaryDirectory() as tmp:
        server = NatsServer(Path(tmp) / "nats", free_port())
        server.start()
        try:
            nc = await connect(server.url)
            js = nc.jetstream()
            await js.add_stream(stream_config())
            t = time.perf_counter()
            await publish(js, items)
            print(f"published in {time.perf_counter() - t:.1f}s")
            state = await stream_state(js, "FERNWARTUNG")
            for name in ("ordered", "direct", "ordered", "direct"):
                t = time.perf_counter()
                it = (read_ordered(js, state, ["fw.>"]) if name == "ordered" else read_direct(nc, state, ["fw.>"]))
                count = 0
                async for _ in it:
                    count += 1
                dt = time.perf_counter() - t
                print(f"read {name:8s}: {count} msgs in {dt:.2f}s = {count / dt:,.0f} msg/s")
            for name in ("ordered", "direct"):
                t = time.perf_counter()
                v = Verifier("FERNWARTUNG", VerifyOptions(stream_config=state.config()))
                it = (read_ordered(js, state, ["fw.>"]) if name == "ordered" else read_direct(nc, state, ["fw.>"]))
                async for rec in it:
                    v.feed(rec)
                report = v.finish(end, "bench")
                dt = time.perf_counter() - t
                print(f"verify ({name} read + all checks): {dt:.2f}s; ok={report.ok}")
            for c in report.checks:
                print(f"  {c.name}: {c.status.value} {len(c.failures)} failures, {len(c.pending)} pending")
            t = time.perf_counter()
            html = render_html(report)
            out = Path(tempfile.gettempdir()) / "fw-audit-bench-report.html"
            out.write_text(html, encoding="utf-8")
            print(f"HTML report {len(html) // 1024} KiB in {time.perf_counter() - t:.2f}s: {out}")
            await nc.close()
        finally:
            server.stop()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000))
