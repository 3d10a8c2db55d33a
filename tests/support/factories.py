"""Build catalog rows for tests: keyword-only, sensible defaults, one call per row family."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from infra.db import SessionFactory, transaction
from models.catalog import Device, Product
from models.contract import Contract
from models.enums import DeviceStatus, ProductStatus, SubscriptionStatus

HOUR = 3600
DAY = 86_400


def make_product(
    sessions: SessionFactory,
    *,
    price: int = 1500,
    currency: str = "CNY",
    cycle: str = "P30D",
    max_devices: int = 5,
    delays: tuple[int, ...] = (DAY, 3 * DAY, 5 * DAY),
    max_attempts: int = 4,
    resource_type: str = "cloud_video_storage",
    renewal_notice: str | None = None,
    billing_day: int | None = None,
    signup_billing_day_allowed: bool = False,
) -> uuid.UUID:
    product = Product(
        name=f"30-day cloud video {uuid.uuid4().hex[:4]}",
        resource_type=resource_type,
        billing_cycle=cycle,
        unit_price_minor=price,
        currency=currency,
        max_devices=max_devices,
        dunning_delays_seconds=list(delays),
        dunning_max_attempts=max_attempts,
        renewal_notice=renewal_notice,
        billing_day=billing_day,
        signup_billing_day_allowed=signup_billing_day_allowed,
    )
    with transaction(sessions) as session:
        session.add(product)
    return product.id


def make_devices(sessions: SessionFactory, *, owner: str, count: int) -> tuple[str, ...]:
    ids = tuple(f"cam-{uuid.uuid4().hex[:8]}" for _ in range(count))
    with transaction(sessions) as session:
        session.add_all(Device(id=device_id, owner_user_id=owner, name=device_id) for device_id in ids)
    return ids


def set_price(sessions: SessionFactory, product_id: uuid.UUID, price: int) -> None:
    with transaction(sessions) as session:
        product = session.get(Product, product_id)
        assert product is not None
        product.unit_price_minor = price
        product.price_version += 1
        session.add(product)


def discontinue(sessions: SessionFactory, product_id: uuid.UUID) -> None:
    with transaction(sessions) as session:
        product = session.get(Product, product_id)
        assert product is not None
        product.status = ProductStatus.DISCONTINUED
        session.add(product)


def unbind(sessions: SessionFactory, device_id: str) -> None:
    with transaction(sessions) as session:
        device = session.get(Device, device_id)
        assert device is not None
        device.status = DeviceStatus.UNBOUND
        session.add(device)


def make_contract(
    sessions: SessionFactory, *, user_id: str, product_id: uuid.UUID, devices: list[str]
) -> str:
    """An active contract written straight to the database, with no workflow behind it."""
    contract = Contract(
        id=uuid.uuid4(),
        user_id=user_id,
        product_id=product_id,
        resource_type="cloud_video_storage",
        unit_price_minor=1500,
        currency="CNY",
        price_version=1,
        billing_cycle="P30D",
        device_ids=devices,
        agreement_id=f"agr-{uuid.uuid4().hex[:8]}",
        agreement_cap_minor=4500,
        status=SubscriptionStatus.ACTIVE,
        anchor_at=datetime.now(UTC),
    )
    with transaction(sessions) as session:
        session.add(contract)
    return str(contract.id)
