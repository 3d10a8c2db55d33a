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
from reconcile.books import Attempt, ContractBalance, CounterReading, Entitlement, Plan


@dataclass(frozen=True)
class OurRecords:
    attempts: tuple[Attempt, ...]
    plans: tuple[Plan, ...]
    entitlements: tuple[Entitlement, ...]
    contracts: tuple[ContractBalance, ...]


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
        )


# Each voucher counter, the table whose rows it counts, and the query pairing them. A claim counts as
# claimed whatever became of it; only `used` claims count as redeemed.
_VOUCHER_COUNTERS: tuple[tuple[str, str, str], ...] = (
    (
        "pushed_count",
        "voucher_pushes",
        "SELECT v.id::text, v.pushed_count, count(p.voucher_id) FROM vouchers v "
        "LEFT JOIN voucher_pushes p ON p.voucher_id = v.id GROUP BY v.id",
    ),
    (
        "claimed_count",
        "voucher_claims",
        "SELECT v.id::text, v.claimed_count, count(c.id) FROM vouchers v "
        "LEFT JOIN voucher_claims c ON c.voucher_id = v.id GROUP BY v.id",
    ),
    (
        "redeemed_count",
        "voucher_claims",
        "SELECT v.id::text, v.redeemed_count, count(c.id) FROM vouchers v "
        "LEFT JOIN voucher_claims c ON c.voucher_id = v.id AND c.status = 'used' GROUP BY v.id",
    ),
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
    with Session(engine) as session:
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        tables = _tables(session)
        if "vouchers" not in tables:
            return CounterRecords((), ("voucher counters not checked: no vouchers table",))
        readings: list[CounterReading] = []
        notes: list[str] = []
        for counter, rows_table, query in _VOUCHER_COUNTERS:
            if rows_table not in tables:
                notes.append(f"voucher {counter} not checked: no {rows_table} table")
                continue
            readings += [
                CounterReading(owner=f"voucher {voucher_id}", counter=counter, value=value, rows=rows)
                for voucher_id, value, rows in session.execute(text(query))
            ]
        return CounterRecords(tuple(readings), tuple(notes))
