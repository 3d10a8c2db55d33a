"""Webhook endpoints, the deliveries planned for them (one per event and endpoint) and every attempt made."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Column, DateTime, Index, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from models.columns import enum_column, now_column, string_array


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    # The whole retry schedule failed; the endpoint was disabled with it.
    FAILED = "failed"


# A receiver of signed events. The previous secret keeps signing beside the current one until it expires,
# so a receiver can switch secrets without losing a message.
class WebhookEndpoint(SQLModel, table=True):
    __tablename__ = "webhook_endpoints"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    url: str = Field(sa_column=Column(Text, nullable=False))
    event_types: list[str] = string_array()
    description: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    enabled: bool = True
    disabled_reason: str | None = Field(default=None, sa_column=Column(Text))
    secret: str = Field(sa_column=Column(Text, nullable=False))
    previous_secret: str | None = Field(default=None, sa_column=Column(Text))
    previous_secret_expires_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True))
    )
    created_at: datetime = now_column()
    updated_at: datetime = now_column()


# One event owed to one endpoint. `sequence` and `subscription_id` are copied from the event so the
# dispatcher can hold a subscription's later events back while an earlier one is still pending.
class WebhookDelivery(SQLModel, table=True):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "endpoint_id", name="uq_webhook_deliveries_event_endpoint"),
        Index(
            "ix_webhook_deliveries_due",
            "next_attempt_at",
            postgresql_where=text("status = 'pending'"),
        ),
        Index(
            "ix_webhook_deliveries_pending_order",
            "endpoint_id",
            "subscription_id",
            "sequence",
            postgresql_where=text("status = 'pending'"),
        ),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    event_id: str = Field(sa_column=Column(Text, nullable=False, index=True))
    endpoint_id: uuid.UUID = Field(foreign_key="webhook_endpoints.id", ondelete="CASCADE", index=True)
    subscription_id: uuid.UUID | None = None
    sequence: int | None = Field(default=None, sa_column=Column(BigInteger))
    status: DeliveryStatus = enum_column(DeliveryStatus, DeliveryStatus.PENDING)
    attempts: int = 0
    next_attempt_at: datetime = now_column()
    # A dispatcher's claim: until then no other copy takes the delivery; a copy that died loses it then.
    leased_until: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    lease_token: uuid.UUID | None = None
    delivered_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    created_at: datetime = now_column()


# One HTTP attempt, as the deliveries API shows it.
class WebhookAttempt(SQLModel, table=True):
    __tablename__ = "webhook_attempts"
    __table_args__ = (Index("ix_webhook_attempts_endpoint_time", "endpoint_id", "attempted_at"),)

    id: int | None = Field(default=None, sa_column=Column(BigInteger, primary_key=True, autoincrement=True))
    delivery_id: uuid.UUID = Field(foreign_key="webhook_deliveries.id", ondelete="CASCADE")
    endpoint_id: uuid.UUID = Field(foreign_key="webhook_endpoints.id", ondelete="CASCADE")
    event_id: str = Field(sa_column=Column(Text, nullable=False))
    attempt: int
    status_code: int | None = None
    latency_ms: int
    error: str | None = Field(default=None, sa_column=Column(Text))
    next_retry_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    attempted_at: datetime = now_column()
