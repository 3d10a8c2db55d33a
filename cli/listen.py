"""`iot-billing listen`: print each event as one line and, with --forward-to, pass it on signed to a local
app. Either through a temporary webhook endpoint on this machine (deleted on exit), or, with --feed, by
following `GET /v1/events` with its cursor, which needs no address the API can reach."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from webhooks.secrets import new_secret
from webhooks.signing import signed_headers, verify

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
    shown = [f"{k}={text}" for k, v in data.items() if (text := _short(v)) is not None]
    summary = " ".join(shown[:SUMMARY_FIELDS])
    parts = [
        str(event.get("created_at", ""))[:19],
        f"{event.get('type', '?'):<32}",
        f"{subject:<14}",
        f"{sequence:<5}",
    ]
    return "  ".join(parts) + ("  " + summary if summary else "")


def _short(value: object) -> str | None:
    """A value as a few characters: scalars as they are, money as `3000 CNY`, a period by its index;
    None for anything longer (lists, other objects)."""
    if isinstance(value, str | int | float | bool):
        return str(value)
    if isinstance(value, dict):
        if {"amount_minor", "currency"} <= value.keys():
            return f"{value['amount_minor']} {value['currency']}"
        if "index" in value:
            return str(value["index"])
    return None


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
        raise RuntimeError(f"the API refused the temporary endpoint {_refused(answer)}")
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


def _refused(answer: httpx.Response) -> str:
    try:
        detail = answer.json().get("detail", answer.text)
    except ValueError:
        detail = answer.text
    return f"({answer.status_code}): {detail}"


@dataclass
class FeedFollower:
    """Follows the feed. The cursor moves on only past a full page; a partial page is read again on the
    next poll, and the ids already printed since the cursor last moved are skipped. `since` bounds the
    first read (events created from then on)."""

    api: httpx.Client
    event_types: list[str]
    since: str | None
    cursor: str | None = None
    seen: set[str] = field(default_factory=set)

    def poll(self) -> list[dict[str, Any]]:
        """The events not returned before, oldest first; every full page up to the feed's end."""
        fresh: list[dict[str, Any]] = []
        while True:
            params = httpx.QueryParams({"type": [t for t in self.event_types if t != "*"], "limit": 100})
            if self.cursor is not None:
                params = params.set("cursor", self.cursor)
            elif self.since is not None:
                params = params.set("since", self.since)
            try:
                answer = self.api.get("/v1/events", params=params)
            except httpx.HTTPError as error:
                raise RuntimeError(f"the API at {self.api.base_url} cannot be reached: {error}") from None
            if answer.status_code != 200:
                raise RuntimeError(f"the API refused the feed {_refused(answer)}")
            page = answer.json()
            fresh += [event for event in page["data"] if event["id"] not in self.seen]
            self.seen.update(event["id"] for event in page["data"])
            if page["next_cursor"] is None:
                return fresh
            self.cursor, self.seen = page["next_cursor"], set()


def forward_signed(local: httpx.Client, forward_to: str, secret: str, event: dict[str, Any]) -> str:
    """POST the event to a local app signed with `secret` as a webhook would be; one line saying how."""
    body = json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()
    headers = signed_headers([secret], message_id=event["id"], timestamp=int(time.time()), body=body)
    try:
        answer = local.post(forward_to, content=body, headers=headers)
    except httpx.HTTPError as error:
        return f"  -> {forward_to} failed: {type(error).__name__}: {error}"
    return f"  -> {forward_to} [{answer.status_code}]"


def follow_feed(
    *,
    api_url: str,
    admin_token: str,
    event_types: list[str],
    forward_to: str | None,
    since: str | None,
    poll_seconds: float,
    stop: threading.Event,
    echo: Callable[[str], None],
) -> None:
    """Print the feed's events from `since` until `stop` is set, forwarding each signed with a secret made
    for this run (printed, for the local app to verify with)."""
    secret = new_secret()
    headers = {"Authorization": f"Bearer {admin_token}"}
    with (
        httpx.Client(base_url=api_url, headers=headers, timeout=10) as api,
        httpx.Client(timeout=10, follow_redirects=False) as local,
    ):
        follower = FeedFollower(api=api, event_types=event_types, since=since)
        echo(f"Ready. Following {api_url}/v1/events for {', '.join(event_types)}")
        if forward_to:
            echo(f"Webhook signing secret: {secret}")
        while True:
            for event in follower.poll():
                echo(describe(event))
                if forward_to:
                    echo(forward_signed(local, forward_to, secret, event))
            if stop.wait(poll_seconds):
                return
