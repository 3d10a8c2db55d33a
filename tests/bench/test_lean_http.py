"""The bench's lean HTTP client against a small server that answers as our API does (HTTP/1.1,
Content-Length), or deliberately does not."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest

from bench import lean_http
from bench.lean_http import LeanHttp, LeanHttpError

Answer = Callable[[bytes], bytes]


def json_answer(status: str, body: bytes, *extra: bytes) -> bytes:
    head = [b"HTTP/1.1 " + status.encode(), b"content-type: application/json", *extra]
    head.append(b"content-length: " + str(len(body)).encode())
    return b"\r\n".join(head) + b"\r\n\r\n" + body


@dataclass
class Server:
    answer: Answer
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)
    port: int = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                )
                request = head + await reader.readexactly(length)
                self.requests.append(request)
                writer.write(self.answer(request))
                await writer.drain()
        except asyncio.IncompleteReadError:
            pass
        finally:
            writer.close()


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    state = Server(answer=lambda _request: json_answer("201 Created", b'{"id":"s1"}'))
    listening = await asyncio.start_server(state.handle, "127.0.0.1", 0)
    state.port = listening.sockets[0].getsockname()[1]
    async with listening:
        yield state


async def test_posts_json_and_reads_the_answer(server: Server) -> None:
    client = LeanHttp(f"http://127.0.0.1:{server.port}")

    response = await client.post_json("/v1/subscriptions", {"a": [1, "b"]}, {"Idempotency-Key": "k1"})

    assert response.status == 201 and response.json() == {"id": "s1"}
    request = server.requests[0]
    assert request.startswith(b"POST /v1/subscriptions HTTP/1.1\r\n")
    assert b"\r\nIdempotency-Key: k1\r\n" in request
    assert b"\r\nHost: 127.0.0.1:" in request
    assert request.endswith(b'\r\n\r\n{"a":[1,"b"]}')
    await client.close()


async def test_keeps_connections_alive_and_opens_one_per_request_in_flight(server: Server) -> None:
    client = LeanHttp(f"http://127.0.0.1:{server.port}")

    for _ in range(5):
        await client.post_json("/x", {}, {})
    assert server.connections == 1
    await asyncio.gather(*(client.post_json("/x", {}, {}) for _ in range(3)))
    assert server.connections == 3
    await client.close()


async def test_a_connection_the_server_closes_is_not_reused(server: Server) -> None:
    server.answer = lambda _request: json_answer("200 OK", b"{}", b"connection: close")
    client = LeanHttp(f"http://127.0.0.1:{server.port}")

    await client.post_json("/x", {}, {})
    await client.post_json("/x", {}, {})

    assert server.connections == 2
    await client.close()


async def test_a_connection_idle_past_the_clients_expiry_is_not_reused(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = LeanHttp(f"http://127.0.0.1:{server.port}")
    await client.post_json("/x", {}, {})
    monkeypatch.setattr(lean_http, "CLIENT_KEEP_ALIVE_S", 0.0)

    await client.post_json("/x", {}, {})

    assert server.connections == 2
    await client.close()


async def test_a_response_without_content_length_is_refused(server: Server) -> None:
    server.answer = lambda _request: b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n"
    client = LeanHttp(f"http://127.0.0.1:{server.port}")

    with pytest.raises(LeanHttpError, match="without Content-Length"):
        await client.post_json("/x", {}, {})
    await client.close()


async def test_a_server_that_hangs_up_mid_answer_is_an_error() -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n{}")
        await writer.drain()
        writer.close()

    listening = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    async with listening:
        client = LeanHttp(f"http://127.0.0.1:{listening.sockets[0].getsockname()[1]}", timeout_s=5)
        with pytest.raises(LeanHttpError, match="POST /x"):
            await client.post_json("/x", {}, {})
        await client.close()


def test_only_a_plain_http_base_url_is_taken() -> None:
    for url in ("https://api.example:443", "http://127.0.0.1:8000/prefix"):
        with pytest.raises(ValueError, match="plain http"):
            LeanHttp(url)
