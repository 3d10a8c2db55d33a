"""Catalog tables: products (plan + price) and the devices users own."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ARRAY, Column, Integer, SmallInteger
from sqlmodel import Field, SQLModel

from models.columns import enum_column, now_column
from models.enums import DeviceStatus, ProductStatus


# A sellable plan: what a device gets (resource type), for how long (cycle) and at what price.
class Product(SQLModel, table=True):
    __tablename__ = "products"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    name: str = Field(max_length=200)
    resource_type: str = Field(max_length=100, index=True)
    billing_cycle: str = Field(max_length=40, description="ISO-8601 duration: P1M, P30D, PT1M")
    unit_price_minor: int = Field(ge=0, description="Price per device per period, minor units")
    currency: str = Field(max_length=3)
    price_version: int = Field(default=1, description="Bumped on every price change")
    status: ProductStatus = enum_column(ProductStatus, ProductStatus.ACTIVE)
    max_devices: int = Field(default=10, ge=1)
    dunning_delays_seconds: list[int] = Field(
        default_factory=lambda: [86_400, 259_200, 432_000], sa_column=Column(ARRAY(Integer), nullable=False)
    )
    dunning_max_attempts: int = Field(default=4, ge=1)
    # How long before each renewal charge the user is told of it (ISO-8601 duration); None: no notice.
    renewal_notice: str | None = Field(default=None, max_length=40)
    # Calendar alignment (docs/billing.md): periods from this day of the month to the same day, in the
    # contract's zone; None bills on each signup's anniversary.
    billing_day: int | None = Field(default=None, sa_column=Column(SmallInteger, nullable=True))
    # Whether a signup may choose its own billing day (overriding `billing_day`).
    signup_billing_day_allowed: bool = False
    created_at: datetime = now_column()
    updated_at: datetime = now_column()


# A device (camera, doorbell...) bound to its owner by the device platform.
class Device(SQLModel, table=True):
    __tablename__ = "devices"

    id: str = Field(primary_key=True, max_length=100)
    owner_user_id: str = Field(max_length=100, index=True)
    status: DeviceStatus = enum_column(DeviceStatus, DeviceStatus.BOUND)
    name: str | None = Field(default=None, max_length=200)
    created_at: datetime = now_column()
    updated_at: datetime = now_column()
