"""Money against what it bought: successful attempts against paid plans and the entitlements of the plan's
devices; entitlements and the contract's paid-through against the periods actually paid."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from models.enums import AttemptStatus, EntitlementStatus, PlanStatus
from reconcile.books import Attempt, Books, Entitlement, Plan
from reconcile.findings import Discrepancy, Kind

PeriodKey = tuple[str, int]


def _when(moment: datetime | None) -> str:
    return moment.isoformat() if moment else "never"


def _span(entitlement: Entitlement) -> str:
    return (
        f"{entitlement.valid_from.isoformat()} → {entitlement.valid_until.isoformat()} "
        f"({entitlement.status.value})"
    )


def _covers(entitlement: Entitlement, plan: Plan) -> bool:
    if entitlement.valid_from > plan.period_start:
        return False
    if entitlement.valid_until >= plan.period_end:
        return True
    # A revocation (immediate cancel) may cut a paid period short, never before it began.
    return entitlement.status is EntitlementStatus.REVOKED and entitlement.valid_until > plan.period_start


def _uncovered_devices(plan: Plan, entitlements: dict[tuple[str, str], Entitlement]) -> list[Discrepancy]:
    found: list[Discrepancy] = []
    for device_id in plan.device_ids:
        entitlement = entitlements.get((plan.contract_id, device_id))
        if entitlement is not None and _covers(entitlement, plan):
            continue
        held = _span(entitlement) if entitlement else "no entitlement"
        found.append(
            Discrepancy(
                kind=Kind.CHARGE_WITHOUT_ENTITLEMENT,
                subject=device_id,
                detail=f"paid for {plan.period_start.isoformat()} → {plan.period_end.isoformat()}, "
                f"entitled {held}",
                contract_id=plan.contract_id,
                period=plan.period,
            )
        )
    return found


def _charged_periods(
    successes: dict[PeriodKey, list[Attempt]],
    plans: dict[PeriodKey, Plan],
    entitlements: dict[tuple[str, str], Entitlement],
) -> list[Discrepancy]:
    found: list[Discrepancy] = []
    for (contract_id, period), attempts in successes.items():
        plan = plans.get((contract_id, period))
        if plan is None or plan.status is not PlanStatus.PAID:
            why = "there is no plan for the period" if plan is None else f"the plan is {plan.status.value}"
            found.append(
                Discrepancy(
                    kind=Kind.CHARGE_WITHOUT_PAID_PLAN,
                    subject=attempts[0].idempotency_key,
                    detail=f"charge succeeded but {why}",
                    contract_id=contract_id,
                    period=period,
                )
            )
        if plan is not None:
            found += _uncovered_devices(plan, entitlements)
    return found


def _paid_plans(successes: dict[PeriodKey, list[Attempt]], paid: list[Plan]) -> list[Discrepancy]:
    found: list[Discrepancy] = []
    for plan in paid:
        attempts = successes.get((plan.contract_id, plan.period), [])
        if not attempts and plan.amount_minor > 0:
            found.append(
                Discrepancy(
                    kind=Kind.PLAN_PAID_WITHOUT_CHARGE,
                    subject=f"plan p{plan.period}",
                    detail=f"plan is paid ({plan.amount_minor} {plan.currency}) with no successful charge",
                    contract_id=plan.contract_id,
                    period=plan.period,
                )
            )
        for attempt in attempts:
            if (attempt.amount_minor, attempt.currency) != (plan.amount_minor, plan.currency):
                found.append(
                    Discrepancy(
                        kind=Kind.PLAN_AMOUNT_MISMATCH,
                        subject=attempt.idempotency_key,
                        detail=f"plan is for {plan.amount_minor} {plan.currency}, "
                        f"the successful charge for {attempt.amount_minor} {attempt.currency}",
                        contract_id=plan.contract_id,
                        period=plan.period,
                    )
                )
    return found


def _entitled_beyond_payment(paid: list[Plan], entitlements: tuple[Entitlement, ...]) -> list[Discrepancy]:
    paid_through: dict[tuple[str, str], datetime] = {}
    for plan in paid:
        for device_id in plan.device_ids:
            key = (plan.contract_id, device_id)
            paid_through[key] = max(plan.period_end, paid_through.get(key, plan.period_end))
    found: list[Discrepancy] = []
    for entitlement in entitlements:
        limit = paid_through.get((entitlement.contract_id, entitlement.device_id))
        if limit is not None and entitlement.valid_until <= limit:
            continue
        covered = f"paid through {limit.isoformat()}" if limit else "never in a paid plan"
        found.append(
            Discrepancy(
                kind=Kind.ENTITLEMENT_WITHOUT_CHARGE,
                subject=entitlement.device_id,
                detail=f"entitled {_span(entitlement)}, {covered}",
                contract_id=entitlement.contract_id,
            )
        )
    return found


def _contract_paid_through(books: Books, paid: list[Plan]) -> list[Discrepancy]:
    last_end: dict[str, datetime] = {}
    for plan in paid:
        last_end[plan.contract_id] = max(plan.period_end, last_end.get(plan.contract_id, plan.period_end))
    found: list[Discrepancy] = []
    for contract in books.contracts:
        expected = last_end.get(contract.contract_id)
        if contract.paid_through == expected:
            continue
        found.append(
            Discrepancy(
                kind=Kind.PAID_THROUGH_MISMATCH,
                subject="contract",
                detail=f"contract paid through {_when(contract.paid_through)}, "
                f"last paid plan ends {_when(expected)}",
                contract_id=contract.contract_id,
            )
        )
    return found


def compare_coverage(books: Books) -> list[Discrepancy]:
    plans = {(p.contract_id, p.period): p for p in books.plans}
    paid = [p for p in books.plans if p.status is PlanStatus.PAID]
    entitlements = {(e.contract_id, e.device_id): e for e in books.entitlements}
    successes: dict[PeriodKey, list[Attempt]] = defaultdict(list)
    for attempt in books.attempts:
        if attempt.status is AttemptStatus.SUCCEEDED:
            successes[(attempt.contract_id, attempt.period)].append(attempt)
    return [
        *_charged_periods(successes, plans, entitlements),
        *_paid_plans(successes, paid),
        *_entitled_beyond_payment(paid, books.entitlements),
        *_contract_paid_through(books, paid),
    ]
