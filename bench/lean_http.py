"""A lean HTTP/1.1 client for the bench's load: keep-alive connections to one server, JSON bodies out,
whole responses in.

The bench drives the system from the same cores it measures, so driving the engine's signups should cost it
no more than starting the baseline's workflows does; httpx's machinery (its pool, sniffing the async
library, stream wrappers) costs several times that (docs/benchmarks.md). It speaks only what our API
answers: responses framed by Content-Length."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from infra.keep_alive import CLIENT_KEEP_ALIVE_S


class LeanHttpError(Exception):
    pass


@dataclass(frozen=True)
class LeanResponse:
    status: int
    body: bytes

    def json(self) -> object:
        return json.loads(self.body)


@dataclass
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    idle_since: float = 0.0


class LeanHttp:
    def __init__(self, base_url: str, *, timeout_s: float = 60.0) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or parts.hostname is None or parts.path not in ("", "/"):
            raise ValueError(f"a plain http://host:port base URL is needed, not {base_url!r}")
        self._host = parts.hostname
        self._port = parts.port or 80
        self._host_header = parts.netloc.encode()
        self._timeout_s = timeout_s
        self._idle: list[_Connection] = []

    async def post_json(self, path: str, body: object, headers: dict[str, str]) -> LeanResponse:
        payload = json.dumps(body, separators=(",", ":")).encode()
        head = [
            f"POST {path} HTTP/1.1".encode(),
            b"Host: " + self._host_header,
            b"Content-Type: application/json",
            b"Content-Length: " + str(len(payload)).encode(),
            *(f"{name}: {value}".encode() for name, value in headers.items()),
        ]
        connection = await self._acquire()
        try:
            async with asyncio.timeout(self._timeout_s):
                response, keep = await _exchange(connection, b"\r\n".join(head) + b"\r\n\r\n" + payload)
        except (ConnectionError, asyncio.IncompleteReadError) as error:
            connection.writer.close()
            raise LeanHttpError(f"POST {path}: {error!r}") from error
        except BaseException:
            connection.writer.close()
            raise
        if keep:
            connection.idle_since = time.monotonic()
            self._idle.append(connection)
        else:
            connection.writer.close()
        return response

    async def close(self) -> None:
        while self._idle:
            self._idle.pop().writer.close()

    async def _acquire(self) -> _Connection:
        # Given up before the server gives it up (infra.keep_alive), so no request goes out on a connection
        # the server is closing.
        fresh_since = time.monotonic() - CLIENT_KEEP_ALIVE_S
        while self._idle:
            connection = self._idle.pop()
            if connection.idle_since > fresh_since and not connection.reader.at_eof():
                return connection
            connection.writer.close()
        reader, writer = await asyncio.open_connection(self._host, self._port)
        return _Connection(reader, writer)


async def _exchange(connection: _Connection, request: bytes) -> tuple[LeanResponse, bool]:
    connection.writer.write(request)
    await connection.writer.drain()
    head = await connection.reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head[:-4].split(b"\r\n")
    version, status, *_ = status_line.split(b" ", 2)
    headers: dict[bytes, bytes] = {}
    for line in header_lines:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    if b"content-length" not in headers:
        raise LeanHttpError(f"a response without Content-Length: {status_line!r}")
    body = await connection.reader.readexactly(int(headers[b"content-length"]))
    keep = version == b"HTTP/1.1" and headers.get(b"connection", b"").lower() != b"close"
    return LeanResponse(status=int(status), body=body), keep
