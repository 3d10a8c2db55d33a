"""Idle connections outlive our clients' expiry on the server side, so a client never sends a request on a
connection the server is closing at that moment (which fails it with no response at all)."""

from __future__ import annotations

import socket
import time
from typing import Any

import yaml

from devstack.commands import api
from devstack.config import StackSettings
from infra.keep_alive import CLIENT_KEEP_ALIVE_S, SERVER_KEEP_ALIVE_S
from tests.fixtures.sandbox import REPO_ROOT, SandboxGateway

UVICORN_DEFAULT_KEEP_ALIVE_S = 5


def _healthz(sock: socket.socket) -> bytes:
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: sandbox\r\n\r\n")
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = sock.recv(4096)
        if not chunk:
            return received
        received += chunk
    head, body = received.split(b"\r\n\r\n", 1)
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += sock.recv(4096)
    return head.split(b"\r\n", 1)[0]


def test_the_sandbox_keeps_an_idle_connection_past_uvicorns_default(sandbox_gateway: SandboxGateway) -> None:
    with socket.create_connection(("127.0.0.1", sandbox_gateway.port), timeout=5) as sock:
        assert _healthz(sock) == b"HTTP/1.1 200 OK"
        time.sleep(UVICORN_DEFAULT_KEEP_ALIVE_S + 1)
        assert _healthz(sock) == b"HTTP/1.1 200 OK"


def test_the_api_keeps_idle_connections_longer_than_clients_do() -> None:
    command = api(StackSettings())
    assert command[command.index("--timeout-keep-alive") + 1] == str(SERVER_KEEP_ALIVE_S)
    assert CLIENT_KEEP_ALIVE_S < SERVER_KEEP_ALIVE_S
    compose: dict[str, Any] = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
    compose_api = compose["services"]["api"]["command"]
    assert compose_api[compose_api.index("--timeout-keep-alive") + 1] == str(SERVER_KEEP_ALIVE_S)
