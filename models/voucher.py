"""Voucher tables (seed CN112346628A): the operator's definition with its counters, the users' claims,
who was shown it (pushes) and how many claims each user holds (the per-user limit as one upsert).

The stock lives in stripes (`VoucherStockStripe`): a claim takes one stripe no other claim holds, so
claims never queue on one hot row. The pushed and redeemed counters live on the voucher row. Every counter
equals the rows behind it (see vouchers.audit)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ARRAY, CheckConstraint, Column, DateTime, Index, SmallInteger, Uuid
from sqlmodel import Field, SQLModel

from models.columns import enum_column, now_column, string_array


class VoucherType(StrEnum):
    PERCENT_OFF = "percent_off"
    AMOUNT_OFF = "amount_off"
    FREE_PERIODS = "free_periods"  # extra paid-through time at no charge, not money


class VoucherStatus(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"  # enabled by the operator before its claim window opens
    ENABLED = "enabled"
    TERMINATED = "terminated"


class ClaimStatus(StrEnum):
    CLAIMED = "claimed"
    USED = "used"
    EXPIRED = "expired"


def _aware(*, nullable: bool = False) -> Column[datetime]:
    return Column(DateTime(timezone=True), nullable=nullable)


# An operator-configured voucher: information parameters, time windows, caps, node state and counters.
class Voucher(SQLModel, table=True):
    __tablename__ = "vouchers"
    __table_args__ = (
        CheckConstraint(
            "pushed_count >= 0 AND redeemed_count >= 0", name="ck_vouchers_counters_non_negative"
        ),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    name: str = Field(max_length=200)
    type: VoucherType = enum_column(VoucherType, VoucherType.PERCENT_OFF)
    value: int = Field(description="percent (1-100), minor units, or number of free periods")
    currency: str | None = Field(default=None, max_length=3, description="amount_off only")
    resource_type: str = Field(max_length=100, index=True)
    product_ids: list[uuid.UUID] = Field(
        default_factory=list,
        sa_column=Column(ARRAY(Uuid), nullable=False),
        description="empty: every product of the resource type",
    )
    valid_from: datetime = Field(sa_column=_aware())
    valid_until: datetime = Field(sa_column=_aware())
    claim_starts_at: datetime = Field(sa_column=_aware())
    claim_ends_at: datetime = Field(sa_column=_aware())
    use_starts_at: datetime = Field(sa_column=_aware())
    use_ends_at: datetime = Field(sa_column=_aware())
    stock: int = Field(ge=0)
    per_user_limit: int = Field(default=1, ge=1)
    audience: list[str] = string_array()
    duration_periods: int = Field(default=1, ge=1, description="the first N periods of a subscription")
    status: VoucherStatus = enum_column(VoucherStatus, VoucherStatus.DRAFT, index=True)
    pushed_count: int = 0
    redeemed_count: int = 0
    enabled_at: datetime | None = Field(default=None, sa_column=_aware(nullable=True))
    terminated_at: datetime | None = Field(default=None, sa_column=_aware(nullable=True))
    termination_reason: str | None = Field(default=None, max_length=200)
    created_at: datetime = now_column()
    updated_at: datetime = now_column()


# One user's claim on a voucher; reserved by a contract at signup, used when its first charge succeeds.
class VoucherClaim(SQLModel, table=True):
    __tablename__ = "voucher_claims"
    __table_args__ = (Index("ix_voucher_claims_voucher_user", "voucher_id", "user_id"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    voucher_id: uuid.UUID = Field(foreign_key="vouchers.id")
    user_id: str = Field(max_length=100, index=True)
    status: ClaimStatus = enum_column(ClaimStatus, ClaimStatus.CLAIMED)
    # No foreign key: signing reserves the claim in the transaction that writes the contract.
    contract_id: uuid.UUID | None = Field(default=None, index=True)
    claimed_at: datetime = now_column()
    reserved_at: datetime | None = Field(default=None, sa_column=_aware(nullable=True))
    used_at: datetime | None = Field(default=None, sa_column=_aware(nullable=True))
    expired_at: datetime | None = Field(default=None, sa_column=_aware(nullable=True))


# A user was shown the voucher in the claim pop-up (once per user: pushed_count counts distinct users).
class VoucherPush(SQLModel, table=True):
    __tablename__ = "voucher_pushes"

    voucher_id: uuid.UUID = Field(foreign_key="vouchers.id", primary_key=True)
    user_id: str = Field(max_length=100, primary_key=True)
    pushed_at: datetime = now_column()


# How many claims a user holds on a voucher: the per-user limit is one conditional upsert on this row.
class VoucherHolding(SQLModel, table=True):
    __tablename__ = "voucher_holdings"
    __table_args__ = (CheckConstraint("claims_count >= 0", name="ck_voucher_holdings_non_negative"),)

    voucher_id: uuid.UUID = Field(foreign_key="vouchers.id", primary_key=True)
    user_id: str = Field(max_length=100, primary_key=True)
    claims_count: int = 0


# One stripe of a voucher's stock (vouchers.stock.STRIPES per voucher; their stock adds up to the voucher's).
class VoucherStockStripe(SQLModel, table=True):
    __tablename__ = "voucher_stock_stripes"
    __table_args__ = (
        # The last line of defence: even a buggy statement cannot oversell.
        CheckConstraint("claimed >= 0 AND claimed <= stock", name="ck_voucher_stock_stripes_within_stock"),
    )

    voucher_id: uuid.UUID = Field(foreign_key="vouchers.id", primary_key=True)
    stripe: int = Field(primary_key=True, sa_type=SmallInteger)
    stock: int
    claimed: int = 0
