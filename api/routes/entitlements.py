"""What a device may use right now, and until when."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from api.auth import CallerDep, User
from api.deps import SessionsDep
from api.problems import COMMON_RESPONSES
from api.schemas.common import DevicePath
from api.schemas.devices import DeviceEntitlements, EntitlementOut
from api.services import catalog

router = APIRouter(prefix="/v1/devices", tags=["devices"], responses=COMMON_RESPONSES)


@router.get("/{device_id}/entitlements", response_model=DeviceEntitlements)
async def device_entitlements(
    device_id: DevicePath, caller: CallerDep, sessions: SessionsDep
) -> DeviceEntitlements:
    """The device's entitlements in force now (active, valid until a future time), soonest to end first.
    A user sees only their own devices; the admin sees any."""
    now = datetime.now(UTC)
    owner = caller.user_id if isinstance(caller, User) else None
    entitlements = await run_in_threadpool(
        lambda: catalog.device_entitlements(
            sessions=sessions, device_id=device_id, owner_user_id=owner, now=now
        )
    )
    return DeviceEntitlements(
        device_id=device_id, as_of=now, entitlements=[EntitlementOut.of(e) for e in entitlements]
    )
