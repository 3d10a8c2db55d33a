"""Device platform events: registration (binding to an owner) and unbinding."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Response
from starlette.concurrency import run_in_threadpool

from api.auth import AdminDep
from api.deps import SessionsDep, TemporalDep
from api.problems import COMMON_RESPONSES, problem_responses
from api.schemas.common import DevicePath
from api.schemas.devices import DeviceOut, DeviceRegister, UnbindOut
from api.services import catalog
from api.services.workflow_calls import signal_device_removed
from models.messages import DeviceChange

router = APIRouter(prefix="/v1/devices", tags=["devices"], responses=COMMON_RESPONSES)


@router.post(
    "",
    status_code=201,
    response_model=DeviceOut,
    responses=problem_responses(
        409, also={200: {"model": DeviceOut, "description": "Already registered to this owner"}}
    ),
)
async def register_device(
    body: DeviceRegister, response: Response, _admin: AdminDep, sessions: SessionsDep
) -> DeviceOut:
    """Bind a device to its owner. Registering it again for the same owner re-binds it (200); a device
    bound to another user is a conflict until it is unbound (then this transfers it)."""
    device, created = await run_in_threadpool(
        lambda: catalog.register_device(sessions=sessions, request=body)
    )
    if not created:
        response.status_code = 200
    return DeviceOut.of(device)


@router.post("/{device_id}/unbind", response_model=UnbindOut)
async def unbind_device(
    device_id: DevicePath, _admin: AdminDep, sessions: SessionsDep, client: TemporalDep
) -> UnbindOut:
    """Mark the device unbound and tell every running subscription holding it (signal `device_removed`):
    it leaves the group at the end of the paid period and is not charged again."""
    device, holders = await run_in_threadpool(
        lambda: catalog.unbind_device(sessions=sessions, device_id=device_id)
    )
    change = DeviceChange(device_id=device.id, reason="unbound")
    delivered = await asyncio.gather(*(signal_device_removed(client, str(h), change) for h in holders))
    return UnbindOut(
        device=DeviceOut.of(device),
        signaled_subscriptions=[h for h, ok in zip(holders, delivered, strict=True) if ok],
    )
