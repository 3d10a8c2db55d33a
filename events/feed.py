"""The catch-up feed: the outbox read in `position` order, filtered, one page at a time."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session, col, select

from models.outbox import OutboxEvent

MAX_PAGE = 100


def events_page(
    session: Session,
    *,
    types: Sequence[str] = (),
    subscription_id: uuid.UUID | None = None,
    since: datetime | None = None,
    after_position: int | None = None,
    limit: int = MAX_PAGE,
) -> list[OutboxEvent]:
    """Up to `limit` events after `after_position`, oldest first. The position, not the time, pages: two
    events of one transaction share a `created_at`, never a position."""
    statement = select(OutboxEvent).order_by(col(OutboxEvent.position)).limit(min(limit, MAX_PAGE))
    if types:
        statement = statement.where(col(OutboxEvent.type).in_(list(types)))
    if subscription_id is not None:
        statement = statement.where(col(OutboxEvent.subscription_id) == subscription_id)
    if since is not None:
        statement = statement.where(col(OutboxEvent.created_at) >= since)
    if after_position is not None:
        statement = statement.where(col(OutboxEvent.position) > after_position)
    return list(session.exec(statement))
