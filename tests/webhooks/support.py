"""Calls the webhook tests share: register a receiver through the API, wait for what it holds."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from sqlalchemy import func
from sqlmodel import select

from infra.db import SessionFactory, transaction
from models.webhook import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from tests.api.support import admin, eventually
from tests.webhooks.receiver import Receiver


async def register(
    http: httpx.AsyncClient, receiver: Receiver, *, event_types: list[str] | None = None
) -> dict[str, Any]:
    response = await http.post(
        "/v1/webhook-endpoints",
        json={"url": receiver.url, "event_types": event_types or ["*"], "description": "test"},
        headers=admin(),
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    receiver.secrets.append(body["secret"])
    return body


async def until(check: Callable[[], bool], *, within: float = 30.0) -> None:
    async def probe() -> bool:
        return check()

    await eventually(probe, bool, within=within)


def webhook_rows(sessions: SessionFactory) -> dict[str, int]:
    with transaction(sessions) as session:
        return {
            table.__name__: session.exec(select(func.count()).select_from(table)).one()
            for table in (WebhookEndpoint, WebhookDelivery, WebhookAttempt)
        }


def in_sequence_per_subscription(events: list[dict[str, Any]]) -> dict[str, list[int]]:
    """Each subscription's sequences in the order first accepted (duplicates dropped by id)."""
    seen: set[str] = set()
    order: dict[str, list[int]] = {}
    for event in events:
        if event["id"] in seen or event["subscription_id"] is None:
            continue
        seen.add(event["id"])
        order.setdefault(event["subscription_id"], []).append(event["sequence"])
    return order
