"""The outbox: every event the engine reports, written in the transaction of the change it reports."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Column, DateTime, Identity, Index, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from models.columns import jsonb, now_column


# One event. `id` comes from business keys, so a retried activity writes no twin; `sequence` counts a
# subscription's events without gaps; `position` orders the whole feed.
class OutboxEvent(SQLModel, table=True):
    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("subscription_id", "sequence", name="uq_events_subscription_sequence"),
        Index("ix_events_type_position", "type", "position"),
        Index("ix_events_undispatched", "position", postgresql_where=text("dispatched_at IS NULL")),
    )

    id: str = Field(sa_column=Column(Text, primary_key=True))
    position: int | None = Field(
        default=None, sa_column=Column(BigInteger, Identity(), unique=True, nullable=False)
    )
    type: str = Field(max_length=60)
    subscription_id: uuid.UUID | None = Field(default=None, index=True)
    voucher_id: uuid.UUID | None = Field(default=None, index=True)
    user_id: str = Field(max_length=200)
    sequence: int | None = None
    data: dict[str, Any] = jsonb()
    created_at: datetime = now_column()
    # Set once the dispatcher has planned the event's deliveries to the webhook endpoints.
    dispatched_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
