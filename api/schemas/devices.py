"""Device bodies: registration by the device platform, unbinding, and what a device may use now."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel

from models.catalog import Device
from models.entitlement import Entitlement
from models.enums import DeviceStatus
from models.fields import DeviceId, Name, RequestBody, UserId


class DeviceRegister(RequestBody):
    id: DeviceId
    owner_user_id: UserId
    name: Name | None = None


class DeviceOut(BaseModel):
    id: str
    owner_user_id: str
    name: str | None
    status: DeviceStatus
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, device: Device) -> DeviceOut:
        return cls(
            id=device.id,
            owner_user_id=device.owner_user_id,
            name=device.name,
            status=device.status,
            created_at=device.created_at,
            updated_at=device.updated_at,
        )


class UnbindOut(BaseModel):
    device: DeviceOut
    signaled_subscriptions: list[uuid.UUID]


class EntitlementOut(BaseModel):
    subscription_id: uuid.UUID
    resource_type: str
    valid_from: datetime
    valid_until: datetime

    @classmethod
    def of(cls, entitlement: Entitlement) -> EntitlementOut:
        return cls(
            subscription_id=entitlement.contract_id,
            resource_type=entitlement.resource_type,
            valid_from=entitlement.valid_from,
            valid_until=entitlement.valid_until,
        )


class DeviceEntitlements(BaseModel):
    device_id: str
    as_of: datetime
    entitlements: list[EntitlementOut]
