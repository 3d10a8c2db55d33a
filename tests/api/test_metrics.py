"""Prometheus metrics after a paid signup and a declined one, through a real worker and the sandbox gateway:
the API's `/metrics`, and the worker's endpoint as `workers.main` serves it (subscriptions by status read
from the database)."""

from __future__ import annotations

import uuid

import httpx
import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine

from infra.metrics import serve_metrics
from tests.api.metrics_support import Key, label_values, moved, samples, value
from tests.api.support import create_product, register_devices, subscribe, user
from workers.subscription_gauge import subscriptions_gauge

pytestmark = pytest.mark.usefixtures("worker")

RESOURCE = "cloud_video_storage"


async def _scrape(http: httpx.AsyncClient) -> dict[Key, float]:
    response = await http.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return samples(response.text)


async def test_a_signup_and_a_decline_move_the_counters_without_ids_in_labels(
    http: httpx.AsyncClient,
) -> None:
    before = await _scrape(http)
    product_id = await create_product(http)
    paid_devices = await register_devices(http, "alice", 2)
    declined_devices = await register_devices(http, "bob", 1)

    paid = await subscribe(http, "alice", product_id, paid_devices)
    declined = await subscribe(http, "bob", product_id, declined_devices, token="sandbox_hard_decline")
    assert paid.status_code == 201, paid.text
    assert declined.status_code == 402, declined.text
    contract_id = paid.json()["id"]
    assert (await http.get(f"/v1/subscriptions/{contract_id}", headers=user("alice"))).status_code == 200
    stray = f"/v1/no-such-thing/{uuid.uuid4()}"
    assert (await http.get(stray)).status_code == 404
    after = await _scrape(http)

    charges = "iot_billing_charges_total"
    assert moved(before, after, charges, outcome="paid", resource_type=RESOURCE) == 1
    assert moved(before, after, charges, outcome="hard_decline", resource_type=RESOURCE) == 1
    assert moved(before, after, charges, outcome="soft_decline", resource_type=RESOURCE) == 0
    assert moved(before, after, "iot_billing_charge_seconds_count", outcome="paid") == 1
    assert moved(before, after, "iot_billing_entitlements_opened_total", resource_type=RESOURCE) == 2
    requests = "iot_billing_http_requests_total"
    assert moved(before, after, requests, method="POST", route="/v1/subscriptions", status="201") == 1
    assert moved(before, after, requests, method="POST", route="/v1/subscriptions", status="402") == 1
    # The route template, never the path with the contract's id in it.
    detail = "/v1/subscriptions/{subscription_id}"
    assert moved(before, after, requests, method="GET", route=detail, status="200") == 1
    assert moved(before, after, "iot_billing_http_request_seconds_count", method="GET", route=detail) == 1
    assert moved(before, after, requests, method="GET", route="unmatched", status="404") == 1

    ids = {
        stray.rsplit("/", 1)[1],
        contract_id,
        declined.json()["subscription_id"],
        "alice",
        "bob",
        *paid_devices,
        *declined_devices,
    }
    leaked = [v for v in label_values(after) if any(i in v for i in ids)]
    assert leaked == []


async def test_the_worker_endpoint_counts_subscriptions_by_status_from_the_database(
    http: httpx.AsyncClient, engine: Engine
) -> None:
    product_id = await create_product(http)
    paid = await subscribe(http, "alice", product_id, await register_devices(http, "alice", 1))
    assert paid.status_code == 201, paid.text
    now = [0.0]
    registry = CollectorRegistry()
    registry.register(subscriptions_gauge(engine, clock=lambda: now[0]))
    server = serve_metrics(0, host="127.0.0.1", registry=registry)
    assert server is not None

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.server_port}") as scraper:
        first = samples((await scraper.get("/metrics")).text)
        declined = await subscribe(
            http, "bob", product_id, await register_devices(http, "bob", 1), token="sandbox_hard_decline"
        )
        assert declined.status_code == 402, declined.text
        now[0] = 29.0
        cached = samples((await scraper.get("/metrics")).text)
        now[0] = 30.0
        refreshed = samples((await scraper.get("/metrics")).text)
    server.shutdown()
    server.server_close()

    gauge = "iot_billing_subscriptions"
    assert value(first, gauge, status="active") == 1
    assert sum(first.values()) == 1
    # Every status is reported, at 0 when none has it, so a panel never loses a line.
    assert (
        value(first, gauge, status="canceled") == 0 and (gauge, frozenset({("status", "canceled")})) in first
    )
    assert cached == first
    # The declined contract is counted once the reading is 30 s old (as signing or already failed).
    assert sum(refreshed.values()) == 2
    assert value(refreshed, gauge, status="active") == 1
