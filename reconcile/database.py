"""Our side of the books, read from the engine's tables: attempts, plans, entitlements, contracts, and the
voucher counters beside the rows they count (only where the voucher tables exist)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, text
from sqlmodel import Session, col, select

from models.contract import ChargeAttempt, ChargePlan, Contract
from models.entitlement import Entitlement as EntitlementRow
from reconcile.books import Attempt, ContractBalance, CounterReading, Entitlement, EventRecord, Plan
from vouchers.audit import voucher_counters


@dataclass(frozen=True)
class OurRecords:
    attempts: tuple[Attempt, ...]
    plans: tuple[Plan, ...]
    entitlements: tuple[Entitlement, ...]
    contracts: tuple[ContractBalance, ...]
    events: tuple[EventRecord, ...]


def read_records(engine: Engine, *, contract_ids: Sequence[str] = ()) -> OurRecords:
    """One snapshot (a repeatable-read transaction), so rows written meanwhile cannot half-appear."""
    ids = [uuid.UUID(c) for c in contract_ids]
    with Session(engine) as session:
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        attempts = select(ChargeAttempt)
        plans = select(ChargePlan)
        entitlements = select(EntitlementRow)
        contracts = select(Contract)
        if ids:
            attempts = attempts.where(col(ChargeAttempt.contract_id).in_(ids))
            plans = plans.where(col(ChargePlan.contract_id).in_(ids))
            entitlements = entitlements.where(col(EntitlementRow.contract_id).in_(ids))
            contracts = contracts.where(col(Contract.id).in_(ids))
        return OurRecords(
            attempts=tuple(
                Attempt(
                    contract_id=str(a.contract_id),
                    period=a.period,
                    attempt=a.attempt,
                    idempotency_key=a.idempotency_key,
                    status=a.status,
                    amount_minor=a.amount_minor,
                    currency=a.currency,
                    gateway_charge_id=a.gateway_charge_id,
                    created_at=a.created_at,
                )
                for a in session.exec(attempts)
            ),
            plans=tuple(
                Plan(
                    contract_id=str(p.contract_id),
                    period=p.period,
                    period_start=p.period_start,
                    period_end=p.period_end,
                    device_ids=tuple(p.device_ids),
                    amount_minor=p.amount_minor,
                    currency=p.currency,
                    status=p.status,
                )
                for p in session.exec(plans)
            ),
            entitlements=tuple(
                Entitlement(
                    contract_id=str(e.contract_id),
                    device_id=e.device_id,
                    valid_from=e.valid_from,
                    valid_until=e.valid_until,
                    status=e.status,
                )
                for e in session.exec(entitlements)
            ),
            contracts=tuple(
                ContractBalance(contract_id=str(c.id), paid_through=c.paid_through)
                for c in session.exec(contracts)
            ),
            events=_events(session, ids),
        )


# The events reconciliation checks changes against: paid periods and entitlement changes.
_EVENTS = text("""
SELECT subscription_id, type,
       coalesce((data -> 'period' ->> 'index')::int,
                CASE WHEN jsonb_typeof(data -> 'period') = 'number' THEN (data ->> 'period')::int END),
       data ->> 'device_id'
FROM events
WHERE type IN ('subscription.activated', 'subscription.renewed', 'entitlement.opened', 'entitlement.revoked')
  AND subscription_id IS NOT NULL AND (cardinality(CAST(:ids AS uuid[])) = 0 OR subscription_id = ANY(:ids))
""")


def _events(session: Session, ids: list[uuid.UUID]) -> tuple[EventRecord, ...]:
    rows = session.execute(_EVENTS, {"ids": ids})
    return tuple(
        EventRecord(contract_id=str(contract_id), type=type_, period=period, device_id=device_id)
        for contract_id, type_, period, device_id in rows
    )


@dataclass(frozen=True)
class CounterRecords:
    readings: tuple[CounterReading, ...]
    notes: tuple[str, ...]


def _tables(session: Session) -> set[str]:
    rows = session.execute(
        text("SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")
    )
    return {str(name) for (name,) in rows}


def read_counters(engine: Engine) -> CounterRecords:
    """Each voucher counter beside its rows, as the voucher domain defines them (`vouchers.audit`); every
    voucher table comes with the one migration, so one check for it suffices."""
    with Session(engine) as session:
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        if "vouchers" not in _tables(session):
            return CounterRecords((), ("voucher counters not checked: no vouchers table",))
        readings = tuple(
            CounterReading(
                owner=f"voucher {drift.voucher_id}",
                counter=drift.counter,
                value=drift.counter_value,
                rows=drift.rows,
            )
            for drift in voucher_counters(session)
        )
        return CounterRecords(readings, ())
