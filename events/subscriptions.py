"""The events of a subscription's changes, each under the business key of the change it reports: the
activities that make a change build its events here and write them in the change's transaction."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from events.outbox import NewEvent
from models.events import (
    EntitlementOpened,
    EntitlementRevoked,
    EventType,
    Period,
    SubscriptionCanceling,
    SubscriptionDevicesChanged,
    SubscriptionFinished,
    SubscriptionPaid,
    SubscriptionPaymentFailed,
    SubscriptionRenewalUpcoming,
    SubscriptionTerminated,
    terminated_reason,
)
from models.money import Money


def paid(
    *,
    contract_id: uuid.UUID,
    period: Period,
    amount: Money,
    charge_id: str | None,
    device_ids: Iterable[str],
    resource_type: str,
) -> list[NewEvent]:
    """A paid period: activated or renewed, then one entitlement opened per device until its end."""
    devices = list(device_ids)
    kind = EventType.SUBSCRIPTION_ACTIVATED if period.index == 0 else EventType.SUBSCRIPTION_RENEWED
    events = [
        NewEvent(
            key=f"{contract_id}:{kind.value}:p{period.index}",
            type=kind,
            data=SubscriptionPaid(
                period=period, amount=amount, charge_id=charge_id, device_ids=devices, paid_through=period.end
            ),
        )
    ]
    events += [
        NewEvent(
            key=f"{contract_id}:entitlement.opened:p{period.index}:{device_id}",
            type=EventType.ENTITLEMENT_OPENED,
            data=EntitlementOpened(
                device_id=device_id, resource_type=resource_type, period=period.index, paid_through=period.end
            ),
        )
        for device_id in devices
    ]
    return events


def payment_failed(
    *,
    contract_id: uuid.UUID,
    period: int,
    attempt: int,
    amount: Money,
    decline_code: str,
    next_retry_at: datetime | None,
) -> NewEvent:
    return NewEvent(
        key=f"{contract_id}:payment_failed:p{period}:a{attempt}",
        type=EventType.SUBSCRIPTION_PAYMENT_FAILED,
        data=SubscriptionPaymentFailed(
            period=period,
            attempt=attempt,
            amount=amount,
            decline_code=decline_code,
            next_retry_at=next_retry_at,
        ),
    )


def renewal_upcoming(
    *, contract_id: uuid.UUID, period: Period, due_at: datetime, amount: Money, device_ids: Iterable[str]
) -> NewEvent:
    """The notice before a renewal: one per period, whichever attempt or replay sends it."""
    return NewEvent(
        key=f"{contract_id}:renewal_upcoming:p{period.index}",
        type=EventType.SUBSCRIPTION_RENEWAL_UPCOMING,
        data=SubscriptionRenewalUpcoming(
            period=period, due_at=due_at, amount=amount, device_ids=list(device_ids)
        ),
    )


def devices_changed(
    *, contract_id: uuid.UUID, period: int, attempt: int, before: Iterable[str], after: Iterable[str]
) -> NewEvent | None:
    """The group charged for `period` differs from the contract's: None when it does not."""
    old, new = list(before), list(after)
    added = [d for d in new if d not in old]
    removed = [d for d in old if d not in new]
    if not added and not removed:
        return None
    return NewEvent(
        key=f"{contract_id}:devices_changed:p{period}:a{attempt}",
        type=EventType.SUBSCRIPTION_DEVICES_CHANGED,
        data=SubscriptionDevicesChanged(period=period, device_ids=new, added=added, removed=removed),
    )


def revoked(
    *, contract_id: uuid.UUID, cause: str, reason: str, entitlements: Iterable[tuple[str, str, datetime]]
) -> list[NewEvent]:
    """One event per entitlement revoked, given as (device id, resource type, valid until); `cause` tells
    this revocation from any other of the same device (a period, or the contract's end)."""
    return [
        NewEvent(
            key=f"{contract_id}:entitlement.revoked:{cause}:{device_id}",
            type=EventType.ENTITLEMENT_REVOKED,
            data=EntitlementRevoked(
                device_id=device_id, resource_type=resource_type, paid_through=until, reason=reason
            ),
        )
        for device_id, resource_type, until in entitlements
    ]


def canceling(*, key: str, mode: str, reason: str, paid_through: datetime | None) -> NewEvent:
    return NewEvent(
        key=key,
        type=EventType.SUBSCRIPTION_CANCELING,
        data=SubscriptionCanceling(mode=mode, reason=reason, paid_through=paid_through),
    )


def finished(*, contract_id: uuid.UUID, status: str, reason: str, revoked_at: datetime) -> NewEvent:
    """The contract closed: canceled, ended, or terminated (a failed first period counts as terminated)."""
    key = f"{contract_id}:finished"
    if status in ("terminated", "failed"):
        return NewEvent(
            key=key,
            type=EventType.SUBSCRIPTION_TERMINATED,
            data=SubscriptionTerminated(
                status=status, reason=terminated_reason(reason), detail=reason, revoked_at=revoked_at
            ),
        )
    kind = EventType.SUBSCRIPTION_ENDED if status == "ended" else EventType.SUBSCRIPTION_CANCELED
    return NewEvent(
        key=key, type=kind, data=SubscriptionFinished(status=status, reason=reason, revoked_at=revoked_at)
    )
