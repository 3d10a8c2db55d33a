"""The markdown an operator sees as a subscription's current details in the Temporal UI."""

from __future__ import annotations

from models.messages import SubscriptionState


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
        lines.append(f"**Last decline:** {d.code} ({d.kind}) on attempt {d.attempt}, {when(d.at)}")
    if state.cancel_mode is not None:
        lines.append(f"**Cancel requested:** {state.cancel_mode.value}")
    if state.termination_reason:
        lines.append(f"**Ended because:** {state.termination_reason}")
    return "\n\n".join(lines)
