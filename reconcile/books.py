"""The records reconciliation compares, as plain frozen values (no ORM, no I/O): what the gateway charged,
what we tried to charge, what we planned and marked paid, what we entitled, and counters with their rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from gateway.protocol import ChargeStatus
from models.enums import AttemptStatus, EntitlementStatus, PlanStatus


# One row of the gateway's ledger, whatever its outcome.
@dataclass(frozen=True)
class GatewayCharge:
    charge_id: str
    idempotency_key: str
    contract_id: str
    period: int
    attempt: int
    status: ChargeStatus
    amount_minor: int
    currency: str


# One of our charge attempts (the row written before the gateway call).
@dataclass(frozen=True)
class Attempt:
    contract_id: str
    period: int
    attempt: int
    idempotency_key: str
    status: AttemptStatus
    amount_minor: int
    currency: str
    gateway_charge_id: str | None
    created_at: datetime


# One period's charge plan.
@dataclass(frozen=True)
class Plan:
    contract_id: str
    period: int
    period_start: datetime
    period_end: datetime
    device_ids: tuple[str, ...]
    amount_minor: int
    currency: str
    status: PlanStatus


# A device's entitlement under one contract.
@dataclass(frozen=True)
class Entitlement:
    contract_id: str
    device_id: str
    valid_from: datetime
    valid_until: datetime
    status: EntitlementStatus


# What the contract row says it is paid through.
@dataclass(frozen=True)
class ContractBalance:
    contract_id: str
    paid_through: datetime | None


# A stored counter beside the number of rows it counts (e.g. a voucher's claimed_count and its claims).
@dataclass(frozen=True)
class CounterReading:
    owner: str  # what carries the counter, e.g. "voucher 6f1c…"
    counter: str  # e.g. "claimed_count"
    value: int
    rows: int


@dataclass(frozen=True)
class EventRecord:
    """An outbox event about a period or an entitlement: `period` for paid periods and openings,
    `device_id` for entitlement events."""

    contract_id: str
    type: str
    period: int | None
    device_id: str | None


@dataclass(frozen=True)
class Books:
    gateway: tuple[GatewayCharge, ...] = ()
    attempts: tuple[Attempt, ...] = ()
    plans: tuple[Plan, ...] = ()
    entitlements: tuple[Entitlement, ...] = ()
    contracts: tuple[ContractBalance, ...] = ()
    counters: tuple[CounterReading, ...] = ()
    events: tuple[EventRecord, ...] | None = None  # None: the outbox was not read
