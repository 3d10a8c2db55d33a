"""Outbox events written straight into the `events` table, as the engine's writers would."""

from __future__ import annotations

import uuid
from typing import Any

from infra.db import SessionFactory, transaction
from models.outbox import OutboxEvent


def insert_event(
    sessions: SessionFactory,
    *,
    type: str = "subscription.renewed",
    subscription_id: uuid.UUID | None = None,
    sequence: int | None = None,
    voucher_id: uuid.UUID | None = None,
    user_id: str = "user-1",
    data: dict[str, Any] | None = None,
) -> str:
    event_id = f"evt_{uuid.uuid4().hex}"
    with transaction(sessions) as session:
        session.add(
            OutboxEvent(
                id=event_id,
                type=type,
                subscription_id=subscription_id,
                sequence=sequence,
                voucher_id=voucher_id,
                user_id=user_id,
                data=data or {"example": True},
            )
        )
    return event_id


def insert_subscription_events(
    sessions: SessionFactory, subscription_id: uuid.UUID, count: int, *, first: int = 1
) -> list[str]:
    return [insert_event(sessions, subscription_id=subscription_id, sequence=first + n) for n in range(count)]
