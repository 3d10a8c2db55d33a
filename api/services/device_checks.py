"""Devices joining a group: owned, bound, and not entitled for the same resource by another subscription
that is still running. The checks are the signup's own (`models.signup`), answered as problems."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlmodel import Session

from api.services.errors import refusal_problem
from contracts.devices import device_holder, live_devices
from models.signup import SignupRefused, check_devices_joinable, refuse_if_held


def assert_devices_joinable(
    session: Session,
    *,
    owner_user_id: str,
    resource_type: str,
    device_ids: Sequence[str],
    contract_id: uuid.UUID,
) -> None:
    """409 when a device already belongs to a running subscription for the same resource type; the
    signup's answers when a device is repeated, unknown or not bound."""
    try:
        check_devices_joinable(
            device_ids, owner_user_id=owner_user_id, live=live_devices(session, device_ids)
        )
        holder = device_holder(
            session, resource_type=resource_type, device_ids=device_ids, exclude_contract=contract_id
        )
        refuse_if_held(holder, resource_type=resource_type)
    except SignupRefused as refused:
        raise refusal_problem(refused) from None
