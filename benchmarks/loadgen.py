"""A light HTTP/1.1 load generator for the benchmarks that drive a real ``evalkit serve``.

Each client is one keep-alive connection over a plain asyncio socket, writing requests whose
bytes were built before the clock starts, and reading back the status line, the headers and a
``Content-Length`` body. On the two cores the server shares with its load generator, this costs
a few percent of the server's CPU; an ``httpx.AsyncClient`` took about a quarter of the cores
(200 ingest requests: 0.84 s of client CPU against 0.06 s here), which slowed the server it was
measuring.

Only what evalkit's API answers is read: no chunked bodies, no redirects, no TLS. The
benchmarks load this file by path (``importlib``), as ``http_ingest.py`` loads ``ingest.py``, so
they import it the same way whether run as scripts or loaded from a test.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path


def request_bytes(base: str, path: str, body: bytes, *, token: str, method: str = "POST") -> bytes:
    """One complete HTTP/1.1 request (head and JSON ``body``) for ``base`` (``http://host:port``)
    with a bearer ``token``, ready to write to the socket as it is."""
    host = base.removeprefix("http://")
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


class Connection:
    """One keep-alive connection: requests go one after another, each answer read in full."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, base: str) -> Connection:
        host, port = base.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        return cls(reader, writer)

    async def exchange(self, request: bytes, since: float | None = None) -> tuple[float, int]:
        """Write ``request`` and read its answer: (seconds from ``since``, status code).

        ``since`` is a ``time.perf_counter()`` reading, by default the moment of writing; a
        paced client passes the request's scheduled time, so a server that falls behind is
        charged for the wait."""
        began = time.perf_counter() if since is None else since
        self.writer.write(request)
        status = await self.reader.readline()
        if not status:
            raise ConnectionError("the server closed the connection before answering")
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        await self.reader.readexactly(length)
        return time.perf_counter() - began, int(status.split()[1])

    def close(self) -> None:
        self.writer.close()


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds so far of process ``pid`` and its live descendants (the workers
    of ``evalkit serve --workers N`` and their preparing processes), from Linux ``/proc``."""
    parent: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        child = int(stat.parent.name)
        parent[child] = int(fields[1])
        cpu[child] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    total = 0.0
    for proc, seconds in cpu.items():
        ancestor = proc
        while ancestor not in (pid, 0, 1) and ancestor in parent:
            ancestor = parent[ancestor]
        if ancestor == pid:
            total += seconds
    return total


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0-1) of ``values``: the nearest observed value, not interpolated."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]
