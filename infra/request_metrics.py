"""HTTP request counts and latencies for Prometheus, by route template (`/v1/subscriptions/{contract_id}`,
never the raw path, whose ids would make a series per customer), method and status; and the `/metrics`
route that serves them. For the API and the sandbox gateway alike."""

from __future__ import annotations

import time

from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from infra.metrics import PREFIX, exposing_process

# Requests no route matched (scanners, typos): one series for all of them.
UNMATCHED = "unmatched"

HTTP_REQUESTS = Counter(
    f"{PREFIX}_http_requests",
    "HTTP requests answered, by method, route template and status code.",
    ["method", "route", "status"],
)
HTTP_REQUEST_SECONDS = Histogram(
    f"{PREFIX}_http_request_seconds",
    "Time from a request's arrival to its response's start, by method and route template.",
    ["method", "route"],
)


class RequestMetricsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status: int | None = None

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                # The time to the response's start: a streamed body's length says nothing of the server.
                HTTP_REQUEST_SECONDS.labels(scope["method"], _route(scope)).observe(
                    time.perf_counter() - started
                )
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            if status is None:
                # The app raised before answering; the server answers 500.
                HTTP_REQUEST_SECONDS.labels(scope["method"], _route(scope)).observe(
                    time.perf_counter() - started
                )
            HTTP_REQUESTS.labels(scope["method"], _route(scope), str(status or 500)).inc()


def _route(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED


def add_metrics_route(app: FastAPI) -> None:
    """`GET /metrics` on the app's own port, outside the OpenAPI document."""
    exposing_process()

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
