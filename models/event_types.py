"""The catalogue of event types the engine reports: the outbox writers, the webhook endpoint API and the
dispatcher all name events from this one list."""

from __future__ import annotations

EVENT_TYPES: tuple[str, ...] = (
    "subscription.activated",
    "subscription.renewed",
    "subscription.payment_failed",
    "subscription.renewal_upcoming",
    "subscription.canceling",
    "subscription.canceled",
    "subscription.terminated",
    "subscription.ended",
    "subscription.devices_changed",
    "entitlement.opened",
    "entitlement.revoked",
    "voucher.claimed",
    "voucher.redeemed",
    "voucher.released",
)

# An endpoint subscribed to this receives every type, including types added later.
ALL_EVENT_TYPES = "*"


def unknown_event_types(names: list[str]) -> list[str]:
    """The names that are neither a known type nor the wildcard, in the order given."""
    return [name for name in names if name != ALL_EVENT_TYPES and name not in EVENT_TYPES]
