"""Billing tables: the contract (signing info), its charge plans (one per period) and charge attempts."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Column, DateTime, Index, SmallInteger, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.columns import enum_column, now_column, string_array
from models.enums import AttemptStatus, PlanStatus, SubscriptionStatus


# The signed contract of one device group: product and price at signing, devices, agreement, progress.
class Contract(SQLModel, table=True):
    __tablename__ = "contracts"
    # Which running subscription holds a device: `device_ids && ...` on every signup (migration 0007).
    __table_args__ = (Index("ix_contracts_device_ids", "device_ids", postgresql_using="gin"),)

    id: uuid.UUID = Field(primary_key=True)
    user_id: str = Field(max_length=100, index=True)
    product_id: uuid.UUID = Field(foreign_key="products.id", index=True)
    resource_type: str = Field(max_length=100)
    unit_price_minor: int = Field(description="Price per device for the current period")
    currency: str = Field(max_length=3)
    price_version: int
    billing_cycle: str = Field(max_length=40)
    timezone: str = Field(default="UTC", max_length=64)
    # The billing day the contract was signed with (the signup's or the product's); None: anniversary.
    billing_day: int | None = Field(default=None, sa_column=Column(SmallInteger, nullable=True))
    device_ids: list[str] = string_array()
    agreement_id: str = Field(max_length=100)
    agreement_status: str = Field(default="active", max_length=20)
    agreement_cap_minor: int
    status: SubscriptionStatus = enum_column(SubscriptionStatus, SubscriptionStatus.ACTIVE, index=True)
    anchor_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    current_period: int = 0
    period_start: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    period_end: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    paid_through: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    termination_reason: str | None = Field(default=None, max_length=200)
    voucher_claim_id: uuid.UUID | None = None
    # The sequence number of this subscription's latest outbox event.
    event_sequence: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, server_default="0"))
    created_at: datetime = now_column()
    updated_at: datetime = now_column()


# What one period costs: devices that still qualify times the price that applies, minus discounts.
class ChargePlan(SQLModel, table=True):
    __tablename__ = "charge_plans"
    __table_args__ = (UniqueConstraint("contract_id", "period", name="uq_charge_plans_contract_period"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    contract_id: uuid.UUID = Field(foreign_key="contracts.id", index=True)
    period: int
    period_start: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    period_end: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    due_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    device_ids: list[str] = string_array()
    unit_price_minor: int
    gross_minor: int
    discount_minor: int = 0
    amount_minor: int
    currency: str = Field(max_length=3)
    status: PlanStatus = enum_column(PlanStatus, PlanStatus.PENDING)
    paid_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    created_at: datetime = now_column()


# One try at charging a plan; the idempotency key (contract, period, attempt) makes the gateway call safe.
class ChargeAttempt(SQLModel, table=True):
    __tablename__ = "charge_attempts"
    __table_args__ = (
        UniqueConstraint("contract_id", "period", "attempt", name="uq_charge_attempts_business_key"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    contract_id: uuid.UUID = Field(foreign_key="contracts.id", index=True)
    period: int
    attempt: int
    idempotency_key: str = Field(max_length=200, unique=True)
    amount_minor: int
    currency: str = Field(max_length=3)
    status: AttemptStatus = enum_column(AttemptStatus, AttemptStatus.PENDING)
    gateway_charge_id: str | None = Field(default=None, max_length=100)
    decline_code: str | None = Field(default=None, max_length=100)
    decline_kind: str | None = Field(default=None, max_length=10)
    created_at: datetime = now_column()
    completed_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


def charge_idempotency_key(contract_id: uuid.UUID | str, period: int, attempt: int) -> str:
    """Built from business keys only: stable across activity retries, worker restarts and continue-as-new."""
    return f"charge:{contract_id}:p{period}:a{attempt}"
