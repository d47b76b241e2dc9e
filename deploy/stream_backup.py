"""JetStream snapshot of the stream FERNWARTUNG, and its restore, as the NATS admin.

    python /app/stream_backup.py backup  > stream.tar      (in the image; backup.sh)
    python /app/stream_backup.py restore < stream.tar      (restore.sh --with-stream)
    python /app/stream_backup.py numbers                   (restore.sh: the highest invoice and
                                                            cancellation number per year issued)

What ``nats stream backup`` / ``nats stream restore`` do, with nats-py (in the image already),
so no separate nats-box image is needed. The archive on stdout/stdin is a tar with
``backup.json`` (the stream's configuration and state) and ``stream.tar.s2`` (the server's
snapshot, unchanged) -- the layout the nats CLI writes, so either tool can restore it.
Connection: ``FW_INIT_NATS_URL``, ``FW_INIT_NATS_USER``, ``FW_INIT_NATS_PASSWORD`` (the init
job's environment; compose passes them). Restoring is refused by NATS if the stream exists.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import sys
import tarfile
import time

STREAM = "FERNWARTUNG"
CHUNK = 128 * 1024


async def _connect():  # type: ignore[no-untyped-def]
    import nats

    return await nats.connect(os.environ["FW_INIT_NATS_URL"].split(","), name="fw-stream-backup",
                              user=os.environ.get("FW_INIT_NATS_USER"),
                              password=os.environ.get("FW_INIT_NATS_PASSWORD"), connect_timeout=10,
                              max_reconnect_attempts=5)


async def backup(out: io.BufferedWriter) -> dict:
    nc = await _connect()
    try:
        inbox = nc.new_inbox()
        data = bytearray()
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        async def on_chunk(msg) -> None:  # type: ignore[no-untyped-def]
            if msg.headers and msg.headers.get("Status") and not msg.data:
                return  # flow-control/status message without data
            if not msg.data:  # the empty message ends the snapshot
                if not done.done():
                    done.set_result(None)
                return
            data.extend(msg.data)
            if msg.reply:  # acknowledge the chunk: the server sends the next window
                await nc.publish(msg.reply, b"")

        sub = await nc.subscribe(inbox, cb=on_chunk)
        req = {"deliver_subject": inbox, "chunk_size": CHUNK, "jsck": False}
        reply = json.loads((await nc.request(f"$JS.API.STREAM.SNAPSHOT.{STREAM}", json.dumps(req).encode(),
                                             timeout=30)).data)
        if "error" in reply:
            raise SystemExit(f"stream backup refused: {reply['error']}")
        await asyncio.wait_for(done, timeout=600)
        await sub.unsubscribe()
    finally:
        await nc.close()
    meta = {"config": reply.get("config"), "state": reply.get("state"),
            "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    with tarfile.open(fileobj=out, mode="w|") as tar:
        for name, blob in (("backup.json", json.dumps(meta, indent=2).encode()), ("stream.tar.s2", bytes(data))):
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            info.mtime = int(time.time())
            tar.addfile(info, io.BytesIO(blob))
    return meta


async def restore(inp: io.BufferedReader) -> dict:
    files: dict[str, bytes] = {}
    with tarfile.open(fileobj=inp, mode="r|") as tar:
        for member in tar:
            f = tar.extractfile(member)
            if f is not None:
                files[member.name] = f.read()
    if set(files) != {"backup.json", "stream.tar.s2"}:
        raise SystemExit(f"not a stream backup (has {sorted(files)})")
    meta = json.loads(files["backup.json"])
    nc = await _connect()
    try:
        req = {"config": meta["config"], "state": meta["state"]}
        reply = json.loads((await nc.request(f"$JS.API.STREAM.RESTORE.{STREAM}", json.dumps(req).encode(),
                                             timeout=30)).data)
        if "error" in reply:
            raise SystemExit(f"stream restore refused: {reply['error']}")
        target = reply["deliver_subject"]
        blob = files["stream.tar.s2"]
        for start in range(0, len(blob), CHUNK):
            await nc.request(target, blob[start:start + CHUNK], timeout=30)
        final = json.loads((await nc.request(target, b"", timeout=600)).data)
        if "error" in final:
            raise SystemExit(f"stream restore failed: {final['error']}")
        return final
    finally:
        await nc.close()


def number_pattern(fmt: str) -> re.Pattern[str]:
    """A number format of billing (``FW-{year}-{seq:06d}``) as a regex with ``year``/``seq``."""
    out, pos = "", 0
    for m in re.finditer(r"\{(year|seq)(?::[^}]*)?\}", fmt):
        out += re.escape(fmt[pos:m.start()]) + (r"(?P<year>\d{4})" if m.group(1) == "year" else r"(?P<seq>\d+)")
        pos = m.end()
    return re.compile(out + re.escape(fmt[pos:]) + r"\Z")


async def numbers() -> dict[tuple[str, int], int]:
    """``{(counter table, year): highest seq}`` of every invoice and cancellation the stream
    says was issued -- so that a restored (older) billing database never issues one again.
    Formats: billing's settings (``FW_BILLING_INVOICE_NUMBER_FORMAT``,
    ``FW_BILLING_CANCELLATION_NUMBER_FORMAT``) or billing's defaults."""
    from fw_billing.domain.invoicing import DEFAULT_CANCELLATION_FORMAT, DEFAULT_NUMBER_FORMAT

    series = {
        "InvoiceIssued": ("invoice_counters", "invoice_number", number_pattern(
            os.environ.get("FW_BILLING_INVOICE_NUMBER_FORMAT") or DEFAULT_NUMBER_FORMAT)),
        "InvoiceCancelled": ("cancellation_counters", "cancellation_number", number_pattern(
            os.environ.get("FW_BILLING_CANCELLATION_NUMBER_FORMAT") or DEFAULT_CANCELLATION_FORMAT)),
    }
    highest: dict[tuple[str, int], int] = {}
    nc = await _connect()
    try:
        js = nc.jetstream()
        info = await js.stream_info(STREAM)
        if not info.state.messages:
            return highest
        sub = await js.subscribe("fw.billing.>", ordered_consumer=True)
        last = info.state.last_seq
        while True:
            try:
                msg = await sub.next_msg(timeout=5)
            except Exception:  # noqa: BLE001 - nats' timeout: no more billing events
                break
            body = json.loads(msg.data)
            spec = series.get(body.get("event_type", ""))
            if spec:
                table, field, pattern = spec
                m = pattern.match(str(body.get(field, "")))
                if not m:
                    raise SystemExit(f"{body.get(field)!r} does not match the number format; set "
                                     "FW_BILLING_*_NUMBER_FORMAT as in billing.env")
                year = int(m.group("year")) if "year" in pattern.groupindex else int(body["issued_at"][:4])
                key = (table, year)
                highest[key] = max(highest.get(key, 0), int(m.group("seq")))
            if msg.metadata.sequence.stream >= last:
                break
        await sub.unsubscribe()
    finally:
        await nc.close()
    return highest


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[1] == "numbers":
        for (table, year), seq in sorted(asyncio.run(numbers()).items()):
            print(f"{table}|{year}|{seq}")
        return 0
    if len(argv) != 2 or argv[1] not in ("backup", "restore"):
        print(__doc__, file=sys.stderr)
        return 2
    if argv[1] == "backup":
        meta = asyncio.run(backup(sys.stdout.buffer))
        sys.stdout.buffer.flush()
        print(f"stream backup: {STREAM}, {meta['state'].get('messages')} messages", file=sys.stderr)
    else:
        final = asyncio.run(restore(sys.stdin.buffer))
        state = (final.get("stream_info") or final).get("state", {})
        print(f"stream restore: {STREAM}, {state.get('messages')} messages", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
