"""Endpoint administration: create, read, change, delete, rotate the secret; the attempts made to an
endpoint; a fresh delivery of one event. Input is checked before anything is written."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlmodel import col, select

from events.wakeup import NEW_EVENTS_CHANNEL
from infra.db import SessionFactory, transaction
from models.event_types import ALL_EVENT_TYPES, unknown_event_types
from models.outbox import OutboxEvent
from models.webhook import WebhookAttempt, WebhookEndpoint
from webhooks.secrets import new_secret
from webhooks.urls import UrlRefused, check_url

MAX_DESCRIPTION = 500


@dataclass(frozen=True)
class InvalidEndpoint(Exception):
    field: str
    code: str
    detail: str
    unknown: tuple[str, ...] = ()

    def __str__(self) -> str:
        return self.detail


def check_endpoint(
    *,
    url: str | None = None,
    event_types: Sequence[str] | None = None,
    description: str | None = None,
    allow_private: bool,
) -> None:
    """Raise `InvalidEndpoint` for the first field that cannot be stored."""
    if url is not None:
        try:
            check_url(url, allow_private=allow_private)
        except UrlRefused as refused:
            raise InvalidEndpoint("url", refused.code, refused.reason) from None
    if event_types is not None:
        if not event_types:
            raise InvalidEndpoint("event_types", "no_event_types", 'name at least one event type, or "*"')
        unknown = unknown_event_types(list(event_types))
        if unknown:
            raise InvalidEndpoint(
                "event_types",
                "unknown_event_types",
                f"unknown event types: {', '.join(unknown)}",
                unknown=tuple(unknown),
            )
    if description is not None and len(description) > MAX_DESCRIPTION:
        raise InvalidEndpoint(
            "description", "description_too_long", f"the description exceeds {MAX_DESCRIPTION} characters"
        )


def _types(event_types: Sequence[str]) -> list[str]:
    # The wildcard stands for every type: stored alone, it needs no other name beside it.
    return [ALL_EVENT_TYPES] if ALL_EVENT_TYPES in event_types else list(dict.fromkeys(event_types))


def create_endpoint(
    *, sessions: SessionFactory, url: str, event_types: Sequence[str], description: str
) -> WebhookEndpoint:
    endpoint = WebhookEndpoint(
        url=url, event_types=_types(event_types), description=description, secret=new_secret()
    )
    with transaction(sessions) as session:
        session.add(endpoint)
    return endpoint


def list_endpoints(*, sessions: SessionFactory) -> list[WebhookEndpoint]:
    with transaction(sessions) as session:
        query = select(WebhookEndpoint).order_by(col(WebhookEndpoint.created_at), col(WebhookEndpoint.id))
        return list(session.exec(query).all())


def get_endpoint(*, sessions: SessionFactory, endpoint_id: uuid.UUID) -> WebhookEndpoint | None:
    with transaction(sessions) as session:
        return session.get(WebhookEndpoint, endpoint_id)


def update_endpoint(
    *,
    sessions: SessionFactory,
    endpoint_id: uuid.UUID,
    url: str | None = None,
    event_types: Sequence[str] | None = None,
    enabled: bool | None = None,
    description: str | None = None,
) -> WebhookEndpoint | None:
    with transaction(sessions) as session:
        endpoint = session.get(WebhookEndpoint, endpoint_id, with_for_update=True)
        if endpoint is None:
            return None
        if url is not None:
            endpoint.url = url
        if event_types is not None:
            endpoint.event_types = _types(event_types)
        if description is not None:
            endpoint.description = description
        if enabled is not None:
            endpoint.enabled = enabled
            if enabled:
                endpoint.disabled_reason = None
        endpoint.updated_at = datetime.now(UTC)
        session.add(endpoint)
        return endpoint


def delete_endpoint(*, sessions: SessionFactory, endpoint_id: uuid.UUID) -> bool:
    with transaction(sessions) as session:
        endpoint = session.get(WebhookEndpoint, endpoint_id)
        if endpoint is None:
            return False
        session.delete(endpoint)
        return True


def rotate_secret(
    *, sessions: SessionFactory, endpoint_id: uuid.UUID, overlap: timedelta
) -> WebhookEndpoint | None:
    """A new secret; the one it replaces keeps signing beside it for `overlap`."""
    with transaction(sessions) as session:
        endpoint = session.get(WebhookEndpoint, endpoint_id, with_for_update=True)
        if endpoint is None:
            return None
        now = datetime.now(UTC)
        endpoint.previous_secret = endpoint.secret
        endpoint.previous_secret_expires_at = now + overlap
        endpoint.secret = new_secret()
        endpoint.updated_at = now
        session.add(endpoint)
        return endpoint


def list_attempts(
    *, sessions: SessionFactory, endpoint_id: uuid.UUID, limit: int, before: int | None
) -> list[WebhookAttempt]:
    """The newest attempts first; `before` (an attempt id) pages back through older ones."""
    with transaction(sessions) as session:
        query = select(WebhookAttempt).where(WebhookAttempt.endpoint_id == endpoint_id)
        if before is not None:
            query = query.where(col(WebhookAttempt.id) < before)
        query = query.order_by(col(WebhookAttempt.id).desc()).limit(limit)
        return list(session.exec(query).all())


_REDELIVER = text(
    """
    INSERT INTO webhook_deliveries (id, event_id, endpoint_id, subscription_id, sequence, status, attempts,
                                    next_attempt_at)
    SELECT gen_random_uuid(), e.id, w.id, e.subscription_id, e.sequence, 'pending', 0, now()
    FROM events e JOIN webhook_endpoints w
      ON w.enabled AND (w.event_types @> ARRAY['*']::varchar[] OR w.event_types @> ARRAY[e.type]::varchar[])
    WHERE e.id = :event_id
    ON CONFLICT (event_id, endpoint_id) DO UPDATE
      SET status = 'pending', attempts = 0, next_attempt_at = now(), leased_until = NULL,
          lease_token = NULL, delivered_at = NULL
    RETURNING id
    """
)


def redeliver(*, sessions: SessionFactory, event_id: str) -> int | None:
    """Send one event again to every enabled endpoint that takes its type; None for an unknown event.
    Returns how many deliveries were scheduled."""
    with transaction(sessions) as session:
        if session.get(OutboxEvent, event_id) is None:
            return None
        scheduled = len(session.execute(_REDELIVER, {"event_id": event_id}).all())
        session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": NEW_EVENTS_CHANNEL})
        return scheduled
