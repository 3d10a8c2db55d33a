"""Read what a contract left in the database, for assertions."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from sqlmodel import col, select

from infra.db import SessionFactory, transaction
from models.contract import ChargeAttempt, ChargePlan, Contract
from models.entitlement import ContractEvent, Entitlement


@dataclass
class Records:
    contract: Contract | None
    plans: list[ChargePlan]
    attempts: list[ChargeAttempt]
    entitlements: dict[str, Entitlement]
    events: list[ContractEvent]

    @property
    def event_kinds(self) -> list[str]:
        return [e.kind for e in self.events]


def records(sessions: SessionFactory, contract_id: str) -> Records:
    cid = uuid.UUID(contract_id)
    with transaction(sessions) as session:
        # One snapshot for every read: under READ COMMITTED an activity committing between two of them
        # would show its event beside the contract row as it was before.
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        return Records(
            contract=session.get(Contract, cid),
            plans=list(
                session.exec(
                    select(ChargePlan).where(ChargePlan.contract_id == cid).order_by(col(ChargePlan.period))
                )
            ),
            attempts=list(
                session.exec(
                    select(ChargeAttempt)
                    .where(ChargeAttempt.contract_id == cid)
                    .order_by(col(ChargeAttempt.period), col(ChargeAttempt.attempt))
                )
            ),
            entitlements={
                e.device_id: e
                for e in session.exec(select(Entitlement).where(Entitlement.contract_id == cid))
            },
            events=list(
                session.exec(
                    select(ContractEvent)
                    .where(ContractEvent.contract_id == cid)
                    .order_by(col(ContractEvent.id))
                )
            ),
        )


def ledger_periods(ledger: list[dict[str, object]]) -> list[tuple[int, str]]:
    """(period, status) of every gateway charge, oldest first."""
    out: list[tuple[int, str]] = []
    for charge in ledger:
        reference = charge["reference"]
        assert isinstance(reference, dict)
        out.append((int(reference["period"]), str(charge["status"])))
    return out


async def wait_for_records(
    sessions: SessionFactory, contract_id: str, predicate: Callable[[Records], bool], *, within: float = 30.0
) -> Records:
    """Poll the database until the contract's records satisfy the predicate (activities commit after the
    workflow's in-memory state changes, so a query can run ahead of the database)."""
    deadline = time.monotonic() + within
    while True:
        saved = records(sessions, contract_id)
        if predicate(saved) or time.monotonic() > deadline:
            return saved
        await asyncio.sleep(0.05)
