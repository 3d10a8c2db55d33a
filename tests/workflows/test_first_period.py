"""Seed claims 1 and 2: signing builds the contract, the first plan is charged directly, devices are
entitled."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlmodel import select
from temporalio.testing import WorkflowEnvironment

from infra.db import SessionFactory, transaction
from models.contract import ChargeAttempt, ChargePlan, Contract
from models.entitlement import Entitlement
from models.enums import EntitlementStatus, PlanStatus, SubscriptionStatus
from tests.fixtures.sandbox import SandboxGateway
from tests.support.factories import make_devices, make_product
from tests.support.temporal import settled, start_subscription


async def test_signing_charges_first_period_and_entitles_every_device(
    env: WorkflowEnvironment, sessions: SessionFactory, sandbox_gateway: SandboxGateway, task_queue: str
) -> None:
    product_id = make_product(sessions, price=1500, cycle="P30D")
    devices = make_devices(sessions, owner="alice", count=3)
    contract_id, handle = await start_subscription(
        env, task_queue=task_queue, user_id="alice", product_id=product_id, device_ids=devices
    )
    state = await settled(env, handle)

    assert state.status is SubscriptionStatus.ACTIVE
    assert state.period == 0
    assert state.period_start is not None and state.paid_through is not None
    assert state.paid_through - state.period_start == timedelta(days=30)
    assert state.device_ids == devices
    with transaction(sessions) as session:
        contract = session.get(Contract, uuid.UUID(contract_id))
        plans = session.exec(select(ChargePlan)).all()
        attempts = session.exec(select(ChargeAttempt)).all()
        entitlements = session.exec(select(Entitlement)).all()
    assert contract is not None and contract.status is SubscriptionStatus.ACTIVE
    assert [(p.period, p.amount_minor, p.status) for p in plans] == [(0, 4500, PlanStatus.PAID)]
    assert [a.idempotency_key for a in attempts] == [f"charge:{contract_id}:p0:a1"]
    assert sorted(e.device_id for e in entitlements) == sorted(devices)
    assert all(
        e.status is EntitlementStatus.ACTIVE and e.valid_until == state.paid_through for e in entitlements
    )
    ledger = sandbox_gateway.ledger(contract_id)
    assert [(c["reference"]["period"], c["status"], c["amount"]["amount_minor"]) for c in ledger] == [
        (0, "succeeded", 4500)
    ]
