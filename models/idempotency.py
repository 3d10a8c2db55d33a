"""Idempotency keys of HTTP requests that start work (signups, claims): the same key and body gets the same
answer; the same key with another body is refused."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from models.columns import jsonb, now_column


# One remembered request: who sent it, under which key, a hash of its body, and the answer given.
class IdempotencyRecord(SQLModel, table=True):
    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("scope", "user_id", "key", name="uq_idempotency_scope_user_key"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    scope: str = Field(max_length=60, description="which endpoint: subscriptions, voucher_claims ...")
    user_id: str = Field(max_length=100)
    key: str = Field(max_length=200)
    request_hash: str = Field(max_length=64)
    resource_id: str = Field(max_length=100, description="the id reserved for the work this key started")
    response_status: int | None = None
    response_body: dict[str, Any] = jsonb()
    created_at: datetime = now_column()
