"""Signup validation over facts already read: the product's terms, the devices as they are now, and a
running subscription that already holds one of them. The API runs these checks to answer early, the
signing activity to decide; each refusal names the field and a stable code, and each caller turns it into
its own error."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from models.cycle import BillingCycle
from models.enums import DeviceStatus, ProductStatus
from models.messages import SignContractInput, SignupRequest
from models.renewal import LiveDevice
from models.schedule import BILLING_DAY_NOT_ALLOWED, BillingDayRefused, check_billing_day

DEVICE_ALREADY_SUBSCRIBED = "device_already_subscribed"


class SignupRefused(Exception):
    """A signup (or a device joining a group) that cannot proceed, and why."""

    def __init__(self, message: str, *, field: str, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code


@dataclass(frozen=True)
class ProductTerms:
    """What signing needs of a product, read in one statement (this runs on every signup, twice)."""

    id: uuid.UUID
    name: str
    resource_type: str
    status: str
    max_devices: int
    unit_price_minor: int
    currency: str
    price_version: int
    billing_cycle: str
    dunning_delays_seconds: list[int]
    dunning_max_attempts: int
    billing_day: int | None = None
    signup_billing_day_allowed: bool = False


class DeviceHolder(NamedTuple):
    """A running subscription for the same resource that already holds one of the devices."""

    contract_id: uuid.UUID
    device_id: str


@dataclass(frozen=True)
class SignupFacts:
    """What a signup's validation reads: the product, the devices as they are now, and a running
    subscription for the product's resource that already holds one of the devices."""

    product: ProductTerms | None
    devices: list[LiveDevice]
    holder: DeviceHolder | None


def parse_product_id(product_id: str) -> uuid.UUID:
    return _parse_uuid(product_id, field="product_id", code="invalid_product_id")


def parse_voucher_claim_id(voucher_claim_id: str | None) -> uuid.UUID | None:
    if voucher_claim_id is None:
        return None
    return _parse_uuid(voucher_claim_id, field="voucher_claim_id", code="invalid_voucher_claim_id")


def check_signup(request: SignContractInput, facts: SignupFacts) -> ProductTerms:
    """Every reason a signup cannot proceed that its facts show, except a device another subscription
    holds (`refuse_if_held`): the API and the activity answer that one differently. The voucher claim is
    checked by the caller, as its usability needs a read of its own."""
    product = facts.product
    if product is None:
        raise SignupRefused(
            f"unknown product {request.product_id}", field="product_id", code="unknown_product"
        )
    if product.status != ProductStatus.ACTIVE:
        raise SignupRefused("product is discontinued", field="product_id", code="product_discontinued")
    devices = request.device_ids
    if not devices:
        raise SignupRefused("device_ids must not be empty", field="device_ids", code="no_devices")
    _check_distinct(devices)
    if len(devices) > product.max_devices:
        raise SignupRefused(
            f"at most {product.max_devices} devices per group", field="device_ids", code="too_many_devices"
        )
    _check_owned_and_bound(devices, owner_user_id=request.user_id, live=facts.devices)
    try:
        ZoneInfo(request.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise SignupRefused(
            f"unknown time zone {request.timezone!r}: use an IANA time zone name such as Europe/Berlin, "
            "America/New_York or Asia/Shanghai",
            field="timezone",
            code="unknown_timezone",
        ) from None
    signed_billing_day(request, product)
    return product


def signed_billing_day(request: SignupRequest, product: ProductTerms) -> int | None:
    """The billing day the contract is signed with: the signup's own, where the product allows one, else
    the product's (None: periods follow the signup's anniversary)."""
    if request.billing_day is None:
        return product.billing_day
    if not product.signup_billing_day_allowed:
        allowed = (
            f"its periods start on day {product.billing_day}"
            if product.billing_day is not None
            else "its periods follow each signup's anniversary"
        )
        raise SignupRefused(
            f"this product does not let a signup choose its billing day: {allowed}; omit billing_day",
            field="billing_day",
            code=BILLING_DAY_NOT_ALLOWED,
        )
    try:
        check_billing_day(request.billing_day, BillingCycle.parse(product.billing_cycle))
    except BillingDayRefused as refused:
        raise SignupRefused(refused.message, field="billing_day", code=refused.code) from None
    return request.billing_day


def check_devices_joinable(device_ids: Sequence[str], *, owner_user_id: str, live: list[LiveDevice]) -> None:
    """The checks a signup makes of its devices, for devices joining an existing group."""
    _check_distinct(device_ids)
    _check_owned_and_bound(device_ids, owner_user_id=owner_user_id, live=live)


def refuse_if_held(holder: DeviceHolder | None, *, resource_type: str) -> None:
    if holder is not None:
        raise SignupRefused(
            f"device {holder.device_id} already has a running subscription for {resource_type}",
            field="device_ids",
            code=DEVICE_ALREADY_SUBSCRIBED,
        )


def _parse_uuid(value: str, *, field: str, code: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise SignupRefused(f"{field} is not a UUID", field=field, code=code) from None


def _check_distinct(device_ids: Sequence[str]) -> None:
    if len(set(device_ids)) != len(device_ids):
        raise SignupRefused("device_ids contains duplicates", field="device_ids", code="duplicate_devices")


def _check_owned_and_bound(device_ids: Sequence[str], *, owner_user_id: str, live: list[LiveDevice]) -> None:
    found = {d.device_id: d for d in live}
    for device_id in device_ids:
        device = found.get(device_id)
        # Someone else's device is reported as unknown: its existence is not ours to reveal.
        if device is None or device.owner_user_id != owner_user_id:
            raise SignupRefused(f"unknown device {device_id}", field="device_ids", code="unknown_device")
        if device.status != DeviceStatus.BOUND:
            raise SignupRefused(
                f"device {device_id} is not bound", field="device_ids", code="device_not_bound"
            )
