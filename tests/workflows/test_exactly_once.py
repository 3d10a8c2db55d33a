"""Exactly-once money over a long life: 36 monthly periods across several continue-as-new runs, and lost
gateway responses, each leave exactly one charge per period in the gateway's ledger and in ours."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from temporalio.testing import WorkflowEnvironment

from infra.db import SessionFactory
from models.contract import charge_idempotency_key
from models.enums import AttemptStatus, CancelMode, PlanStatus, SubscriptionStatus
from models.messages import CancelRequest
from tests.fixtures.sandbox import SandboxGateway
from tests.support.factories import make_devices, make_product
from tests.support.records import ledger_periods, records
from tests.support.temporal import settled, start_subscription
from workflows.subscription import SubscriptionWorkflow


async def test_thirty_six_monthly_periods_continue_as_new_and_charge_each_period_once(
    env: WorkflowEnvironment, sessions: SessionFactory, sandbox_gateway: SandboxGateway, task_queue: str
) -> None:
    product_id = make_product(sessions, price=990, cycle="P1M")
    devices = make_devices(sessions, owner="quinn", count=2)
    contract_id, handle = await start_subscription(
        env,
        task_queue=task_queue,
        user_id="quinn",
        product_id=product_id,
        device_ids=devices,
        periods_per_run=6,
    )
    state = await settled(env, handle)
    while state.periods_charged < 36:
        await env.sleep(timedelta(days=20))
        state = await settled(env, handle)
    await handle.signal(SubscriptionWorkflow.cancel, CancelRequest(mode=CancelMode.IMMEDIATELY))
    final = await handle.result()

    assert final.status is SubscriptionStatus.CANCELED
    assert final.periods_charged == 36
    assert final.run_number >= 6  # continued as new every 6 periods, state carried over
    saved = records(sessions, contract_id)
    assert [p.period for p in saved.plans] == list(range(36))
    assert all(p.status is PlanStatus.PAID and p.amount_minor == 1980 for p in saved.plans)
    assert [(a.period, a.attempt, a.status) for a in saved.attempts] == [
        (n, 1, AttemptStatus.SUCCEEDED) for n in range(36)
    ]
    assert [a.idempotency_key for a in saved.attempts] == [
        charge_idempotency_key(contract_id, n, 1) for n in range(36)
    ]
    assert ledger_periods(sandbox_gateway.ledger(contract_id)) == [(n, "succeeded") for n in range(36)]


async def test_lost_gateway_responses_still_charge_each_period_exactly_once(
    env: WorkflowEnvironment, sessions: SessionFactory, sandbox_gateway: SandboxGateway, task_queue: str
) -> None:
    product_id = make_product(sessions, price=500, cycle="P30D")
    devices = make_devices(sessions, owner="rae", count=1)
    contract_id, handle = await start_subscription(
        env,
        task_queue=task_queue,
        user_id="rae",
        product_id=product_id,
        device_ids=devices,
        token="sandbox_lost_response",
    )
    state = await settled(env, handle, within=60)
    for _ in range(2):
        await env.sleep(timedelta(days=30, minutes=1))
        state = await settled(env, handle, within=60)
    assert state.periods_charged == 3

    ledger = sandbox_gateway.ledger(contract_id)
    assert ledger_periods(ledger) == [(0, "succeeded"), (1, "succeeded"), (2, "succeeded")]
    saved = records(sessions, contract_id)
    assert [(a.period, a.attempt, a.status) for a in saved.attempts] == [
        (n, 1, AttemptStatus.SUCCEEDED) for n in range(3)
    ]
    # Our record of each charge is the gateway's charge that committed while its response was lost.
    assert [a.gateway_charge_id for a in saved.attempts] == [c["charge_id"] for c in ledger]
    assert Counter(e.kind for e in saved.events)["period_paid"] == 3
