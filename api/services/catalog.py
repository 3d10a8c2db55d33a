"""Catalog writes and reads: products and devices."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlmodel import col, select

from api import problems
from api.schemas.devices import DeviceRegister
from api.schemas.products import ProductCreate, ProductUpdate, notice_too_long
from infra.db import SessionFactory, transaction
from models.catalog import Device, Product
from models.contract import Contract
from models.cycle import BillingCycle, CycleUnit
from models.entitlement import Entitlement
from models.enums import DeviceStatus, EntitlementStatus, ProductStatus, SubscriptionStatus
from models.notice import default_notice
from models.schedule import BILLING_DAY_NEEDS_MONTHLY_CYCLE, BillingDayRefused, check_billing_day


def _check_alignment(*, billing_cycle: str, billing_day: int | None, signup_day_allowed: bool) -> None:
    """A billing day, the product's or a signup's, needs a cycle of whole months."""
    cycle = BillingCycle.parse(billing_cycle)
    try:
        if billing_day is not None:
            check_billing_day(billing_day, cycle)
    except BillingDayRefused as refused:
        raise problems.INVALID_BILLING_DAY(refused.message, field="billing_day", code=refused.code) from None
    if signup_day_allowed and cycle.unit is not CycleUnit.MONTHS:
        raise problems.INVALID_BILLING_DAY(
            f"signups may choose a billing day only on a cycle of whole months (P1M, P3M, P1Y), not "
            f"{cycle.to_iso()}",
            field="signup_billing_day_allowed",
            code=BILLING_DAY_NEEDS_MONTHLY_CYCLE,
        )


def create_product(*, sessions: SessionFactory, request: ProductCreate) -> Product:
    _check_alignment(
        billing_cycle=request.billing_cycle,
        billing_day=request.billing_day,
        signup_day_allowed=request.signup_billing_day_allowed,
    )
    product = Product(
        name=request.name,
        resource_type=request.resource_type,
        billing_cycle=request.billing_cycle,
        unit_price_minor=request.unit_price.amount_minor,
        currency=request.unit_price.currency,
        max_devices=request.max_devices,
        dunning_delays_seconds=list(request.dunning.delays_seconds),
        dunning_max_attempts=request.dunning.max_attempts,
        status=request.status,
        renewal_notice=(
            request.renewal_notice
            if "renewal_notice" in request.model_fields_set
            else default_notice(BillingCycle.parse(request.billing_cycle))
        ),
        billing_day=request.billing_day,
        signup_billing_day_allowed=request.signup_billing_day_allowed,
    )
    with transaction(sessions) as session:
        session.add(product)
    return product


def update_product(*, sessions: SessionFactory, product_id: uuid.UUID, request: ProductUpdate) -> Product:
    with transaction(sessions) as session:
        product = session.get(Product, product_id, with_for_update=True)
        if product is None:
            raise problems.PRODUCT_NOT_FOUND(
                f"no product {product_id}", field="product_id", code="product_not_found"
            )
        if request.name is not None:
            product.name = request.name
        if request.unit_price is not None:
            if request.unit_price.currency != product.currency:
                raise problems.CURRENCY_CHANGE_NOT_ALLOWED(
                    f"the product is sold in {product.currency}; running agreements are capped in it",
                    field="unit_price.currency",
                    code="currency_change_not_allowed",
                )
            if request.unit_price.amount_minor != product.unit_price_minor:
                product.unit_price_minor = request.unit_price.amount_minor
                product.price_version += 1
        if request.max_devices is not None:
            product.max_devices = request.max_devices
        if request.dunning is not None:
            product.dunning_delays_seconds = list(request.dunning.delays_seconds)
            product.dunning_max_attempts = request.dunning.max_attempts
        if request.status is not None:
            product.status = request.status
        if "renewal_notice" in request.model_fields_set:
            if request.renewal_notice is not None and (
                error := notice_too_long(request.renewal_notice, product.billing_cycle)
            ):
                raise problems.INVALID_RENEWAL_NOTICE(
                    error.message(), field="renewal_notice", code=error.type
                )
            product.renewal_notice = request.renewal_notice
        if "billing_day" in request.model_fields_set:
            product.billing_day = request.billing_day
        if request.signup_billing_day_allowed is not None:
            product.signup_billing_day_allowed = request.signup_billing_day_allowed
        _check_alignment(
            billing_cycle=product.billing_cycle,
            billing_day=product.billing_day,
            signup_day_allowed=product.signup_billing_day_allowed,
        )
        product.updated_at = datetime.now(UTC)
        session.add(product)
    return product


def list_products(*, sessions: SessionFactory, status: ProductStatus | None) -> list[Product]:
    query = select(Product).order_by(col(Product.created_at), col(Product.id))
    if status is not None:
        query = query.where(col(Product.status) == status)
    with transaction(sessions) as session:
        return list(session.exec(query).all())


def register_device(*, sessions: SessionFactory, request: DeviceRegister) -> tuple[Device, bool]:
    """Register or re-bind a device; True when it is new. A device bound to someone else is a conflict;
    one that was unbound may be registered to a new owner (a transfer)."""
    with transaction(sessions) as session:
        device = session.get(Device, request.id, with_for_update=True)
        if device is None:
            device = Device(id=request.id, owner_user_id=request.owner_user_id, name=request.name)
            session.add(device)
            return device, True
        if device.owner_user_id != request.owner_user_id and device.status == DeviceStatus.BOUND:
            raise problems.DEVICE_OWNED_BY_ANOTHER_USER(
                f"device {request.id} is bound to another user; unbind it first",
                field="id",
                code="device_owned_by_another_user",
            )
        device.owner_user_id = request.owner_user_id
        device.status = DeviceStatus.BOUND
        if request.name is not None:
            device.name = request.name
        device.updated_at = datetime.now(UTC)
        session.add(device)
        return device, False


def unbind_device(*, sessions: SessionFactory, device_id: str) -> tuple[Device, list[uuid.UUID]]:
    """Mark the device unbound; return it and the running subscriptions whose group holds it."""
    with transaction(sessions) as session:
        device = session.get(Device, device_id, with_for_update=True)
        if device is None:
            raise problems.DEVICE_NOT_FOUND(
                f"no device {device_id}", field="device_id", code="device_not_found"
            )
        device.status = DeviceStatus.UNBOUND
        device.updated_at = datetime.now(UTC)
        session.add(device)
        holders = session.exec(
            select(Contract.id).where(
                col(Contract.status).in_([s for s in SubscriptionStatus if not s.is_final]),
                col(Contract.device_ids).op("@>")([device_id]),  # holds the device
            )
        ).all()
    return device, list(holders)


def device_entitlements(
    *, sessions: SessionFactory, device_id: str, owner_user_id: str | None, now: datetime
) -> list[Entitlement]:
    """Entitlements in force now; with `owner_user_id`, a device of anyone else is not found."""
    with transaction(sessions) as session:
        device = session.get(Device, device_id)
        if device is None or (owner_user_id is not None and device.owner_user_id != owner_user_id):
            raise problems.DEVICE_NOT_FOUND(
                f"no device {device_id}", field="device_id", code="device_not_found"
            )
        return list(
            session.exec(
                select(Entitlement)
                .where(
                    col(Entitlement.device_id) == device_id,
                    col(Entitlement.status) == EntitlementStatus.ACTIVE,
                    col(Entitlement.valid_until) > now,
                )
                .order_by(col(Entitlement.valid_until))
            ).all()
        )
