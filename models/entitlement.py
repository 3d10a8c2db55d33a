"""Entitlements (what a device may use, until when) and the append-only contract event log."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Column, DateTime, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.columns import enum_column, jsonb, now_column
from models.enums import EntitlementStatus


# A device's right to a resource under one contract; extended each paid period, never duplicated.
class Entitlement(SQLModel, table=True):
    __tablename__ = "entitlements"
    __table_args__ = (UniqueConstraint("contract_id", "device_id", name="uq_entitlements_contract_device"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    contract_id: uuid.UUID = Field(foreign_key="contracts.id", index=True)
    device_id: str = Field(max_length=100, index=True)
    resource_type: str = Field(max_length=100)
    valid_from: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    valid_until: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    status: EntitlementStatus = enum_column(EntitlementStatus, EntitlementStatus.ACTIVE)
    revoke_reason: str | None = Field(default=None, max_length=200)
    updated_at: datetime = now_column()


# One transition of a contract, written once (dedup_key makes an activity retry harmless).
class ContractEvent(SQLModel, table=True):
    __tablename__ = "contract_events"

    id: int | None = Field(default=None, sa_column=Column(BigInteger, primary_key=True, autoincrement=True))
    contract_id: uuid.UUID = Field(index=True)
    dedup_key: str = Field(max_length=250, unique=True)
    kind: str = Field(max_length=60)
    period: int | None = None
    detail: dict[str, Any] = jsonb()
    occurred_at: datetime = now_column()
