"""Changes against the events that report them: every paid period has its activated or renewed event, and
every entitlement its opening and, once revoked, its revocation. Pure."""

from __future__ import annotations

from models.enums import EntitlementStatus, PlanStatus
from models.events import EventType
from reconcile.books import Books
from reconcile.findings import Discrepancy, Kind

_PAID = {EventType.SUBSCRIPTION_ACTIVATED.value, EventType.SUBSCRIPTION_RENEWED.value}


def compare_events(books: Books) -> list[Discrepancy]:
    if books.events is None:
        return []
    paid = {(e.contract_id, e.period) for e in books.events if e.type in _PAID}
    opened = {(e.contract_id, e.device_id) for e in books.events if e.type == EventType.ENTITLEMENT_OPENED}
    revoked = {(e.contract_id, e.device_id) for e in books.events if e.type == EventType.ENTITLEMENT_REVOKED}
    found = [
        Discrepancy(
            kind=Kind.PAID_PERIOD_WITHOUT_EVENT,
            subject=f"period {plan.period}",
            detail="paid, and no subscription.activated or subscription.renewed event reports it",
            contract_id=plan.contract_id,
            period=plan.period,
        )
        for plan in books.plans
        if plan.status is PlanStatus.PAID and (plan.contract_id, plan.period) not in paid
    ]
    for entitlement in books.entitlements:
        key = (entitlement.contract_id, entitlement.device_id)
        missing = [EventType.ENTITLEMENT_OPENED.value] if key not in opened else []
        if entitlement.status is EntitlementStatus.REVOKED and key not in revoked:
            missing.append(EventType.ENTITLEMENT_REVOKED.value)
        if missing:
            found.append(
                Discrepancy(
                    kind=Kind.ENTITLEMENT_WITHOUT_EVENT,
                    subject=entitlement.device_id,
                    detail=f"{entitlement.status.value}, and no {' or '.join(missing)} event",
                    contract_id=entitlement.contract_id,
                )
            )
    return found
