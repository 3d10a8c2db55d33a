"""`iot-billing listen`: a temporary webhook endpoint on this machine that prints each event as one line
and, with --forward-to, passes it on (still signed) to a local app; the endpoint is deleted on exit."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from webhooks.signing import verify

FORWARDED_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature", "content-type")
SUMMARY_FIELDS = 4


def describe(event: dict[str, Any]) -> str:
    """One readable line: time, type, subscription or voucher, sequence, a few scalar fields of `data`."""
    subject = ""
    if event.get("subscription_id"):
        subject = f"sub {str(event['subscription_id'])[:8]}"
    elif event.get("voucher_id"):
        subject = f"voucher {str(event['voucher_id'])[:8]}"
    sequence = f"#{event['sequence']}" if event.get("sequence") is not None else ""
    data = event.get("data") or {}
    scalars = [f"{k}={v}" for k, v in data.items() if isinstance(v, str | int | float | bool)]
    summary = " ".join(scalars[:SUMMARY_FIELDS])
    parts = [
        str(event.get("created_at", ""))[:19],
        f"{event.get('type', '?'):<32}",
        f"{subject:<14}",
        f"{sequence:<5}",
    ]
    return "  ".join(parts) + ("  " + summary if summary else "")


@dataclass
class Listener:
    """The local receiver. `secret` is set once the endpoint is registered; until then nothing verifies."""

    echo: Callable[[str], None]
    forward_to: str | None = None
    secret: str | None = None
    seen: set[str] = field(default_factory=set)
    _server: ThreadingHTTPServer | None = None

    def start(self) -> str:
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                status = listener.receive(headers, body)
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self._server.server_address[1]}/"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def receive(self, headers: dict[str, str], body: bytes) -> int:
        if self.secret is None or not verify(self.secret, headers, body):
            self.echo("! a delivery with a signature that does not verify was refused")
            return 400
        event: dict[str, Any] = json.loads(body)
        again = " (again)" if event.get("id") in self.seen else ""
        self.seen.add(str(event.get("id")))
        self.echo(describe(event) + again)
        if self.forward_to:
            self._forward(headers, body)
        return 200

    def _forward(self, headers: dict[str, str], body: bytes) -> None:
        # The original signature stays valid: the local app verifies with the secret printed at start.
        passed = {name: headers[name] for name in FORWARDED_HEADERS if name in headers}
        try:
            answer = httpx.post(self.forward_to or "", content=body, headers=passed, timeout=10)
            self.echo(f"  -> {self.forward_to} [{answer.status_code}]")
        except httpx.HTTPError as error:
            self.echo(f"  -> {self.forward_to} failed: {type(error).__name__}: {error}")


@dataclass(frozen=True)
class TemporaryEndpoint:
    id: str
    secret: str


def register(api: httpx.Client, *, url: str, event_types: list[str]) -> TemporaryEndpoint:
    try:
        answer = api.post(
            "/v1/webhook-endpoints",
            json={"url": url, "event_types": event_types, "description": "iot-billing listen (temporary)"},
        )
    except httpx.HTTPError as error:
        raise RuntimeError(f"the API at {api.base_url} cannot be reached: {error}") from None
    if answer.status_code != 201:
        try:
            detail = answer.json().get("detail", answer.text)
        except ValueError:
            detail = answer.text
        raise RuntimeError(f"the API refused the temporary endpoint ({answer.status_code}): {detail}")
    body = answer.json()
    return TemporaryEndpoint(id=body["id"], secret=body["secret"])


def run_listen(
    *,
    api_url: str,
    admin_token: str,
    event_types: list[str],
    forward_to: str | None,
    stop: threading.Event,
    echo: Callable[[str], None],
) -> None:
    """Register, print until `stop` is set, then delete the temporary endpoint."""
    listener = Listener(echo=echo, forward_to=forward_to)
    url = listener.start()
    headers = {"Authorization": f"Bearer {admin_token}"}
    try:
        with httpx.Client(base_url=api_url, headers=headers, timeout=10) as api:
            endpoint = register(api, url=url, event_types=event_types)
            listener.secret = endpoint.secret
            echo(f"Ready. Listening on {url} for {', '.join(event_types)} (endpoint {endpoint.id})")
            echo(f"Webhook signing secret: {endpoint.secret}")
            try:
                stop.wait()
            finally:
                api.delete(f"/v1/webhook-endpoints/{endpoint.id}")
                echo("temporary endpoint deleted")
    finally:
        listener.stop()
