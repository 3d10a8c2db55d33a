"""`python -m bench.receiver --port N`: the webhook receiver the events phase posts to, in its own process
so neither sender shares its interpreter. It answers every POST 200 at once and notes, per path, each
`webhook-id` and when it arrived; `GET /received?path=/x` answers those notes as JSON."""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from urllib.parse import parse_qs, urlsplit

_OK = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"


class Notes:
    def __init__(self) -> None:
        self.by_path: dict[str, list[tuple[str, float]]] = {}

    def add(self, path: str, webhook_id: str) -> None:
        self.by_path.setdefault(path, []).append((webhook_id, time.time()))

    def answer(self, path: str) -> bytes:
        body = json.dumps(self.by_path.get(path, [])).encode()
        head = f"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
        return head.encode() + body


async def _serve_connection(notes: Notes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line, *lines = head[:-4].decode("latin-1").split("\r\n")
            method, target, _ = request_line.split(" ", 2)
            headers = {}
            for line in lines:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0"))
            if length:
                await reader.readexactly(length)
            url = urlsplit(target)
            if method == "GET" and url.path == "/received":
                writer.write(notes.answer(parse_qs(url.query).get("path", [""])[0]))
            else:
                notes.add(url.path, headers.get("webhook-id", ""))
                writer.write(_OK)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main(port: int) -> None:
    notes = Notes()
    server = await asyncio.start_server(
        lambda r, w: _serve_connection(notes, r, w), "127.0.0.1", port, backlog=256
    )
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    asyncio.run(main(parser.parse_args().port))
