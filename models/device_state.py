"""What a device is told over MQTT: its entitlements, as one retained JSON message per device on its own
topic (docs/devices.md). Pure: the publisher builds it, the device simulator and the tests read it."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from models.enums import EntitlementStatus


class DeviceEntitlementStatus(StrEnum):
    OPEN = "open"
    REVOKED = "revoked"


class DeviceEntitlement(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    resource_type: str
    status: DeviceEntitlementStatus
    paid_through: datetime = Field(
        description="Open: usable until this time. Revoked: it was usable until this time, and is no more."
    )
    subscription_id: uuid.UUID


class DeviceState(BaseModel):
    """One device's state. `version` only grows: a device keeps the highest it has seen and ignores a
    message with a lower one."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    device_id: str
    version: int = Field(ge=1)
    updated_at: datetime
    entitlements: list[DeviceEntitlement]

    def open_resources(self, now: datetime) -> set[str]:
        """The resource types the device may use at `now`."""
        return {
            e.resource_type
            for e in self.entitlements
            if e.status is DeviceEntitlementStatus.OPEN and e.paid_through > now
        }


# One entitlement as the database holds it: (subscription id, resource type, status, valid until).
EntitlementRow = tuple[uuid.UUID, str, str, datetime]


def device_state(
    *, device_id: str, version: int, updated_at: datetime, rows: Iterable[EntitlementRow]
) -> DeviceState:
    """The state of a device from its entitlement rows, in a stable order (resource, then subscription)."""
    entitlements = [
        DeviceEntitlement(
            resource_type=resource_type,
            status=DeviceEntitlementStatus.OPEN
            if status == EntitlementStatus.ACTIVE.value
            else DeviceEntitlementStatus.REVOKED,
            paid_through=valid_until,
            subscription_id=subscription_id,
        )
        for subscription_id, resource_type, status, valid_until in rows
    ]
    entitlements.sort(key=lambda e: (e.resource_type, e.paid_through, str(e.subscription_id)))
    return DeviceState(device_id=device_id, version=version, updated_at=updated_at, entitlements=entitlements)


def device_topic(prefix: str, device_id: str) -> str:
    return f"{prefix}/devices/{device_id}/entitlements"
