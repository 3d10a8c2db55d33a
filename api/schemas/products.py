"""Catalog bodies: a product's plan (resource type, cycle), unit price and dunning policy."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field, StrictInt, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from models.catalog import Product
from models.cycle import BillingCycle, InvalidCycle
from models.dunning import DEFAULT_DELAYS_SECONDS
from models.enums import ProductStatus
from models.fields import BillingDay, Name, PositiveInt, RequestBody, ResourceType
from models.money import Money
from models.notice import InvalidNotice, notice_fits, parse_notice


def _valid_cycle(text: str) -> str:
    try:
        BillingCycle.parse(text)
    except InvalidCycle as error:
        raise PydanticCustomError("invalid_billing_cycle", str(error)) from None
    return text


CycleText = Annotated[
    str,
    Field(
        min_length=2,
        max_length=40,
        description="ISO-8601 duration in one unit family: P1M, P1Y, P30D, P2W, PT1M (demos).",
        examples=["P1M"],
    ),
    AfterValidator(_valid_cycle),
]
MaxDevices = Annotated[StrictInt, Field(ge=1, le=100)]


def _valid_notice(text: str) -> str:
    try:
        parse_notice(text)
    except InvalidNotice as error:
        raise PydanticCustomError("invalid_renewal_notice", str(error)) from None
    return text


NoticeText = Annotated[
    str,
    Field(
        min_length=2,
        max_length=40,
        description="How long before each renewal charge `subscription.renewal_upcoming` is sent: an "
        "ISO-8601 duration shorter than the cycle, or null for none.",
        examples=["P3D"],
    ),
    AfterValidator(_valid_notice),
]


def notice_too_long(notice: str, cycle: str) -> PydanticCustomError | None:
    """The error for a notice that is not shorter than every period of the cycle; None when it fits."""
    if notice_fits(parse_notice(notice), BillingCycle.parse(cycle)):
        return None
    return PydanticCustomError(
        "renewal_notice_too_long",
        "renewal notice {notice} must be shorter than the billing cycle {cycle}",
        {"notice": notice, "cycle": cycle},
    )


# The retry schedule for declined charges: wait delays_seconds[k] after failed attempt k+1.
class DunningIn(RequestBody):
    delays_seconds: list[PositiveInt] = Field(
        default_factory=lambda: list(DEFAULT_DELAYS_SECONDS), min_length=1, max_length=20
    )
    max_attempts: Annotated[StrictInt, Field(ge=1, le=50)] = 4


class ProductCreate(RequestBody):
    name: Name
    resource_type: ResourceType
    billing_cycle: CycleText
    unit_price: Money = Field(description="Price per device per period.")
    max_devices: MaxDevices = 10
    dunning: DunningIn = Field(default_factory=DunningIn)
    status: ProductStatus = ProductStatus.ACTIVE
    # Omitted: P3D for cycles of a month or more, none for shorter ones. Null: no notice.
    renewal_notice: NoticeText | None = None
    billing_day: BillingDay | None = Field(
        default=None, description="Align every subscription's periods to this day; omit for anniversaries."
    )
    signup_billing_day_allowed: bool = Field(
        default=False, description="Whether a signup may choose its own `billing_day`."
    )

    @field_validator("renewal_notice")
    @classmethod
    def _shorter_than_cycle(cls, notice: str | None, info: ValidationInfo) -> str | None:
        cycle = info.data.get("billing_cycle")  # absent when the cycle itself was refused
        if notice is not None and cycle is not None and (error := notice_too_long(notice, cycle)):
            raise error
        return notice


class ProductUpdate(RequestBody):
    """Only the fields sent change. A new unit price applies to running subscriptions from their next
    period (the workflow re-reads the product at every renewal) and bumps `price_version`. A new billing day
    applies to later signups only: a contract keeps the day it was signed with."""

    name: Name | None = None
    unit_price: Money | None = None
    max_devices: MaxDevices | None = None
    dunning: DunningIn | None = None
    status: ProductStatus | None = None
    renewal_notice: NoticeText | None = Field(default=None, description="Null turns the notice off.")
    billing_day: BillingDay | None = Field(default=None, description="null: back to signup anniversaries.")
    signup_billing_day_allowed: bool | None = None

    @field_validator(
        "name", "unit_price", "max_devices", "dunning", "status", "signup_billing_day_allowed", mode="before"
    )
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        # Omit a field to keep it; null would mean "unset", which only the renewal notice and the billing
        # day allow.
        if value is None:
            raise PydanticCustomError("null_not_allowed", "must not be null when sent")
        return value


class DunningOut(BaseModel):
    delays_seconds: list[int]
    max_attempts: int


class ProductOut(BaseModel):
    id: uuid.UUID
    name: str
    resource_type: str
    billing_cycle: str
    unit_price: Money
    max_devices: int
    dunning: DunningOut
    status: ProductStatus
    renewal_notice: str | None
    price_version: int
    billing_day: int | None
    signup_billing_day_allowed: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, product: Product) -> ProductOut:
        return cls(
            id=product.id,
            name=product.name,
            resource_type=product.resource_type,
            billing_cycle=product.billing_cycle,
            unit_price=Money(amount_minor=product.unit_price_minor, currency=product.currency),
            max_devices=product.max_devices,
            dunning=DunningOut(
                delays_seconds=list(product.dunning_delays_seconds), max_attempts=product.dunning_max_attempts
            ),
            status=product.status,
            renewal_notice=product.renewal_notice,
            price_version=product.price_version,
            billing_day=product.billing_day,
            signup_billing_day_allowed=product.signup_billing_day_allowed,
            created_at=product.created_at,
            updated_at=product.updated_at,
        )
