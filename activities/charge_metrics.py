"""What a settled charge attempt adds to the business metrics (infra/metrics.py): counted once its outcome
is committed, or once the gateway failed to give one, never for an answer replayed from the database."""

from __future__ import annotations

from gateway.protocol import ChargeResult, ChargeStatus, DeclineKind
from infra.metrics import (
    CHARGE_SECONDS,
    CHARGES,
    DUNNING_ATTEMPTS,
    ENTITLEMENTS_OPENED,
    ChargeOutcome,
)


def charge_outcome(result: ChargeResult | None) -> ChargeOutcome:
    """None: the gateway gave no answer we could read."""
    if result is None:
        return ChargeOutcome.UNKNOWN
    if result.status is ChargeStatus.SUCCEEDED:
        return ChargeOutcome.PAID
    # A decline the gateway did not classify is retried like a soft one (DunningPolicy).
    return (
        ChargeOutcome.HARD_DECLINE if result.decline_kind is DeclineKind.HARD else ChargeOutcome.SOFT_DECLINE
    )


def count_charge(*, resource_type: str, attempt: int, result: ChargeResult | None, seconds: float) -> None:
    outcome = charge_outcome(result).value
    CHARGES.labels(outcome=outcome, resource_type=resource_type).inc()
    CHARGE_SECONDS.labels(outcome=outcome).observe(seconds)
    if attempt > 1:
        DUNNING_ATTEMPTS.labels(outcome=outcome, resource_type=resource_type).inc()


def count_entitlements_opened(*, resource_type: str, devices: int) -> None:
    ENTITLEMENTS_OPENED.labels(resource_type=resource_type).inc(devices)
