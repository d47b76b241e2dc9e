"""A minimal HTTP/1.1 client for the load generator: keep-alive connections, no per-request objects.

httpx spent about 80 % of the load generator's CPU (py-spy, 2026-12-02): its pool checks every
connection's socket state on each request (``has_expired``, ``getpeername``), and each request
builds headers, URL and stream objects. The bench's load generator counts in the machine's CPU
per lifecycle, so it speaks HTTP/1.1 itself: a request is one ``write`` of ready bytes, the
answer is read by ``Content-Length`` (or chunked, which the services do not use but is read
correctly). Status, body and JSON are checked by the caller as before.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from typing import Any
from urllib.parse import urlsplit

#: A connection idle longer than this is not reused (uvicorn closes idle ones after 5 s).
IDLE_S = 4.0


class HttpError(Exception):
    """The server's answer could not be read as HTTP/1.1 (the connection is dropped)."""


class Http1Pool:
    """Keep-alive connections to one ``http://host:port``; at most ``size`` at a time."""

    def __init__(self, base_url: str, size: int, timeout: float = 30.0) -> None:
        parts = urlsplit(base_url)
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or 80
        self._host_header = f"Host: {self._host}:{self._port}\r\n".encode()
        self._idle: deque[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = deque()
        self._slots = asyncio.Semaphore(size)
        self._timeout = timeout

    async def post(self, path: str, body: Any = None, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        """POST ``body`` as JSON (or nothing); returns the status and the raw body."""
        data = json.dumps(body, separators=(",", ":")).encode() if body is not None else b""
        head = [b"POST ", path.encode(), b" HTTP/1.1\r\n", self._host_header,
                b"Content-Length: ", str(len(data)).encode(), b"\r\n"]
        if body is not None:
            head.append(b"Content-Type: application/json\r\n")
        for k, v in (headers or {}).items():
            head += [k.encode(), b": ", v.encode(), b"\r\n"]
        head.append(b"\r\n")
        request = b"".join(head) + data
        async with self._slots:
            now = time.monotonic()
            while self._idle:
                reader, writer, used = self._idle.pop()
                if now - used < IDLE_S:
                    reused: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = (reader, writer)
                    break
                writer.close()  # the server may have closed it already (its keep-alive timeout)
            else:
                reused = None
            if reused is not None:
                try:
                    return await self._send(reused, request)
                except (asyncio.IncompleteReadError, ConnectionError) as exc:
                    if isinstance(exc, asyncio.IncompleteReadError) and exc.partial:
                        raise
                    # closed by the server between requests, before it read this one:
                    # nothing was done, the request goes again on a new connection
            conn = await asyncio.open_connection(self._host, self._port)
            return await self._send(conn, request)

    async def _send(self, conn: tuple[asyncio.StreamReader, asyncio.StreamWriter],
                    request: bytes) -> tuple[int, bytes]:
        try:
            status, payload, keep = await asyncio.wait_for(self._exchange(conn, request), self._timeout)
        except BaseException:
            conn[1].close()
            raise
        if keep:
            self._idle.append((conn[0], conn[1], time.monotonic()))
        else:
            conn[1].close()
        return status, payload

    @staticmethod
    async def _exchange(conn: tuple[asyncio.StreamReader, asyncio.StreamWriter],
                        request: bytes) -> tuple[int, bytes, bool]:
        reader, writer = conn
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        try:
            status = int(lines[0].split(b" ", 2)[1])
        except (IndexError, ValueError):
            raise HttpError("bad status line") from None
        length = -1
        chunked = False
        keep = True
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
            elif name == b"connection" and value.strip().lower() == b"close":
                keep = False
        if chunked:
            parts = []
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                parts.append(await reader.readexactly(size + 2))
                if size == 0:
                    break
            return status, b"".join(p[:-2] for p in parts), keep
        if length < 0:
            raise HttpError("answer without Content-Length")
        return status, await reader.readexactly(length), keep

    async def close(self) -> None:
        while self._idle:
            _, writer, _ = self._idle.pop()
            writer.close()
