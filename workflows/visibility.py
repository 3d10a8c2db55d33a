"""What an operator sees of a subscription in the Temporal UI: its current details, and the search attributes
that answer "which subscriptions are past due, for whom, until when"."""

from __future__ import annotations

from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributeKey, SearchAttributeUpdate, TypedSearchAttributes

from models.enums import SubscriptionStatus
from models.messages import SubscriptionState
from workflows import search_attributes as sa

_UNSET = object()


def render_details(state: SubscriptionState) -> str:
    def when(value: object) -> str:
        return value.isoformat(timespec="seconds") if hasattr(value, "isoformat") else "—"

    lines = [
        f"**Status:** {state.status.value}",
        f"**Period:** {state.period if state.period is not None else '—'}",
        f"**Paid through:** {when(state.paid_through)}",
        f"**Next charge:** {when(state.next_charge_at)}",
        f"**Devices ({len(state.device_ids)}):** {', '.join(state.device_ids) or '—'}",
    ]
    if state.pending_removals:
        lines.append(f"**Leaving at period end:** {', '.join(state.pending_removals)}")
    if state.pending_additions:
        lines.append(f"**Joining next period:** {', '.join(state.pending_additions)}")
    if state.last_decline is not None:
        d = state.last_decline
        lines.append(f"**Last decline:** {d.code} ({d.kind.value}) on attempt {d.attempt}, {when(d.at)}")
    if state.cancel_mode is not None:
        lines.append(f"**Cancel requested:** {state.cancel_mode.value}")
    if state.termination_reason:
        lines.append(f"**Ended because:** {state.termination_reason}")
    return "\n\n".join(lines)


def indexed_values(state: SubscriptionState) -> list[tuple[SearchAttributeKey[Any], object]]:
    """The search attributes a subscription in this state should carry.

    `NextChargeAt` and `PaidThrough` are indexed only while the subscription is not active: past due (when
    the next retry runs), canceling (when it ends), or ended. An active one moves both every period, and
    each upsert is a history event and a write to the server's visibility store; while active they live in
    the current details and the `state` query."""
    times_indexed = state.status is not SubscriptionStatus.ACTIVE
    return [
        (sa.SUBSCRIPTION_STATUS, state.status.value),
        (sa.USER_ID, state.user_id),
        (sa.PRODUCT_ID, state.product_id),
        (sa.DEVICE_COUNT, len(state.device_ids)),
        (sa.NEXT_CHARGE_AT, state.next_charge_at if times_indexed else None),
        (sa.PAID_THROUGH, state.paid_through if times_indexed else None),
    ]


class Visibility:
    """Publishes a subscription's state to the UI, upserting only the search attributes that changed."""

    def __init__(self, started_with: TypedSearchAttributes) -> None:
        # A run starts with what its start (or the run before it) indexed: nothing of it is upserted again.
        self._indexed: dict[str, object] = {key.name: started_with.get(key) for key in sa.SUBSCRIPTION_KEYS}

    def publish(self, state: SubscriptionState, *, index: bool = True) -> None:
        workflow.set_current_details(render_details(state))
        if not index:
            return
        updates: list[SearchAttributeUpdate[Any]] = []
        for key, value in indexed_values(state):
            if self._indexed.get(key.name, _UNSET) == value:
                continue
            self._indexed[key.name] = value
            updates.append(key.value_unset() if value is None else key.value_set(value))
        if updates:
            workflow.upsert_search_attributes(updates)
