"""With `OTEL_EXPORTER_OTLP_ENDPOINT` set, `iot-billing up`'s processes send their spans over OTLP/HTTP: a
signup's trace reaches the collector from the API, the worker and the sandbox gateway under one trace id."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from devstack.demo import DEMO_USER
from tests.e2e.stack import ADMIN_TOKEN, RunningStack, eventually, register_devices, subscribe

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]

# Spans received, by service name then trace id (hex) -> span names.
Received = dict[str, dict[str, list[str]]]


def test_a_signup_is_exported_as_one_trace_from_every_process_it_crosses(
    stack: RunningStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    with collector() as (endpoint, snapshot):
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
        stack.start_ready()
        user = {"Authorization": f"Bearer {stack.printed(f'User JWT ({DEMO_USER})')}"}
        with httpx.Client(base_url=stack.api_url, timeout=30) as http:
            admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
            product_id = http.get("/v1/products", headers=admin).json()[0]["id"]
            signup = subscribe(http, user, product_id, register_devices(http, 1), "sandbox_ok")
        assert signup.status_code == 201, signup.text

        def signup_trace() -> str | None:
            received = snapshot()
            api = received.get("iot-billing-api", {})
            traces = [t for t, names in api.items() if "POST /v1/subscriptions" in names]
            for trace_id in traces:
                crossed = {service for service, by_trace in received.items() if trace_id in by_trace}
                if {"iot-billing-worker", "iot-billing-gateway-sandbox"} <= crossed:
                    return trace_id
            return None

        trace_id = eventually(signup_trace, what="the signup's trace from the API, worker and gateway")
        received = snapshot()

    worker_spans = received["iot-billing-worker"][trace_id]
    assert "RunActivity:sign_and_settle_first" in worker_spans
    assert "POST /v1/charges" in received["iot-billing-gateway-sandbox"][trace_id]


@contextmanager
def collector() -> Iterator[tuple[str, Callable[[], Received]]]:
    """An OTLP/HTTP trace receiver (protobuf bodies, as the exporter sends them), and a copy of what it
    received so far."""
    received: Received = defaultdict(lambda: defaultdict(list))
    lock = threading.Lock()

    class Receive(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            request = ExportTraceServiceRequest.FromString(body)
            with lock:
                for resource_spans in request.resource_spans:
                    service = next(
                        (
                            a.value.string_value
                            for a in resource_spans.resource.attributes
                            if a.key == "service.name"
                        ),
                        "",
                    )
                    for scope_spans in resource_spans.scope_spans:
                        for span in scope_spans.spans:
                            received[service][span.trace_id.hex()].append(span.name)
            self.send_response(200)
            self.send_header("content-type", "application/x-protobuf")
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            pass

    def snapshot() -> Received:
        with lock:
            return {service: {t: list(n) for t, n in traces.items()} for service, traces in received.items()}

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receive)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", snapshot
    finally:
        server.shutdown()
        server.server_close()
