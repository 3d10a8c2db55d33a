"""The device group's pending changes (seed claim 7): devices leave or join at the next period, never in
the middle of a paid one, and a change is refused before it is accepted when it cannot apply."""

from __future__ import annotations

from temporalio.exceptions import ApplicationError

from models.messages import DeviceChangeRequest, SubscriptionState
from models.names import INVALID_DEVICE_CHANGE


def remove(state: SubscriptionState, device_id: str) -> None:
    if device_id in state.pending_additions:
        state.pending_additions = tuple(d for d in state.pending_additions if d != device_id)
    elif device_id in state.device_ids and device_id not in state.pending_removals:
        state.pending_removals += (device_id,)


def add(state: SubscriptionState, device_id: str) -> None:
    if device_id in state.pending_removals:
        state.pending_removals = tuple(d for d in state.pending_removals if d != device_id)
    elif device_id not in state.device_ids and device_id not in state.pending_additions:
        state.pending_additions += (device_id,)


def after_changes(state: SubscriptionState) -> list[str]:
    return [d for d in state.device_ids if d not in state.pending_removals] + list(state.pending_additions)


def apply_changes(state: SubscriptionState) -> bool:
    """Make the pending changes the group; whether there were any."""
    if not state.pending_removals and not state.pending_additions:
        return False
    state.device_ids = tuple(after_changes(state))
    state.pending_removals, state.pending_additions = (), ()
    return True


def refuse_invalid_change(
    state: SubscriptionState, request: DeviceChangeRequest, *, max_devices: int
) -> None:
    """Raise the error the API shows when a change cannot apply to the group as it will be."""
    group = after_changes(state)
    for device_id in request.remove:
        if device_id not in group:
            raise _invalid(
                f"device {device_id} is not in this subscription", "device_id", "device_not_in_group"
            )
    after = [d for d in group if d not in request.remove]
    for device_id in request.add:
        if device_id in after:
            raise _invalid(
                f"device {device_id} is already in this subscription", "device_ids", "device_already_in_group"
            )
        after.append(device_id)
    if max_devices and len(after) > max_devices:
        raise _invalid(f"at most {max_devices} devices per group", "device_ids", "too_many_devices")


def _invalid(message: str, field: str, code: str) -> ApplicationError:
    return ApplicationError(message, {"field": field, "code": code}, type=INVALID_DEVICE_CHANGE)
