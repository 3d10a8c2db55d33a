"""What reconciliation reports: one `Discrepancy` per thing that does not add up, by kind."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum


class Kind(StrEnum):
    CHARGE_WITHOUT_ATTEMPT = "charge_without_attempt"  # the gateway charged a key we have no attempt for
    CHARGE_MISMATCH = "charge_mismatch"  # same key, different amount, currency, status or charge id
    ATTEMPT_WITHOUT_CHARGE = "attempt_without_charge"  # we recorded an outcome the gateway never made
    DUPLICATE_CHARGE = "duplicate_charge"  # two successful gateway charges for one contract and period
    DUPLICATE_ATTEMPT = "duplicate_attempt"  # two successful attempts of ours for one contract and period
    CHARGE_WITHOUT_PAID_PLAN = "charge_without_paid_plan"  # a successful attempt, its plan not paid
    CHARGE_WITHOUT_ENTITLEMENT = "charge_without_entitlement"  # a paid device not entitled for the period
    ENTITLEMENT_WITHOUT_CHARGE = "entitlement_without_charge"  # entitled past the last period paid for it
    PLAN_PAID_WITHOUT_CHARGE = "plan_paid_without_charge"  # a paid plan with money due and no success
    PLAN_AMOUNT_MISMATCH = "plan_amount_mismatch"  # a paid plan's amount differs from its charge
    PAID_THROUGH_MISMATCH = "paid_through_mismatch"  # the contract's paid-through against its paid plans
    COUNTER_MISMATCH = "counter_mismatch"  # a stored counter against the rows it counts
    PAID_PERIOD_WITHOUT_EVENT = "paid_period_without_event"  # no activated/renewed event for a paid plan
    ENTITLEMENT_WITHOUT_EVENT = "entitlement_without_event"  # an entitlement opened or revoked, unreported


@dataclass(frozen=True)
class Discrepancy:
    kind: Kind
    subject: str  # the row at fault: an idempotency key, a device, a voucher counter
    detail: str
    contract_id: str | None = None
    period: int | None = None

    def as_json(self) -> dict[str, object]:
        return {**asdict(self), "kind": self.kind.value}

    @property
    def sort_key(self) -> tuple[str, int, str, str]:
        return (self.contract_id or "", -1 if self.period is None else self.period, self.kind, self.subject)
