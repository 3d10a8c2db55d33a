"""A webhook receiver on a free 127.0.0.1 port that checks every signature with the `standardwebhooks`
package (not our code), answers as a test scripts it, and records what it accepted."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

# Given the request's number (from 1), the status to answer.
Script = Callable[[int], int]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(self.body)
        return document


@dataclass
class Receiver:
    port: int = field(default_factory=free_port)
    script: Script = lambda _n: 200
    delay_seconds: float = 0.0
    secrets: list[str] = field(default_factory=list)
    requests: int = 0
    accepted: list[Received] = field(default_factory=list)
    unverified: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def verifies(self, received: Received) -> bool:
        for secret in self.secrets:
            try:
                Webhook(secret).verify(received.body, received.headers)
            except WebhookVerificationError:
                continue
            return True
        return False

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                received = Received({k.lower(): v for k, v in self.headers.items()}, body)
                with receiver.lock:
                    receiver.requests += 1
                    number = receiver.requests
                if receiver.delay_seconds:
                    time.sleep(receiver.delay_seconds)
                status = receiver.script(number)
                if not receiver.verifies(received):
                    status = 400
                    with receiver.lock:
                        receiver.unverified += 1
                elif 200 <= status < 300:
                    with receiver.lock:
                        receiver.accepted.append(received)
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self._server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def accepted_ids(self) -> set[str]:
        with self.lock:
            return {r.headers["webhook-id"] for r in self.accepted}

    def accepted_events(self) -> list[dict[str, Any]]:
        with self.lock:
            return [r.event for r in self.accepted]
