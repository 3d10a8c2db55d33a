"""The event catalogue: the envelope every event travels in and the `data` of each type (DESIGN.md
section 1, "Events and devices"). Pure: the outbox writer, the feed and the webhook schemas share it."""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from models.money import Money


class EventType(StrEnum):
    SUBSCRIPTION_ACTIVATED = "subscription.activated"
    SUBSCRIPTION_RENEWED = "subscription.renewed"
    SUBSCRIPTION_PAYMENT_FAILED = "subscription.payment_failed"
    SUBSCRIPTION_RENEWAL_UPCOMING = "subscription.renewal_upcoming"
    SUBSCRIPTION_CANCELING = "subscription.canceling"
    SUBSCRIPTION_CANCELED = "subscription.canceled"
    SUBSCRIPTION_TERMINATED = "subscription.terminated"
    SUBSCRIPTION_ENDED = "subscription.ended"
    SUBSCRIPTION_DEVICES_CHANGED = "subscription.devices_changed"
    ENTITLEMENT_OPENED = "entitlement.opened"
    ENTITLEMENT_REVOKED = "entitlement.revoked"
    VOUCHER_CLAIMED = "voucher.claimed"
    VOUCHER_REDEEMED = "voucher.redeemed"
    VOUCHER_RELEASED = "voucher.released"


class TerminationReason(StrEnum):
    DUNNING_EXHAUSTED = "dunning_exhausted"
    HARD_DECLINE = "hard_decline"
    NOT_VERIFIED = "not_verified"


def event_id(dedup_key: str) -> str:
    """The id of the event a business key names: the same key gives the same id on every retry or replay,
    so the outbox keeps one row however often the change is recorded."""
    return "evt_" + hashlib.sha256(dedup_key.encode()).hexdigest()[:32]


class EventData(BaseModel):
    """The `data` of one event type; each subclass names its type."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Period(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    index: int = Field(ge=0, description="0 for the first period, then one more per renewal.")
    start: datetime
    end: datetime


# --- subscriptions ---------------------------------------------------------------------------------


class SubscriptionPaid(EventData):
    """`subscription.activated` (period 0) and `subscription.renewed` (later periods)."""

    period: Period
    amount: Money
    charge_id: str | None = Field(description="The gateway's charge; null when a voucher paid it all.")
    device_ids: list[str]
    paid_through: datetime


class SubscriptionPaymentFailed(EventData):
    """A declined charge that will be tried again (a soft decline)."""

    period: int
    attempt: int = Field(ge=1)
    amount: Money
    decline_code: str
    next_retry_at: datetime | None = Field(description="Null when this was the last attempt.")


class SubscriptionRenewalUpcoming(EventData):
    """Sent the product's notice before a renewal charge, with what will be charged then."""

    period: Period
    due_at: datetime
    amount: Money
    device_ids: list[str]


class SubscriptionCanceling(EventData):
    mode: str = Field(description="`at_period_end` or `immediately`.")
    reason: str
    paid_through: datetime | None


class SubscriptionFinished(EventData):
    """`subscription.canceled` and `subscription.ended`: the contract is closed, entitlements revoked."""

    status: str
    reason: str
    revoked_at: datetime


class SubscriptionTerminated(EventData):
    status: str = Field(description="`terminated`, or `failed` when the first period never paid.")
    reason: TerminationReason
    detail: str = Field(description="The engine's full reason, e.g. `hard_decline:card_closed`.")
    revoked_at: datetime


class SubscriptionDevicesChanged(EventData):
    period: int = Field(description="The period the new group is charged for first.")
    device_ids: list[str]
    added: list[str]
    removed: list[str]


# --- entitlements ----------------------------------------------------------------------------------


class EntitlementOpened(EventData):
    device_id: str
    resource_type: str
    period: int
    paid_through: datetime


class EntitlementRevoked(EventData):
    device_id: str
    resource_type: str
    paid_through: datetime = Field(description="The device keeps its entitlement until this time.")
    reason: str


# --- vouchers --------------------------------------------------------------------------------------


class VoucherClaimed(EventData):
    claim_id: uuid.UUID
    claimed_at: datetime


class VoucherRedeemed(EventData):
    claim_id: uuid.UUID
    subscription_id: uuid.UUID
    redeemed_at: datetime


class VoucherReleased(EventData):
    claim_id: uuid.UUID
    subscription_id: uuid.UUID
    expired: bool = Field(description="True when the claim came back expired (its use window is over).")


DATA_MODELS: dict[EventType, type[EventData]] = {
    EventType.SUBSCRIPTION_ACTIVATED: SubscriptionPaid,
    EventType.SUBSCRIPTION_RENEWED: SubscriptionPaid,
    EventType.SUBSCRIPTION_PAYMENT_FAILED: SubscriptionPaymentFailed,
    EventType.SUBSCRIPTION_RENEWAL_UPCOMING: SubscriptionRenewalUpcoming,
    EventType.SUBSCRIPTION_CANCELING: SubscriptionCanceling,
    EventType.SUBSCRIPTION_CANCELED: SubscriptionFinished,
    EventType.SUBSCRIPTION_TERMINATED: SubscriptionTerminated,
    EventType.SUBSCRIPTION_ENDED: SubscriptionFinished,
    EventType.SUBSCRIPTION_DEVICES_CHANGED: SubscriptionDevicesChanged,
    EventType.ENTITLEMENT_OPENED: EntitlementOpened,
    EventType.ENTITLEMENT_REVOKED: EntitlementRevoked,
    EventType.VOUCHER_CLAIMED: VoucherClaimed,
    EventType.VOUCHER_REDEEMED: VoucherRedeemed,
    EventType.VOUCHER_RELEASED: VoucherReleased,
}


class Event(BaseModel):
    """The envelope, as the feed shows it and webhooks deliver it."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(description="Stable across retries: derived from the change's business keys.")
    type: EventType
    created_at: datetime
    subscription_id: uuid.UUID | None = None
    voucher_id: uuid.UUID | None = None
    user_id: str
    sequence: int | None = Field(
        default=None, description="Per subscription, gapless and increasing from 1; null for vouchers."
    )
    data: dict[str, object]


def terminated_reason(reason: str) -> TerminationReason:
    """The catalogue's reason for the engine's detailed one (`hard_decline:<code>`, `dunning_exhausted:…`,
    `renewal_not_verified:…`)."""
    if reason.startswith("hard_decline"):
        return TerminationReason.HARD_DECLINE
    if reason.startswith("dunning_exhausted"):
        return TerminationReason.DUNNING_EXHAUSTED
    return TerminationReason.NOT_VERIFIED
