"""Every process of `iot-billing up` serves `/metrics` where the banner says, and a paid signup and a
declined one move the counters of the process that did the work: the API's requests, the worker's charges
and subscriptions, the Temporal SDK's task counts, the dispatcher's deliveries, the gateway's requests."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from devstack.demo import DEMO_USER
from tests.api.metrics_support import Key, moved, samples
from tests.e2e.stack import ADMIN_TOKEN, RunningStack, eventually, register_devices, subscribe

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]


def test_each_process_serves_metrics_and_a_signup_and_a_decline_move_them(stack: RunningStack) -> None:
    stack.start_ready()
    ports = stack.ports
    urls = {
        "api": f"{stack.api_url}/metrics",
        "worker": f"http://127.0.0.1:{ports.worker_metrics}/metrics",
        "temporal sdk": f"http://127.0.0.1:{ports.worker_sdk_metrics}/metrics",
        "dispatcher": f"http://127.0.0.1:{ports.dispatcher_metrics}/metrics",
        "gateway": f"http://127.0.0.1:{ports.gateway}/metrics",
    }
    for name, url in urls.items():
        assert f"{name}: {url}" in stack.output, stack.output

    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    user = {"Authorization": f"Bearer {stack.printed(f'User JWT ({DEMO_USER})')}"}
    with receiver() as hook_url, httpx.Client(base_url=stack.api_url, timeout=30) as http:
        hooked = http.post(
            "/v1/webhook-endpoints", headers=admin, json={"url": hook_url, "event_types": ["*"]}
        )
        assert hooked.status_code == 201, hooked.text
        before = {name: scrape(url) for name, url in urls.items()}
        product_id = http.get("/v1/products", headers=admin).json()[0]["id"]
        outcomes = []
        for token in ("sandbox_ok", "sandbox_hard_decline"):
            signup = subscribe(http, user, product_id, register_devices(http, 1), token)
            outcomes.append(signup.status_code)
        assert outcomes == [201, 402]

        def after() -> dict[str, dict[Key, float]] | None:
            now = {name: scrape(url) for name, url in urls.items()}
            delivered = moved(
                before["dispatcher"],
                now["dispatcher"],
                "iot_billing_webhook_deliveries_total",
                outcome="delivered",
                event_type="subscription.activated",
            )
            return now if delivered >= 1 else None

        now = eventually(after, what="a delivery counted by the dispatcher")

    charges = "iot_billing_charges_total"
    worker_before, worker_now = before["worker"], now["worker"]
    resource = "cloud_video_storage"
    assert moved(worker_before, worker_now, charges, outcome="paid", resource_type=resource) == 1
    assert moved(worker_before, worker_now, charges, outcome="hard_decline", resource_type=resource) == 1
    # Read from the database at most every 30 s (tests/api/test_metrics.py shows it refreshed).
    assert ("iot_billing_subscriptions", frozenset({("status", "active")})) in worker_now
    requests = "iot_billing_http_requests_total"
    signups = {"method": "POST", "route": "/v1/subscriptions"}
    assert moved(before["api"], now["api"], requests, **signups, status="201") == 1
    assert moved(before["api"], now["api"], requests, **signups, status="402") == 1
    charged = {"method": "POST", "route": "/v1/charges", "status": "200"}
    assert moved(before["gateway"], now["gateway"], requests, **charged) == 2
    activities = "temporal_activity_execution_latency_count"
    assert _total(now["temporal sdk"], activities) > _total(before["temporal sdk"], activities)
    lag = "iot_billing_outbox_lag_seconds"
    assert {dict(labels)["stage"] for name, labels in now["dispatcher"] if name == lag} == {
        "planning",
        "delivery",
    }


def scrape(url: str) -> dict[Key, float]:
    answer = httpx.get(url, timeout=10)
    assert answer.status_code == 200, f"{url}: {answer.status_code}"
    return samples(answer.text)


def _total(reading: dict[Key, float], name: str) -> float:
    return sum(v for (sample, _labels), v in reading.items() if sample == name)


@contextmanager
def receiver() -> Iterator[str]:
    """A webhook receiver that takes everything (signatures are the webhook tests' business)."""

    class Accept(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", 0)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Accept)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/hooks"
    finally:
        server.shutdown()
        server.server_close()
