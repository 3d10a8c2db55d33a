"""Database checks on devices joining a group: owned, bound, and not entitled for the same resource by
another subscription that is still running."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlmodel import Session, col, select

from activities.device_groups import device_holder
from api import problems
from models.catalog import Device
from models.enums import DeviceStatus


def assert_devices_free(
    session: Session,
    *,
    resource_type: str,
    device_ids: Sequence[str],
    exclude_contract: uuid.UUID | None = None,
) -> None:
    """409 when a device already belongs to a running subscription for the same resource type."""
    holder = device_holder(
        session, resource_type=resource_type, device_ids=device_ids, exclude_contract=exclude_contract
    )
    refuse_if_held(holder, resource_type=resource_type)


def refuse_if_held(holder: tuple[uuid.UUID, str] | None, *, resource_type: str) -> None:
    if holder is not None:
        raise problems.DEVICE_ALREADY_SUBSCRIBED(
            f"device {holder[1]} already has a running subscription for {resource_type}",
            field="device_ids",
            code="device_already_subscribed",
        )


def assert_devices_joinable(
    session: Session,
    *,
    owner_user_id: str,
    resource_type: str,
    device_ids: Sequence[str],
    contract_id: uuid.UUID,
) -> None:
    """The checks `validate_signup` makes for a new group, for devices joining an existing one."""
    if len(set(device_ids)) != len(device_ids):
        raise problems.DUPLICATE_DEVICES(
            "device_ids contains duplicates", field="device_ids", code="duplicate_devices"
        )
    found = {d.id: d for d in session.exec(select(Device).where(col(Device.id).in_(list(device_ids))))}
    for device_id in device_ids:
        device = found.get(device_id)
        # Someone else's device is reported as unknown: its existence is not ours to reveal.
        if device is None or device.owner_user_id != owner_user_id:
            raise problems.UNKNOWN_DEVICE(
                f"unknown device {device_id}", field="device_ids", code="unknown_device"
            )
        if device.status != DeviceStatus.BOUND:
            raise problems.DEVICE_NOT_BOUND(
                f"device {device_id} is not bound", field="device_ids", code="device_not_bound"
            )
    assert_devices_free(
        session, resource_type=resource_type, device_ids=device_ids, exclude_contract=contract_id
    )
