"""The voucher's shapes at the HTTP boundary: what operators send, what operators and users read."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictInt

from models.fields import Name, RequestBody, ResourceType, UserId
from models.voucher import ClaimStatus, Voucher, VoucherClaim, VoucherStatus, VoucherType
from vouchers.lifecycle import voucher_workflow_id

Value = Annotated[
    StrictInt, Field(ge=1, le=100_000_000, description="percent (1-100), minor units, or free periods")
]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217; amount_off only")]
ProductIds = Annotated[list[uuid.UUID], Field(max_length=100, description="empty: any product of the type")]
Stock = Annotated[StrictInt, Field(ge=1, le=100_000_000, description="claim cap")]
PerUserLimit = Annotated[StrictInt, Field(ge=1, le=1_000)]
Audience = Annotated[list[UserId], Field(max_length=10_000, description="user ids; empty: every user")]
MAX_DURATION_PERIODS = 1_000
Duration = Annotated[
    StrictInt, Field(ge=1, le=MAX_DURATION_PERIODS, description="the first N periods of a subscription")
]


# The fields a voucher is always created with.
class _VoucherTerms(RequestBody):
    name: Name
    type: VoucherType
    value: Value
    currency: Currency | None = None
    resource_type: ResourceType
    product_ids: ProductIds = Field(default_factory=list)
    valid_from: AwareDatetime
    valid_until: AwareDatetime
    stock: Stock
    per_user_limit: PerUserLimit = 1
    audience: Audience = Field(default_factory=list)


# A complete definition, as stored: every window and the duration resolved.
class VoucherDefinition(_VoucherTerms):
    claim_starts_at: AwareDatetime
    claim_ends_at: AwareDatetime
    use_starts_at: AwareDatetime
    use_ends_at: AwareDatetime
    duration_periods: Duration = 1


# POST /v1/vouchers: claim and use windows default to the validity window; the duration to one period
# (for free_periods, to its value).
class VoucherCreate(_VoucherTerms):
    claim_starts_at: AwareDatetime | None = None
    claim_ends_at: AwareDatetime | None = None
    use_starts_at: AwareDatetime | None = None
    use_ends_at: AwareDatetime | None = None
    duration_periods: Duration | None = None

    def resolved(self) -> VoucherDefinition:
        fields = self.model_dump()
        for window in ("claim", "use"):
            fields[f"{window}_starts_at"] = fields[f"{window}_starts_at"] or self.valid_from
            fields[f"{window}_ends_at"] = fields[f"{window}_ends_at"] or self.valid_until
        if self.duration_periods is None:
            # Clamped so an over-long free_periods value is reported by the definition rules (422), not
            # by this field's own bound.
            fields["duration_periods"] = (
                min(self.value, MAX_DURATION_PERIODS) if self.type is VoucherType.FREE_PERIODS else 1
            )
        return VoucherDefinition.model_validate(fields)


# PATCH /v1/vouchers/{id}: only the fields sent change (null clears `currency`, nothing else);
# once enabled, only the safe fields may change.
class VoucherPatch(RequestBody):
    name: Name | None = None
    type: VoucherType | None = None
    value: Value | None = None
    currency: Currency | None = None
    resource_type: ResourceType | None = None
    product_ids: ProductIds | None = None
    valid_from: AwareDatetime | None = None
    valid_until: AwareDatetime | None = None
    claim_starts_at: AwareDatetime | None = None
    claim_ends_at: AwareDatetime | None = None
    use_starts_at: AwareDatetime | None = None
    use_ends_at: AwareDatetime | None = None
    stock: Stock | None = None
    per_user_limit: PerUserLimit | None = None
    audience: Audience | None = None
    duration_periods: Duration | None = None


class TerminateRequest(RequestBody):
    reason: Name = "terminated by operator"


class Funnel(BaseModel):
    pushed: int
    claimed: int
    redeemed: int
    claim_rate: float | None = Field(description="claimed / pushed")
    redemption_rate: float | None = Field(description="redeemed / claimed")
    stock_left: int


# What operators read: the definition, its state and the funnel pushed -> claimed -> redeemed.
class VoucherPublic(VoucherDefinition):
    model_config = ConfigDict(extra="ignore")

    id: uuid.UUID
    status: VoucherStatus
    workflow_id: str | None = Field(description="the lifecycle workflow in the Temporal UI, once enabled")
    pushed_count: int
    claimed_count: int
    redeemed_count: int
    funnel: Funnel
    enabled_at: datetime | None
    terminated_at: datetime | None
    termination_reason: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, voucher: Voucher, *, claimed: int) -> VoucherPublic:
        enabled = voucher.status is not VoucherStatus.DRAFT
        return cls.model_validate(
            {
                **voucher.model_dump(),
                "claimed_count": claimed,
                "funnel": funnel(voucher, claimed=claimed),
                "workflow_id": voucher_workflow_id(str(voucher.id)) if enabled else None,
            }
        )


def _rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def funnel(voucher: Voucher, *, claimed: int) -> Funnel:
    return Funnel(
        pushed=voucher.pushed_count,
        claimed=claimed,
        redeemed=voucher.redeemed_count,
        claim_rate=_rate(claimed, voucher.pushed_count),
        redemption_rate=_rate(voucher.redeemed_count, claimed),
        stock_left=max(0, voucher.stock - claimed),
    )


class VoucherList(BaseModel):
    items: list[VoucherPublic]


# One entry of the claim pop-up: what the user is offered now and how many more they may take.
class VoucherOffer(BaseModel):
    voucher_id: uuid.UUID
    name: str
    type: VoucherType
    value: int
    currency: str | None
    resource_type: str
    product_ids: list[uuid.UUID]
    claim_ends_at: datetime
    use_starts_at: datetime
    use_ends_at: datetime
    duration_periods: int
    stock_left: int
    claims_left: int

    @classmethod
    def of(cls, voucher: Voucher, *, claims_left: int, claimed: int) -> VoucherOffer:
        return cls(
            voucher_id=voucher.id,
            stock_left=max(0, voucher.stock - claimed),
            claims_left=claims_left,
            **voucher.model_dump(
                include={
                    "name",
                    "type",
                    "value",
                    "currency",
                    "resource_type",
                    "product_ids",
                    "claim_ends_at",
                    "use_starts_at",
                    "use_ends_at",
                    "duration_periods",
                }
            ),
        )


class VoucherOffers(BaseModel):
    user_id: str
    generated_at: datetime
    offers: list[VoucherOffer]


# A user's claim as the user sees it, with the voucher's headline.
class ClaimPublic(BaseModel):
    id: uuid.UUID
    voucher_id: uuid.UUID
    voucher_name: str
    type: VoucherType
    value: int
    currency: str | None
    status: ClaimStatus
    contract_id: uuid.UUID | None
    claimed_at: datetime
    use_starts_at: datetime
    use_ends_at: datetime
    used_at: datetime | None
    expired_at: datetime | None

    @classmethod
    def of(cls, claim: VoucherClaim, voucher: Voucher) -> ClaimPublic:
        return cls(
            id=claim.id,
            voucher_id=voucher.id,
            voucher_name=voucher.name,
            type=voucher.type,
            value=voucher.value,
            currency=voucher.currency,
            status=claim.status,
            contract_id=claim.contract_id,
            claimed_at=claim.claimed_at,
            use_starts_at=voucher.use_starts_at,
            use_ends_at=voucher.use_ends_at,
            used_at=claim.used_at,
            expired_at=claim.expired_at,
        )


class ClaimList(BaseModel):
    items: list[ClaimPublic]
