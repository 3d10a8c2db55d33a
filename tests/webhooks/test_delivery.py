"""Delivery end to end: a dispatcher in the test's loop, receivers that verify with `standardwebhooks`."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread
from typing import Any

import httpx
from sqlmodel import select

from infra.db import SessionFactory, transaction
from infra.settings import Settings
from models.outbox import OutboxEvent
from models.webhook import DeliveryStatus, WebhookDelivery
from tests.api.support import admin
from tests.support.events import insert_event, insert_subscription_events
from tests.webhooks.conftest import running_dispatcher, webhook_settings
from tests.webhooks.receiver import Receiver, free_port
from tests.webhooks.support import in_sequence_per_subscription, register, until


def _attempted(sessions: SessionFactory, minimum: int) -> Callable[[], bool]:
    def check() -> bool:
        with transaction(sessions) as session:
            rows = session.exec(select(WebhookDelivery)).all()
        return bool(rows) and sum(r.attempts for r in rows) >= minimum

    return check


async def test_down_then_failing_receiver_gets_everything_in_order(
    http: httpx.AsyncClient,
    sessions: SessionFactory,
    settings: Settings,
    receivers: Callable[..., Receiver],
) -> None:
    receiver = receivers(script=lambda n: 500 if n <= 2 else 200)
    await register(http, receiver)
    subscriptions = [uuid.uuid4(), uuid.uuid4()]
    expected = set()
    for subscription in subscriptions:
        expected |= set(insert_subscription_events(sessions, subscription, 5))
    expected.add(insert_event(sessions, type="voucher.claimed", voucher_id=uuid.uuid4()))
    async with running_dispatcher(settings, sessions):
        # Down: connections are refused until the receiver starts.
        await until(_attempted(sessions, 3))
        receiver.start()
        await until(lambda: receiver.accepted_ids() >= expected)
    assert receiver.unverified == 0
    assert receiver.accepted_ids() == expected
    order = in_sequence_per_subscription(receiver.accepted_events())
    assert order == {str(s): [1, 2, 3, 4, 5] for s in subscriptions}
    with transaction(sessions) as session:
        assert all(e.dispatched_at is not None for e in session.exec(select(OutboxEvent)).all())
    attempts = (
        await http.get(f"/v1/webhook-endpoints/{_endpoint_id(sessions)}/deliveries", headers=admin())
    ).json()
    statuses = {a["status_code"] for a in attempts["data"]}
    assert {None, 500, 200} <= statuses
    assert any(a["error"] and a["next_retry_at"] for a in attempts["data"])


def _endpoint_id(sessions: SessionFactory) -> uuid.UUID:
    with transaction(sessions) as session:
        return session.exec(select(WebhookDelivery)).first().endpoint_id  # type: ignore[union-attr]


async def test_slow_receiver_holds_back_no_one_else(
    http: httpx.AsyncClient,
    sessions: SessionFactory,
    database_url_for_test: str,
    receivers: Callable[..., Receiver],
) -> None:
    settings = webhook_settings(database_url_for_test, webhook_timeout_seconds=20.0)
    slow = receivers(delay_seconds=8.0).start()
    fast = receivers().start()
    await register(http, slow)
    await register(http, fast)
    events = insert_subscription_events(sessions, uuid.uuid4(), 3)
    other = insert_subscription_events(sessions, uuid.uuid4(), 3)
    async with running_dispatcher(settings, sessions):
        await until(lambda: fast.accepted_ids() == set(events + other), within=60)
        # Everything reached the fast receiver while the slow one still held its first request.
        assert slow.requests <= 2 and len(slow.accepted) == 0
        await until(lambda: slow.accepted_ids() == set(events + other), within=90)
    assert in_sequence_per_subscription(slow.accepted_events()) == in_sequence_per_subscription(
        fast.accepted_events()
    )


async def test_both_signatures_verify_during_rotation(
    http: httpx.AsyncClient,
    sessions: SessionFactory,
    settings: Settings,
    receivers: Callable[..., Receiver],
) -> None:
    old_only = receivers().start()
    new_only = receivers().start()
    created = await register(http, old_only)
    rotated = await http.post(f"/v1/webhook-endpoints/{created['id']}/rotate-secret", headers=admin())
    new_secret = rotated.json()["secret"]
    new_only.secrets.append(new_secret)
    # The same endpoint's deliveries, checked by one receiver with each secret.
    patched = await http.patch(
        f"/v1/webhook-endpoints/{created['id']}", json={"url": new_only.url}, headers=admin()
    )
    assert patched.status_code == 200
    event_id = insert_event(sessions)
    async with running_dispatcher(settings, sessions):
        await until(lambda: event_id in new_only.accepted_ids())
        received = new_only.accepted[0]
        signatures = received.headers["webhook-signature"].split()
        assert len(signatures) == 2 and all(s.startswith("v1,") for s in signatures)
        assert old_only.verifies(received) and new_only.verifies(received)


async def test_exhausted_schedule_disables_endpoint(
    http: httpx.AsyncClient,
    sessions: SessionFactory,
    database_url_for_test: str,
    receivers: Callable[..., Receiver],
) -> None:
    settings = webhook_settings(database_url_for_test, webhook_retry_schedule_seconds=(0.1, 0.1))
    receiver = receivers(script=lambda _n: 503).start()
    created = await register(http, receiver)
    event_id = insert_event(sessions)
    path = f"/v1/webhook-endpoints/{created['id']}"

    async def disabled() -> bool:
        return (await http.get(path, headers=admin())).json()["enabled"] is False

    async with running_dispatcher(settings, sessions):
        for _ in range(300):
            if await disabled():
                break
            await asyncio.sleep(0.1)
    endpoint = (await http.get(path, headers=admin())).json()
    assert endpoint["enabled"] is False and event_id in endpoint["disabled_reason"]
    assert "HTTP 503" in endpoint["disabled_reason"]
    assert receiver.requests == 3
    with transaction(sessions) as session:
        delivery = session.exec(select(WebhookDelivery)).one()
    assert delivery.status is DeliveryStatus.FAILED and delivery.attempts == 3
    with transaction(sessions) as session:
        assert session.get(OutboxEvent, event_id) is not None


class _Redirect(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.send_response(307)
        self.send_header("location", self.server.target)  # type: ignore[attr-defined]
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


async def test_redirect_is_not_followed(
    http: httpx.AsyncClient,
    sessions: SessionFactory,
    settings: Settings,
    receivers: Callable[..., Receiver],
) -> None:
    target = receivers().start()
    redirector = ThreadingHTTPServer(("127.0.0.1", free_port()), _Redirect)
    redirector.target = target.url  # type: ignore[attr-defined]
    Thread(target=redirector.serve_forever, daemon=True).start()
    try:
        response = await http.post(
            "/v1/webhook-endpoints",
            json={"url": f"http://127.0.0.1:{redirector.server_address[1]}/", "event_types": ["*"]},
            headers=admin(),
        )
        endpoint_id = response.json()["id"]
        insert_event(sessions)
        async with running_dispatcher(settings, sessions):

            async def attempts() -> list[dict[str, Any]]:
                page = await http.get(f"/v1/webhook-endpoints/{endpoint_id}/deliveries", headers=admin())
                data: list[dict[str, Any]] = page.json()["data"]
                return data

            for _ in range(100):
                if await attempts():
                    break
                await asyncio.sleep(0.1)
            first = (await attempts())[-1]
    finally:
        redirector.shutdown()
        redirector.server_close()
    assert first["status_code"] == 307 and first["next_retry_at"] is not None
    assert target.requests == 0


async def test_redeliver_sends_again(
    http: httpx.AsyncClient,
    sessions: SessionFactory,
    settings: Settings,
    receivers: Callable[..., Receiver],
) -> None:
    receiver = receivers().start()
    await register(http, receiver)
    event_id = insert_event(sessions, type="entitlement.opened", subscription_id=uuid.uuid4(), sequence=1)
    async with running_dispatcher(settings, sessions):
        await until(lambda: len(receiver.accepted) == 1)
        answer = await http.post(f"/v1/events/{event_id}/redeliver", headers=admin())
        assert answer.status_code == 202 and answer.json()["deliveries_scheduled"] == 1
        await until(lambda: len(receiver.accepted) == 2)
    assert [r.headers["webhook-id"] for r in receiver.accepted] == [event_id, event_id]
    assert receiver.accepted[0].event["created_at"] <= datetime.now(UTC).isoformat()


async def test_endpoint_gets_only_its_types(
    http: httpx.AsyncClient,
    sessions: SessionFactory,
    settings: Settings,
    receivers: Callable[..., Receiver],
) -> None:
    vouchers = receivers().start()
    everything = receivers().start()
    await register(http, vouchers, event_types=["voucher.claimed"])
    await register(http, everything)
    claimed = insert_event(sessions, type="voucher.claimed", voucher_id=uuid.uuid4())
    renewed = insert_event(sessions, type="subscription.renewed", subscription_id=uuid.uuid4(), sequence=1)
    async with running_dispatcher(settings, sessions):
        await until(lambda: everything.accepted_ids() == {claimed, renewed})
        await until(lambda: vouchers.accepted_ids() == {claimed})
    assert vouchers.accepted_ids() == {claimed}
