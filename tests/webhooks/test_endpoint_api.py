"""The endpoint API: secrets shown once, precise refusals with nothing written, rotation, redeliver."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from sqlalchemy import Engine

from api.app import create_app
from infra.db import SessionFactory
from infra.settings import Settings
from models.event_types import EVENT_TYPES
from tests.api.support import admin, api_client, assert_problem
from tests.support.events import insert_event
from tests.webhooks.conftest import webhook_settings
from tests.webhooks.receiver import Receiver
from tests.webhooks.support import register, webhook_rows


@pytest.fixture
async def strict_http(settings: Settings, engine: Engine) -> httpx.AsyncClient:
    strict = webhook_settings(settings.database_url, webhook_allow_private=False)
    async with api_client(create_app(strict, engine=engine)) as client:
        yield client  # type: ignore[misc]


async def test_create_shows_secret_once(http: httpx.AsyncClient, receivers: Callable[..., Receiver]) -> None:
    created = await register(http, receivers(), event_types=["subscription.renewed", "voucher.claimed"])
    assert created["secret"].startswith("whsec_")
    assert created["event_types"] == ["subscription.renewed", "voucher.claimed"]
    shown = await http.get(f"/v1/webhook-endpoints/{created['id']}", headers=admin())
    listed = await http.get("/v1/webhook-endpoints", headers=admin())
    assert shown.status_code == 200 and "secret" not in shown.json()
    assert [e["id"] for e in listed.json()] == [created["id"]] and "secret" not in listed.json()[0]


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("ftp://example.com/hooks", "unsupported_scheme"),
        ("https://user:pw@example.com/hooks", "credentials_in_url"),
        ("http://[::1", "malformed_url"),
        ("http:///nohost", "malformed_url"),
        ("http://127.0.0.1:8000/hooks", "private_address"),
        ("http://localhost/hooks", "private_address"),
        ("http://10.1.2.3/hooks", "private_address"),
        ("http://192.168.0.10/hooks", "private_address"),
        ("http://169.254.169.254/latest/meta-data", "private_address"),
        ("http://0.0.0.0/hooks", "private_address"),
        ("http://[::ffff:127.0.0.1]/hooks", "private_address"),
        ("http://224.0.0.1/hooks", "private_address"),
    ],
)
async def test_refused_urls_write_nothing(
    strict_http: httpx.AsyncClient, sessions: SessionFactory, url: str, code: str
) -> None:
    before = webhook_rows(sessions)
    response = await strict_http.post(
        "/v1/webhook-endpoints", json={"url": url, "event_types": ["*"]}, headers=admin()
    )
    body = assert_problem(response, 422, "invalid-webhook-url", field="url")
    assert body["code"] == code, body
    assert webhook_rows(sessions) == before


async def test_unknown_event_types_are_named(http: httpx.AsyncClient, sessions: SessionFactory) -> None:
    response = await http.post(
        "/v1/webhook-endpoints",
        json={"url": "http://127.0.0.1:9/x", "event_types": ["subscription.renewed", "invoice.paid", "x"]},
        headers=admin(),
    )
    body = assert_problem(response, 422, "unknown-event-type", field="event_types")
    assert body["unknown_event_types"] == ["invoice.paid", "x"]
    assert "invoice.paid" in body["detail"]
    assert webhook_rows(sessions)["WebhookEndpoint"] == 0


async def test_oversized_description_refused(http: httpx.AsyncClient, sessions: SessionFactory) -> None:
    response = await http.post(
        "/v1/webhook-endpoints",
        json={"url": "http://127.0.0.1:9/x", "event_types": ["*"], "description": "d" * 501},
        headers=admin(),
    )
    assert_problem(response, 422, "invalid-webhook-endpoint", field="description")
    assert webhook_rows(sessions)["WebhookEndpoint"] == 0


async def test_patch_refuses_bad_input_and_changes_nothing(
    http: httpx.AsyncClient, receivers: Callable[..., Receiver]
) -> None:
    created = await register(http, receivers())
    path = f"/v1/webhook-endpoints/{created['id']}"
    refused = await http.patch(path, json={"url": "gopher://x", "event_types": ["nope"]}, headers=admin())
    assert_problem(refused, 422, "invalid-webhook-url", field="url")
    changed = await http.patch(
        path, json={"event_types": list(EVENT_TYPES[:2]), "enabled": False}, headers=admin()
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["event_types"] == list(EVENT_TYPES[:2]) and changed.json()["enabled"] is False
    assert changed.json()["url"] == created["url"]


async def test_admin_only(http: httpx.AsyncClient) -> None:
    response = await http.get("/v1/webhook-endpoints")
    assert_problem(response, 401, "authentication-required")


async def test_rotate_delete_and_unknown_ids(
    http: httpx.AsyncClient, receivers: Callable[..., Receiver]
) -> None:
    created = await register(http, receivers())
    path = f"/v1/webhook-endpoints/{created['id']}"
    rotated = await http.post(path + "/rotate-secret", headers=admin())
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["secret"] != created["secret"] and rotated.json()["previous_secret_expires_at"]
    assert (await http.delete(path, headers=admin())).status_code == 204
    assert_problem(await http.get(path, headers=admin()), 404, "webhook-endpoint-not-found")
    assert_problem(await http.delete(path, headers=admin()), 404, "webhook-endpoint-not-found")


async def test_redeliver_unknown_event_is_404(http: httpx.AsyncClient, sessions: SessionFactory) -> None:
    assert_problem(await http.post("/v1/events/evt_nope/redeliver", headers=admin()), 404, "event-not-found")
    event_id = insert_event(sessions, type="voucher.claimed")
    answer = await http.post(f"/v1/events/{event_id}/redeliver", headers=admin())
    assert answer.status_code == 202 and answer.json()["deliveries_scheduled"] == 0


@pytest.mark.parametrize(
    "body",
    [
        {"url": "http://127.0.0.1:9/\u0000", "event_types": ["*"]},
        {"url": "http://127.0.0.1:9/", "event_types": ["voucher.claimed\u0000"]},
        {"url": "http://127.0.0.1:9/", "event_types": ["*"], "description": "a\u0000b"},
    ],
)
async def test_nul_bytes_refused(
    http: httpx.AsyncClient, sessions: SessionFactory, body: dict[str, object]
) -> None:
    assert_problem(
        await http.post("/v1/webhook-endpoints", json=body, headers=admin()), 422, "validation-error"
    )
    assert_problem(await http.post("/v1/events/evt_%00/redeliver", headers=admin()), 422, "validation-error")
    assert webhook_rows(sessions)["WebhookEndpoint"] == 0
