"""Hand-built books for the pure comparison: a consistent subscription history, edited per test."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from gateway.protocol import ChargeStatus
from models.contract import charge_idempotency_key
from models.enums import AttemptStatus, EntitlementStatus, PlanStatus
from reconcile.books import (
    Attempt,
    Books,
    ContractBalance,
    CounterReading,
    Entitlement,
    GatewayCharge,
    Plan,
)

CONTRACT = "0b7c1f6e-8a55-4c1e-9a57-1d0c2f0c0001"
ANCHOR = datetime(2026, 1, 1, tzinfo=UTC)
CYCLE = timedelta(days=30)
PRICE = 1000

Row = TypeVar("Row")


def start(period: int) -> datetime:
    return ANCHOR + CYCLE * period


def charge(
    period: int, attempt: int = 1, *, status: ChargeStatus = ChargeStatus.SUCCEEDED, amount: int = PRICE * 2
) -> GatewayCharge:
    return GatewayCharge(
        charge_id=f"ch_p{period}a{attempt}",
        idempotency_key=charge_idempotency_key(CONTRACT, period, attempt),
        contract_id=CONTRACT,
        period=period,
        attempt=attempt,
        status=status,
        amount_minor=amount,
        currency="CNY",
    )


def attempt_for(gateway: GatewayCharge) -> Attempt:
    return Attempt(
        contract_id=gateway.contract_id,
        period=gateway.period,
        attempt=gateway.attempt,
        idempotency_key=gateway.idempotency_key,
        status=AttemptStatus(gateway.status.value),
        amount_minor=gateway.amount_minor,
        currency=gateway.currency,
        gateway_charge_id=gateway.charge_id,
        created_at=start(gateway.period),
    )


def plan(period: int, devices: tuple[str, ...]) -> Plan:
    return Plan(
        contract_id=CONTRACT,
        period=period,
        period_start=start(period),
        period_end=start(period + 1),
        device_ids=devices,
        amount_minor=PRICE * len(devices),
        currency="CNY",
        status=PlanStatus.PAID,
    )


def clean_books(periods: int = 3, devices: tuple[str, ...] = ("cam-a", "cam-b")) -> Books:
    """`periods` periods paid at the first attempt for every device, entitled to the last period's end."""
    charges = tuple(charge(n, amount=PRICE * len(devices)) for n in range(periods))
    return Books(
        gateway=charges,
        attempts=tuple(attempt_for(c) for c in charges),
        plans=tuple(plan(n, devices) for n in range(periods)),
        entitlements=tuple(
            Entitlement(CONTRACT, d, start(0), start(periods), EntitlementStatus.ACTIVE) for d in devices
        ),
        contracts=(ContractBalance(CONTRACT, start(periods)),),
        counters=(CounterReading(owner="voucher v1", counter="claimed_count", value=3, rows=3),),
    )


def without(rows: tuple[Row, ...], index: int) -> tuple[Row, ...]:
    return rows[:index] + rows[index + 1 :]


def edit_entitlement(books: Books, device_id: str, **changes: Any) -> Books:
    edited = tuple(replace(e, **changes) if e.device_id == device_id else e for e in books.entitlements)
    return replace(books, entitlements=edited)
